/**
 * The host crypto provider: Node's OpenSSL where a benchmark shows it is faster, the portable
 * code for the rest. X25519 goes through KeyObjects (OpenSSL's constant-time implementation);
 * ChaCha20-Poly1305 through createCipheriv; XChaCha20-Poly1305 and keyed BLAKE2s, which Node does
 * not offer (`createHash('blake2s256', {key})` silently ignores the key), stay portable.
 *
 * The AEAD can be chosen separately (`aead: 'node' | 'portable'`): OpenSSL is faster on large
 * packets but allocates a cipher object per packet, the portable code allocates nothing.
 * `packages/bench` measures both (`src/providers.ts`).
 */
import { createCipheriv, createDecipheriv, createPrivateKey, createPublicKey, diffieHellman, type KeyObject } from 'node:crypto';
import { createPortableProvider, type CryptoProvider } from '@wgjs/core';

/**
 * A few recently used keys as KeyObjects: importing is most of the cost of an X25519 through
 * node:crypto (JWK import is ~15× faster than PKCS#8 DER here), and a handshake uses the same
 * static and ephemeral private keys several times.
 */
class KeyCache {
  private bytes: Uint8Array[] = [];
  private keys: KeyObject[] = [];
  private next = 0;
  constructor(private readonly size: number, private readonly make: (b: Uint8Array) => KeyObject) {}
  get(b: Uint8Array): KeyObject {
    for (let i = 0; i < this.bytes.length; i++) {
      const c = this.bytes[i];
      let d = 0;
      for (let j = 0; j < 32; j++) d |= c[j] ^ b[j];
      if (d === 0) return this.keys[i];
    }
    const k = this.make(b);
    const slot = this.next;
    this.next = (this.next + 1) % this.size;
    this.bytes[slot] = Uint8Array.from(b.subarray(0, 32));
    this.keys[slot] = k;
    return k;
  }
}

const b64u = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, 32).toString('base64url');
// Node derives the public half from `d`; `x` is required by the JWK format but not trusted.
const importPrivate = (b: Uint8Array) => createPrivateKey({ key: { kty: 'OKP', crv: 'X25519', d: b64u(b), x: 'AAAA' }, format: 'jwk' });
const importPublic = (b: Uint8Array) => createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: b64u(b) }, format: 'jwk' });

export interface HostProviderOptions {
  /** Which ChaCha20-Poly1305 to use for transport data (default 'node'). */
  aead?: 'node' | 'portable';
}

/** A CryptoProvider over node:crypto (X25519 always; the AEAD unless `aead: 'portable'`). */
export function createHostProvider(opts: HostProviderOptions = {}): CryptoProvider {
  const p = createPortableProvider();
  const privates = new KeyCache(4, importPrivate);
  const publics = new KeyCache(8, importPublic);
  const nonce = Buffer.alloc(12);
  const useNodeAead = (opts.aead ?? 'node') === 'node';
  const setNonce = (lo: number, hi: number): void => {
    nonce.writeUInt32LE(0, 0);
    nonce.writeUInt32LE(lo >>> 0, 4);
    nonce.writeUInt32LE(hi >>> 0, 8);
  };
  const provider: CryptoProvider = {
    name: useNodeAead ? 'host' : 'host (portable AEAD)',
    seal(key, lo, hi, ad, adOff, adLen, src, srcOff, len, dst, dstOff) {
      if (!useNodeAead) return p.seal(key, lo, hi, ad, adOff, adLen, src, srcOff, len, dst, dstOff);
      setNonce(lo, hi);
      const c = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
      if (adLen > 0) c.setAAD((ad as Uint8Array).subarray(adOff, adOff + adLen), { plaintextLength: len });
      const ct = c.update(src.subarray(srcOff, srcOff + len));
      c.final();
      dst.set(ct, dstOff);
      dst.set(c.getAuthTag(), dstOff + len);
    },
    open(key, lo, hi, ad, adOff, adLen, src, srcOff, len, dst, dstOff) {
      if (!useNodeAead) return p.open(key, lo, hi, ad, adOff, adLen, src, srcOff, len, dst, dstOff);
      setNonce(lo, hi);
      const d = createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
      if (adLen > 0) d.setAAD((ad as Uint8Array).subarray(adOff, adOff + adLen), { plaintextLength: len });
      d.setAuthTag(src.subarray(srcOff + len, srcOff + len + 16));
      const pt = d.update(src.subarray(srcOff, srcOff + len));
      try {
        d.final(); // throws on a bad tag: nothing has been written to dst yet
      } catch {
        return false;
      }
      dst.set(pt, dstOff);
      return true;
    },
    xseal: (...a) => p.xseal(...a),
    xopen: (...a) => p.xopen(...a),
    hashInit: (outLen, key, keyLen) => p.hashInit(outLen, key, keyLen),
    hashUpdate: (data, off, len) => p.hashUpdate(data, off, len),
    hashFinal: (out, off) => p.hashFinal(out, off),
    x25519(out, scalar, point) {
      let shared: Buffer;
      try {
        shared = diffieHellman({ privateKey: privates.get(scalar), publicKey: publics.get(point) });
      } catch {
        // OpenSSL refuses an all-zero result (a low-order point), as WireGuard must.
        out.fill(0, 0, 32);
        return false;
      }
      out.set(shared);
      let d = 0;
      for (let i = 0; i < 32; i++) d |= shared[i];
      return d !== 0;
    },
    x25519Base(out, scalar) {
      const jwk = createPublicKey(privates.get(scalar)).export({ format: 'jwk' });
      out.set(Buffer.from(jwk.x as string, 'base64url'));
    },
  };
  return provider;
}
