/**
 * Crypto providers side by side: portable (pure TS, zero allocation), host (node:crypto for X25519
 * and the AEAD), host with the portable AEAD, and noble as the reference — plus handshakes per
 * second through the engine (initiator and responder work) and engine throughput with each.
 *
 *   npx tsx packages/bench/src/providers.ts [--seconds 0.5]
 */
import { randomFillSync } from 'node:crypto';
import { Engine, createPortableProvider, type CryptoProvider, type EngineSink } from '@wgjs/core';
import { createNobleProvider } from '@wgjs/core/crypto/noble';
import { createHostProvider } from '@wgjs/node-tun/crypto-host';

export const PROVIDERS: Array<[string, () => CryptoProvider]> = [
  ['portable', createPortableProvider],
  ['host', () => createHostProvider()],
  ['host (portable AEAD)', () => createHostProvider({ aead: 'portable' })],
  ['noble', createNobleProvider],
];

const random = (b: Uint8Array, o: number, n: number): void => {
  randomFillSync(b, o, n);
};

/** Runs `fn` repeatedly for about `seconds` and returns operations per second. */
export function rate(seconds: number, fn: () => void): number {
  for (let i = 0; i < 50; i++) fn(); // warm up
  let n = 0;
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  let t = t0;
  while (t < end) {
    for (let i = 0; i < 20; i++) fn();
    n += 20;
    t = performance.now();
  }
  return (n * 1000) / (t - t0);
}

export interface ProviderResult {
  provider: string;
  seal64: number;
  seal1420: number;
  open1420: number;
  blake2s64: number;
  x25519: number;
  /** Complete handshakes per second, both roles in one process (initiation + response + confirm). */
  handshakes: number;
  /** Responder-side handshakes per second (consume initiation + create response). */
  responderHandshakes: number;
}

/** Handshake rates: a pool of initiations replayed into a fresh responder. */
function handshakeRates(mk: () => CryptoProvider, seconds: number): { full: number; responder: number } {
  const ci = mk();
  const kI = new Uint8Array(32); random(kI, 0, 32);
  const kR = new Uint8Array(32); random(kR, 0, 32);
  const pubI = new Uint8Array(32); ci.x25519Base(pubI, kI);
  const pubR = new Uint8Array(32); ci.x25519Base(pubR, kR);
  let wall = 1_700_000_000_000;
  const captured: Uint8Array[] = [];
  let ini: Engine;
  let res: Engine;
  const si: EngineSink = { send(buf, off, len) { captured.push(buf.slice(off, off + len)); }, deliver() {} };
  const sr: EngineSink = { send(buf, off, len) { ini.receive(0, buf, off, len, 'R'); }, deliver() {} };
  ini = new Engine({ privateKey: kI, crypto: ci, random, wallTime: () => wall, maxPeers: 1 }, si);
  res = new Engine({ privateKey: kR, crypto: mk(), random, wallTime: () => wall, maxPeers: 1, underLoadThreshold: 1e9 }, sr);
  const pi = ini.addPeer({ publicKey: pubR, allowedIPs: ['10.0.0.2/32'], endpoint: 'R' });
  res.addPeer({ publicKey: pubI, allowedIPs: ['10.0.0.1/32'] });
  // Full handshakes: the initiator starts, the responder answers, the initiator confirms.
  let t = 0;
  const full = rate(seconds, () => {
    t += 6000; // past REKEY_TIMEOUT and the 20 ms initiation flood guard
    wall += 6000;
    captured.length = 0;
    ini.connect(t, pi, true);
    const init = captured[0];
    res.receive(t, init, 0, init.length, 'I');
  });
  // Responder only: fresh initiations (each with a newer timestamp, prepared outside the timed
  // part) consumed and answered: the work a server does per handshake.
  const pool: Uint8Array[] = [];
  for (let i = 0; i < 500; i++) {
    t += 6000;
    wall += 6000;
    captured.length = 0;
    ini.connect(t, pi, true);
    pool.push(captured[0]);
  }
  const t0 = performance.now();
  for (const m of pool) {
    t += 30;
    res.receive(t, m, 0, m.length, 'I');
  }
  const responder = (pool.length * 1000) / (performance.now() - t0);
  return { full, responder };
}

/** Handshake rates by role, from one measured loop. */
export interface HandshakeRoles {
  provider: string;
  /** Complete handshakes per second with both roles in this process (initiation, response, confirmation). */
  full: number;
  /** Initiator work per second: create the initiation and consume the response. */
  initiator: number;
  /** Responder work per second: consume the initiation and create the response. */
  responder: number;
  /** Handshakes completed. */
  count: number;
}

/**
 * Handshakes per second by role: one engine initiates, another responds, and each step of every
 * handshake is timed on its own (initiation created | consumed and answered | response consumed),
 * so the roles are measured in the same interleaved loop rather than in separate runs. Each
 * handshake uses a fresh ephemeral key and a newer timestamp; the virtual clock moves past
 * REKEY_TIMEOUT and the initiation flood guard, and under-load mode is off (cookies are not
 * measured here).
 */
export function handshakeRoles(name: string, mk: () => CryptoProvider, seconds: number): HandshakeRoles {
  const ci = mk();
  const kI = new Uint8Array(32); random(kI, 0, 32);
  const kR = new Uint8Array(32); random(kR, 0, 32);
  const pubI = new Uint8Array(32); ci.x25519Base(pubI, kI);
  const pubR = new Uint8Array(32); ci.x25519Base(pubR, kR);
  let wall = 1_700_000_000_000;
  // The message each side sent last, copied (the engines reuse their buffers).
  const fromI = new Uint8Array(256);
  let fromILen = 0;
  const fromR = new Uint8Array(256);
  let fromRLen = 0;
  const si: EngineSink = { send(buf, off, len) { fromI.set(buf.subarray(off, off + len)); fromILen = len; }, deliver() {} };
  const sr: EngineSink = { send(buf, off, len) { fromR.set(buf.subarray(off, off + len)); fromRLen = len; }, deliver() {} };
  const ini = new Engine({ privateKey: kI, crypto: ci, random, wallTime: () => wall, maxPeers: 1 }, si);
  const res = new Engine({ privateKey: kR, crypto: mk(), random, wallTime: () => wall, maxPeers: 1, underLoadThreshold: 1e9 }, sr);
  const pi = ini.addPeer({ publicKey: pubR, allowedIPs: ['10.0.0.2/32'], endpoint: '192.0.2.2:51820' });
  res.addPeer({ publicKey: pubI, allowedIPs: ['10.0.0.1/32'] });
  let t = 0;
  let tIni = 0;
  let tRes = 0;
  let count = 0;
  const one = (): void => {
    t += 6000; // past REKEY_TIMEOUT and the 20 ms initiation flood guard
    wall += 6000;
    fromILen = 0;
    fromRLen = 0;
    const a = performance.now();
    ini.connect(t, pi, true);
    const b = performance.now();
    res.receive(t, fromI, 0, fromILen, '192.0.2.1:51820');
    const c = performance.now();
    ini.receive(t, fromR, 0, fromRLen, '192.0.2.2:51820');
    const d = performance.now();
    if (fromILen === 0 || fromRLen === 0) throw new Error(`${name}: handshake did not complete`);
    tIni += b - a + (d - c);
    tRes += c - b;
    count++;
  };
  for (let i = 0; i < 20; i++) one(); // warm up
  if (!ini.peerStatus(pi).hasSession) throw new Error(`${name}: no session after the handshakes`);
  tIni = 0;
  tRes = 0;
  count = 0;
  const end = performance.now() + seconds * 1000;
  do one(); while (performance.now() < end || count < 10);
  ini.wipe();
  res.wipe();
  return { provider: name, full: (count * 1000) / (tIni + tRes), initiator: (count * 1000) / tIni, responder: (count * 1000) / tRes, count };
}

export function runProviders(seconds: number): ProviderResult[] {
  const out: ProviderResult[] = [];
  const key = new Uint8Array(32); random(key, 0, 32);
  const buf = new Uint8Array(1420 + 16);
  random(buf, 0, buf.length);
  for (const [name, mk] of PROVIDERS) {
    const c = mk();
    let ctr = 0;
    const seal64 = rate(seconds, () => c.seal(key, ctr++, 0, null, 0, 0, buf, 0, 64, buf, 0));
    const seal1420 = rate(seconds, () => c.seal(key, ctr++, 0, null, 0, 0, buf, 0, 1420, buf, 0));
    c.seal(key, 7, 0, null, 0, 0, buf, 0, 1420, buf, 0);
    const sealed = buf.slice();
    const tmp = new Uint8Array(1436);
    const open1420 = rate(seconds, () => { c.open(key, 7, 0, null, 0, 0, sealed, 0, 1420, tmp, 0); });
    const h = new Uint8Array(32);
    const blake2s64 = rate(seconds, () => { c.hashInit(32, null, 0); c.hashUpdate(buf, 0, 64); c.hashFinal(h, 0); });
    const pt = new Uint8Array(32); c.x25519Base(pt, key);
    const x25519 = rate(seconds, () => { c.x25519(h, key, pt); });
    const hs = handshakeRates(mk, seconds);
    out.push({ provider: name, seal64, seal1420, open1420, blake2s64, x25519, handshakes: hs.full, responderHandshakes: hs.responder });
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const i = process.argv.indexOf('--seconds');
  const seconds = i >= 0 ? Number(process.argv[i + 1]) : 0.5;
  const rows = runProviders(seconds);
  const f = (n: number) => Math.round(n).toLocaleString('en');
  console.log('| provider | seal 64 B /s | seal 1420 B /s | open 1420 B /s | BLAKE2s 64 B /s | X25519 /s | handshakes/s (both roles) | responder handshakes/s |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.provider} | ${f(r.seal64)} | ${f(r.seal1420)} | ${f(r.open1420)} | ${f(r.blake2s64)} | ${f(r.x25519)} | ${f(r.handshakes)} | ${f(r.responderHandshakes)} |`);
}
