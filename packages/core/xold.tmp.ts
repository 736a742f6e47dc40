/**
 * X25519 (RFC 7748) without BigInt, for Node and for the Espruino interpreter.
 *
 * Field elements mod p = 2^255 - 19 are 13 signed limbs of radix 2^20 held in Float64Arrays:
 * value = sum(f[i] * 2^(20 i)), i = 0..12 (260 bits, so 2^260 = 32 * 2^255 wraps as 32*19 = 608).
 * 13 limbs means 169 products per multiplication (91 per squaring) instead of tweetnacl's 256,
 * and every sum stays an exact integer in a double. Bounds (checked in the comments below):
 *  - after a carry chain every limb is balanced: |f_i| <= 2^19 (+5 on limb 2, +80 after mulSmall);
 *  - multiplication inputs are carried values or a sum/difference of two, so |a_i|, |b_i| <= 2^20 + 160;
 *  - an output limb before carrying is at most one direct product plus 608 times twelve wrapped
 *    ones: (2^20 + 160)^2 * (1 + 12 * 608) < 8.03e15 < 2^53 = 9.007e15, so it is exact;
 *  - carries round to the nearest multiple of 2^20 with (x + 1.5 * 2^72) - 1.5 * 2^72, exact for
 *    |x| < 2^71, so no Math.floor call is needed.
 *
 * Everything runs on module-level scratch (no allocation after load); not re-entrant.
 * The ladder is constant-time in the usual JS sense: no secret-dependent branches or indices,
 * swaps are arithmetic.
 */

const TWO20 = 1048576;
const C20 = 1.5 * TWO20 * TWO20 * TWO20 * 4096;
/** 2^-20 (exact). */
const INV20 = 1 / TWO20;
/** A carry out of limb 12 (2^260) comes back into limb 0 times 608 = 32 * 19. */
const WRAP20 = 608 / TWO20;

/** Field element scratch: 13 limbs each. */
function fe(): Float64Array {
  return new Float64Array(13);
}
const X1 = fe(), X2 = fe(), Z2 = fe(), X3 = fe(), Z3 = fe();
const TA = fe(), TB = fe(), TC = fe(), TD = fe(), TAA = fe(), TBB = fe(), TE = fe(), TDA = fe(), TCB = fe();
const I0 = fe(), I1 = fe(), I2 = fe(), I3 = fe();
/** Clamped scalar copy. */
const SC = new Uint8Array(32);
/** The base point u = 9, as bytes. */
const NINE = new Uint8Array(32);
NINE[0] = 9;

/** o = a * b mod p (carried, balanced limbs). o may alias a or b. */
function mul(o: Float64Array, a: Float64Array, b: Float64Array): void {
  const a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3], a4 = a[4], a5 = a[5], a6 = a[6], a7 = a[7], a8 = a[8], a9 = a[9], a10 = a[10], a11 = a[11], a12 = a[12];
  const b0 = b[0], b1 = b[1], b2 = b[2], b3 = b[3], b4 = b[4], b5 = b[5], b6 = b[6], b7 = b[7], b8 = b[8], b9 = b[9], b10 = b[10], b11 = b[11], b12 = b[12];
  let o0 = a0 * b0 + 608 * (a1 * b12 + a2 * b11 + a3 * b10 + a4 * b9 + a5 * b8 + a6 * b7 + a7 * b6 + a8 * b5 + a9 * b4 + a10 * b3 + a11 * b2 + a12 * b1);
  let o1 = a0 * b1 + a1 * b0 + 608 * (a2 * b12 + a3 * b11 + a4 * b10 + a5 * b9 + a6 * b8 + a7 * b7 + a8 * b6 + a9 * b5 + a10 * b4 + a11 * b3 + a12 * b2);
  let o2 = a0 * b2 + a1 * b1 + a2 * b0 + 608 * (a3 * b12 + a4 * b11 + a5 * b10 + a6 * b9 + a7 * b8 + a8 * b7 + a9 * b6 + a10 * b5 + a11 * b4 + a12 * b3);
  let o3 = a0 * b3 + a1 * b2 + a2 * b1 + a3 * b0 + 608 * (a4 * b12 + a5 * b11 + a6 * b10 + a7 * b9 + a8 * b8 + a9 * b7 + a10 * b6 + a11 * b5 + a12 * b4);
  let o4 = a0 * b4 + a1 * b3 + a2 * b2 + a3 * b1 + a4 * b0 + 608 * (a5 * b12 + a6 * b11 + a7 * b10 + a8 * b9 + a9 * b8 + a10 * b7 + a11 * b6 + a12 * b5);
  let o5 = a0 * b5 + a1 * b4 + a2 * b3 + a3 * b2 + a4 * b1 + a5 * b0 + 608 * (a6 * b12 + a7 * b11 + a8 * b10 + a9 * b9 + a10 * b8 + a11 * b7 + a12 * b6);
  let o6 = a0 * b6 + a1 * b5 + a2 * b4 + a3 * b3 + a4 * b2 + a5 * b1 + a6 * b0 + 608 * (a7 * b12 + a8 * b11 + a9 * b10 + a10 * b9 + a11 * b8 + a12 * b7);
  let o7 = a0 * b7 + a1 * b6 + a2 * b5 + a3 * b4 + a4 * b3 + a5 * b2 + a6 * b1 + a7 * b0 + 608 * (a8 * b12 + a9 * b11 + a10 * b10 + a11 * b9 + a12 * b8);
  let o8 = a0 * b8 + a1 * b7 + a2 * b6 + a3 * b5 + a4 * b4 + a5 * b3 + a6 * b2 + a7 * b1 + a8 * b0 + 608 * (a9 * b12 + a10 * b11 + a11 * b10 + a12 * b9);
  let o9 = a0 * b9 + a1 * b8 + a2 * b7 + a3 * b6 + a4 * b5 + a5 * b4 + a6 * b3 + a7 * b2 + a8 * b1 + a9 * b0 + 608 * (a10 * b12 + a11 * b11 + a12 * b10);
  let o10 = a0 * b10 + a1 * b9 + a2 * b8 + a3 * b7 + a4 * b6 + a5 * b5 + a6 * b4 + a7 * b3 + a8 * b2 + a9 * b1 + a10 * b0 + 608 * (a11 * b12 + a12 * b11);
  let o11 = a0 * b11 + a1 * b10 + a2 * b9 + a3 * b8 + a4 * b7 + a5 * b6 + a6 * b5 + a7 * b4 + a8 * b3 + a9 * b2 + a10 * b1 + a11 * b0 + 608 * (a12 * b12);
  let o12 = a0 * b12 + a1 * b11 + a2 * b10 + a3 * b9 + a4 * b8 + a5 * b7 + a6 * b6 + a7 * b5 + a8 * b4 + a9 * b3 + a10 * b2 + a11 * b1 + a12 * b0;
  const k20 = C20, i20 = INV20, w20 = WRAP20;
  let c;
  c = (o0 + k20) - k20; o0 -= c; o1 += c * i20;
  c = (o1 + k20) - k20; o1 -= c; o2 += c * i20;
  c = (o2 + k20) - k20; o2 -= c; o3 += c * i20;
  c = (o3 + k20) - k20; o3 -= c; o4 += c * i20;
  c = (o4 + k20) - k20; o4 -= c; o5 += c * i20;
  c = (o5 + k20) - k20; o5 -= c; o6 += c * i20;
  c = (o6 + k20) - k20; o6 -= c; o7 += c * i20;
  c = (o7 + k20) - k20; o7 -= c; o8 += c * i20;
  c = (o8 + k20) - k20; o8 -= c; o9 += c * i20;
  c = (o9 + k20) - k20; o9 -= c; o10 += c * i20;
  c = (o10 + k20) - k20; o10 -= c; o11 += c * i20;
  c = (o11 + k20) - k20; o11 -= c; o12 += c * i20;
  c = (o12 + k20) - k20; o12 -= c; o0 += c * w20;
  c = (o0 + k20) - k20; o0 -= c; o1 += c * i20;
  c = (o1 + k20) - k20; o1 -= c; o2 += c * i20;
  o[0] = o0; o[1] = o1; o[2] = o2; o[3] = o3; o[4] = o4; o[5] = o5; o[6] = o6; o[7] = o7; o[8] = o8; o[9] = o9; o[10] = o10; o[11] = o11; o[12] = o12;
}

/** o = a^2 mod p (carried). o may alias a. */
function sqr(o: Float64Array, a: Float64Array): void {
  const a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3], a4 = a[4], a5 = a[5], a6 = a[6], a7 = a[7], a8 = a[8], a9 = a[9], a10 = a[10], a11 = a[11], a12 = a[12];
  const d1 = 2 * a1, d2 = 2 * a2, d3 = 2 * a3, d4 = 2 * a4, d5 = 2 * a5, d6 = 2 * a6, d7 = 2 * a7, d8 = 2 * a8, d9 = 2 * a9, d10 = 2 * a10, d11 = 2 * a11, d12 = 2 * a12;
  let o0 = a0 * a0 + 608 * (a1 * d12 + a2 * d11 + a3 * d10 + a4 * d9 + a5 * d8 + a6 * d7);
  let o1 = a0 * d1 + 608 * (a2 * d12 + a3 * d11 + a4 * d10 + a5 * d9 + a6 * d8 + a7 * a7);
  let o2 = a0 * d2 + a1 * a1 + 608 * (a3 * d12 + a4 * d11 + a5 * d10 + a6 * d9 + a7 * d8);
  let o3 = a0 * d3 + a1 * d2 + 608 * (a4 * d12 + a5 * d11 + a6 * d10 + a7 * d9 + a8 * a8);
  let o4 = a0 * d4 + a1 * d3 + a2 * a2 + 608 * (a5 * d12 + a6 * d11 + a7 * d10 + a8 * d9);
  let o5 = a0 * d5 + a1 * d4 + a2 * d3 + 608 * (a6 * d12 + a7 * d11 + a8 * d10 + a9 * a9);
  let o6 = a0 * d6 + a1 * d5 + a2 * d4 + a3 * a3 + 608 * (a7 * d12 + a8 * d11 + a9 * d10);
  let o7 = a0 * d7 + a1 * d6 + a2 * d5 + a3 * d4 + 608 * (a8 * d12 + a9 * d11 + a10 * a10);
  let o8 = a0 * d8 + a1 * d7 + a2 * d6 + a3 * d5 + a4 * a4 + 608 * (a9 * d12 + a10 * d11);
  let o9 = a0 * d9 + a1 * d8 + a2 * d7 + a3 * d6 + a4 * d5 + 608 * (a10 * d12 + a11 * a11);
  let o10 = a0 * d10 + a1 * d9 + a2 * d8 + a3 * d7 + a4 * d6 + a5 * a5 + 608 * (a11 * d12);
  let o11 = a0 * d11 + a1 * d10 + a2 * d9 + a3 * d8 + a4 * d7 + a5 * d6 + 608 * (a12 * a12);
  let o12 = a0 * d12 + a1 * d11 + a2 * d10 + a3 * d9 + a4 * d8 + a5 * d7 + a6 * a6;
  const k20 = C20, i20 = INV20, w20 = WRAP20;
  let c;
  c = (o0 + k20) - k20; o0 -= c; o1 += c * i20;
  c = (o1 + k20) - k20; o1 -= c; o2 += c * i20;
  c = (o2 + k20) - k20; o2 -= c; o3 += c * i20;
  c = (o3 + k20) - k20; o3 -= c; o4 += c * i20;
  c = (o4 + k20) - k20; o4 -= c; o5 += c * i20;
  c = (o5 + k20) - k20; o5 -= c; o6 += c * i20;
  c = (o6 + k20) - k20; o6 -= c; o7 += c * i20;
  c = (o7 + k20) - k20; o7 -= c; o8 += c * i20;
  c = (o8 + k20) - k20; o8 -= c; o9 += c * i20;
  c = (o9 + k20) - k20; o9 -= c; o10 += c * i20;
  c = (o10 + k20) - k20; o10 -= c; o11 += c * i20;
  c = (o11 + k20) - k20; o11 -= c; o12 += c * i20;
  c = (o12 + k20) - k20; o12 -= c; o0 += c * w20;
  c = (o0 + k20) - k20; o0 -= c; o1 += c * i20;
  c = (o1 + k20) - k20; o1 -= c; o2 += c * i20;
  o[0] = o0; o[1] = o1; o[2] = o2; o[3] = o3; o[4] = o4; o[5] = o5; o[6] = o6; o[7] = o7; o[8] = o8; o[9] = o9; o[10] = o10; o[11] = o11; o[12] = o12;
}

/** o = a^(2^n) mod p. */
function sqrN(o: Float64Array, a: Float64Array, n: number): void {
  sqr(o, a);
  for (let i = 1; i < n; i++) sqr(o, o);
}

/** o = a * k mod p for a small integer k (< 2^17), carried. o may alias a. */
function mulSmall(o: Float64Array, a: Float64Array, k: number): void {
  const k20 = C20, i20 = INV20;
  let c = 0, x;
  // |a_i * k| <= 2^37.1: the chain leaves limb 1 within 2^19 + 80.
  for (let i = 0; i < 12; i++) {
    x = a[i] * k + c;
    c = (x + k20) - k20;
    o[i] = x - c;
    c *= i20;
  }
  x = a[12] * k + c;
  c = (x + k20) - k20;
  o[12] = x - c;
  x = o[0] + c * WRAP20;
  c = (x + k20) - k20;
  o[0] = x - c;
  o[1] += c * i20;
}

/** o = a + b (no carry). */
function add(o: Float64Array, a: Float64Array, b: Float64Array): void {
  for (let i = 0; i < 13; i++) o[i] = a[i] + b[i];
}

/** o = a - b (no carry). */
function sub(o: Float64Array, a: Float64Array, b: Float64Array): void {
  for (let i = 0; i < 13; i++) o[i] = a[i] - b[i];
}

/** Swaps a and b when m is 1, leaves them when m is 0, without branching. */
function cswap(a: Float64Array, b: Float64Array, m: number): void {
  let t;
  for (let i = 0; i < 13; i++) {
    t = m * (a[i] - b[i]);
    a[i] -= t;
    b[i] += t;
  }
}

/** o = z^(p-2) = 1/z mod p (254 squarings, 11 multiplications; ref10's chain). o must not alias I0..I3. */
function invert(o: Float64Array, z: Float64Array): void {
  sqr(I0, z);            // 2
  sqrN(I1, I0, 2);       // 8
  mul(I1, z, I1);        // 9
  mul(I0, I0, I1);       // 11
  sqr(I2, I0);           // 22
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

/** Writes a fully reduced field element as 32 little-endian bytes. */
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

/** Montgomery ladder: X2/Z2 = scalar * (u in X1); base=true means u = 9 (x1 * t becomes 9 * t). */
function ladder(scalar: Uint8Array, base: boolean): void {
  for (let i = 0; i < 32; i++) SC[i] = scalar[i];
  SC[0] &= 248;
  SC[31] = (SC[31] & 127) | 64;
  for (let i = 0; i < 13; i++) {
    X2[i] = 0; Z2[i] = 0; X3[i] = X1[i]; Z3[i] = 0;
  }
  X2[0] = 1; Z3[0] = 1;
  let swap = 0, bit;
  for (let t = 254; t >= 0; t--) {
    bit = (SC[t >>> 3] >>> (t & 7)) & 1;
    swap ^= bit;
    cswap(X2, X3, swap);
    cswap(Z2, Z3, swap);
    swap = bit;
    add(TA, X2, Z2);
    sqr(TAA, TA);
    sub(TB, X2, Z2);
    sqr(TBB, TB);
    sub(TE, TAA, TBB);
    add(TC, X3, Z3);
    sub(TD, X3, Z3);
    mul(TDA, TD, TA);
    mul(TCB, TC, TB);
    add(X3, TDA, TCB);
    sqr(X3, X3);
    sub(Z3, TDA, TCB);
    sqr(Z3, Z3);
    if (base) mulSmall(Z3, Z3, 9);
    else mul(Z3, Z3, X1);
    mul(X2, TAA, TBB);
    mulSmall(TA, TE, 121665);
    add(TA, TA, TAA);
    mul(Z2, TE, TA);
  }
  cswap(X2, X3, swap);
  cswap(Z2, Z3, swap);
}

/**
 * X25519: writes scalar * point (u-coordinates, 32 bytes each) to `out`. The scalar is clamped
 * on a copy. Returns false when the result is all zeros (a low-order input point).
 */
export function x25519(out: Uint8Array, scalar: Uint8Array, point: Uint8Array): boolean {
  unpack(X1, point);
  ladder(scalar, false);
  invert(TA, Z2);
  mul(TA, X2, TA);
  pack(out, TA);
  let z = 0;
  for (let i = 0; i < 32; i++) z |= out[i];
  return z !== 0;
}

/** X25519 with the base point u = 9: derives the public key for `scalar`. */
export function x25519Base(out: Uint8Array, scalar: Uint8Array): void {
  unpack(X1, NINE);
  ladder(scalar, true);
  invert(TA, Z2);
  mul(TA, X2, TA);
  pack(out, TA);
}
