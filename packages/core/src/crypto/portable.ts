/**
 * The portable crypto provider: pure TypeScript ChaCha20-Poly1305, XChaCha20-Poly1305, BLAKE2s
 * and X25519 that run unchanged on Node and on Espruino (no BigInt, no allocation on the data
 * path). See chacha20poly1305.ts, blake2s.ts and x25519.ts for the implementation notes.
 */
import type { CryptoProvider } from './provider.js';
import { wgSeal, wgOpen, xaeadSeal, xaeadOpen } from './chacha20poly1305.js';
import { Blake2s } from './blake2s.js';
import { x25519, x25519Base } from './x25519.js';

/**
 * CryptoProvider over the portable primitives; each instance has its own BLAKE2s state.
 *
 * The AEAD and X25519 methods are the module functions themselves, assigned in the constructor
 * rather than wrapped: on Espruino every function costs RAM variables for its parameter names,
 * and these take eleven each. (They ignore `this`.)
 */
class PortableProvider implements CryptoProvider {
  declare readonly name: string;
  declare private readonly hash: Blake2s;
  declare readonly seal: CryptoProvider['seal'];
  declare readonly open: CryptoProvider['open'];
  declare readonly xseal: CryptoProvider['xseal'];
  declare readonly xopen: CryptoProvider['xopen'];
  declare readonly x25519: CryptoProvider['x25519'];
  declare readonly x25519Base: CryptoProvider['x25519Base'];

  constructor() {
    this.name = 'portable';
    this.hash = new Blake2s();
    this.seal = wgSeal;
    this.open = wgOpen;
    this.xseal = xaeadSeal;
    this.xopen = xaeadOpen;
    this.x25519 = x25519;
    this.x25519Base = x25519Base;
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
}

/** Creates an independent portable provider (`name: 'portable'`), one per engine. */
export function createPortableProvider(): CryptoProvider {
  return new PortableProvider();
}
