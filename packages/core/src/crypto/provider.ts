/**
 * The crypto a WireGuard engine needs, as one object with caller-owned buffers.
 *
 * Every method writes into buffers the caller passes, at offsets the caller gives, so the data path
 * (seal/open) can run without allocating. A provider object keeps internal scratch state (the
 * BLAKE2s streaming state, AEAD scratch), so one provider instance must not be shared by two
 * engines running interleaved hash sequences; engines are single-threaded, so one per engine.
 *
 * Nonces follow WireGuard/Noise: 32 zero bits followed by a 64-bit little-endian counter, passed
 * as two 32-bit halves (`ctrLo`, `ctrHi`) so no BigInt is needed. A half may arrive as uint32 or
 * as the int32 with the same bits (the engine passes int32, which V8 never boxes into a heap
 * number); providers use only its low 32 bits (`x | 0` or `x >>> 0`).
 */
export interface CryptoProvider {
  readonly name: string;

  /**
   * ChaCha20-Poly1305 (RFC 8439) seal. Encrypts `src[srcOff, srcOff+len)` into
   * `dst[dstOff, dstOff+len)` and writes the 16-byte tag at `dst[dstOff+len]`.
   * `ad[adOff, adOff+adLen)` is the associated data (adLen 0 for none; ad may then be null).
   * `src` and `dst` may be the same buffer at the same offset (in place).
   */
  seal(
    key: Uint8Array, ctrLo: number, ctrHi: number,
    ad: Uint8Array | null, adOff: number, adLen: number,
    src: Uint8Array, srcOff: number, len: number,
    dst: Uint8Array, dstOff: number,
  ): void;

  /**
   * ChaCha20-Poly1305 open. `src[srcOff, srcOff+len)` is ciphertext, followed by its 16-byte tag
   * at `src[srcOff+len]`. On success writes the plaintext to `dst[dstOff, dstOff+len)` and returns
   * true; on a bad tag returns false and leaves `dst` unspecified (the tag is checked before any
   * plaintext is written when `src === dst`, so in-place open of a forged packet is harmless).
   */
  open(
    key: Uint8Array, ctrLo: number, ctrHi: number,
    ad: Uint8Array | null, adOff: number, adLen: number,
    src: Uint8Array, srcOff: number, len: number,
    dst: Uint8Array, dstOff: number,
  ): boolean;

  /** XChaCha20-Poly1305 seal with a 24-byte nonce at `nonce[nonceOff]`; same layout as `seal`. */
  xseal(
    key: Uint8Array, nonce: Uint8Array, nonceOff: number,
    ad: Uint8Array | null, adOff: number, adLen: number,
    src: Uint8Array, srcOff: number, len: number,
    dst: Uint8Array, dstOff: number,
  ): void;

  /** XChaCha20-Poly1305 open; same layout as `open`. */
  xopen(
    key: Uint8Array, nonce: Uint8Array, nonceOff: number,
    ad: Uint8Array | null, adOff: number, adLen: number,
    src: Uint8Array, srcOff: number, len: number,
    dst: Uint8Array, dstOff: number,
  ): boolean;

  /**
   * Starts a BLAKE2s (RFC 7693) computation with digest length `outLen` (1..32) and an optional
   * key `key[0, keyLen)` (keyLen 0..32; 0 = unkeyed). Resets any computation in progress.
   */
  hashInit(outLen: number, key: Uint8Array | null, keyLen: number): void;
  /** Feeds `data[off, off+len)` into the computation started by `hashInit`. */
  hashUpdate(data: Uint8Array, off: number, len: number): void;
  /** Finishes the computation and writes `outLen` bytes at `out[outOff]`. */
  hashFinal(out: Uint8Array, outOff: number): void;

  /**
   * X25519 (RFC 7748): `out = scalar * point` (32 bytes each; the scalar is clamped internally).
   * Returns false if the result is all zeros (a low-order point), which WireGuard must reject.
   */
  x25519(out: Uint8Array, scalar: Uint8Array, point: Uint8Array): boolean;
  /** X25519 with the base point: derives a public key from a private key. */
  x25519Base(out: Uint8Array, scalar: Uint8Array): void;
}

/** Fills `buf[off, off+len)` with cryptographically secure random bytes. Injected by the driver. */
export type RandomSource = (buf: Uint8Array, off: number, len: number) => void;
