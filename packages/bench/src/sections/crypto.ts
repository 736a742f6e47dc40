/**
 * Crypto section: ChaCha20-Poly1305 seal/open at 64 and 1420 bytes, BLAKE2s, the whitepaper KDF
 * (KDF3, as in every handshake step) and X25519, for each wgjs provider (portable, host) and, as
 * references, noble called directly and node:crypto called directly. Repeats are interleaved
 * (round → operation → implementation), so a slow moment of a shared machine hits all
 * implementations alike.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, createPrivateKey, createPublicKey, diffieHellman, randomFillSync, type KeyObject } from 'node:crypto';
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { blake2s } from '@noble/hashes/blake2.js';
import { hmac } from '@noble/hashes/hmac.js';
import { x25519 } from '@noble/curves/ed25519.js';
import { Noise, createPortableProvider, type CryptoProvider } from '@wgjs/core';
import { createHostProvider } from '@wgjs/node-tun/crypto-host';
import { rate } from '../providers.js';
import { progress, summarize, type Summary } from '../stats.js';

/** The operations, in table order. */
export const CRYPTO_OPS = [
  { id: 'seal64', label: 'ChaCha20-Poly1305 seal 64 B', bytes: 64 },
  { id: 'open64', label: 'ChaCha20-Poly1305 open 64 B', bytes: 64 },
  { id: 'seal1420', label: 'ChaCha20-Poly1305 seal 1420 B', bytes: 1420 },
  { id: 'open1420', label: 'ChaCha20-Poly1305 open 1420 B', bytes: 1420 },
  { id: 'blake2s64', label: 'BLAKE2s-256 of 64 B', bytes: 64 },
  { id: 'kdf3', label: 'KDF3 (4 × HMAC-BLAKE2s)', bytes: 0 },
  { id: 'x25519', label: 'X25519 shared secret', bytes: 0 },
] as const;

export type CryptoOpId = (typeof CRYPTO_OPS)[number]['id'];

/** Implementations, in table order. The first two are wgjs providers; the others references. */
export const CRYPTO_IMPLS = ['portable', 'host', 'noble (direct)', 'node:crypto (direct)'] as const;

export interface CryptoRow {
  op: CryptoOpId;
  impl: string;
  /** Operations per second. */
  opsPerSecond: Summary;
  /** MB/s for the AEAD and hash rows (1 MB = 1e6 bytes). */
  megabytesPerSecond?: Summary;
}

export interface CryptoSection {
  status: 'ok';
  repeats: number;
  secondsPerMeasurement: number;
  rows: CryptoRow[];
  notes: string[];
}

type Bench = () => void;

const random = (b: Uint8Array, o: number, n: number): void => {
  randomFillSync(b, o, n);
};

function fill(n: number): Uint8Array {
  const b = new Uint8Array(n);
  random(b, 0, n);
  return b;
}

/** Benchmarks of every op for a CryptoProvider (portable, host). */
function providerBenches(p: CryptoProvider): Record<CryptoOpId, Bench> {
  const key = fill(32);
  const buf = fill(1420 + 16);
  let ctr = 0;
  const sealed64 = new Uint8Array(64 + 16);
  p.seal(key, 7, 0, null, 0, 0, buf, 0, 64, sealed64, 0);
  const sealed1420 = new Uint8Array(1420 + 16);
  p.seal(key, 7, 0, null, 0, 0, buf, 0, 1420, sealed1420, 0);
  const out = new Uint8Array(1436);
  const h = new Uint8Array(32);
  const noise = new Noise(p);
  const ck = fill(32);
  const o1 = new Uint8Array(32);
  const o2 = new Uint8Array(32);
  const o3 = new Uint8Array(32);
  const scalar = fill(32);
  const point = new Uint8Array(32);
  p.x25519Base(point, fill(32));
  const check = (ok: boolean): void => {
    if (!ok) throw new Error(`${p.name}: open failed`);
  };
  return {
    seal64: () => p.seal(key, ctr++, 0, null, 0, 0, buf, 0, 64, buf, 0),
    open64: () => check(p.open(key, 7, 0, null, 0, 0, sealed64, 0, 64, out, 0)),
    seal1420: () => p.seal(key, ctr++, 0, null, 0, 0, buf, 0, 1420, buf, 0),
    open1420: () => check(p.open(key, 7, 0, null, 0, 0, sealed1420, 0, 1420, out, 0)),
    blake2s64: () => {
      p.hashInit(32, null, 0);
      p.hashUpdate(buf, 0, 64);
      p.hashFinal(h, 0);
    },
    kdf3: () => noise.kdf(o1, o2, o3, ck, buf, 0, 32),
    x25519: () => {
      p.x25519(h, scalar, point);
    },
  };
}

function nonce(ctr: number): Uint8Array {
  const n = new Uint8Array(12);
  new DataView(n.buffer).setUint32(4, ctr >>> 0, true);
  return n;
}

/** noble's own API, as an application would call it (allocating, as noble does). */
function nobleBenches(): Record<CryptoOpId, Bench> {
  const key = fill(32);
  const pt64 = fill(64);
  const pt1420 = fill(1420);
  const n7 = nonce(7);
  const sealed64 = chacha20poly1305(key, n7).encrypt(pt64);
  const sealed1420 = chacha20poly1305(key, n7).encrypt(pt1420);
  let ctr = 0;
  const ck = fill(32);
  const input = fill(32);
  const one = Uint8Array.of(1);
  const scalar = fill(32);
  const point = x25519.getPublicKey(fill(32));
  return {
    seal64: () => void chacha20poly1305(key, nonce(ctr++)).encrypt(pt64),
    open64: () => void chacha20poly1305(key, n7).decrypt(sealed64),
    seal1420: () => void chacha20poly1305(key, nonce(ctr++)).encrypt(pt1420),
    open1420: () => void chacha20poly1305(key, n7).decrypt(sealed1420),
    blake2s64: () => void blake2s(pt64),
    kdf3: () => {
      const t0 = hmac(blake2s, ck, input);
      const t1 = hmac(blake2s, t0, one);
      const t2 = hmac(blake2s, t0, concat(t1, 2));
      void hmac(blake2s, t0, concat(t2, 3));
    },
    x25519: () => void x25519.getSharedSecret(scalar, point),
  };
}

function concat(a: Uint8Array, b: number): Uint8Array {
  const o = new Uint8Array(a.length + 1);
  o.set(a);
  o[a.length] = b;
  return o;
}

/** node:crypto called directly: a cipher object per packet, HMAC-BLAKE2s, X25519 on KeyObjects. */
function nodeBenches(): Record<CryptoOpId, Bench> {
  const key = fill(32);
  const pt64 = fill(64);
  const pt1420 = fill(1420);
  const n7 = nonce(7);
  const seal = (pt: Uint8Array, n: Uint8Array): [Buffer, Buffer] => {
    const c = createCipheriv('chacha20-poly1305', key, n, { authTagLength: 16 });
    const ct = c.update(pt);
    c.final();
    return [ct, c.getAuthTag()];
  };
  const open = (ct: Buffer, tag: Buffer): void => {
    const d = createDecipheriv('chacha20-poly1305', key, n7, { authTagLength: 16 });
    d.setAuthTag(tag);
    d.update(ct);
    d.final(); // throws on a bad tag
  };
  const s64 = seal(pt64, n7);
  const s1420 = seal(pt1420, n7);
  let ctr = 0;
  const nb = Buffer.alloc(12);
  const ck = fill(32);
  const input = fill(32);
  const one = Uint8Array.of(1);
  const hm = (k: Uint8Array, ...parts: Uint8Array[]): Buffer => {
    const h = createHmac('blake2s256', k);
    for (const p of parts) h.update(p);
    return h.digest();
  };
  const b64u = (b: Uint8Array): string => Buffer.from(b).toString('base64url');
  const priv: KeyObject = createPrivateKey({ key: { kty: 'OKP', crv: 'X25519', d: b64u(fill(32)), x: 'AAAA' }, format: 'jwk' });
  const pubBytes = x25519.getPublicKey(fill(32));
  const pub: KeyObject = createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: b64u(pubBytes) }, format: 'jwk' });
  return {
    seal64: () => {
      nb.writeUInt32LE(ctr++ >>> 0, 4);
      seal(pt64, nb);
    },
    open64: () => open(s64[0], s64[1]),
    seal1420: () => {
      nb.writeUInt32LE(ctr++ >>> 0, 4);
      seal(pt1420, nb);
    },
    open1420: () => open(s1420[0], s1420[1]),
    blake2s64: () => void createHash('blake2s256').update(pt64).digest(),
    kdf3: () => {
      const t0 = hm(ck, input);
      const t1 = hm(t0, one);
      const t2 = hm(t0, t1, Uint8Array.of(2));
      void hm(t0, t2, Uint8Array.of(3));
    },
    x25519: () => void diffieHellman({ privateKey: priv, publicKey: pub }),
  };
}

/** Runs the crypto section: `repeats` interleaved rounds of `seconds` per measurement. */
export async function runCrypto(repeats: number, seconds: number): Promise<CryptoSection> {
  const impls: Record<string, Record<CryptoOpId, Bench>> = {
    portable: providerBenches(createPortableProvider()),
    host: providerBenches(createHostProvider()),
    'noble (direct)': nobleBenches(),
    'node:crypto (direct)': nodeBenches(),
  };
  // Every implementation must agree on what it computes before its speed means anything.
  crossCheck();
  // Warm-up pass: every benchmark runs long enough to be optimised before anything is measured
  // (otherwise whichever implementation comes first in round 1 is measured half-interpreted).
  progress(`crypto: warming up ${CRYPTO_OPS.length * CRYPTO_IMPLS.length} benchmarks`);
  for (const op of CRYPTO_OPS) for (const impl of CRYPTO_IMPLS) rate(Math.min(0.05, seconds), impls[impl]![op.id]);
  const raw = new Map<string, number[]>();
  for (let r = 0; r < repeats; r++) {
    progress(`crypto: round ${r + 1}/${repeats} (${CRYPTO_OPS.length} operations × ${CRYPTO_IMPLS.length} implementations, ${seconds} s each)`);
    for (const op of CRYPTO_OPS) {
      // Rotate the implementation order each round: no one is always first after a switch.
      const order = CRYPTO_IMPLS.map((_, i) => CRYPTO_IMPLS[(i + r) % CRYPTO_IMPLS.length]!);
      for (const impl of order) {
        const v = rate(seconds, impls[impl]![op.id]);
        const k = `${op.id}|${impl}`;
        raw.set(k, [...(raw.get(k) ?? []), v]);
      }
      await new Promise((res) => setImmediate(res)); // let progress and signals through
    }
  }
  const rows: CryptoRow[] = [];
  for (const op of CRYPTO_OPS) {
    for (const impl of CRYPTO_IMPLS) {
      const runs = raw.get(`${op.id}|${impl}`)!;
      const row: CryptoRow = { op: op.id, impl, opsPerSecond: summarize(runs) };
      if (op.bytes) row.megabytesPerSecond = summarize(runs.map((x) => (x * op.bytes) / 1e6));
      rows.push(row);
    }
  }
  return {
    status: 'ok',
    repeats,
    secondsPerMeasurement: seconds,
    rows,
    notes: [
      'host = node:crypto X25519 (keys imported as JWK, a small cache) and ChaCha20-Poly1305 (a cipher object per packet); BLAKE2s/KDF stay portable.',
      'noble (direct) and node:crypto (direct) call those libraries as an application would, allocating their results; the KDF there is 4 HMAC-BLAKE2s calls.',
      'node:crypto X25519 uses pre-imported KeyObjects (the import, which the host provider pays for every new key, is not counted).',
    ],
  };
}

/** Seal/open, BLAKE2s, KDF3 and X25519 agree across the implementations (one vector each). */
function crossCheck(): void {
  const p = createPortableProvider();
  const key = fill(32);
  const pt = fill(1420);
  const mine = new Uint8Array(1436);
  p.seal(key, 9, 0, null, 0, 0, pt, 0, 1420, mine, 0);
  const theirs = chacha20poly1305(key, nonce(9)).encrypt(pt);
  const c = createCipheriv('chacha20-poly1305', key, nonce(9), { authTagLength: 16 });
  const nodeCt = Buffer.concat([c.update(pt), c.final(), c.getAuthTag()]);
  if (Buffer.compare(Buffer.from(mine), Buffer.from(theirs)) !== 0 || Buffer.compare(Buffer.from(mine), nodeCt) !== 0) {
    throw new Error('crypto cross-check: ChaCha20-Poly1305 outputs differ between portable, noble and node:crypto');
  }
  const h = new Uint8Array(32);
  p.hashInit(32, null, 0);
  p.hashUpdate(pt, 0, 64);
  p.hashFinal(h, 0);
  if (Buffer.compare(Buffer.from(h), Buffer.from(blake2s(pt.subarray(0, 64)))) !== 0) throw new Error('crypto cross-check: BLAKE2s differs');
  const noise = new Noise(p);
  const o1 = new Uint8Array(32);
  const ck = fill(32);
  noise.kdf(o1, null, null, ck, pt, 0, 32);
  const t0 = hmac(blake2s, ck, pt.subarray(0, 32));
  if (Buffer.compare(Buffer.from(o1), Buffer.from(hmac(blake2s, t0, Uint8Array.of(1)))) !== 0) throw new Error('crypto cross-check: KDF differs');
  const s = fill(32);
  const pub = x25519.getPublicKey(fill(32));
  p.x25519(h, s, pub);
  if (Buffer.compare(Buffer.from(h), Buffer.from(x25519.getSharedSecret(s, pub))) !== 0) throw new Error('crypto cross-check: X25519 differs');
}
