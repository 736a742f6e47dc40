/**
 * ChaCha20 (RFC 8439), Poly1305, ChaCha20-Poly1305 AEAD, HChaCha20 and XChaCha20-Poly1305
 * (draft-irtf-cfrg-xchacha-03), written for the Espruino interpreter as well as for Node.
 *
 * Everything works on (buffer, offset, length) triplets and allocates nothing after module load:
 * all scratch state lives in the typed arrays below. The module is therefore not re-entrant, which
 * is fine for single-threaded engines (no call here yields).
 *
 * The device runs crypto/suite.ts instead: the same AEAD tuned for the Espruino interpreter in
 * fewer functions.
 *
 * Speed notes: the ChaCha20 block keeps its 16 state words in local variables and XORs 64 bytes
 * per block with straight-line code; Poly1305 uses six 22-bit limbs held in doubles (36 products
 * per 16-byte block instead of the 100 of the usual 13-bit limbs), with carries done by the exact
 * "add and subtract 1.5 * 2^(52+k)" rounding trick, which needs no function call, and absorbs two
 * blocks per reduction (see polyBlocks).
 */

/** Current ChaCha20 key as eight little-endian words. */
const K = new Int32Array(8);
/** 64 zero bytes: XORing them gives raw keystream. Never written. */
const ZERO64 = new Uint8Array(64);
/** Keystream of a partial final block, and the Poly1305 one-time key (first 32 bytes). */
const KS = new Uint8Array(64);
/** One zero-padded Poly1305 block: AD/ciphertext remainders, the length block, computed tags. */
const BLK = new Uint8Array(16);
/** XChaCha20 subkey (output of HChaCha20). */
const SUBKEY = new Uint8Array(32);
/**
 * Poly1305 accumulator h0..h5 [0..5], key r0..r5 [6..11], 20*r1..20*r5 [12..16], r^2 in balanced
 * limbs [17..22], 20 times its limbs 1..5 [23..27], and 1 once r^2 is computed for this key [28].
 */
const PS = new Float64Array(29);
/** Poly1305 final pad `s` as four little-endian words. */
const PAD = new Int32Array(4);

/**
 * 2^n by repeated doubling. Constants are built at load time on purpose: a minifier would fold
 * `1.5 * 2^74` into a decimal literal, and Espruino parses such literals inexactly.
 */
function pow2(n: number): number {
  let x = 1;
  for (let i = 0; i < n; i++) x *= 2;
  return x;
}
// Rounding constants: (x + C) - C rounds x to the nearest multiple of 2^22 (C22) or 2^20 (C20)
// exactly, for |x| < 2^73 (resp. 2^71).
const C22 = 1.5 * pow2(74);
const C20 = 1.5 * pow2(72);
const INV22 = 1 / pow2(22);
const FIVE_INV20 = 5 / pow2(20);
const TWO32 = pow2(32);
/** Bit 128 of a Poly1305 block, as it lands in limb 5 (bits 110..129). */
const HIBIT = 262144;

/** Loads a 32-byte key at `key[off]` into K. */
function loadKey(key: Uint8Array, off: number): void {
  for (let i = 0; i < 8; i++) {
    const o = off + 4 * i;
    K[i] = key[o] | (key[o + 1] << 8) | (key[o + 2] << 16) | (key[o + 3] << 24);
  }
}

/**
 * XORs ChaCha20 keystream (key in K, block counter `ctr`, nonce words n0..n2) over
 * `s[p, p+len)` into `d[q, q+len)`. `s === d` with `p === q` (in place) is allowed.
 */
function chachaXor(
  ctr: number, n0: number, n1: number, n2: number,
  s: Uint8Array, p: number, d: Uint8Array, q: number, len: number,
): void {
  const j0 = 0x61707865, j1 = 0x3320646e, j2 = 0x79622d32, j3 = 0x6b206574;
  const j4 = K[0], j5 = K[1], j6 = K[2], j7 = K[3], j8 = K[4], j9 = K[5], j10 = K[6], j11 = K[7];
  const j13 = n0, j14 = n1, j15 = n2;
  let j12 = ctr | 0;
  let x0, x1, x2, x3, x4, x5, x6, x7, x8, x9, x10, x11, x12, x13, x14, x15;
  let i: number, ss: Uint8Array, pp: number, dd: Uint8Array, qq: number;
  while (len > 0) {
    x0 = j0; x1 = j1; x2 = j2; x3 = j3; x4 = j4; x5 = j5; x6 = j6; x7 = j7;
    x8 = j8; x9 = j9; x10 = j10; x11 = j11; x12 = j12; x13 = j13; x14 = j14; x15 = j15;
    for (i = 0; i < 10; i++) {
      // Quarter rounds, columns then diagonals: a += b; d ^= a; d <<<= 16; c += d; b ^= c; b <<<= 12; ...
      x12 ^= x0 = (x0 + x4) | 0; x12 = (x12 << 16) | (x12 >>> 16);
      x4 ^= x8 = (x8 + x12) | 0; x4 = (x4 << 12) | (x4 >>> 20);
      x12 ^= x0 = (x0 + x4) | 0; x12 = (x12 << 8) | (x12 >>> 24);
      x4 ^= x8 = (x8 + x12) | 0; x4 = (x4 << 7) | (x4 >>> 25);
      x13 ^= x1 = (x1 + x5) | 0; x13 = (x13 << 16) | (x13 >>> 16);
      x5 ^= x9 = (x9 + x13) | 0; x5 = (x5 << 12) | (x5 >>> 20);
      x13 ^= x1 = (x1 + x5) | 0; x13 = (x13 << 8) | (x13 >>> 24);
      x5 ^= x9 = (x9 + x13) | 0; x5 = (x5 << 7) | (x5 >>> 25);
      x14 ^= x2 = (x2 + x6) | 0; x14 = (x14 << 16) | (x14 >>> 16);
      x6 ^= x10 = (x10 + x14) | 0; x6 = (x6 << 12) | (x6 >>> 20);
      x14 ^= x2 = (x2 + x6) | 0; x14 = (x14 << 8) | (x14 >>> 24);
      x6 ^= x10 = (x10 + x14) | 0; x6 = (x6 << 7) | (x6 >>> 25);
      x15 ^= x3 = (x3 + x7) | 0; x15 = (x15 << 16) | (x15 >>> 16);
      x7 ^= x11 = (x11 + x15) | 0; x7 = (x7 << 12) | (x7 >>> 20);
      x15 ^= x3 = (x3 + x7) | 0; x15 = (x15 << 8) | (x15 >>> 24);
      x7 ^= x11 = (x11 + x15) | 0; x7 = (x7 << 7) | (x7 >>> 25);
      x15 ^= x0 = (x0 + x5) | 0; x15 = (x15 << 16) | (x15 >>> 16);
      x5 ^= x10 = (x10 + x15) | 0; x5 = (x5 << 12) | (x5 >>> 20);
      x15 ^= x0 = (x0 + x5) | 0; x15 = (x15 << 8) | (x15 >>> 24);
      x5 ^= x10 = (x10 + x15) | 0; x5 = (x5 << 7) | (x5 >>> 25);
      x12 ^= x1 = (x1 + x6) | 0; x12 = (x12 << 16) | (x12 >>> 16);
      x6 ^= x11 = (x11 + x12) | 0; x6 = (x6 << 12) | (x6 >>> 20);
      x12 ^= x1 = (x1 + x6) | 0; x12 = (x12 << 8) | (x12 >>> 24);
      x6 ^= x11 = (x11 + x12) | 0; x6 = (x6 << 7) | (x6 >>> 25);
      x13 ^= x2 = (x2 + x7) | 0; x13 = (x13 << 16) | (x13 >>> 16);
      x7 ^= x8 = (x8 + x13) | 0; x7 = (x7 << 12) | (x7 >>> 20);
      x13 ^= x2 = (x2 + x7) | 0; x13 = (x13 << 8) | (x13 >>> 24);
      x7 ^= x8 = (x8 + x13) | 0; x7 = (x7 << 7) | (x7 >>> 25);
      x14 ^= x3 = (x3 + x4) | 0; x14 = (x14 << 16) | (x14 >>> 16);
      x4 ^= x9 = (x9 + x14) | 0; x4 = (x4 << 12) | (x4 >>> 20);
      x14 ^= x3 = (x3 + x4) | 0; x14 = (x14 << 8) | (x14 >>> 24);
      x4 ^= x9 = (x9 + x14) | 0; x4 = (x4 << 7) | (x4 >>> 25);
    }
    x0 = (x0 + j0) | 0;
    x1 = (x1 + j1) | 0;
    x2 = (x2 + j2) | 0;
    x3 = (x3 + j3) | 0;
    x4 = (x4 + j4) | 0;
    x5 = (x5 + j5) | 0;
    x6 = (x6 + j6) | 0;
    x7 = (x7 + j7) | 0;
    x8 = (x8 + j8) | 0;
    x9 = (x9 + j9) | 0;
    x10 = (x10 + j10) | 0;
    x11 = (x11 + j11) | 0;
    x12 = (x12 + j12) | 0;
    x13 = (x13 + j13) | 0;
    x14 = (x14 + j14) | 0;
    x15 = (x15 + j15) | 0;
    // A full block is XORed straight from s to d; a partial one goes to KS first (as keystream).
    if (len >= 64) {
      ss = s; pp = p; dd = d; qq = q;
    } else {
      ss = ZERO64; pp = 0; dd = KS; qq = 0;
    }
    // Uint8Array stores keep the low 8 bits, so no masking is needed.
    dd[qq + 0] = ss[pp + 0] ^ x0; dd[qq + 1] = ss[pp + 1] ^ (x0 >>> 8); dd[qq + 2] = ss[pp + 2] ^ (x0 >>> 16); dd[qq + 3] = ss[pp + 3] ^ (x0 >>> 24);
    dd[qq + 4] = ss[pp + 4] ^ x1; dd[qq + 5] = ss[pp + 5] ^ (x1 >>> 8); dd[qq + 6] = ss[pp + 6] ^ (x1 >>> 16); dd[qq + 7] = ss[pp + 7] ^ (x1 >>> 24);
    dd[qq + 8] = ss[pp + 8] ^ x2; dd[qq + 9] = ss[pp + 9] ^ (x2 >>> 8); dd[qq + 10] = ss[pp + 10] ^ (x2 >>> 16); dd[qq + 11] = ss[pp + 11] ^ (x2 >>> 24);
    dd[qq + 12] = ss[pp + 12] ^ x3; dd[qq + 13] = ss[pp + 13] ^ (x3 >>> 8); dd[qq + 14] = ss[pp + 14] ^ (x3 >>> 16); dd[qq + 15] = ss[pp + 15] ^ (x3 >>> 24);
    dd[qq + 16] = ss[pp + 16] ^ x4; dd[qq + 17] = ss[pp + 17] ^ (x4 >>> 8); dd[qq + 18] = ss[pp + 18] ^ (x4 >>> 16); dd[qq + 19] = ss[pp + 19] ^ (x4 >>> 24);
    dd[qq + 20] = ss[pp + 20] ^ x5; dd[qq + 21] = ss[pp + 21] ^ (x5 >>> 8); dd[qq + 22] = ss[pp + 22] ^ (x5 >>> 16); dd[qq + 23] = ss[pp + 23] ^ (x5 >>> 24);
    dd[qq + 24] = ss[pp + 24] ^ x6; dd[qq + 25] = ss[pp + 25] ^ (x6 >>> 8); dd[qq + 26] = ss[pp + 26] ^ (x6 >>> 16); dd[qq + 27] = ss[pp + 27] ^ (x6 >>> 24);
    dd[qq + 28] = ss[pp + 28] ^ x7; dd[qq + 29] = ss[pp + 29] ^ (x7 >>> 8); dd[qq + 30] = ss[pp + 30] ^ (x7 >>> 16); dd[qq + 31] = ss[pp + 31] ^ (x7 >>> 24);
    dd[qq + 32] = ss[pp + 32] ^ x8; dd[qq + 33] = ss[pp + 33] ^ (x8 >>> 8); dd[qq + 34] = ss[pp + 34] ^ (x8 >>> 16); dd[qq + 35] = ss[pp + 35] ^ (x8 >>> 24);
    dd[qq + 36] = ss[pp + 36] ^ x9; dd[qq + 37] = ss[pp + 37] ^ (x9 >>> 8); dd[qq + 38] = ss[pp + 38] ^ (x9 >>> 16); dd[qq + 39] = ss[pp + 39] ^ (x9 >>> 24);
    dd[qq + 40] = ss[pp + 40] ^ x10; dd[qq + 41] = ss[pp + 41] ^ (x10 >>> 8); dd[qq + 42] = ss[pp + 42] ^ (x10 >>> 16); dd[qq + 43] = ss[pp + 43] ^ (x10 >>> 24);
    dd[qq + 44] = ss[pp + 44] ^ x11; dd[qq + 45] = ss[pp + 45] ^ (x11 >>> 8); dd[qq + 46] = ss[pp + 46] ^ (x11 >>> 16); dd[qq + 47] = ss[pp + 47] ^ (x11 >>> 24);
    dd[qq + 48] = ss[pp + 48] ^ x12; dd[qq + 49] = ss[pp + 49] ^ (x12 >>> 8); dd[qq + 50] = ss[pp + 50] ^ (x12 >>> 16); dd[qq + 51] = ss[pp + 51] ^ (x12 >>> 24);
    dd[qq + 52] = ss[pp + 52] ^ x13; dd[qq + 53] = ss[pp + 53] ^ (x13 >>> 8); dd[qq + 54] = ss[pp + 54] ^ (x13 >>> 16); dd[qq + 55] = ss[pp + 55] ^ (x13 >>> 24);
    dd[qq + 56] = ss[pp + 56] ^ x14; dd[qq + 57] = ss[pp + 57] ^ (x14 >>> 8); dd[qq + 58] = ss[pp + 58] ^ (x14 >>> 16); dd[qq + 59] = ss[pp + 59] ^ (x14 >>> 24);
    dd[qq + 60] = ss[pp + 60] ^ x15; dd[qq + 61] = ss[pp + 61] ^ (x15 >>> 8); dd[qq + 62] = ss[pp + 62] ^ (x15 >>> 16); dd[qq + 63] = ss[pp + 63] ^ (x15 >>> 24);
    if (len < 64) {
      for (i = 0; i < len; i++) d[q + i] = s[p + i] ^ KS[i];
      return;
    }
    p += 64; q += 64; len -= 64;
    j12 = (j12 + 1) | 0;
  }
}

/** r^2 mod p from r (PS[6..16]) into PS[17..22], balanced, and 20 * its limbs 1..5 into PS[23..27]. */
function polyR2(): void {
  const r0 = PS[6], r1 = PS[7], r2 = PS[8], r3 = PS[9], r4 = PS[10], r5 = PS[11];
  const s1 = PS[12], s2 = PS[13], s3 = PS[14], s4 = PS[15], s5 = PS[16];
  const c22 = C22, c20 = C20, i22 = INV22, f20 = FIVE_INV20;
  // Products < 2^22 * 2^26.4 each, sums < 2^51: exact.
  const d0 = r0 * r0 + 2 * (r1 * s5 + r2 * s4) + r3 * s3;
  let d1 = 2 * (r0 * r1 + r2 * s5 + r3 * s4);
  let d2 = 2 * (r0 * r2 + r3 * s5) + r1 * r1 + r4 * s4;
  let d3 = 2 * (r0 * r3 + r1 * r2 + r4 * s5);
  let d4 = 2 * (r0 * r4 + r1 * r3) + r2 * r2 + r5 * s5;
  let d5 = 2 * (r0 * r5 + r1 * r4 + r2 * r3);
  let c, h0;
  c = (d0 + c22) - c22; h0 = d0 - c; d1 += c * i22;
  c = (d1 + c22) - c22; PS[18] = d1 - c; d2 += c * i22;
  c = (d2 + c22) - c22; PS[19] = d2 - c; d3 += c * i22;
  c = (d3 + c22) - c22; PS[20] = d3 - c; d4 += c * i22;
  c = (d4 + c22) - c22; PS[21] = d4 - c; d5 += c * i22;
  c = (d5 + c20) - c20; PS[22] = d5 - c; h0 += c * f20;
  c = (h0 + c22) - c22; PS[17] = h0 - c; PS[18] += c * i22;
  PS[23] = 20 * PS[18]; PS[24] = 20 * PS[19]; PS[25] = 20 * PS[20]; PS[26] = 20 * PS[21]; PS[27] = 20 * PS[22];
  PS[28] = 1;
}

/** Starts Poly1305 with the 32-byte one-time key at `key[off]` (r is clamped here). */
function polyInit(key: Uint8Array, off: number): void {
  const t0 = (key[off] | (key[off + 1] << 8) | (key[off + 2] << 16) | (key[off + 3] << 24)) & 0x0fffffff;
  const t1 = (key[off + 4] | (key[off + 5] << 8) | (key[off + 6] << 16) | (key[off + 7] << 24)) & 0x0ffffffc;
  const t2 = (key[off + 8] | (key[off + 9] << 8) | (key[off + 10] << 16) | (key[off + 11] << 24)) & 0x0ffffffc;
  const t3 = (key[off + 12] | (key[off + 13] << 8) | (key[off + 14] << 16) | (key[off + 15] << 24)) & 0x0ffffffc;
  PS.fill(0, 0, 6);
  // r in six limbs at bit positions 0, 22, 44, 66, 88, 110 (r < 2^124, so r5 < 2^14). Limb
  // products at 2^(22*6) = 2^132 = 4 * 2^130 wrap around with factor 4 * 5 = 20.
  PS[12] = 20 * (PS[7] = (t0 >>> 22) | ((t1 & 0xfff) << 10));
  PS[13] = 20 * (PS[8] = (t1 >>> 12) | ((t2 & 3) << 20));
  PS[14] = 20 * (PS[9] = (t2 >>> 2) & 0x3fffff);
  PS[15] = 20 * (PS[10] = (t2 >>> 24) | ((t3 & 0x3fff) << 8));
  PS[16] = 20 * (PS[11] = t3 >>> 14);
  PS[6] = t0 & 0x3fffff;
  PS[28] = 0; // r^2 not computed yet (polyBlocks does it for the first pair of blocks)
  off += 16;
  PAD[0] = key[off] | (key[off + 1] << 8) | (key[off + 2] << 16) | (key[off + 3] << 24);
  PAD[1] = key[off + 4] | (key[off + 5] << 8) | (key[off + 6] << 16) | (key[off + 7] << 24);
  PAD[2] = key[off + 8] | (key[off + 9] << 8) | (key[off + 10] << 16) | (key[off + 11] << 24);
  PAD[3] = key[off + 12] | (key[off + 13] << 8) | (key[off + 14] << 16) | (key[off + 15] << 24);
}

/**
 * Absorbs `n` 16-byte blocks from `m[off]`; `hibit` is HIBIT for full blocks, 0 for the padded
 * final block of a raw Poly1305 message. Pairs of blocks share one reduction,
 * h = (h + m1) * r^2 + m2 * r (an odd last block goes alone, h = (h + m) * r), and the carries
 * run as two parallel passes rather than one sequential chain: on a CPU the chain's latency, not
 * the 36 products per block, is what bounds Poly1305 in doubles.
 *
 * Bounds (all values are exact integers in doubles, |x| < 2^53): limbs come out balanced,
 * |h_i| <= 2^21 + 2^13 (h5 <= 2^19 + 2^9); with a block limb (< 2^22) added, |h_i| < 2^22.6.
 * r_i < 2^22 and s_i = 20 r_i < 2^26.4; r^2 is balanced, |q_i| <= 2^21 + 2^12, t_i = 20 q_i
 * < 2^25.4. A pair sums to < 2^49.7 (h + m1 against r^2) plus < 2^50 (m2 against r), a single
 * block to < 2^51.6: |d_i| < 2^52. First pass: each carry is < 2^30.6 in the next limb's units,
 * the wrapped one (times 5 / 2^20) < 2^34.9; second pass: carries < 2^13, so limbs are balanced
 * again within the bound above. Rounding to the nearest multiple keeps the limbs signed.
 */
function polyBlocks(m: Uint8Array, off: number, n: number, hibit: number): void {
  if (n > 1 && PS[28] === 0) polyR2();
  let h0 = PS[0], h1 = PS[1], h2 = PS[2], h3 = PS[3], h4 = PS[4], h5 = PS[5];
  const r0 = PS[6], r1 = PS[7], r2 = PS[8], r3 = PS[9], r4 = PS[10], r5 = PS[11];
  const s1 = PS[12], s2 = PS[13], s3 = PS[14], s4 = PS[15], s5 = PS[16];
  const q0 = PS[17], q1 = PS[18], q2 = PS[19], q3 = PS[20], q4 = PS[21], q5 = PS[22];
  const t1 = PS[23], t2 = PS[24], t3 = PS[25], t4 = PS[26], t5 = PS[27];
  const c22 = C22, c20 = C20, i22 = INV22, f20 = FIVE_INV20;
  let w0, w1, w2, w3, y0, y1, y2, y3, y4, y5, d0, d1, d2, d3, d4, d5, c0, c1, c2, c3, c4, c5;
  const end2 = off + 32 * (n >> 1);
  const end = off + 16 * n;
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
    h5 += (w3 >>> 14) | hibit;
    w0 = m[off + 16] | (m[off + 17] << 8) | (m[off + 18] << 16) | (m[off + 19] << 24);
    w1 = m[off + 20] | (m[off + 21] << 8) | (m[off + 22] << 16) | (m[off + 23] << 24);
    w2 = m[off + 24] | (m[off + 25] << 8) | (m[off + 26] << 16) | (m[off + 27] << 24);
    w3 = m[off + 28] | (m[off + 29] << 8) | (m[off + 30] << 16) | (m[off + 31] << 24);
    y0 = w0 & 0x3fffff;
    y1 = (w0 >>> 22) | ((w1 & 0xfff) << 10);
    y2 = (w1 >>> 12) | ((w2 & 3) << 20);
    y3 = (w2 >>> 2) & 0x3fffff;
    y4 = (w2 >>> 24) | ((w3 & 0x3fff) << 8);
    y5 = (w3 >>> 14) | hibit;
    d0 = h0 * q0 + h1 * t5 + h2 * t4 + h3 * t3 + h4 * t2 + h5 * t1 + y0 * r0 + y1 * s5 + y2 * s4 + y3 * s3 + y4 * s2 + y5 * s1;
    d1 = h0 * q1 + h1 * q0 + h2 * t5 + h3 * t4 + h4 * t3 + h5 * t2 + y0 * r1 + y1 * r0 + y2 * s5 + y3 * s4 + y4 * s3 + y5 * s2;
    d2 = h0 * q2 + h1 * q1 + h2 * q0 + h3 * t5 + h4 * t4 + h5 * t3 + y0 * r2 + y1 * r1 + y2 * r0 + y3 * s5 + y4 * s4 + y5 * s3;
    d3 = h0 * q3 + h1 * q2 + h2 * q1 + h3 * q0 + h4 * t5 + h5 * t4 + y0 * r3 + y1 * r2 + y2 * r1 + y3 * r0 + y4 * s5 + y5 * s4;
    d4 = h0 * q4 + h1 * q3 + h2 * q2 + h3 * q1 + h4 * q0 + h5 * t5 + y0 * r4 + y1 * r3 + y2 * r2 + y3 * r1 + y4 * r0 + y5 * s5;
    d5 = h0 * q5 + h1 * q4 + h2 * q3 + h3 * q2 + h4 * q1 + h5 * q0 + y0 * r5 + y1 * r4 + y2 * r3 + y3 * r2 + y4 * r1 + y5 * r0;
    c0 = (d0 + c22) - c22; c1 = (d1 + c22) - c22; c2 = (d2 + c22) - c22;
    c3 = (d3 + c22) - c22; c4 = (d4 + c22) - c22; c5 = (d5 + c20) - c20;
    d0 = d0 - c0 + c5 * f20; d1 = d1 - c1 + c0 * i22; d2 = d2 - c2 + c1 * i22;
    d3 = d3 - c3 + c2 * i22; d4 = d4 - c4 + c3 * i22; d5 = d5 - c5 + c4 * i22;
    c0 = (d0 + c22) - c22; c1 = (d1 + c22) - c22; c2 = (d2 + c22) - c22;
    c3 = (d3 + c22) - c22; c4 = (d4 + c22) - c22; c5 = (d5 + c20) - c20;
    h0 = d0 - c0 + c5 * f20; h1 = d1 - c1 + c0 * i22; h2 = d2 - c2 + c1 * i22;
    h3 = d3 - c3 + c2 * i22; h4 = d4 - c4 + c3 * i22; h5 = d5 - c5 + c4 * i22;
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
    h5 += (w3 >>> 14) | hibit;
    d0 = h0 * r0 + h1 * s5 + h2 * s4 + h3 * s3 + h4 * s2 + h5 * s1;
    d1 = h0 * r1 + h1 * r0 + h2 * s5 + h3 * s4 + h4 * s3 + h5 * s2;
    d2 = h0 * r2 + h1 * r1 + h2 * r0 + h3 * s5 + h4 * s4 + h5 * s3;
    d3 = h0 * r3 + h1 * r2 + h2 * r1 + h3 * r0 + h4 * s5 + h5 * s4;
    d4 = h0 * r4 + h1 * r3 + h2 * r2 + h3 * r1 + h4 * r0 + h5 * s5;
    d5 = h0 * r5 + h1 * r4 + h2 * r3 + h3 * r2 + h4 * r1 + h5 * r0;
    c0 = (d0 + c22) - c22; c1 = (d1 + c22) - c22; c2 = (d2 + c22) - c22;
    c3 = (d3 + c22) - c22; c4 = (d4 + c22) - c22; c5 = (d5 + c20) - c20;
    d0 = d0 - c0 + c5 * f20; d1 = d1 - c1 + c0 * i22; d2 = d2 - c2 + c1 * i22;
    d3 = d3 - c3 + c2 * i22; d4 = d4 - c4 + c3 * i22; d5 = d5 - c5 + c4 * i22;
    c0 = (d0 + c22) - c22; c1 = (d1 + c22) - c22; c2 = (d2 + c22) - c22;
    c3 = (d3 + c22) - c22; c4 = (d4 + c22) - c22; c5 = (d5 + c20) - c20;
    h0 = d0 - c0 + c5 * f20; h1 = d1 - c1 + c0 * i22; h2 = d2 - c2 + c1 * i22;
    h3 = d3 - c3 + c2 * i22; h4 = d4 - c4 + c3 * i22; h5 = d5 - c5 + c4 * i22;
    off += 16;
  }
  PS[0] = h0; PS[1] = h1; PS[2] = h2; PS[3] = h3; PS[4] = h4; PS[5] = h5;
}

/** Finishes Poly1305: writes the 16-byte tag (h mod 2^130-5) + s mod 2^128 at `out[off]`. */
function polyFinish(out: Uint8Array, off: number): void {
  // Limbs are small integers now: make them canonical with int32 arithmetic. Three passes of
  // floor carries turn the balanced (possibly negative) form into a value in [0, 2^130).
  let h0 = PS[0] | 0, h1 = PS[1] | 0, h2 = PS[2] | 0, h3 = PS[3] | 0, h4 = PS[4] | 0, h5 = PS[5] | 0;
  let c;
  for (let k = 0; k < 3; k++) {
    c = h0 >> 22; h0 &= 0x3fffff; h1 += c;
    c = h1 >> 22; h1 &= 0x3fffff; h2 += c;
    c = h2 >> 22; h2 &= 0x3fffff; h3 += c;
    c = h3 >> 22; h3 &= 0x3fffff; h4 += c;
    c = h4 >> 22; h4 &= 0x3fffff; h5 += c;
    c = h5 >> 20; h5 &= 0xfffff; h0 += 5 * c;
  }
  // g = h + 5 - 2^130; use g when it is not negative (h >= p), selected without branches.
  let g0 = h0 + 5; c = g0 >>> 22; g0 &= 0x3fffff;
  let g1 = h1 + c; c = g1 >>> 22; g1 &= 0x3fffff;
  let g2 = h2 + c; c = g2 >>> 22; g2 &= 0x3fffff;
  let g3 = h3 + c; c = g3 >>> 22; g3 &= 0x3fffff;
  let g4 = h4 + c; c = g4 >>> 22; g4 &= 0x3fffff;
  const g5 = h5 + c;
  const mask = -(g5 >>> 20);
  const keep = ~mask;
  h0 = (h0 & keep) | (g0 & mask);
  h1 = (h1 & keep) | (g1 & mask);
  h2 = (h2 & keep) | (g2 & mask);
  h3 = (h3 & keep) | (g3 & mask);
  h4 = (h4 & keep) | (g4 & mask);
  h5 = (h5 & keep) | (g5 & 0xfffff & mask);
  // h mod 2^128 as four words, plus s; the carry between words is kept exact in doubles.
  let f = ((h0 | (h1 << 22)) >>> 0) + (PAD[0] >>> 0);
  let w = f >>> 0;
  out[off] = w & 255; out[off + 1] = (w >>> 8) & 255; out[off + 2] = (w >>> 16) & 255; out[off + 3] = w >>> 24;
  f = (((h1 >>> 10) | (h2 << 12)) >>> 0) + (PAD[1] >>> 0) + (f - w) / TWO32;
  w = f >>> 0;
  out[off + 4] = w & 255; out[off + 5] = (w >>> 8) & 255; out[off + 6] = (w >>> 16) & 255; out[off + 7] = w >>> 24;
  f = (((h2 >>> 20) | (h3 << 2) | (h4 << 24)) >>> 0) + (PAD[2] >>> 0) + (f - w) / TWO32;
  w = f >>> 0;
  out[off + 8] = w & 255; out[off + 9] = (w >>> 8) & 255; out[off + 10] = (w >>> 16) & 255; out[off + 11] = w >>> 24;
  f = (((h4 >>> 8) | (h5 << 14)) >>> 0) + (PAD[3] >>> 0) + (f - w) / TWO32;
  w = f >>> 0;
  out[off + 12] = w & 255; out[off + 13] = (w >>> 8) & 255; out[off + 14] = (w >>> 16) & 255; out[off + 15] = w >>> 24;
}

/** Absorbs `m[off, off+len)` zero-padded to a multiple of 16 bytes (the AEAD layout). */
function polyPadded(m: Uint8Array, off: number, len: number): void {
  const rem = len & 15;
  const full = len - rem;
  if (full > 0) polyBlocks(m, off, full / 16, HIBIT);
  if (rem > 0) {
    BLK.fill(0);
    off += full;
    for (let i = 0; i < rem; i++) BLK[i] = m[off + i];
    polyBlocks(BLK, 0, 1, HIBIT);
  }
}

/** Absorbs the AEAD length block (lengths below 2^32, as typed arrays are). */
function polyLengths(adLen: number, len: number): void {
  BLK[0] = adLen & 255; BLK[1] = (adLen >>> 8) & 255; BLK[2] = (adLen >>> 16) & 255; BLK[3] = adLen >>> 24;
  BLK[4] = 0; BLK[5] = 0; BLK[6] = 0; BLK[7] = 0;
  BLK[8] = len & 255; BLK[9] = (len >>> 8) & 255; BLK[10] = (len >>> 16) & 255; BLK[11] = len >>> 24;
  BLK[12] = 0; BLK[13] = 0; BLK[14] = 0; BLK[15] = 0;
  polyBlocks(BLK, 0, 1, HIBIT);
}

/** Reads a little-endian 32-bit word (as int32). */
function rd32(b: Uint8Array, o: number): number {
  return b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24);
}

/** Writes the low 32 bits of `v` little-endian at `b[o]`. */
function wr32(b: Uint8Array, o: number, v: number): void {
  b[o] = v & 255; b[o + 1] = (v >>> 8) & 255; b[o + 2] = (v >>> 16) & 255; b[o + 3] = (v >>> 24) & 255;
}

/** AEAD seal with the key already in K and nonce words n0..n2. */
function sealK(
  n0: number, n1: number, n2: number,
  ad: Uint8Array | null, adOff: number, adLen: number,
  src: Uint8Array, srcOff: number, len: number,
  dst: Uint8Array, dstOff: number,
): void {
  chachaXor(0, n0, n1, n2, ZERO64, 0, KS, 0, 64);
  polyInit(KS, 0);
  chachaXor(1, n0, n1, n2, src, srcOff, dst, dstOff, len);
  if (adLen > 0) polyPadded(ad as Uint8Array, adOff, adLen);
  polyPadded(dst, dstOff, len);
  polyLengths(adLen, len);
  polyFinish(dst, dstOff + len);
}

/** AEAD open with the key already in K: checks the tag (constant time) before decrypting. */
function openK(
  n0: number, n1: number, n2: number,
  ad: Uint8Array | null, adOff: number, adLen: number,
  src: Uint8Array, srcOff: number, len: number,
  dst: Uint8Array, dstOff: number,
): boolean {
  chachaXor(0, n0, n1, n2, ZERO64, 0, KS, 0, 64);
  polyInit(KS, 0);
  if (adLen > 0) polyPadded(ad as Uint8Array, adOff, adLen);
  polyPadded(src, srcOff, len);
  polyLengths(adLen, len);
  polyFinish(BLK, 0);
  const t = srcOff + len;
  let diff = 0;
  for (let i = 0; i < 16; i++) diff |= BLK[i] ^ src[t + i];
  if (diff !== 0) return false;
  chachaXor(1, n0, n1, n2, src, srcOff, dst, dstOff, len);
  return true;
}

/**
 * ChaCha20 (RFC 8439 section 2.4): XORs the keystream for `key[keyOff, +32)`, the 12-byte nonce
 * at `nonce[nonceOff]` and the initial block counter `counter` over `src[srcOff, +len)` into
 * `dst[dstOff, +len)`. In place (same buffer, same offset) is allowed.
 */
export function chacha20Xor(
  key: Uint8Array, keyOff: number, nonce: Uint8Array, nonceOff: number, counter: number,
  src: Uint8Array, srcOff: number, len: number, dst: Uint8Array, dstOff: number,
): void {
  loadKey(key, keyOff);
  chachaXor(counter, rd32(nonce, nonceOff), rd32(nonce, nonceOff + 4), rd32(nonce, nonceOff + 8),
    src, srcOff, dst, dstOff, len);
}

/** Poly1305 (RFC 8439 section 2.5) of `msg[msgOff, +len)` with the one-time key `key[keyOff, +32)`. */
export function poly1305(
  key: Uint8Array, keyOff: number, msg: Uint8Array, msgOff: number, len: number,
  out: Uint8Array, outOff: number,
): void {
  polyInit(key, keyOff);
  const rem = len & 15;
  const full = len - rem;
  if (full > 0) polyBlocks(msg, msgOff, full / 16, HIBIT);
  if (rem > 0) {
    BLK.fill(0);
    for (let i = 0; i < rem; i++) BLK[i] = msg[msgOff + full + i];
    BLK[rem] = 1;
    polyBlocks(BLK, 0, 1, 0);
  }
  polyFinish(out, outOff);
}

/**
 * ChaCha20-Poly1305 seal (RFC 8439 section 2.8) with a 12-byte nonce at `nonce[nonceOff]`:
 * ciphertext to `dst[dstOff, +len)`, tag to `dst[dstOff+len, +16)`.
 */
export function aeadSeal(
  key: Uint8Array, nonce: Uint8Array, nonceOff: number,
  ad: Uint8Array | null, adOff: number, adLen: number,
  src: Uint8Array, srcOff: number, len: number,
  dst: Uint8Array, dstOff: number,
): void {
  loadKey(key, 0);
  sealK(rd32(nonce, nonceOff), rd32(nonce, nonceOff + 4), rd32(nonce, nonceOff + 8),
    ad, adOff, adLen, src, srcOff, len, dst, dstOff);
}

/** ChaCha20-Poly1305 open with a 12-byte nonce; returns false (writing nothing) on a bad tag. */
export function aeadOpen(
  key: Uint8Array, nonce: Uint8Array, nonceOff: number,
  ad: Uint8Array | null, adOff: number, adLen: number,
  src: Uint8Array, srcOff: number, len: number,
  dst: Uint8Array, dstOff: number,
): boolean {
  loadKey(key, 0);
  return openK(rd32(nonce, nonceOff), rd32(nonce, nonceOff + 4), rd32(nonce, nonceOff + 8),
    ad, adOff, adLen, src, srcOff, len, dst, dstOff);
}

/**
 * ChaCha20-Poly1305 seal with the WireGuard nonce: 32 zero bits, then the 64-bit little-endian
 * counter given as two uint32 halves. Same layout as {@link aeadSeal}.
 */
export function wgSeal(
  key: Uint8Array, ctrLo: number, ctrHi: number,
  ad: Uint8Array | null, adOff: number, adLen: number,
  src: Uint8Array, srcOff: number, len: number,
  dst: Uint8Array, dstOff: number,
): void {
  loadKey(key, 0);
  sealK(0, ctrLo | 0, ctrHi | 0, ad, adOff, adLen, src, srcOff, len, dst, dstOff);
}

/** ChaCha20-Poly1305 open with the WireGuard nonce; see {@link wgSeal} and {@link aeadOpen}. */
export function wgOpen(
  key: Uint8Array, ctrLo: number, ctrHi: number,
  ad: Uint8Array | null, adOff: number, adLen: number,
  src: Uint8Array, srcOff: number, len: number,
  dst: Uint8Array, dstOff: number,
): boolean {
  loadKey(key, 0);
  return openK(0, ctrLo | 0, ctrHi | 0, ad, adOff, adLen, src, srcOff, len, dst, dstOff);
}

/**
 * HChaCha20 (draft-irtf-cfrg-xchacha section 2.2): derives a 32-byte subkey at `out[outOff]` from
 * `key[keyOff, +32)` and the 16-byte nonce at `nonce[nonceOff]`. `out` may alias the key.
 */
export function hchacha20(
  key: Uint8Array, keyOff: number, nonce: Uint8Array, nonceOff: number,
  out: Uint8Array, outOff: number,
): void {
  loadKey(key, keyOff);
  const w0 = rd32(nonce, nonceOff), w1 = rd32(nonce, nonceOff + 4);
  const w2 = rd32(nonce, nonceOff + 8), w3 = rd32(nonce, nonceOff + 12);
  // One ChaCha20 block with the 16 nonce bytes in words 12..15; HChaCha20 wants the state before
  // the final addition, so subtract the input words back out of words 0..3 and 12..15.
  chachaXor(w0, w1, w2, w3, ZERO64, 0, KS, 0, 64);
  wr32(out, outOff, rd32(KS, 0) - 0x61707865);
  wr32(out, outOff + 4, rd32(KS, 4) - 0x3320646e);
  wr32(out, outOff + 8, rd32(KS, 8) - 0x79622d32);
  wr32(out, outOff + 12, rd32(KS, 12) - 0x6b206574);
  wr32(out, outOff + 16, rd32(KS, 48) - w0);
  wr32(out, outOff + 20, rd32(KS, 52) - w1);
  wr32(out, outOff + 24, rd32(KS, 56) - w2);
  wr32(out, outOff + 28, rd32(KS, 60) - w3);
}

/** XChaCha20-Poly1305 seal with a 24-byte nonce at `nonce[nonceOff]`; layout as {@link aeadSeal}. */
export function xaeadSeal(
  key: Uint8Array, nonce: Uint8Array, nonceOff: number,
  ad: Uint8Array | null, adOff: number, adLen: number,
  src: Uint8Array, srcOff: number, len: number,
  dst: Uint8Array, dstOff: number,
): void {
  hchacha20(key, 0, nonce, nonceOff, SUBKEY, 0);
  loadKey(SUBKEY, 0);
  sealK(0, rd32(nonce, nonceOff + 16), rd32(nonce, nonceOff + 20),
    ad, adOff, adLen, src, srcOff, len, dst, dstOff);
}

/** XChaCha20-Poly1305 open with a 24-byte nonce; returns false on a bad tag. */
export function xaeadOpen(
  key: Uint8Array, nonce: Uint8Array, nonceOff: number,
  ad: Uint8Array | null, adOff: number, adLen: number,
  src: Uint8Array, srcOff: number, len: number,
  dst: Uint8Array, dstOff: number,
): boolean {
  hchacha20(key, 0, nonce, nonceOff, SUBKEY, 0);
  loadKey(SUBKEY, 0);
  return openK(0, rd32(nonce, nonceOff + 16), rd32(nonce, nonceOff + 20),
    ad, adOff, adLen, src, srcOff, len, dst, dstOff);
}
