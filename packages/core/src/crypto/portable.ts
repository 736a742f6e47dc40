/**
 * The portable crypto provider: pure TypeScript ChaCha20-Poly1305, XChaCha20-Poly1305, BLAKE2s
 * and X25519 that run unchanged on Node and on Espruino (no BigInt, no allocation on the data
 * path). See chacha20poly1305.ts, blake2s.ts and x25519.ts for the implementation notes.
 */
import type { CryptoProvider } from './provider.js';
import { wgSeal, wgOpen, xaeadSeal, xaeadOpen } from './chacha20poly1305.js';
import { Blake2s } from './blake2s.js';
import { x25519, x25519Base } from './x25519.js';

/** CryptoProvider over the portable primitives; each instance has its own BLAKE2s state. */
class PortableProvider implements CryptoProvider {
  declare readonly name: string;
  declare private readonly hash: Blake2s;

  constructor() {
    this.name = 'portable';
    this.hash = new Blake2s();
  }

  seal(
    key: Uint8Array, ctrLo: number, ctrHi: number,
    ad: Uint8Array | null, adOff: number, adLen: number,
    src: Uint8Array, srcOff: number, len: number,
    dst: Uint8Array, dstOff: number,
  ): void {
    wgSeal(key, ctrLo, ctrHi, ad, adOff, adLen, src, srcOff, len, dst, dstOff);
  }

  open(
    key: Uint8Array, ctrLo: number, ctrHi: number,
    ad: Uint8Array | null, adOff: number, adLen: number,
    src: Uint8Array, srcOff: number, len: number,
    dst: Uint8Array, dstOff: number,
  ): boolean {
    return wgOpen(key, ctrLo, ctrHi, ad, adOff, adLen, src, srcOff, len, dst, dstOff);
  }

  xseal(
    key: Uint8Array, nonce: Uint8Array, nonceOff: number,
    ad: Uint8Array | null, adOff: number, adLen: number,
    src: Uint8Array, srcOff: number, len: number,
    dst: Uint8Array, dstOff: number,
  ): void {
    xaeadSeal(key, nonce, nonceOff, ad, adOff, adLen, src, srcOff, len, dst, dstOff);
  }

  xopen(
    key: Uint8Array, nonce: Uint8Array, nonceOff: number,
    ad: Uint8Array | null, adOff: number, adLen: number,
    src: Uint8Array, srcOff: number, len: number,
    dst: Uint8Array, dstOff: number,
  ): boolean {
    return xaeadOpen(key, nonce, nonceOff, ad, adOff, adLen, src, srcOff, len, dst, dstOff);
  }

  hashInit(outLen: number, key: Uint8Array | null, keyLen: number): void {
    this.hash.init(outLen, key, keyLen);
  }

  hashUpdate(data: Uint8Array, off: number, len: number): void {
    this.hash.update(data, off, len);
  }

  hashFinal(out: Uint8Array, outOff: number): void {
    this.hash.final(out, outOff);
  }

  x25519(out: Uint8Array, scalar: Uint8Array, point: Uint8Array): boolean {
    return x25519(out, scalar, point);
  }

  x25519Base(out: Uint8Array, scalar: Uint8Array): void {
    x25519Base(out, scalar);
  }
}

/** Creates an independent portable provider (`name: 'portable'`), one per engine. */
export function createPortableProvider(): CryptoProvider {
  return new PortableProvider();
}
