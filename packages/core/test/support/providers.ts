import type { CryptoProvider } from '../../src/crypto/provider.js';
import { createPortableProvider } from '../../src/crypto/portable.js';
import { createNobleProvider } from '../../src/crypto/noble.js';

/** Every provider the engine-level tests run against. */
export const providers: Array<[string, () => CryptoProvider]> = [
  ['portable', createPortableProvider],
  ['noble', createNobleProvider],
];
