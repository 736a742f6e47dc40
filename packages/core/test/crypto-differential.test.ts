/**
 * Differential tests: the portable provider against the noble provider and node:crypto on
 * seeded random inputs (lengths 0..2000 with the edge sizes, offsets, with and without AD, in
 * place and out of place), plus forgery rejection.
 */
import {
  createCipheriv, createHash, createPrivateKey, createPublicKey, diffieHellman,
} from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createPortableProvider } from '../src/crypto/portable.js';
import { createNobleProvider } from '../src/crypto/noble.js';
import { poly1305 as noblePoly1305 } from '@noble/ciphers/_poly1305.js';
import { poly1305 } from '../src/crypto/chacha20poly1305.js';
import { prng } from './support/vectors.js';


function bytes(rnd: () => number, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = rnd() & 255;
  return b;
}

function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

const EDGE_LENGTHS = [0, 1, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 1420, 2000];

/** The lengths to test: every edge length, then random ones up to 2000. */
function lengthFor(i: number, rnd: () => number): number {
  return i < EDGE_LENGTHS.length * 4 ? EDGE_LENGTHS[i % EDGE_LENGTHS.length] : rnd() % 2001;
}

function nodeSeal(key: Uint8Array, lo: number, hi: number, ad: Uint8Array, pt: Uint8Array): Uint8Array {
  const nonce = Buffer.alloc(12);
  nonce.writeUInt32LE(lo >>> 0, 4);
  nonce.writeUInt32LE(hi >>> 0, 8);
  const c = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
  if (ad.length > 0) c.setAAD(ad, { plaintextLength: pt.length });
  const ct = Buffer.concat([c.update(pt), c.final()]);
  return new Uint8Array(Buffer.concat([ct, c.getAuthTag()]));
}

const PKCS8_X25519 = Buffer.from('302e020100300506032b656e04220420', 'hex');
const SPKI_X25519 = Buffer.from('302a300506032b656e032100', 'hex');

function nodeX25519(scalar: Uint8Array, point: Uint8Array): Uint8Array {
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_X25519, scalar]), format: 'der', type: 'pkcs8' });
  const publicKey = createPublicKey({ key: Buffer.concat([SPKI_X25519, point]), format: 'der', type: 'spki' });
  return new Uint8Array(diffieHellman({ privateKey, publicKey }));
}

function nodeX25519Base(scalar: Uint8Array): Uint8Array {
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_X25519, scalar]), format: 'der', type: 'pkcs8' });
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  return new Uint8Array(spki.subarray(spki.length - 32));
}

describe('ChaCha20-Poly1305: portable vs noble vs node:crypto', () => {
  it('seal/open agree byte for byte over 400 random cases', () => {
    const rnd = prng(0x5eed01);
    const portable = createPortableProvider();
    const noble = createNobleProvider();
    for (let i = 0; i < 400; i++) {
      const len = lengthFor(i, rnd);
      const adLen = i % 3 === 0 ? 0 : rnd() % 70;
      const key = bytes(rnd, 32);
      const lo = rnd() >>> 0;
      const hi = i % 5 === 0 ? 0 : rnd() >>> 0;
      const pt = bytes(rnd, len);
      const ad = bytes(rnd, adLen);
      const srcOff = rnd() % 9, dstOff = rnd() % 9, adOff = rnd() % 5;
      const adBuf = new Uint8Array(adLen + adOff + 3);
      adBuf.set(ad, adOff);
      const src = new Uint8Array(srcOff + len + 5);
      src.set(pt, srcOff);
      const adArg = adLen > 0 || i % 2 === 0 ? adBuf : null;

      const want = nodeSeal(key, lo, hi, ad, pt);
      const outP = new Uint8Array(dstOff + len + 16 + 4);
      portable.seal(key, lo, hi, adArg, adOff, adLen, src, srcOff, len, outP, dstOff);
      expect(toHex(outP.subarray(dstOff, dstOff + len + 16))).toBe(toHex(want));
      expect(outP[dstOff + len + 16]).toBe(0); // nothing written past the tag
      const outN = new Uint8Array(dstOff + len + 16);
      noble.seal(key, lo, hi, adArg, adOff, adLen, src, srcOff, len, outN, dstOff);
      expect(toHex(outN.subarray(dstOff))).toBe(toHex(want));

      // In place (same buffer, same offset).
      const inPlace = new Uint8Array(srcOff + len + 16);
      inPlace.set(pt, srcOff);
      portable.seal(key, lo, hi, adArg, adOff, adLen, inPlace, srcOff, len, inPlace, srcOff);
      expect(toHex(inPlace.subarray(srcOff))).toBe(toHex(want));

      // Open: out of place, then in place.
      const back = new Uint8Array(len + 2);
      expect(portable.open(key, lo, hi, adArg, adOff, adLen, outP, dstOff, len, back, 1)).toBe(true);
      expect(toHex(back.subarray(1, 1 + len))).toBe(toHex(pt));
      expect(noble.open(key, lo, hi, adArg, adOff, adLen, outP, dstOff, len, back, 1)).toBe(true);
      expect(toHex(back.subarray(1, 1 + len))).toBe(toHex(pt));
      expect(portable.open(key, lo, hi, adArg, adOff, adLen, inPlace, srcOff, len, inPlace, srcOff)).toBe(true);
      expect(toHex(inPlace.subarray(srcOff, srcOff + len))).toBe(toHex(pt));
    }
  });

  it('tampered tag, ciphertext, AD, counter or key fail to open, also in place', () => {
    const rnd = prng(0x5eed02);
    const portable = createPortableProvider();
    const noble = createNobleProvider();
    for (let i = 0; i < 300; i++) {
      const len = lengthFor(i, rnd);
      const adLen = 1 + (rnd() % 40);
      const key = bytes(rnd, 32);
      const lo = rnd() >>> 0, hi = rnd() >>> 0;
      const ad = bytes(rnd, adLen);
      const pt = bytes(rnd, len);
      const sealed = new Uint8Array(len + 16);
      portable.seal(key, lo, hi, ad, 0, adLen, pt, 0, len, sealed, 0);

      const what = i % 5;
      const bad = sealed.slice();
      const badAd = ad.slice();
      const badKey = key.slice();
      let badLo = lo;
      if (what === 0) bad[len + (rnd() % 16)] ^= 1 << (rnd() % 8); // tag
      else if (what === 1 && len > 0) bad[rnd() % len] ^= 1 << (rnd() % 8); // ciphertext
      else if (what === 2 || len === 0) badAd[rnd() % adLen] ^= 1 << (rnd() % 8); // AD
      else if (what === 3) badLo = (lo + 1) >>> 0; // counter
      else badKey[rnd() % 32] ^= 1 << (rnd() % 8); // key

      const out = new Uint8Array(len);
      expect(portable.open(badKey, badLo, hi, badAd, 0, adLen, bad, 0, len, out, 0)).toBe(false);
      expect(noble.open(badKey, badLo, hi, badAd, 0, adLen, bad, 0, len, out, 0)).toBe(false);
      // In place: a forged packet is refused and its bytes are left as they were.
      const copy = bad.slice();
      expect(portable.open(badKey, badLo, hi, badAd, 0, adLen, bad, 0, len, bad, 0)).toBe(false);
      expect(toHex(bad)).toBe(toHex(copy));
      // The untampered packet still opens.
      expect(portable.open(key, lo, hi, ad, 0, adLen, sealed, 0, len, out, 0)).toBe(true);
      expect(toHex(out)).toBe(toHex(pt));
    }
  });
});

describe('Poly1305: portable vs noble', () => {
  it('agree on random and extreme keys and messages (largest limbs, every length to 300)', () => {
    const rnd = prng(0x5eed06);
    const tag = new Uint8Array(16);
    for (let i = 0; i < 1200; i++) {
      const len = i < 600 ? i % 301 : rnd() % 2001;
      // Every third case uses the largest clamped r and s with an all-ones message: the largest
      // limbs the bounds in chacha20poly1305.ts allow for.
      const extreme = i % 3 === 0;
      const key = extreme ? new Uint8Array(32).fill(255) : bytes(rnd, 32);
      const msg = extreme ? new Uint8Array(len).fill(255) : bytes(rnd, len);
      const off = rnd() % 7;
      const buf = new Uint8Array(off + len);
      buf.set(msg, off);
      poly1305(key, 0, buf, off, len, tag, 0);
      expect(toHex(tag)).toBe(toHex(noblePoly1305(msg, key)));
    }
  });
});

describe('XChaCha20-Poly1305: portable vs noble', () => {
  it('agree over 300 random cases, and reject tampering', () => {
    const rnd = prng(0x5eed03);
    const portable = createPortableProvider();
    const noble = createNobleProvider();
    for (let i = 0; i < 300; i++) {
      const len = lengthFor(i, rnd);
      const adLen = i % 2 === 0 ? 0 : rnd() % 50;
      const key = bytes(rnd, 32);
      const nonceOff = rnd() % 7;
      const nonce = bytes(rnd, nonceOff + 24);
      const ad = bytes(rnd, adLen);
      const pt = bytes(rnd, len);
      const a = new Uint8Array(len + 16), b = new Uint8Array(len + 16);
      portable.xseal(key, nonce, nonceOff, adLen ? ad : null, 0, adLen, pt, 0, len, a, 0);
      noble.xseal(key, nonce, nonceOff, adLen ? ad : null, 0, adLen, pt, 0, len, b, 0);
      expect(toHex(a)).toBe(toHex(b));
      const inPlace = new Uint8Array(len + 16);
      inPlace.set(pt);
      portable.xseal(key, nonce, nonceOff, adLen ? ad : null, 0, adLen, inPlace, 0, len, inPlace, 0);
      expect(toHex(inPlace)).toBe(toHex(a));
      expect(portable.xopen(key, nonce, nonceOff, adLen ? ad : null, 0, adLen, inPlace, 0, len, inPlace, 0)).toBe(true);
      expect(toHex(inPlace.subarray(0, len))).toBe(toHex(pt));
      a[rnd() % (len + 16)] ^= 0x80;
      const out = new Uint8Array(len);
      expect(portable.xopen(key, nonce, nonceOff, adLen ? ad : null, 0, adLen, a, 0, len, out, 0)).toBe(false);
      expect(noble.xopen(key, nonce, nonceOff, adLen ? ad : null, 0, adLen, a, 0, len, out, 0)).toBe(false);
    }
  });
});

describe('BLAKE2s: portable vs noble (and node:crypto blake2s256 unkeyed)', () => {
  it('agree over 400 random cases with random chunking, keys and digest lengths', () => {
    const rnd = prng(0x5eed04);
    const portable = createPortableProvider();
    const noble = createNobleProvider();
    for (let i = 0; i < 400; i++) {
      const len = i < 130 ? i : rnd() % 2001;
      const keyLen = i % 4 === 0 ? 0 : rnd() % 33;
      const outLen = i % 3 === 0 ? 32 : 1 + (rnd() % 32);
      const data = bytes(rnd, len + 7);
      const key = bytes(rnd, keyLen + 1);
      const outs: string[] = [];
      for (const p of [portable, noble]) {
        p.hashInit(outLen, keyLen ? key : null, keyLen);
        let pos = 0;
        while (pos < len) {
          const n = Math.min(len - pos, rnd() % 150);
          p.hashUpdate(data, 3 + pos, n);
          pos += n;
        }
        const out = new Uint8Array(outLen + 4);
        p.hashFinal(out, 2);
        outs.push(toHex(out.subarray(2, 2 + outLen)));
        expect(out[0] | out[1] | out[outLen + 2] | out[outLen + 3]).toBe(0);
      }
      expect(outs[0]).toBe(outs[1]);
      if (keyLen === 0 && outLen === 32) {
        expect(outs[0]).toBe(createHash('blake2s256').update(data.subarray(3, 3 + len)).digest('hex'));
      }
    }
  });
});

describe('X25519: portable vs noble vs node:crypto', () => {
  it('shared secrets and public keys agree over 300 random cases', () => {
    const rnd = prng(0x5eed05);
    const portable = createPortableProvider();
    const noble = createNobleProvider();
    for (let i = 0; i < 300; i++) {
      const scalar = bytes(rnd, 32);
      const point = bytes(rnd, 32);
      const a = new Uint8Array(32), b = new Uint8Array(32);
      expect(portable.x25519(a, scalar, point)).toBe(true);
      expect(noble.x25519(b, scalar, point)).toBe(true);
      expect(toHex(a)).toBe(toHex(b));
      // OpenSSL masks bit 255 too; compare on the canonical encoding anyway.
      const p2 = point.slice();
      p2[31] &= 127;
      expect(toHex(a)).toBe(toHex(nodeX25519(scalar, p2)));
      portable.x25519Base(a, scalar);
      noble.x25519Base(b, scalar);
      expect(toHex(a)).toBe(toHex(b));
      if (i < 100) expect(toHex(a)).toBe(toHex(nodeX25519Base(scalar)));
    }
  });

  it('non-canonical u-coordinates (>= p) are reduced, as RFC 7748 requires', () => {
    const portable = createPortableProvider();
    const noble = createNobleProvider();
    const rnd = prng(0x5eed06);
    // p + 2 .. 2^255 - 1 (p and p + 1 are low order and covered by the vector tests).
    for (let low = 0xef; low <= 0xff; low++) {
      const point = new Uint8Array(32).fill(0xff);
      point[0] = low;
      point[31] = 0x7f;
      const scalar = bytes(rnd, 32);
      const a = new Uint8Array(32), b = new Uint8Array(32);
      expect(portable.x25519(a, scalar, point)).toBe(true);
      expect(noble.x25519(b, scalar, point)).toBe(true);
      expect(toHex(a)).toBe(toHex(b));
    }
  });
});

describe('zero allocation on the hot paths', () => {
  it('seal/open/xseal/xopen/hash/x25519 construct no typed arrays and take no views', () => {
    const p = createPortableProvider();
    const key = new Uint8Array(32).fill(1);
    const ad = new Uint8Array(20).fill(2);
    const buf = new Uint8Array(1500);
    const nonce = new Uint8Array(24).fill(3);
    const out = new Uint8Array(32);
    const run = (): void => {
      p.seal(key, 1, 2, ad, 1, 17, buf, 3, 1421, buf, 3);
      expect(p.open(key, 1, 2, ad, 1, 17, buf, 3, 1421, buf, 3)).toBe(true);
      p.seal(key, 1, 2, null, 0, 0, buf, 0, 63, buf, 100);
      p.xseal(key, nonce, 0, ad, 0, 5, buf, 0, 100, buf, 0);
      expect(p.xopen(key, nonce, 0, ad, 0, 5, buf, 0, 100, buf, 0)).toBe(true);
      p.hashInit(16, key, 32);
      p.hashUpdate(buf, 5, 300);
      p.hashFinal(out, 0);
      p.x25519Base(out, key);
      p.x25519(out, key, out);
    };
    run(); // warm up (module scratch already exists; nothing lazy should remain)
    const g = globalThis as unknown as Record<string, unknown>;
    const names = ['Uint8Array', 'Int8Array', 'Uint16Array', 'Int16Array', 'Uint32Array', 'Int32Array',
      'Float32Array', 'Float64Array', 'DataView', 'ArrayBuffer'];
    const saved = names.map((n) => g[n]);
    let constructed = 0;
    let views = 0;
    const typedProto = Object.getPrototypeOf(Uint8Array.prototype) as { subarray: (...a: unknown[]) => unknown };
    const subarray = typedProto.subarray;
    names.forEach((n, i) => {
      g[n] = new Proxy(saved[i] as object, {
        construct(target, args) {
          constructed++;
          return Reflect.construct(target as new (...a: unknown[]) => object, args);
        },
      });
    });
    typedProto.subarray = function (this: unknown, ...args: unknown[]) {
      views++;
      return subarray.apply(this, args);
    };
    try {
      run();
    } finally {
      names.forEach((n, i) => {
        g[n] = saved[i];
      });
      typedProto.subarray = subarray;
    }
    expect(constructed).toBe(0);
    expect(views).toBe(0);
  });
});
