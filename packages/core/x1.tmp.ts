import { x25519, x25519Base } from './src/crypto/x25519.ts';
import { x25519 as nx } from '@noble/curves/ed25519.js';
import { randomBytes } from 'node:crypto';
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
// RFC 7748 5.2
const k = Buffer.from('a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4', 'hex');
const u = Buffer.from('e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c', 'hex');
const o = new Uint8Array(32);
x25519(o, k, u); console.log(hex(o) === 'c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552', hex(o));
let bad = 0;
for (let i = 0; i < 300; i++) {
  const s = randomBytes(32), p = randomBytes(32);
  const ok = x25519(o, s, p);
  let ref: Uint8Array; try { ref = nx.getSharedSecret(s, p); } catch { ref = new Uint8Array(32); }
  if (hex(ref) !== hex(o)) { bad++; if (bad < 4) console.log('mismatch', hex(s), hex(p)); }
  x25519Base(o, s);
  if (hex(o) !== hex(nx.getPublicKey(s))) { bad++; if (bad < 4) console.log('base mismatch'); }
}
console.log('bad', bad);
const t0 = process.cpuUsage(); for (let i = 0; i < 300; i++) x25519(o, k, u); const dt = process.cpuUsage(t0); console.log('x25519 ms', (dt.user + dt.system) / 1000 / 300);
const t1 = process.cpuUsage(); for (let i = 0; i < 300; i++) nx.getSharedSecret(k, u); const dt1 = process.cpuUsage(t1); console.log('noble ms', (dt1.user + dt1.system) / 1000 / 300);
