// wgjs:host-only — reference provider for tests and benchmarks; never bundled for the device.
/**
 * Reference crypto provider over @noble/ciphers, @noble/hashes and @noble/curves. Used by tests
 * and benchmarks as the yardstick for the portable provider; it allocates per call and needs
 * BigInt, so it is not for the device path.
 */
import { chacha20poly1305, xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { blake2s } from '@noble/hashes/blake2.js';
import { x25519 } from '@noble/curves/ed25519.js';
import type { CryptoProvider } from './provider.js';

type Hasher = ReturnType<typeof blake2s.create>;

/** The WireGuard nonce: 4 zero bytes, then the 64-bit little-endian counter. */
function wgNonce(ctrLo: number, ctrHi: number): Uint8Array {
  const n = new Uint8Array(12);
  const v = new DataView(n.buffer);
  v.setUint32(4, ctrLo >>> 0, true);
  v.setUint32(8, ctrHi >>> 0, true);
  return n;
}

function adOf(ad: Uint8Array | null, adOff: number, adLen: number): Uint8Array | undefined {
  return adLen > 0 && ad ? ad.subarray(adOff, adOff + adLen) : undefined;
}

/** Creates a provider backed by the noble libraries (`name: 'noble'`). */
export function createNobleProvider(): CryptoProvider {
  let hasher: Hasher | null = null;
  let hashLen = 32;
  return {
    name: 'noble',
    seal(key, ctrLo, ctrHi, ad, adOff, adLen, src, srcOff, len, dst, dstOff) {
      const ct = chacha20poly1305(key.subarray(0, 32), wgNonce(ctrLo, ctrHi), adOf(ad, adOff, adLen))
        .encrypt(src.subarray(srcOff, srcOff + len));
      dst.set(ct, dstOff);
    },
    open(key, ctrLo, ctrHi, ad, adOff, adLen, src, srcOff, len, dst, dstOff) {
      try {
        const pt = chacha20poly1305(key.subarray(0, 32), wgNonce(ctrLo, ctrHi), adOf(ad, adOff, adLen))
          .decrypt(src.subarray(srcOff, srcOff + len + 16));
        dst.set(pt, dstOff);
        return true;
      } catch {
        return false;
      }
    },
    xseal(key, nonce, nonceOff, ad, adOff, adLen, src, srcOff, len, dst, dstOff) {
      const ct = xchacha20poly1305(key.subarray(0, 32), nonce.subarray(nonceOff, nonceOff + 24), adOf(ad, adOff, adLen))
        .encrypt(src.subarray(srcOff, srcOff + len));
      dst.set(ct, dstOff);
    },
    xopen(key, nonce, nonceOff, ad, adOff, adLen, src, srcOff, len, dst, dstOff) {
      try {
        const pt = xchacha20poly1305(key.subarray(0, 32), nonce.subarray(nonceOff, nonceOff + 24), adOf(ad, adOff, adLen))
          .decrypt(src.subarray(srcOff, srcOff + len + 16));
        dst.set(pt, dstOff);
        return true;
      } catch {
        return false;
      }
    },
    hashInit(outLen, key, keyLen) {
      hashLen = outLen;
      hasher = blake2s.create({ dkLen: outLen, key: keyLen > 0 && key ? key.subarray(0, keyLen) : undefined });
    },
    hashUpdate(data, off, len) {
      if (!hasher) throw new Error('hashInit first');
      hasher.update(data.subarray(off, off + len));
    },
    hashFinal(out, outOff) {
      if (!hasher) throw new Error('hashInit first');
      out.set(hasher.digest().subarray(0, hashLen), outOff);
      hasher = null;
    },
    x25519(out, scalar, point) {
      try {
        out.set(x25519.getSharedSecret(scalar.subarray(0, 32), point.subarray(0, 32)));
        return true;
      } catch {
        // noble refuses low-order points (whose result would be all zeros).
        out.fill(0, 0, 32);
        return false;
      }
    },
    x25519Base(out, scalar) {
      out.set(x25519.getPublicKey(scalar.subarray(0, 32)));
    },
  };
}
