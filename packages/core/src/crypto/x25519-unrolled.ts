/**
 * X25519 field multiplication and squaring as unrolled JS, for engines without Espruino's
 * E.convolve (Node, browsers). Same representation and bounds as x25519.ts: 13 signed limbs of
 * radix 2^20 in a Float64Array; outputs are carried to balanced limbs (|f_i| <= 2^19, limb 2
 * within 2^19 + 5), inputs may be sums of two such values.
 */

/**
 * 2^n by repeated doubling (kept out of literals: minifiers fold them into decimal literals
 * that Espruino parses inexactly).
 */
function pow2(n: number): number {
  let x = 1;
  for (let i = 0; i < n; i++) x *= 2;
  return x;
}
/** 1.5 * 2^72: (x + C20) - C20 rounds x to the nearest multiple of 2^20, exactly for |x| < 2^71. */
const C20 = 1.5 * pow2(72);
const INV20 = 1 / pow2(20);
/** A carry out of limb 12 (2^260) re-enters limb 0 times 608 = 32 * 19. */
const WRAP20 = 608 / pow2(20);

/** o = a * b mod p in unrolled JS (carried, balanced limbs). o may alias a or b. */
export function mulJs(o: Float64Array, a: Float64Array, b: Float64Array): void {
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

/** o = a^2 mod p in unrolled JS (carried). o may alias a. */
export function sqrJs(o: Float64Array, a: Float64Array): void {
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

