import { Blake2s } from './src/crypto/blake2s.ts';
import { blake2s } from '@noble/hashes/blake2.js';
import { randomBytes } from 'node:crypto';
const b = new Blake2s(); const out = new Uint8Array(40);
const hex = (x: Uint8Array) => Buffer.from(x).toString('hex');
b.init(32, null, 0); b.update(new TextEncoder().encode('abc'), 0, 3); b.final(out, 0);
console.log(hex(out.subarray(0, 32)) === '508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982');
let bad = 0;
for (let t = 0; t < 2000; t++) {
  const len = t % 300, keyLen = t % 33, outLen = 1 + (t % 32);
  const data = randomBytes(len + 3), key = randomBytes(keyLen);
  const ref = blake2s.create({ dkLen: outLen, key: keyLen ? key : undefined });
  b.init(outLen, key, keyLen);
  let p = 0; while (p < len) { const n = Math.min(len - p, (t * 7 + p) % 90 + 1); b.update(data, 3 + p, n); ref.update(data.subarray(3 + p, 3 + p + n)); p += n; }
  b.final(out, 5);
  if (hex(out.subarray(5, 5 + outLen)) !== hex(ref.digest())) { bad++; if (bad < 5) console.log('bad', len, keyLen, outLen); }
}
console.log('bad', bad);
