/** Key handling shared by drivers: `wg`-compatible base64 keys and key generation. */
import type { CryptoProvider, RandomSource } from './crypto/provider.js';
import { fromBase64, toBase64 } from './bytes.js';
import { wgError } from './errors.js';

/** Parses a base64 WireGuard key (44 characters, 32 bytes); throws EINVAL naming `what`. */
export function parseKey(text: string, what: string): Uint8Array {
  const k = fromBase64(text.trim());
  if (k === null || k.length !== 32) {
    throw wgError('EINVAL', what + ' is not a valid WireGuard key (expected 44 base64 characters encoding 32 bytes)');
  }
  return k;
}

/** Formats a 32-byte key as base64, as `wg` prints it. */
export function formatKey(key: Uint8Array): string {
  return toBase64(key);
}

/** Generates a private key clamped as `wg genkey` does. */
export function generatePrivateKey(random: RandomSource): Uint8Array {
  const k = new Uint8Array(32);
  random(k, 0, 32);
  k[0] &= 248;
  k[31] = (k[31] & 127) | 64;
  return k;
}

/** The public key of a private key. */
export function publicKeyOf(crypto: CryptoProvider, privateKey: Uint8Array): Uint8Array {
  const out = new Uint8Array(32);
  crypto.x25519Base(out, privateKey);
  return out;
}
