/**
 * Optional device stand-in for ../x25519-unrolled.ts. On Espruino, x25519.ts multiplies with the
 * native E.convolve and never calls these; they remain only as a fallback for firmware without
 * it. The same products and the same carry chain as the unrolled JS, written as loops: ~0.5 KB
 * of minified source instead of ~2.5 KB, and much slower. Measured on the Linux build with the
 * microcontroller variable layout, it saves no RAM when the code runs from Storage (+2 JsVars),
 * only ~2 KB of flash (and RAM only when the code is loaded into RAM); see packages/bench/README.md.
 * Same representation and bounds as x25519.ts (13 signed limbs of radix 2^20).
 */

/** 2^n by repeated doubling (literals would be folded into decimals Espruino parses inexactly). */
function pow2(n: number): number {
  let x = 1;
  for (let i = 0; i < n; i++) x *= 2;
  return x;
}
const C20 = 1.5 * pow2(72);
const INV20 = 1 / pow2(20);
const WRAP20 = 608 / pow2(20);
/**
 * Product limbs before the carry (o may alias a or b, so the result is built here first).
 * Allocated on first use: with E.convolve it never is, and the stub then costs no RAM beyond
 * the full module's.
 */
let TT: Float64Array | null = null;

/** o = a * b mod p (carried, balanced limbs). o may alias a or b. */
export function mulJs(o: Float64Array, a: Float64Array, b: Float64Array): void {
  let i, k, acc, c;
  if (TT === null) TT = new Float64Array(13);
  const T = TT;
  for (k = 0; k < 13; k++) {
    acc = 0;
    for (i = 0; i <= k; i++) acc += a[i] * b[k - i];
    // Limb products at 2^260 and above wrap around times 608 (2^260 = 32 * 2^255 = 32 * 19).
    for (i = k + 1; i < 13; i++) acc += 608 * a[i] * b[k + 13 - i];
    T[k] = acc;
  }
  for (k = 0; k < 12; k++) {
    c = T[k] + C20 - C20;
    T[k] -= c;
    T[k + 1] += c * INV20;
  }
  c = T[12] + C20 - C20; T[12] -= c; T[0] += c * WRAP20;
  c = T[0] + C20 - C20; T[0] -= c; T[1] += c * INV20;
  c = T[1] + C20 - C20; T[1] -= c; T[2] += c * INV20;
  for (k = 0; k < 13; k++) o[k] = T[k];
}

/** o = a^2 mod p (carried). o may alias a. */
export function sqrJs(o: Float64Array, a: Float64Array): void {
  mulJs(o, a, a);
}
