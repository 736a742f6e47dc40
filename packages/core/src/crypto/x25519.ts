/**
 * X25519 (RFC 7748) without BigInt, for Node and for the Espruino interpreter.
 *
 * Field elements mod p = 2^255 - 19 are 13 signed limbs of radix 2^20 in Float64Arrays:
 * value = sum(f[i] * 2^(20 i)), i = 0..12 (260 bits, so 2^260 = 32 * 2^255 wraps as 32*19 = 608).
 * 13 limbs means 169 products per multiplication (91 per squaring) instead of tweetnacl's 256,
 * and every sum stays an exact integer in a double. Bounds:
 *  - after a carry chain every limb is balanced, |f_i| <= 2^19, except limb 2 (<= 2^19 + 5);
 *  - multiplication inputs are carried values or a sum/difference of two, so |a_i|, |b_i| <= 2^20 + 10;
 *  - an output limb before carrying is at most one direct product plus 608 times twelve wrapped
 *    ones: (2^20 + 10)^2 * (1 + 12 * 608) < 8.03e15 < 2^53 = 9.007e15, so it is exact (also when
 *    Espruino's E.convolve sums the same products in a double);
 *  - carries round to the nearest multiple of 2^20 with (x + 1.5 * 2^72) - 1.5 * 2^72, exact for
 *    |x| < 2^71, so no Math.floor call is needed. The wrap carry out of limb 12 (up to 2^33 * 608)
 *    lands in limb 0, hence two extra carries (0 -> 1 -> 2) at the end of each chain.
 *
 * On Espruino, where the interpreter's cost is per token, the 169 products are done natively by
 * `E.convolve` (13 calls of 13 multiply-adds each) against a "Q form" of the second operand
 * (limbs reversed, then the reversed limbs times 608), and a Q form is shared by the two products
 * that use the same operand. Elsewhere (Node) the products are unrolled JS.
 *
 * The unrolled JS products live in x25519-unrolled.ts. (The device itself runs crypto/suite.ts.)
 *
 * Everything runs on module-level scratch (no allocation after load); not re-entrant.
 * The ladder has no secret-dependent branches or indices: the swap is arithmetic (m * (x3 - x2)).
 */

import { mulJs, sqrJs } from './x25519-unrolled.js';

type Convolve = (a: Float64Array, b: Float64Array, offset: number) => number;
/** Espruino's global `E` (absent on Node). */
declare const E: { convolve?: Convolve } | undefined;
/** Espruino's native dot product with offset, if present. */
const CONV: Convolve | null =
  typeof E !== 'undefined' && E && typeof E.convolve === 'function' ? E.convolve : null;

/**
 * 2^n by repeated doubling. Constants are built at load time on purpose: a minifier would fold
 * `1.5 * 2^72` into a decimal literal, and Espruino parses such literals inexactly.
 */
function pow2(n: number): number {
  let x = 1;
  for (let i = 0; i < n; i++) x *= 2;
  return x;
}
const TWO20 = pow2(20);
/** 1.5 * 2^72: (x + C20) - C20 rounds x to the nearest multiple of 2^20. */
const C20 = 1.5 * pow2(72);
/** 2^-20 (exact). */
const INV20 = 1 / TWO20;
/** A carry out of limb 12 (2^260) comes back into limb 0 times 608 = 32 * 19. */
const WRAP20 = 608 / TWO20;

/** A field element: 13 limbs. */
function fe(): Float64Array {
  return new Float64Array(13);
}
/*
 * Nine field elements in all: on a microcontroller each costs ~10 variables of RAM, so the ladder
 * overwrites dead values instead of naming every intermediate, and invert/pack borrow the ladder
 * temporaries once the ladder is done.
 */
const X2 = fe(), Z2 = fe(), X3 = fe(), Z3 = fe();
const TA = fe(), TB = fe(), TC = fe(), TD = fe(), TAA = fe();
const I0 = TB, I1 = TC, I2 = TD, I3 = TAA;
/**
 * Second-operand forms (25 doubles: the Q form on Espruino, a plain copy elsewhere): Q1 for the
 * product at hand, QX for the input u, kept through the ladder.
 */
const Q1 = new Float64Array(25), QX = new Float64Array(25);
/** Clamped scalar copy. */
const SC = new Uint8Array(32);
/** The base point u = 9, as bytes. */
const NINE = new Uint8Array(32);
NINE[0] = 9;

/** Plain copy of b as the second operand of mulJs. */
function prepJs(q: Float64Array, b: Float64Array): void {
  for (let i = 0; i < 13; i++) q[i] = b[i];
}

/** o = a^2; q (a prepared copy of a) is unused on this path. */
function sqrqJs(o: Float64Array, a: Float64Array, q: Float64Array): void {
  sqrJs(o, a);
}

/** Q form of b for E.convolve: q[j] = b[12 - j] (j = 0..12), q[13 + j] = 608 * b[12 - j] (j = 0..11). */
function prepConv(q: Float64Array, b: Float64Array): void {
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

/**
 * o = a * b mod p where q is the Q form of b: output limb k is sum(a[i] * q[12 - k + i]), which
 * is a[i] * b[k - i] for i <= k and 608 * a[i] * b[k + 13 - i] for i > k. o may alias a.
 */
function mulConv(o: Float64Array, a: Float64Array, q: Float64Array): void {
  const cv = CONV as Convolve;
  let o0 = cv(a, q, 12), o1 = cv(a, q, 11), o2 = cv(a, q, 10), o3 = cv(a, q, 9), o4 = cv(a, q, 8), o5 = cv(a, q, 7), o6 = cv(a, q, 6), o7 = cv(a, q, 5), o8 = cv(a, q, 4), o9 = cv(a, q, 3), o10 = cv(a, q, 2), o11 = cv(a, q, 1), o12 = cv(a, q, 0);
  const k20 = C20, i20 = INV20, w20 = WRAP20;
  let c;
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

/** Prepares the second operand of mulq / sqrq. */
const prep = CONV ? prepConv : prepJs;
/** o = a * b where q = prep(b). */
const mulq = CONV ? mulConv : mulJs;
/** o = a^2 where q = prep(a). */
const sqrq = CONV ? mulConv : sqrqJs;

/** o = a * b (general; uses Q1). */
function mul(o: Float64Array, a: Float64Array, b: Float64Array): void {
  prep(Q1, b);
  mulq(o, a, Q1);
}

/** o = a^(2^n) (uses Q1). */
function sqrN(o: Float64Array, a: Float64Array, n: number): void {
  prep(Q1, a);
  sqrq(o, a, Q1);
  for (let i = 1; i < n; i++) {
    prep(Q1, o);
    sqrq(o, o, Q1);
  }
}

/** o = a * k mod p for a small integer k (< 2^17), carried. o may alias a. */
function mulSmall(o: Float64Array, a: Float64Array, k: number): void {
  // |a_i * k| <= 2^37.1, far inside the exact range; same carry chain as the products.
  let o0 = a[0] * k, o1 = a[1] * k, o2 = a[2] * k, o3 = a[3] * k, o4 = a[4] * k, o5 = a[5] * k, o6 = a[6] * k, o7 = a[7] * k, o8 = a[8] * k, o9 = a[9] * k, o10 = a[10] * k, o11 = a[11] * k, o12 = a[12] * k;
  const k20 = C20, i20 = INV20, w20 = WRAP20;
  let c;
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

/** o = a + b (no carry). */
function add(o: Float64Array, a: Float64Array, b: Float64Array): void {
  o[0] = a[0] + b[0]; o[1] = a[1] + b[1]; o[2] = a[2] + b[2]; o[3] = a[3] + b[3];
  o[4] = a[4] + b[4]; o[5] = a[5] + b[5]; o[6] = a[6] + b[6]; o[7] = a[7] + b[7];
  o[8] = a[8] + b[8]; o[9] = a[9] + b[9]; o[10] = a[10] + b[10]; o[11] = a[11] + b[11];
  o[12] = a[12] + b[12];
}

/** o = a - b (no carry). */
function sub(o: Float64Array, a: Float64Array, b: Float64Array): void {
  o[0] = a[0] - b[0]; o[1] = a[1] - b[1]; o[2] = a[2] - b[2]; o[3] = a[3] - b[3];
  o[4] = a[4] - b[4]; o[5] = a[5] - b[5]; o[6] = a[6] - b[6]; o[7] = a[7] - b[7];
  o[8] = a[8] - b[8]; o[9] = a[9] - b[9]; o[10] = a[10] - b[10]; o[11] = a[11] - b[11];
  o[12] = a[12] - b[12];
}

/** s = a + b and d = a - b (no carry). */
function addSub(s: Float64Array, d: Float64Array, a: Float64Array, b: Float64Array): void {
  let x, y;
  for (let i = 0; i < 13; i++) {
    x = a[i]; y = b[i];
    s[i] = x + y; d[i] = x - y;
  }
}

/** Swaps a and b when m is 1, leaves them when m is 0, without branching. */
function cswap(a: Float64Array, b: Float64Array, m: number): void {
  let t;
  for (let i = 0; i < 13; i++) {
    a[i] -= (t = m * (a[i] - b[i]));
    b[i] += t;
  }
}

/**
 * Ladder step inputs with the conditional swap folded in: (x2, z2, x3, z3) are swapped pairwise
 * when m is 1, then TA = x2 + z2, TB = x2 - z2, TC = x3 + z3, TD = x3 - z3. The swapped values
 * themselves are never needed again (the step overwrites all four), so nothing is written back.
 */
function swapAddSub(m: number): void {
  let x2, z2, x3, z3, t;
  for (let i = 0; i < 13; i++) {
    x2 = X2[i]; x3 = X3[i]; z2 = Z2[i]; z3 = Z3[i];
    x2 += (t = m * (x3 - x2)); x3 -= t;
    z2 += (t = m * (z3 - z2)); z3 -= t;
    TA[i] = x2 + z2; TB[i] = x2 - z2; TC[i] = x3 + z3; TD[i] = x3 - z3;
  }
}

/** o = z^(p-2) = 1/z mod p (254 squarings, 11 multiplications; ref10's chain). o must not alias I0..I3. */
function invert(o: Float64Array, z: Float64Array): void {
  sqrN(I0, z, 1);        // 2
  sqrN(I1, I0, 2);       // 8
  mul(I1, z, I1);        // 9
  mul(I0, I0, I1);       // 11
  sqrN(I2, I0, 1);       // 22
  mul(I1, I1, I2);       // 2^5 - 1
  sqrN(I2, I1, 5);
  mul(I1, I2, I1);       // 2^10 - 1
  sqrN(I2, I1, 10);
  mul(I2, I2, I1);       // 2^20 - 1
  sqrN(I3, I2, 20);
  mul(I2, I3, I2);       // 2^40 - 1
  sqrN(I2, I2, 10);
  mul(I1, I2, I1);       // 2^50 - 1
  sqrN(I2, I1, 50);
  mul(I2, I2, I1);       // 2^100 - 1
  sqrN(I3, I2, 100);
  mul(I2, I3, I2);       // 2^200 - 1
  sqrN(I2, I2, 50);
  mul(I1, I2, I1);       // 2^250 - 1
  sqrN(I1, I1, 5);       // 2^255 - 2^5
  mul(o, I1, I0);        // 2^255 - 21
}

/** Reads a u-coordinate (bit 255 masked, non-canonical values accepted) into balanced limbs. */
function unpack(o: Float64Array, s: Uint8Array): void {
  let acc = 0, bits = 0, j = 0;
  for (let i = 0; i < 13; i++) {
    while (bits < 20 && j < 32) {
      acc |= (j === 31 ? s[31] & 127 : s[j]) << bits;
      j++;
      bits += 8;
    }
    o[i] = acc & 0xfffff;
    acc >>>= 20;
    bits -= 20;
  }
  // Balance limbs 0..11 into [-2^19, 2^19); limb 12 holds 15 bits and stays as is.
  let c;
  for (let i = 0; i < 12; i++) {
    c = (o[i] + 524288) >> 20;
    o[i] -= c * TWO20;
    o[i + 1] += c;
  }
}

/** Writes a field element fully reduced, as 32 little-endian bytes. Uses I0, I1. */
function pack(out: Uint8Array, a: Float64Array): void {
  // Limbs are small integers here (|a_i| < 2^20), so int32 arithmetic is exact. Limb 12 keeps
  // 15 bits (2^255 wraps as 19). Three floor-carry passes give a value in [0, 2^255).
  let i, c;
  for (i = 0; i < 13; i++) I0[i] = a[i];
  for (let k = 0; k < 3; k++) {
    for (i = 0; i < 12; i++) {
      c = I0[i] >> 20;
      I0[i] -= c * TWO20;
      I0[i + 1] += c;
    }
    c = I0[12] >> 15;
    I0[12] -= c * 32768;
    I0[0] += 19 * c;
  }
  // Subtract p when the value is >= p, i.e. when value + 19 reaches 2^255 (branch-free select).
  c = 19;
  for (i = 0; i < 12; i++) {
    I1[i] = (I0[i] + c) & 0xfffff;
    c = (I0[i] + c) >> 20;
  }
  I1[12] = I0[12] + c;
  const m = I1[12] >> 15; // 1 when value >= p, else 0
  I1[12] &= 0x7fff;
  for (i = 0; i < 13; i++) I0[i] += m * (I1[i] - I0[i]);
  let acc = 0, bits = 0, j = 0;
  for (i = 0; i < 13; i++) {
    acc |= I0[i] << bits;
    bits += 20;
    while (bits >= 8 && j < 32) {
      out[j++] = acc & 255;
      acc >>>= 8;
      bits -= 8;
    }
  }
  if (j < 32) out[31] = acc & 255;
}

/**
 * Montgomery ladder (RFC 7748 section 5): leaves scalar * u in X2/Z2, for u unpacked into X3 by
 * the caller. With base = true, u is 9 and x1 * t is computed as 9 * t.
 */
function ladder(scalar: Uint8Array, base: boolean): void {
  for (let i = 0; i < 32; i++) SC[i] = scalar[i];
  SC[0] &= 248;
  SC[31] = (SC[31] & 127) | 64;
  for (let i = 0; i < 13; i++) {
    X2[i] = 0; Z2[i] = 0; Z3[i] = 0;
  }
  X2[0] = 1; Z3[0] = 1;
  prep(QX, X3);
  let swap = 0, bit;
  for (let t = 254; t >= 0; t--) {
    bit = (SC[t >>> 3] >>> (t & 7)) & 1;
    swapAddSub(swap ^ bit);
    swap = bit;
    // A, B, C, D are in TA..TD; products overwrite dead inputs: DA in TD, CB in TC, BB in TB,
    // then E = AA - BB in TC.
    prep(Q1, TA);
    sqrq(TAA, TA, Q1);
    mulq(TD, TD, Q1);
    prep(Q1, TB);
    mulq(TC, TC, Q1);
    sqrq(TB, TB, Q1);
    addSub(X3, Z3, TD, TC);
    prep(Q1, X3);
    sqrq(X3, X3, Q1);
    prep(Q1, Z3);
    sqrq(Z3, Z3, Q1);
    if (base) mulSmall(Z3, Z3, 9);
    else mulq(Z3, Z3, QX);
    sub(TC, TAA, TB);
    prep(Q1, TB);
    mulq(X2, TAA, Q1);
    mulSmall(TA, TC, 121665);
    add(TA, TA, TAA);
    prep(Q1, TA);
    mulq(Z2, TC, Q1);
  }
  cswap(X2, X3, swap);
  cswap(Z2, Z3, swap);
}

/** out = X2 / Z2, packed. */
function finish(out: Uint8Array): void {
  invert(TA, Z2);
  mul(TA, X2, TA);
  pack(out, TA);
}

/**
 * X25519: writes scalar * point (u-coordinates, 32 bytes each) to `out`. The scalar is clamped
 * on a copy. Returns false when the result is all zeros (a low-order input point).
 */
export function x25519(out: Uint8Array, scalar: Uint8Array, point: Uint8Array): boolean {
  unpack(X3, point);
  ladder(scalar, false);
  finish(out);
  let z = 0;
  for (let i = 0; i < 32; i++) z |= out[i];
  return z !== 0;
}

/** X25519 with the base point u = 9: derives the public key for `scalar`. */
export function x25519Base(out: Uint8Array, scalar: Uint8Array): void {
  unpack(X3, NINE);
  ladder(scalar, true);
  finish(out);
}
