/**
 * BLAKE2s (RFC 7693): streaming, keyed or unkeyed, digest length 1..32 bytes.
 *
 * A `Blake2s` object owns its state; after construction nothing allocates. The compression
 * function keeps the 16 working words in local variables and walks the 10 rounds with a message
 * schedule table (the rounds are not unrolled: BLAKE2s only runs in handshakes, where code size on
 * the device matters more than the last few percent of speed).
 */

/** Initialisation vector (the SHA-256 IV). */
const IV = new Int32Array(8);
IV[0] = 0x6a09e667; IV[1] = 0xbb67ae85 | 0; IV[2] = 0x3c6ef372; IV[3] = 0xa54ff53a | 0;
IV[4] = 0x510e527f; IV[5] = 0x9b05688c | 0; IV[6] = 0x1f83d9ab; IV[7] = 0x5be0cd19;

/** Message schedule: 10 rounds of 16 word indices. */
const SIGMA = new Uint8Array(160);
const SIGMA_HEX = '0123456789abcdef' + 'ea489fd61c02b753' + 'b8c052fdae367194' + '7931dcbe265a40f8' +
  '905724afe1bc683d' + '2c6a0b834d75fe19' + 'c51fed4a0763928b' + 'db7ec13950f4862a' +
  '6fe9b308c2d714a5' + 'a2847615fb9e3cd0';
for (let i = 0; i < 160; i++) SIGMA[i] = parseInt(SIGMA_HEX.charAt(i), 16);

/** Message words of the block being compressed (shared scratch; compress does not re-enter). */
const M = new Int32Array(16);

/**
 * Compresses the 64-byte block at `b[off]` into `h`. `tLo`/`tHi` is the byte counter including
 * this block; `last` marks the final block.
 */
function compress(h: Int32Array, b: Uint8Array, off: number, tLo: number, tHi: number, last: boolean): void {
  for (let i = 0; i < 16; i++) {
    const o = off + 4 * i;
    M[i] = b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24);
  }
  const m = M, s = SIGMA;
  let v0 = h[0], v1 = h[1], v2 = h[2], v3 = h[3], v4 = h[4], v5 = h[5], v6 = h[6], v7 = h[7];
  let v8 = IV[0], v9 = IV[1], v10 = IV[2], v11 = IV[3];
  let v12 = IV[4] ^ tLo, v13 = IV[5] ^ tHi, v14 = last ? ~IV[6] : IV[6], v15 = IV[7];
  for (let r = 0; r < 160; r += 16) {
    // Columns.
    v12 ^= v0 = (v0 + v4 + m[s[r]]) | 0; v12 = (v12 >>> 16) | (v12 << 16);
    v4 ^= v8 = (v8 + v12) | 0; v4 = (v4 >>> 12) | (v4 << 20);
    v12 ^= v0 = (v0 + v4 + m[s[r + 1]]) | 0; v12 = (v12 >>> 8) | (v12 << 24);
    v4 ^= v8 = (v8 + v12) | 0; v4 = (v4 >>> 7) | (v4 << 25);
    v13 ^= v1 = (v1 + v5 + m[s[r + 2]]) | 0; v13 = (v13 >>> 16) | (v13 << 16);
    v5 ^= v9 = (v9 + v13) | 0; v5 = (v5 >>> 12) | (v5 << 20);
    v13 ^= v1 = (v1 + v5 + m[s[r + 3]]) | 0; v13 = (v13 >>> 8) | (v13 << 24);
    v5 ^= v9 = (v9 + v13) | 0; v5 = (v5 >>> 7) | (v5 << 25);
    v14 ^= v2 = (v2 + v6 + m[s[r + 4]]) | 0; v14 = (v14 >>> 16) | (v14 << 16);
    v6 ^= v10 = (v10 + v14) | 0; v6 = (v6 >>> 12) | (v6 << 20);
    v14 ^= v2 = (v2 + v6 + m[s[r + 5]]) | 0; v14 = (v14 >>> 8) | (v14 << 24);
    v6 ^= v10 = (v10 + v14) | 0; v6 = (v6 >>> 7) | (v6 << 25);
    v15 ^= v3 = (v3 + v7 + m[s[r + 6]]) | 0; v15 = (v15 >>> 16) | (v15 << 16);
    v7 ^= v11 = (v11 + v15) | 0; v7 = (v7 >>> 12) | (v7 << 20);
    v15 ^= v3 = (v3 + v7 + m[s[r + 7]]) | 0; v15 = (v15 >>> 8) | (v15 << 24);
    v7 ^= v11 = (v11 + v15) | 0; v7 = (v7 >>> 7) | (v7 << 25);
    // Diagonals.
    v15 ^= v0 = (v0 + v5 + m[s[r + 8]]) | 0; v15 = (v15 >>> 16) | (v15 << 16);
    v5 ^= v10 = (v10 + v15) | 0; v5 = (v5 >>> 12) | (v5 << 20);
    v15 ^= v0 = (v0 + v5 + m[s[r + 9]]) | 0; v15 = (v15 >>> 8) | (v15 << 24);
    v5 ^= v10 = (v10 + v15) | 0; v5 = (v5 >>> 7) | (v5 << 25);
    v12 ^= v1 = (v1 + v6 + m[s[r + 10]]) | 0; v12 = (v12 >>> 16) | (v12 << 16);
    v6 ^= v11 = (v11 + v12) | 0; v6 = (v6 >>> 12) | (v6 << 20);
    v12 ^= v1 = (v1 + v6 + m[s[r + 11]]) | 0; v12 = (v12 >>> 8) | (v12 << 24);
    v6 ^= v11 = (v11 + v12) | 0; v6 = (v6 >>> 7) | (v6 << 25);
    v13 ^= v2 = (v2 + v7 + m[s[r + 12]]) | 0; v13 = (v13 >>> 16) | (v13 << 16);
    v7 ^= v8 = (v8 + v13) | 0; v7 = (v7 >>> 12) | (v7 << 20);
    v13 ^= v2 = (v2 + v7 + m[s[r + 13]]) | 0; v13 = (v13 >>> 8) | (v13 << 24);
    v7 ^= v8 = (v8 + v13) | 0; v7 = (v7 >>> 7) | (v7 << 25);
    v14 ^= v3 = (v3 + v4 + m[s[r + 14]]) | 0; v14 = (v14 >>> 16) | (v14 << 16);
    v4 ^= v9 = (v9 + v14) | 0; v4 = (v4 >>> 12) | (v4 << 20);
    v14 ^= v3 = (v3 + v4 + m[s[r + 15]]) | 0; v14 = (v14 >>> 8) | (v14 << 24);
    v4 ^= v9 = (v9 + v14) | 0; v4 = (v4 >>> 7) | (v4 << 25);
  }
  h[0] ^= v0 ^ v8; h[1] ^= v1 ^ v9; h[2] ^= v2 ^ v10; h[3] ^= v3 ^ v11;
  h[4] ^= v4 ^ v12; h[5] ^= v5 ^ v13; h[6] ^= v6 ^ v14; h[7] ^= v7 ^ v15;
}

/** Streaming BLAKE2s state. One object per concurrent hash computation. */
export class Blake2s {
  // `declare` fields: assigned in the constructor, no class-field syntax emitted (Espruino).
  /** Chained state. */
  declare h: Int32Array;
  /** Pending input (the final block must be held back until `final`). */
  declare buf: Uint8Array;
  declare bufLen: number;
  /** Bytes compressed so far, as two uint32 halves. */
  declare tLo: number;
  declare tHi: number;
  declare outLen: number;

  constructor() {
    this.h = new Int32Array(8);
    this.buf = new Uint8Array(64);
    this.bufLen = 0;
    this.tLo = 0;
    this.tHi = 0;
    this.outLen = 32;
    this.init(32, null, 0);
  }

  /**
   * Starts a new computation with digest length `outLen` (1..32) and key `key[0, keyLen)`
   * (keyLen 0..32; 0 means unkeyed). Throws on out-of-range lengths.
   */
  init(outLen: number, key: Uint8Array | null, keyLen: number): void {
    if (!(outLen >= 1 && outLen <= 32) || !(keyLen >= 0 && keyLen <= 32)) {
      throw new Error('blake2s: bad outLen or keyLen');
    }
    const h = this.h;
    for (let i = 0; i < 8; i++) h[i] = IV[i];
    h[0] ^= 0x01010000 ^ (keyLen << 8) ^ outLen;
    this.outLen = outLen;
    this.tLo = 0;
    this.tHi = 0;
    this.buf.fill(0);
    this.bufLen = 0;
    if (keyLen > 0) {
      // The key, zero padded, is the first block.
      const k = key as Uint8Array;
      for (let i = 0; i < keyLen; i++) this.buf[i] = k[i];
      this.bufLen = 64;
    }
  }

  /** Adds `n` (<= 64) to the 64-bit byte counter. */
  private count(n: number): void {
    const lo = this.tLo + n;
    this.tLo = lo >>> 0;
    if (lo > 0xffffffff) this.tHi = (this.tHi + 1) >>> 0;
  }

  /** Feeds `data[off, off+len)`. */
  update(data: Uint8Array, off: number, len: number): void {
    const buf = this.buf;
    while (len > 0) {
      if (this.bufLen === 64) {
        // The buffered block is not the last one: there is more input.
        this.count(64);
        compress(this.h, buf, 0, this.tLo | 0, this.tHi | 0, false);
        this.bufLen = 0;
      }
      if (this.bufLen === 0 && len > 64) {
        // Whole blocks straight from the input, keeping at least one byte back.
        this.count(64);
        compress(this.h, data, off, this.tLo | 0, this.tHi | 0, false);
        off += 64;
        len -= 64;
        continue;
      }
      let n = 64 - this.bufLen;
      if (n > len) n = len;
      for (let i = 0; i < n; i++) buf[this.bufLen + i] = data[off + i];
      this.bufLen += n;
      off += n;
      len -= n;
    }
  }

  /** Finishes the computation and writes `outLen` bytes at `out[outOff]`. */
  final(out: Uint8Array, outOff: number): void {
    const buf = this.buf;
    this.count(this.bufLen);
    for (let i = this.bufLen; i < 64; i++) buf[i] = 0;
    compress(this.h, buf, 0, this.tLo | 0, this.tHi | 0, true);
    const h = this.h;
    for (let i = 0; i < this.outLen; i++) out[outOff + i] = (h[i >> 2] >>> (8 * (i & 3))) & 255;
  }
}
