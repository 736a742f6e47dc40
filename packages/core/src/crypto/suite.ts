/**
 * WireGuard's cipher suite in few functions, for the Espruino interpreter's RAM budget: X25519
 * (RFC 7748), ChaCha20-Poly1305 (RFC 8439) with WireGuard's nonce, HChaCha20 (for
 * XChaCha20-Poly1305) and streaming BLAKE2s (RFC 7693).
 *
 * On Espruino every function object costs RAM (~5-6 variables plus one per parameter) even when
 * its code runs from flash, so there are few functions: ChaCha20-Poly1305 (the data path) is three
 * at module level with its scratch in module-level typed arrays; the handshake's primitives are
 * created by `handshakeSuite()` when a handshake step needs them, with their own scratch, so they
 * cost nothing at rest (the JS stand-in for E.convolve is only created where E.convolve is
 * missing). Nothing allocates per call, and nothing is re-entrant (one computation of each kind
 * at a time; no call yields).
 *
 * The arithmetic is that of x25519.ts, blake2s.ts and chacha20poly1305.ts, with the interpreter
 * tuning measured in packages/bench/README.md ("Espruino: the device's cipher suite"), restructured: field add/sub/swap, pack, unpack and
 * invert are inlined into x25519(); Poly1305 init and finish into aead(); BLAKE2s compression
 * into hashUpdate().
 */

// ---------------------------------------------------------------------------------------------
// Constants (built at load time: a minifier folds `1.5 * 2**72` into a decimal literal, and
// Espruino parses such literals inexactly)
// ---------------------------------------------------------------------------------------------

let P20 = 1;
for (let i = 0; i < 20; i++) P20 *= 2;
/** 1.5 * 2^72: (x + C20) - C20 rounds x to the nearest multiple of 2^20, exactly for |x| < 2^71. */
const C20 = 1.5 * P20 * P20 * P20 * 4096;
/** 1.5 * 2^74: the same for 2^22. */
const C22 = 4 * C20;
const INV20 = 1 / P20;
const INV22 = INV20 / 4;
/** 2^-32, for the carry between Poly1305 tag words. */
const INV32 = INV20 / 4096;
/** X25519: a carry out of limb 12 (2^260) re-enters limb 0 times 608 = 32 * 19. */
const WRAP20 = 608 / P20;
/** Poly1305: a carry out of limb 5 (2^130) re-enters limb 0 times 5. */
const FIVE_INV20 = 5 / P20;

type Convolve = (a: Float64Array, b: Float64Array, offset: number) => number;
/** Espruino's global `E` (absent on Node). */
declare const E: { convolve?: Convolve } | undefined;
/**
 * Espruino's native dot product with offset (13 multiply-adds per call); elsewhere a JS loop with
 * the same result. The function expression is only created where it is used.
 */
const CONV: Convolve = typeof E !== 'undefined' && E && typeof E.convolve === 'function'
  ? E.convolve
  : function (a: Float64Array, b: Float64Array, off: number): number {
    let s = 0;
    for (let i = 0; i < 13; i++) s += a[i] * b[off + i];
    return s;
  };

// ---------------------------------------------------------------------------------------------
// ChaCha20-Poly1305
// ---------------------------------------------------------------------------------------------

/** ChaCha20 input words 4..15: the key [0..7], the block counter [8] and the nonce [9..11]. */
const K = new Int32Array(12);
/**
 * Keystream: the Poly1305 one-time key (64 bytes of block 0), HChaCha20's block, and a partial
 * final block (zeroed, then XORed in place, which leaves raw keystream).
 */
const KS = new Uint8Array(64);
/** One Poly1305 block: an AD/ciphertext remainder zero padded, the lengths block, a tag to check. */
const BLK = new Uint8Array(16);
/**
 * Poly1305 accumulator h0..h5 [0..5], key r0..r5 [6..11], 20*r1..20*r5 [12..16], r^2 in balanced
 * limbs [17..22] and 20 times its limbs 1..5 [23..27] (22-bit limbs; 2^132 wraps as 20).
 */
const PS = new Float64Array(28);

/**
 * XORs ChaCha20 keystream (key K[0..7], block counter K[8], nonce K[9..11]) over `s[p, p+len)`
 * into `d[q, q+len)`; in place (same buffer, same offset) is allowed. KS.fill(0) then
 * chacha(KS, 0, KS, 0, 64) leaves one raw keystream block in KS.
 *
 * Tuned for the interpreter (packages/bench/README.md): the 16 state words are declared
 * right after the parameters; round additions skip `| 0` (the "a" and "c" words grow as exact
 * doubles, at most 41 int32 terms, below 2^37, and every XOR and shift reads them modulo 2^32);
 * one output path per block.
 */
function chacha(s: Uint8Array, p: number, d: Uint8Array, q: number, len: number): void {
  let x0: number, x1: number, x2: number, x3: number, x4: number, x5: number, x6: number, x7: number;
  let x8: number, x9: number, x10: number, x11: number, x12: number, x13: number, x14: number, x15: number;
  let i: number, ts: Uint8Array = KS, tp = 0, td: Uint8Array = KS, tq = 0;
  const j4 = K[0], j5 = K[1], j6 = K[2], j7 = K[3], j8 = K[4], j9 = K[5], j10 = K[6], j11 = K[7];
  const j13 = K[9], j14 = K[10], j15 = K[11];
  let j12 = K[8];
  while (len > 0) {
    x0 = 0x61707865; x1 = 0x3320646e; x2 = 0x79622d32; x3 = 0x6b206574;
    x4 = j4; x5 = j5; x6 = j6; x7 = j7; x8 = j8; x9 = j9; x10 = j10; x11 = j11;
    x12 = j12; x13 = j13; x14 = j14; x15 = j15;
    for (i = 0; i < 10; i++) {
      // Quarter rounds, columns then diagonals: a += b; d ^= a; d <<<= 16; c += d; b ^= c; b <<<= 12; ...
      x12 = (x12 ^= x0 += x4) << 16 | x12 >>> 16;
      x4 = (x4 ^= x8 += x12) << 12 | x4 >>> 20;
      x12 = (x12 ^= x0 += x4) << 8 | x12 >>> 24;
      x4 = (x4 ^= x8 += x12) << 7 | x4 >>> 25;
      x13 = (x13 ^= x1 += x5) << 16 | x13 >>> 16;
      x5 = (x5 ^= x9 += x13) << 12 | x5 >>> 20;
      x13 = (x13 ^= x1 += x5) << 8 | x13 >>> 24;
      x5 = (x5 ^= x9 += x13) << 7 | x5 >>> 25;
      x14 = (x14 ^= x2 += x6) << 16 | x14 >>> 16;
      x6 = (x6 ^= x10 += x14) << 12 | x6 >>> 20;
      x14 = (x14 ^= x2 += x6) << 8 | x14 >>> 24;
      x6 = (x6 ^= x10 += x14) << 7 | x6 >>> 25;
      x15 = (x15 ^= x3 += x7) << 16 | x15 >>> 16;
      x7 = (x7 ^= x11 += x15) << 12 | x7 >>> 20;
      x15 = (x15 ^= x3 += x7) << 8 | x15 >>> 24;
      x7 = (x7 ^= x11 += x15) << 7 | x7 >>> 25;
      x15 = (x15 ^= x0 += x5) << 16 | x15 >>> 16;
      x5 = (x5 ^= x10 += x15) << 12 | x5 >>> 20;
      x15 = (x15 ^= x0 += x5) << 8 | x15 >>> 24;
      x5 = (x5 ^= x10 += x15) << 7 | x5 >>> 25;
      x12 = (x12 ^= x1 += x6) << 16 | x12 >>> 16;
      x6 = (x6 ^= x11 += x12) << 12 | x6 >>> 20;
      x12 = (x12 ^= x1 += x6) << 8 | x12 >>> 24;
      x6 = (x6 ^= x11 += x12) << 7 | x6 >>> 25;
      x13 = (x13 ^= x2 += x7) << 16 | x13 >>> 16;
      x7 = (x7 ^= x8 += x13) << 12 | x7 >>> 20;
      x13 = (x13 ^= x2 += x7) << 8 | x13 >>> 24;
      x7 = (x7 ^= x8 += x13) << 7 | x7 >>> 25;
      x14 = (x14 ^= x3 += x4) << 16 | x14 >>> 16;
      x4 = (x4 ^= x9 += x14) << 12 | x4 >>> 20;
      x14 = (x14 ^= x3 += x4) << 8 | x14 >>> 24;
      x4 = (x4 ^= x9 += x14) << 7 | x4 >>> 25;
    }
    x0 += 0x61707865; x1 += 0x3320646e; x2 += 0x79622d32; x3 += 0x6b206574;
    x4 += j4; x5 += j5; x6 += j6; x7 += j7; x8 += j8; x9 += j9; x10 += j10; x11 += j11;
    x12 += j12; x13 += j13; x14 += j14; x15 += j15;
    if (len < 64) {
      // A partial final block: keystream into KS first (XOR over zeros), then the tail below.
      ts = s; tp = p; td = d; tq = q;
      KS.fill(0);
      s = KS; p = 0; d = KS; q = 0;
    }
    // Uint8Array stores keep the low 8 bits, so no masking is needed.
    d[q] = s[p] ^ x0; d[q + 1] = s[p + 1] ^ x0 >>> 8; d[q + 2] = s[p + 2] ^ x0 >>> 16; d[q + 3] = s[p + 3] ^ x0 >>> 24;
    d[q + 4] = s[p + 4] ^ x1; d[q + 5] = s[p + 5] ^ x1 >>> 8; d[q + 6] = s[p + 6] ^ x1 >>> 16; d[q + 7] = s[p + 7] ^ x1 >>> 24;
    d[q + 8] = s[p + 8] ^ x2; d[q + 9] = s[p + 9] ^ x2 >>> 8; d[q + 10] = s[p + 10] ^ x2 >>> 16; d[q + 11] = s[p + 11] ^ x2 >>> 24;
    d[q + 12] = s[p + 12] ^ x3; d[q + 13] = s[p + 13] ^ x3 >>> 8; d[q + 14] = s[p + 14] ^ x3 >>> 16; d[q + 15] = s[p + 15] ^ x3 >>> 24;
    d[q + 16] = s[p + 16] ^ x4; d[q + 17] = s[p + 17] ^ x4 >>> 8; d[q + 18] = s[p + 18] ^ x4 >>> 16; d[q + 19] = s[p + 19] ^ x4 >>> 24;
    d[q + 20] = s[p + 20] ^ x5; d[q + 21] = s[p + 21] ^ x5 >>> 8; d[q + 22] = s[p + 22] ^ x5 >>> 16; d[q + 23] = s[p + 23] ^ x5 >>> 24;
    d[q + 24] = s[p + 24] ^ x6; d[q + 25] = s[p + 25] ^ x6 >>> 8; d[q + 26] = s[p + 26] ^ x6 >>> 16; d[q + 27] = s[p + 27] ^ x6 >>> 24;
    d[q + 28] = s[p + 28] ^ x7; d[q + 29] = s[p + 29] ^ x7 >>> 8; d[q + 30] = s[p + 30] ^ x7 >>> 16; d[q + 31] = s[p + 31] ^ x7 >>> 24;
    d[q + 32] = s[p + 32] ^ x8; d[q + 33] = s[p + 33] ^ x8 >>> 8; d[q + 34] = s[p + 34] ^ x8 >>> 16; d[q + 35] = s[p + 35] ^ x8 >>> 24;
    d[q + 36] = s[p + 36] ^ x9; d[q + 37] = s[p + 37] ^ x9 >>> 8; d[q + 38] = s[p + 38] ^ x9 >>> 16; d[q + 39] = s[p + 39] ^ x9 >>> 24;
    d[q + 40] = s[p + 40] ^ x10; d[q + 41] = s[p + 41] ^ x10 >>> 8; d[q + 42] = s[p + 42] ^ x10 >>> 16; d[q + 43] = s[p + 43] ^ x10 >>> 24;
    d[q + 44] = s[p + 44] ^ x11; d[q + 45] = s[p + 45] ^ x11 >>> 8; d[q + 46] = s[p + 46] ^ x11 >>> 16; d[q + 47] = s[p + 47] ^ x11 >>> 24;
    d[q + 48] = s[p + 48] ^ x12; d[q + 49] = s[p + 49] ^ x12 >>> 8; d[q + 50] = s[p + 50] ^ x12 >>> 16; d[q + 51] = s[p + 51] ^ x12 >>> 24;
    d[q + 52] = s[p + 52] ^ x13; d[q + 53] = s[p + 53] ^ x13 >>> 8; d[q + 54] = s[p + 54] ^ x13 >>> 16; d[q + 55] = s[p + 55] ^ x13 >>> 24;
    d[q + 56] = s[p + 56] ^ x14; d[q + 57] = s[p + 57] ^ x14 >>> 8; d[q + 58] = s[p + 58] ^ x14 >>> 16; d[q + 59] = s[p + 59] ^ x14 >>> 24;
    d[q + 60] = s[p + 60] ^ x15; d[q + 61] = s[p + 61] ^ x15 >>> 8; d[q + 62] = s[p + 62] ^ x15 >>> 16; d[q + 63] = s[p + 63] ^ x15 >>> 24;
    if (len < 64) {
      for (i = 0; i < len; i++) td[tq + i] = ts[tp + i] ^ KS[i];
      return;
    }
    p += 64; q += 64; len -= 64;
    j12 = (j12 + 1) | 0;
  }
}

/**
 * Absorbs `m[off, off+len)` zero padded to a multiple of 16 bytes (the AEAD layout) into the
 * Poly1305 state PS. Pairs of blocks go through one carry chain, h = (h + m1) * r^2 + m2 * r;
 * an odd block goes alone, h = (h + m) * r; a remainder is copied into BLK, padded, and absorbed
 * as one more block.
 *
 * Bounds (exact integers in doubles, |x| < 2^53): carried limbs are balanced, |h_i| <= 2^21
 * (+2^12 on h1; h5 <= 2^19); with a block limb (< 2^22) added, |h_i| < 2^22.6. r_i < 2^22 and
 * s_i = 20 r_i < 2^26.4; r^2 is balanced, |q_i| <= 2^21 + 2^12, t_i = 20 q_i < 2^25.4. A pair
 * sum is < 2^49.7 + 2^50 < 2^51.
 */
function poly(m: Uint8Array, off: number, len: number): void {
  // Hot variables first (the interpreter scans a scope in declaration order).
  let h0 = PS[0], h1 = PS[1], h2 = PS[2], h3 = PS[3], h4 = PS[4], h5 = PS[5];
  let y0: number, y1: number, y2: number, y3: number, y4: number, y5: number;
  let w0: number, w1: number, w2: number, w3: number, c: number;
  let d0: number, d1: number, d2: number, d3: number, d4: number, d5: number;
  const r0 = PS[6], r1 = PS[7], r2 = PS[8], r3 = PS[9], r4 = PS[10], r5 = PS[11];
  const s1 = PS[12], s2 = PS[13], s3 = PS[14], s4 = PS[15], s5 = PS[16];
  const q0 = PS[17], q1 = PS[18], q2 = PS[19], q3 = PS[20], q4 = PS[21], q5 = PS[22];
  const t1 = PS[23], t2 = PS[24], t3 = PS[25], t4 = PS[26], t5 = PS[27];
  const c22 = C22, i22 = INV22, c20 = C20, f20 = FIVE_INV20;
  let end2 = off + (len & -32), end = off + (len & -16), rem = len & 15;
  for (;;) {
    while (off < end2) {
      w0 = m[off] | (m[off + 1] << 8) | (m[off + 2] << 16) | (m[off + 3] << 24);
      w1 = m[off + 4] | (m[off + 5] << 8) | (m[off + 6] << 16) | (m[off + 7] << 24);
      w2 = m[off + 8] | (m[off + 9] << 8) | (m[off + 10] << 16) | (m[off + 11] << 24);
      w3 = m[off + 12] | (m[off + 13] << 8) | (m[off + 14] << 16) | (m[off + 15] << 24);
      h0 += w0 & 0x3fffff;
      h1 += (w0 >>> 22) | ((w1 & 0xfff) << 10);
      h2 += (w1 >>> 12) | ((w2 & 3) << 20);
      h3 += (w2 >>> 2) & 0x3fffff;
      h4 += (w2 >>> 24) | ((w3 & 0x3fff) << 8);
      h5 += (w3 >>> 14) | 262144; // bit 128 of the block, in limb 5
      w0 = m[off + 16] | (m[off + 17] << 8) | (m[off + 18] << 16) | (m[off + 19] << 24);
      w1 = m[off + 20] | (m[off + 21] << 8) | (m[off + 22] << 16) | (m[off + 23] << 24);
      w2 = m[off + 24] | (m[off + 25] << 8) | (m[off + 26] << 16) | (m[off + 27] << 24);
      w3 = m[off + 28] | (m[off + 29] << 8) | (m[off + 30] << 16) | (m[off + 31] << 24);
      y0 = w0 & 0x3fffff;
      y1 = (w0 >>> 22) | ((w1 & 0xfff) << 10);
      y2 = (w1 >>> 12) | ((w2 & 3) << 20);
      y3 = (w2 >>> 2) & 0x3fffff;
      y4 = (w2 >>> 24) | ((w3 & 0x3fff) << 8);
      y5 = (w3 >>> 14) | 262144;
      d0 = h0 * q0 + h1 * t5 + h2 * t4 + h3 * t3 + h4 * t2 + h5 * t1 + y0 * r0 + y1 * s5 + y2 * s4 + y3 * s3 + y4 * s2 + y5 * s1;
      d1 = h0 * q1 + h1 * q0 + h2 * t5 + h3 * t4 + h4 * t3 + h5 * t2 + y0 * r1 + y1 * r0 + y2 * s5 + y3 * s4 + y4 * s3 + y5 * s2;
      d2 = h0 * q2 + h1 * q1 + h2 * q0 + h3 * t5 + h4 * t4 + h5 * t3 + y0 * r2 + y1 * r1 + y2 * r0 + y3 * s5 + y4 * s4 + y5 * s3;
      d3 = h0 * q3 + h1 * q2 + h2 * q1 + h3 * q0 + h4 * t5 + h5 * t4 + y0 * r3 + y1 * r2 + y2 * r1 + y3 * r0 + y4 * s5 + y5 * s4;
      d4 = h0 * q4 + h1 * q3 + h2 * q2 + h3 * q1 + h4 * q0 + h5 * t5 + y0 * r4 + y1 * r3 + y2 * r2 + y3 * r1 + y4 * r0 + y5 * s5;
      d5 = h0 * q5 + h1 * q4 + h2 * q3 + h3 * q2 + h4 * q1 + h5 * q0 + y0 * r5 + y1 * r4 + y2 * r3 + y3 * r2 + y4 * r1 + y5 * r0;
      c = (d0 + c22) - c22; h0 = d0 - c; d1 += c * i22;
      c = (d1 + c22) - c22; h1 = d1 - c; d2 += c * i22;
      c = (d2 + c22) - c22; h2 = d2 - c; d3 += c * i22;
      c = (d3 + c22) - c22; h3 = d3 - c; d4 += c * i22;
      c = (d4 + c22) - c22; h4 = d4 - c; d5 += c * i22;
      c = (d5 + c20) - c20; h5 = d5 - c; h0 += c * f20;
      c = (h0 + c22) - c22; h0 -= c; h1 += c * i22;
      off += 32;
    }
    while (off < end) {
      w0 = m[off] | (m[off + 1] << 8) | (m[off + 2] << 16) | (m[off + 3] << 24);
      w1 = m[off + 4] | (m[off + 5] << 8) | (m[off + 6] << 16) | (m[off + 7] << 24);
      w2 = m[off + 8] | (m[off + 9] << 8) | (m[off + 10] << 16) | (m[off + 11] << 24);
      w3 = m[off + 12] | (m[off + 13] << 8) | (m[off + 14] << 16) | (m[off + 15] << 24);
      h0 += w0 & 0x3fffff;
      h1 += (w0 >>> 22) | ((w1 & 0xfff) << 10);
      h2 += (w1 >>> 12) | ((w2 & 3) << 20);
      h3 += (w2 >>> 2) & 0x3fffff;
      h4 += (w2 >>> 24) | ((w3 & 0x3fff) << 8);
      h5 += (w3 >>> 14) | 262144;
      d0 = h0 * r0 + h1 * s5 + h2 * s4 + h3 * s3 + h4 * s2 + h5 * s1;
      d1 = h0 * r1 + h1 * r0 + h2 * s5 + h3 * s4 + h4 * s3 + h5 * s2;
      d2 = h0 * r2 + h1 * r1 + h2 * r0 + h3 * s5 + h4 * s4 + h5 * s3;
      d3 = h0 * r3 + h1 * r2 + h2 * r1 + h3 * r0 + h4 * s5 + h5 * s4;
      d4 = h0 * r4 + h1 * r3 + h2 * r2 + h3 * r1 + h4 * r0 + h5 * s5;
      d5 = h0 * r5 + h1 * r4 + h2 * r3 + h3 * r2 + h4 * r1 + h5 * r0;
      c = (d0 + c22) - c22; h0 = d0 - c; d1 += c * i22;
      c = (d1 + c22) - c22; h1 = d1 - c; d2 += c * i22;
      c = (d2 + c22) - c22; h2 = d2 - c; d3 += c * i22;
      c = (d3 + c22) - c22; h3 = d3 - c; d4 += c * i22;
      c = (d4 + c22) - c22; h4 = d4 - c; d5 += c * i22;
      c = (d5 + c20) - c20; h5 = d5 - c; h0 += c * f20;
      c = (h0 + c22) - c22; h0 -= c; h1 += c * i22;
      off += 16;
    }
    if (rem === 0) break;
    BLK.fill(0);
    for (c = 0; c < rem; c++) BLK[c] = m[off + c];
    m = BLK; off = 0; end2 = 0; end = 16; rem = 0;
  }
  PS[0] = h0; PS[1] = h1; PS[2] = h2; PS[3] = h3; PS[4] = h4; PS[5] = h5;
}

/**
 * ChaCha20-Poly1305 (RFC 8439), in place. Nonce = 4 zero bytes || ctrLo (LE32) || ctrHi (LE32)
 * (WireGuard's; halves may be int32 or uint32, the low 32 bits are used). ad[0, adLen) is the AD
 * (ad null/adLen 0: none).
 * open=false (seal): encrypts buf[off, off+len) in place and writes the 16-byte tag at
 * buf[off+len]; returns true.
 * open=true: checks the tag at buf[off+len] over the ciphertext FIRST (constant-time compare);
 * if good decrypts in place and returns true, else returns false with buf untouched.
 */
export function aead(
  key: Uint8Array, ctrLo: number, ctrHi: number, ad: Uint8Array | null, adLen: number,
  buf: Uint8Array, off: number, len: number, open: boolean,
): boolean {
  let i: number, c: number;
  for (i = 0; i < 8; i++) {
    c = 4 * i;
    K[i] = key[c] | (key[c + 1] << 8) | (key[c + 2] << 16) | (key[c + 3] << 24);
  }
  K[9] = 0; K[10] = ctrLo | 0; K[11] = ctrHi | 0;
  if (!open) {
    K[8] = 1;
    chacha(buf, off, buf, off, len);
  }
  // Poly1305 key = the first 32 bytes of block 0. It is made after sealing's encryption (whose
  // partial final block also uses KS), so s stays in KS[16..32) until the tag is written.
  K[8] = 0;
  KS.fill(0);
  chacha(KS, 0, KS, 0, 64);
  // r, clamped, in six 22-bit limbs (bit positions 0, 22, .., 110; r < 2^124, so r5 < 2^14).
  const t0 = (KS[0] | (KS[1] << 8) | (KS[2] << 16) | (KS[3] << 24)) & 0x0fffffff;
  const t1 = (KS[4] | (KS[5] << 8) | (KS[6] << 16) | (KS[7] << 24)) & 0x0ffffffc;
  const t2 = (KS[8] | (KS[9] << 8) | (KS[10] << 16) | (KS[11] << 24)) & 0x0ffffffc;
  const t3 = (KS[12] | (KS[13] << 8) | (KS[14] << 16) | (KS[15] << 24)) & 0x0ffffffc;
  const r0 = t0 & 0x3fffff;
  const r1 = (t0 >>> 22) | ((t1 & 0xfff) << 10);
  const r2 = (t1 >>> 12) | ((t2 & 3) << 20);
  const r3 = (t2 >>> 2) & 0x3fffff;
  const r4 = (t2 >>> 24) | ((t3 & 0x3fff) << 8);
  const r5 = t3 >>> 14;
  const s1 = 20 * r1, s2 = 20 * r2, s3 = 20 * r3, s4 = 20 * r4, s5 = 20 * r5;
  PS.fill(0, 0, 6);
  PS[6] = r0; PS[7] = r1; PS[8] = r2; PS[9] = r3; PS[10] = r4; PS[11] = r5;
  PS[12] = s1; PS[13] = s2; PS[14] = s3; PS[15] = s4; PS[16] = s5;
  // r^2 mod p, balanced (products < 2^22 * 2^26.4, sums < 2^51: exact).
  let d0 = r0 * r0 + 2 * (r1 * s5 + r2 * s4) + r3 * s3;
  let d1 = 2 * (r0 * r1 + r2 * s5 + r3 * s4);
  let d2 = 2 * (r0 * r2 + r3 * s5) + r1 * r1 + r4 * s4;
  let d3 = 2 * (r0 * r3 + r1 * r2 + r4 * s5);
  let d4 = 2 * (r0 * r4 + r1 * r3) + r2 * r2 + r5 * s5;
  let d5 = 2 * (r0 * r5 + r1 * r4 + r2 * r3);
  const c22 = C22, i22 = INV22;
  c = (d0 + c22) - c22; d0 -= c; d1 += c * i22;
  c = (d1 + c22) - c22; d1 -= c; d2 += c * i22;
  c = (d2 + c22) - c22; d2 -= c; d3 += c * i22;
  c = (d3 + c22) - c22; d3 -= c; d4 += c * i22;
  c = (d4 + c22) - c22; d4 -= c; d5 += c * i22;
  c = (d5 + C20) - C20; d5 -= c; d0 += c * FIVE_INV20;
  c = (d0 + c22) - c22; d0 -= c; d1 += c * i22;
  PS[17] = d0; PS[18] = d1; PS[19] = d2; PS[20] = d3; PS[21] = d4; PS[22] = d5;
  PS[23] = 20 * d1; PS[24] = 20 * d2; PS[25] = 20 * d3; PS[26] = 20 * d4; PS[27] = 20 * d5;
  if (ad !== null && adLen > 0) poly(ad, 0, adLen);
  poly(buf, off, len);
  // Lengths block (lengths below 2^32, as typed arrays are).
  BLK.fill(0);
  BLK[0] = adLen; BLK[1] = adLen >>> 8; BLK[2] = adLen >>> 16; BLK[3] = adLen >>> 24;
  BLK[8] = len; BLK[9] = len >>> 8; BLK[10] = len >>> 16; BLK[11] = len >>> 24;
  poly(BLK, 0, 16);
  // Finish: h mod 2^130-5, canonical, plus s mod 2^128. Limbs are small integers now: three
  // passes of floor carries turn the balanced form into a value in [0, 2^130).
  let h0 = PS[0] | 0, h1 = PS[1] | 0, h2 = PS[2] | 0, h3 = PS[3] | 0, h4 = PS[4] | 0, h5 = PS[5] | 0;
  for (i = 0; i < 3; i++) {
    c = h0 >> 22; h0 &= 0x3fffff; h1 += c;
    c = h1 >> 22; h1 &= 0x3fffff; h2 += c;
    c = h2 >> 22; h2 &= 0x3fffff; h3 += c;
    c = h3 >> 22; h3 &= 0x3fffff; h4 += c;
    c = h4 >> 22; h4 &= 0x3fffff; h5 += c;
    c = h5 >> 20; h5 &= 0xfffff; h0 += 5 * c;
  }
  // g = h + 5 - 2^130; use g when it is not negative (h >= p), selected without branches.
  d0 = h0 + 5; c = d0 >>> 22; d0 &= 0x3fffff;
  d1 = h1 + c; c = d1 >>> 22; d1 &= 0x3fffff;
  d2 = h2 + c; c = d2 >>> 22; d2 &= 0x3fffff;
  d3 = h3 + c; c = d3 >>> 22; d3 &= 0x3fffff;
  d4 = h4 + c; c = d4 >>> 22; d4 &= 0x3fffff;
  d5 = h5 + c;
  c = -(d5 >>> 20); // all ones when h >= p
  i = ~c;
  h0 = (h0 & i) | (d0 & c);
  h1 = (h1 & i) | (d1 & c);
  h2 = (h2 & i) | (d2 & c);
  h3 = (h3 & i) | (d3 & c);
  h4 = (h4 & i) | (d4 & c);
  h5 = (h5 & i) | (d5 & 0xfffff & c);
  // Four words of h, plus s (KS[16..32)); the carry between words stays exact in doubles. The
  // tag goes to BLK when opening (to compare), after the ciphertext when sealing.
  const tb = open ? BLK : buf, to = open ? 0 : off + len;
  let f = ((h0 | (h1 << 22)) >>> 0) + ((KS[16] | (KS[17] << 8) | (KS[18] << 16) | (KS[19] << 24)) >>> 0);
  let w = f >>> 0;
  tb[to] = w; tb[to + 1] = w >>> 8; tb[to + 2] = w >>> 16; tb[to + 3] = w >>> 24;
  f = (((h1 >>> 10) | (h2 << 12)) >>> 0) + ((KS[20] | (KS[21] << 8) | (KS[22] << 16) | (KS[23] << 24)) >>> 0) + (f - w) * INV32;
  w = f >>> 0;
  tb[to + 4] = w; tb[to + 5] = w >>> 8; tb[to + 6] = w >>> 16; tb[to + 7] = w >>> 24;
  f = (((h2 >>> 20) | (h3 << 2) | (h4 << 24)) >>> 0) + ((KS[24] | (KS[25] << 8) | (KS[26] << 16) | (KS[27] << 24)) >>> 0) + (f - w) * INV32;
  w = f >>> 0;
  tb[to + 8] = w; tb[to + 9] = w >>> 8; tb[to + 10] = w >>> 16; tb[to + 11] = w >>> 24;
  f = (((h4 >>> 8) | (h5 << 14)) >>> 0) + ((KS[28] | (KS[29] << 8) | (KS[30] << 16) | (KS[31] << 24)) >>> 0) + (f - w) * INV32;
  w = f >>> 0;
  tb[to + 12] = w; tb[to + 13] = w >>> 8; tb[to + 14] = w >>> 16; tb[to + 15] = w >>> 24;
  if (open) {
    c = 0;
    w = off + len;
    for (i = 0; i < 16; i++) c |= BLK[i] ^ buf[w + i];
    if (c !== 0) return false;
    K[8] = 1;
    chacha(buf, off, buf, off, len);
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// The handshake's primitives: X25519, HChaCha20, BLAKE2s
// ---------------------------------------------------------------------------------------------

/** What `handshakeSuite()` returns; see there. */
export interface HandshakeSuite {
  x25519(out: Uint8Array, scalar: Uint8Array, point: Uint8Array | null): boolean;
  hchacha(out: Uint8Array, key: Uint8Array, nonce: Uint8Array, nOff: number): void;
  hashInit(outLen: number, key: Uint8Array | null, keyLen: number): void;
  hashUpdate(buf: Uint8Array, off: number, len: number): void;
  hashFinal(out: Uint8Array, off: number): void;
}

/**
 * Creates the primitives only a handshake needs — X25519, HChaCha20 (cookie replies), BLAKE2s —
 * with their own scratch state. On Espruino, functions and typed arrays exist only while the code
 * that creates them runs or something keeps them: the device engine calls this at the start of a
 * handshake step and drops the result after, so these functions and their ~1 KB of scratch cost
 * RAM only during a handshake, not at rest. One object serves one computation of each kind at a
 * time (no call yields).
 */
export function handshakeSuite(): HandshakeSuite {
  /*
   * Field elements mod p = 2^255 - 19 are 13 signed limbs of radix 2^20 in Float64Arrays (value =
   * sum f[i] 2^(20 i); 2^260 wraps as 608). Bounds, as in x25519.ts: carried limbs are balanced,
   * |f_i| <= 2^19 (+5 on limb 2); product inputs are carried values or sums/differences of two
   * (|a_i| <= 2^20 + 10; the a24 term below stays under 2^20 + 300), so an output limb before
   * carrying is below (2^20 + 300)^2 * (1 + 12 * 608) < 8.03e15 < 2^53: exact, also in E.convolve.
   *
   * Five field elements in all: the ladder overwrites dead values in place, and the inversion and
   * packing reuse the ladder registers.
   */
  const F0 = new Float64Array(13), F1 = new Float64Array(13), F2 = new Float64Array(13);
  const F3 = new Float64Array(13), F4 = new Float64Array(13);
  /**
   * "Q forms" of a second operand (25 doubles): q[j] = b[12 - j] (j = 0..12) and q[13 + j] =
   * 608 * b[12 - j] (j = 0..11), so output limb k is the dot product of a with q[12 - k, +13).
   * Q1 holds the last operand fmul prepared (passing Q1 reuses it); QX the ladder's input u.
   */
  const Q1 = new Float64Array(25), QX = new Float64Array(25);

  /**
   * o = a * b mod p, carried to balanced limbs. `b` is a field element (13 limbs: its Q form is
   * prepared in Q1) or an already prepared Q form (Q1 or QX, 25 entries). o may alias a and b.
   */
  function fmul(o: Float64Array, a: Float64Array, b: Float64Array): void {
    let q = b;
    if (b.length < 25) {
      q = Q1;
      q[13] = 608 * (q[0] = b[12]);
      q[14] = 608 * (q[1] = b[11]);
      q[15] = 608 * (q[2] = b[10]);
      q[16] = 608 * (q[3] = b[9]);
      q[17] = 608 * (q[4] = b[8]);
      q[18] = 608 * (q[5] = b[7]);
      q[19] = 608 * (q[6] = b[6]);
      q[20] = 608 * (q[7] = b[5]);
      q[21] = 608 * (q[8] = b[4]);
      q[22] = 608 * (q[9] = b[3]);
      q[23] = 608 * (q[10] = b[2]);
      q[24] = 608 * (q[11] = b[1]);
      q[12] = b[0];
    }
    const cv = CONV;
    let o0 = cv(a, q, 12), o1 = cv(a, q, 11), o2 = cv(a, q, 10), o3 = cv(a, q, 9), o4 = cv(a, q, 8), o5 = cv(a, q, 7), o6 = cv(a, q, 6), o7 = cv(a, q, 5), o8 = cv(a, q, 4), o9 = cv(a, q, 3), o10 = cv(a, q, 2), o11 = cv(a, q, 1), o12 = cv(a, q, 0);
    const k20 = C20, i20 = INV20, w20 = WRAP20;
    let c;
    // Round-to-nearest carries (balanced limbs); the wrap carry out of limb 12 lands in limb 0,
    // hence the two extra carries 0 -> 1 -> 2 at the end.
    o1 += (c = o0 + k20 - k20) * i20; o0 -= c;
    o2 += (c = o1 + k20 - k20) * i20; o1 -= c;
    o3 += (c = o2 + k20 - k20) * i20; o2 -= c;
    o4 += (c = o3 + k20 - k20) * i20; o[3] = o3 - c;
    o5 += (c = o4 + k20 - k20) * i20; o[4] = o4 - c;
    o6 += (c = o5 + k20 - k20) * i20; o[5] = o5 - c;
    o7 += (c = o6 + k20 - k20) * i20; o[6] = o6 - c;
    o8 += (c = o7 + k20 - k20) * i20; o[7] = o7 - c;
    o9 += (c = o8 + k20 - k20) * i20; o[8] = o8 - c;
    o10 += (c = o9 + k20 - k20) * i20; o[9] = o9 - c;
    o11 += (c = o10 + k20 - k20) * i20; o[10] = o10 - c;
    o12 += (c = o11 + k20 - k20) * i20; o[11] = o11 - c;
    o0 += (c = o12 + k20 - k20) * w20; o[12] = o12 - c;
    o1 += (c = o0 + k20 - k20) * i20; o[0] = o0 - c;
    o2 += (c = o1 + k20 - k20) * i20; o[1] = o1 - c;
    o[2] = o2;
  }

  /**
   * X25519 (RFC 7748): out = scalar · point, scalar clamped; point null = the base point 9; point
   * bit 255 ignored (non-canonical u accepted). Returns false if out is all zeros (low-order
   * point); always true for the base point. `out` may alias `scalar` or `point`.
   */
  function x25519(out: Uint8Array, scalar: Uint8Array, point: Uint8Array | null): boolean {
    // The ladder's hot variables first (the interpreter scans a scope in declaration order).
    let x2: number, z2: number, x3: number, z3: number, u: number, m: number, i: number;
    let c: number, t: number, bit: number, swap = 0, acc = 0, bits = 0, j = 0;
    const A = F0, B = F1, C = F2, D = F3, T = F4, k20 = C20, i20 = INV20;
    // x1 (the input u) into C, balanced; its Q form into QX.
    C.fill(0);
    if (point === null) {
      C[0] = 9;
    } else {
      for (i = 0; i < 13; i++) {
        while (bits < 20 && j < 32) {
          acc |= (j === 31 ? point[31] & 127 : point[j]) << bits;
          j++;
          bits += 8;
        }
        C[i] = acc & 0xfffff;
        acc >>>= 20;
        bits -= 20;
      }
      for (i = 0; i < 12; i++) {
        c = (C[i] + 524288) >> 20;
        C[i] -= c * 1048576;
        C[i + 1] += c;
      }
    }
    fmul(T, C, C); // only for its side effect: Q1 = Q form of x1
    QX.set(Q1);
    // Ladder state, read by the swap loop as X2 = B, Z2 = A, X3 = C, Z3 = D: (1, 0, x1, 1).
    A.fill(0); B.fill(0); D.fill(0);
    B[0] = 1; D[0] = 1;
    for (t = 254; t >= 0; t--) {
      // Clamping: bit 254 set, bits 0..2 clear (bit 255 is never read).
      bit = t > 253 ? 1 : t < 3 ? 0 : (scalar[t >>> 3] >>> (t & 7)) & 1;
      m = swap ^ bit;
      swap = bit;
      // Conditional swap (arithmetic, no secret branch) folded into A = x2 + z2, B = x2 - z2,
      // C = x3 + z3, D = x3 - z3, written over the state.
      for (i = 0; i < 13; i++) {
        x2 = B[i]; z2 = A[i]; x3 = C[i]; z3 = D[i];
        x2 += (u = m * (x3 - x2)); x3 -= u;
        z2 += (u = m * (z3 - z2)); z3 -= u;
        A[i] = x2 + z2; B[i] = x2 - z2; C[i] = x3 + z3; D[i] = x3 - z3;
      }
      fmul(A, A, A); // AA (Q1 = Q form of A)
      fmul(D, D, Q1); // DA
      fmul(C, C, B); // CB (Q1 = Q form of B)
      fmul(B, B, Q1); // BB
      for (i = 0; i < 13; i++) {
        x2 = D[i]; x3 = C[i];
        C[i] = x2 + x3; D[i] = x2 - x3;
        T[i] = A[i] - B[i]; // E = AA - BB
      }
      fmul(C, C, C); // x3 = (DA + CB)^2
      fmul(D, D, D);
      fmul(D, D, QX); // z3 = x1 * (DA - CB)^2
      fmul(B, B, A); // x2 = AA * BB
      // A = AA + a24 * E, carried: |E_i * 121665| < 2^37; the carry out of limb 12 (< 2^18)
      // re-enters limb 0 times 608 and one more carry keeps limb 1 within 2^20 + 300.
      c = 0;
      for (i = 0; i < 13; i++) {
        u = T[i] * 121665 + c;
        c = u + k20 - k20;
        A[i] += u - c;
        c *= i20;
      }
      u = A[0] + 608 * c;
      c = u + k20 - k20;
      A[0] = u - c;
      A[1] += c * i20;
      fmul(A, A, T); // z2 = E * (AA + a24 * E)
    }
    // Final swap: only x2 and z2 are needed.
    for (i = 0; i < 13; i++) {
      B[i] += swap * (C[i] - B[i]);
      A[i] += swap * (D[i] - A[i]);
    }
    // D = 1 / z2 = z2^(p - 2): 254 squarings, 11 multiplications (ref10's chain), z2 in A until
    // it is dead, then A is a temporary too.
    fmul(C, A, A); // z^2
    fmul(D, C, C);
    fmul(D, D, D); // z^8
    fmul(D, D, A); // z^9
    fmul(C, C, D); // z^11
    fmul(T, C, C); // z^22
    fmul(D, D, T); // z^(2^5 - 1)
    fmul(T, D, D);
    for (i = 1; i < 5; i++) fmul(T, T, T);
    fmul(D, T, D); // 2^10 - 1
    fmul(T, D, D);
    for (i = 1; i < 10; i++) fmul(T, T, T);
    fmul(T, T, D); // 2^20 - 1
    fmul(A, T, T);
    for (i = 1; i < 20; i++) fmul(A, A, A);
    fmul(T, A, T); // 2^40 - 1
    for (i = 0; i < 10; i++) fmul(T, T, T);
    fmul(D, T, D); // 2^50 - 1
    fmul(T, D, D);
    for (i = 1; i < 50; i++) fmul(T, T, T);
    fmul(T, T, D); // 2^100 - 1
    fmul(A, T, T);
    for (i = 1; i < 100; i++) fmul(A, A, A);
    fmul(T, A, T); // 2^200 - 1
    for (i = 0; i < 50; i++) fmul(T, T, T);
    fmul(D, T, D); // 2^250 - 1
    for (i = 0; i < 5; i++) fmul(D, D, D); // 2^255 - 2^5
    fmul(D, D, C); // 2^255 - 21
    fmul(D, D, B); // u = x2 / z2
    // Pack D fully reduced. Limbs are small integers now (|d_i| < 2^20): int32 arithmetic is
    // exact. Three floor-carry passes (limb 12 keeps 15 bits; 2^255 wraps as 19) give [0, 2^255).
    for (t = 0; t < 3; t++) {
      for (i = 0; i < 12; i++) {
        c = D[i] >> 20;
        D[i] -= c * 1048576;
        D[i + 1] += c;
      }
      c = D[12] >> 15;
      D[12] -= c * 32768;
      D[0] += 19 * c;
    }
    // Subtract p when the value is >= p, i.e. when value + 19 reaches 2^255 (branch-free select).
    c = 19;
    for (i = 0; i < 12; i++) {
      T[i] = (D[i] + c) & 0xfffff;
      c = (D[i] + c) >> 20;
    }
    c += D[12];
    m = c >> 15; // 1 when value >= p
    T[12] = c & 0x7fff;
    for (i = 0; i < 13; i++) D[i] += m * (T[i] - D[i]);
    acc = 0; bits = 0; j = 0;
    for (i = 0; i < 13; i++) {
      acc |= D[i] << bits;
      bits += 20;
      while (bits >= 8 && j < 32) {
        out[j++] = acc & 255;
        acc >>>= 8;
        bits -= 8;
      }
    }
    if (j < 32) out[31] = acc & 255;
    c = 0;
    for (i = 0; i < 32; i++) c |= out[i];
    return c !== 0;
  }

  /**
   * HChaCha20 (draft-irtf-cfrg-xchacha section 2.2): out[0,32) = HChaCha20(key, nonce[nOff,
   * nOff+16)) — with aead() this makes XChaCha20-Poly1305 (subkey = hchacha(key, n[0..16]); then
   * aead(subkey, LE32(n[16..20]), LE32(n[20..24]), ...)). `out` may alias key or nonce.
   */
  function hchacha(out: Uint8Array, key: Uint8Array, nonce: Uint8Array, nOff: number): void {
    let i: number, w: number;
    for (i = 0; i < 8; i++) {
      w = 4 * i;
      K[i] = key[w] | (key[w + 1] << 8) | (key[w + 2] << 16) | (key[w + 3] << 24);
    }
    for (i = 0; i < 4; i++) {
      w = nOff + 4 * i;
      K[8 + i] = nonce[w] | (nonce[w + 1] << 8) | (nonce[w + 2] << 16) | (nonce[w + 3] << 24);
    }
    KS.fill(0);
    chacha(KS, 0, KS, 0, 64);
    // HChaCha20 is the state before the final addition, words 0..3 and 12..15: subtract the
    // input words back out.
    for (i = 0; i < 32; i += 4) {
      w = i < 16 ? i : i + 32; // KS offset of the word
      w = ((KS[w] | (KS[w + 1] << 8) | (KS[w + 2] << 16) | (KS[w + 3] << 24)) -
        (i === 0 ? 0x61707865 : i === 4 ? 0x3320646e : i === 8 ? 0x79622d32 : i === 12 ? 0x6b206574 : K[4 + (i >> 2)])) | 0;
      out[i] = w; out[i + 1] = w >> 8; out[i + 2] = w >> 16; out[i + 3] = w >> 24;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // BLAKE2s
  // ---------------------------------------------------------------------------------------------

  /** Initialisation vector (the SHA-256 IV). */
  const IV = new Int32Array(8);
  IV[0] = 0x6a09e667; IV[1] = 0xbb67ae85 | 0; IV[2] = 0x3c6ef372; IV[3] = 0xa54ff53a | 0;
  IV[4] = 0x510e527f; IV[5] = 0x9b05688c | 0; IV[6] = 0x1f83d9ab; IV[7] = 0x5be0cd19;
  /** Message schedule: 10 rounds of 16 word indices (the string is a load-time temporary). */
  const SIGMA = new Uint8Array(160);
  for (let i = 0; i < 160; i++) {
    SIGMA[i] = parseInt(('0123456789abcdefea489fd61c02b753b8c052fdae3671947931dcbe265a40f8' +
      '905724afe1bc683d2c6a0b834d75fe19c51fed4a0763928bdb7ec13950f4862a6fe9b308c2d714a5a2847615fb9e3cd0').charAt(i), 16);
  }
  /** Chained state. */
  const BH = new Int32Array(8);
  /** Pending input: the last block must be held back until hashFinal. */
  const BB = new Uint8Array(64);
  /** Message words of the block being compressed. */
  const BM = new Int32Array(16);
  /** Bytes in BB. */
  let bN = 0;
  /** Bytes counted so far (a double; its low and high 32 bits are the BLAKE2s counter). */
  let bT = 0;
  /** Digest length. */
  let bOut = 32;
  /** Set by hashFinal while hashUpdate compresses the final block. */
  let bFin = false;

  /**
   * Starts a BLAKE2s (RFC 7693) computation (one at a time; this resets any in progress): digest
   * length outLen 1..32, optional key key[0, keyLen) (keyLen 1..32; key null or keyLen 0: unkeyed).
   */
  function hashInit(outLen: number, key: Uint8Array | null, keyLen: number): void {
    if (key === null) keyLen = 0;
    if (!(outLen >= 1 && outLen <= 32) || !(keyLen >= 0 && keyLen <= 32)) throw new Error('blake2s: bad outLen or keyLen');
    for (let i = 0; i < 8; i++) BH[i] = IV[i];
    BH[0] ^= 0x01010000 ^ (keyLen << 8) ^ outLen;
    bOut = outLen;
    bT = 0;
    bN = 0;
    bFin = false;
    BB.fill(0);
    if (keyLen > 0) {
      // The key, zero padded, is the first block.
      for (let i = 0; i < keyLen; i++) BB[i] = (key as Uint8Array)[i];
      bN = 64;
    }
  }

  /** Feeds buf[off, off+len) into the computation started by hashInit. */
  function hashUpdate(buf: Uint8Array, off: number, len: number): void {
    let v0: number, v1: number, v2: number, v3: number, v4: number, v5: number, v6: number, v7: number;
    let v8: number, v9: number, v10: number, v11: number, v12: number, v13: number, v14: number, v15: number;
    let r: number, src: Uint8Array, so: number;
    const m = BM, s = SIGMA, h = BH;
    for (;;) {
      if (bN === 64 && (len > 0 || bFin)) {
        // The buffered block: there is more input (or hashFinal asks for the last block).
        src = BB; so = 0; bN = 0;
      } else if (bN === 0 && len > 64) {
        // A whole block straight from the input, keeping at least one byte back.
        src = buf; so = off; off += 64; len -= 64;
      } else {
        if (len === 0) return;
        r = 64 - bN;
        if (r > len) r = len;
        len -= r;
        while (r-- > 0) BB[bN++] = buf[off++];
        continue;
      }
      // Compress src[so, so+64): 64 more bytes counted (hashFinal pre-corrects for a short last block).
      bT += 64;
      for (r = 0; r < 16; r++) {
        v0 = so + 4 * r;
        m[r] = src[v0] | (src[v0 + 1] << 8) | (src[v0 + 2] << 16) | (src[v0 + 3] << 24);
      }
      v0 = h[0]; v1 = h[1]; v2 = h[2]; v3 = h[3]; v4 = h[4]; v5 = h[5]; v6 = h[6]; v7 = h[7];
      v8 = IV[0]; v9 = IV[1]; v10 = IV[2]; v11 = IV[3];
      v12 = IV[4] ^ bT; v13 = IV[5] ^ (bT / 4294967296); v14 = bFin ? ~IV[6] : IV[6]; v15 = IV[7];
      for (r = 0; r < 160; r += 16) {
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
  }

  /** Finishes the computation: writes the digest (outLen bytes) at out[off]. */
  function hashFinal(out: Uint8Array, off: number): void {
    // The last block counts only its bytes (hashUpdate adds 64 when it compresses it).
    bT += bN - 64;
    BB.fill(0, bN);
    bN = 64;
    bFin = true;
    hashUpdate(BB, 0, 0);
    bFin = false;
    for (let i = 0; i < bOut; i++) out[off + i] = BH[i >> 2] >>> (8 * (i & 3));
  }

  return { x25519: x25519, hchacha: hchacha, hashInit: hashInit, hashUpdate: hashUpdate, hashFinal: hashFinal };
}
