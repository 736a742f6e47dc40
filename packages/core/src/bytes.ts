/** Byte helpers shared by the engine. Device-safe: no Node APIs, no allocation on the per-packet ones. */

export function readU32LE(b: Uint8Array, o: number): number {
  return (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;
}

export function writeU32LE(b: Uint8Array, o: number, v: number): void {
  b[o] = v & 255;
  b[o + 1] = (v >>> 8) & 255;
  b[o + 2] = (v >>> 16) & 255;
  b[o + 3] = (v >>> 24) & 255;
}

export function readU32BE(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

export function writeU32BE(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 24) & 255;
  b[o + 1] = (v >>> 16) & 255;
  b[o + 2] = (v >>> 8) & 255;
  b[o + 3] = v & 255;
}

/** Constant-time comparison of a[ao, ao+n) and b[bo, bo+n). */
export function equalCT(a: Uint8Array, ao: number, b: Uint8Array, bo: number, n: number): boolean {
  let d = 0;
  for (let i = 0; i < n; i++) d |= a[ao + i] ^ b[bo + i];
  return d === 0;
}

/** True if b[o, o+n) is all zeros (constant time). */
export function isZero(b: Uint8Array, o: number, n: number): boolean {
  let d = 0;
  for (let i = 0; i < n; i++) d |= b[o + i];
  return d === 0;
}

/** Copies src[so, so+n) to dst[do_, do_+n) without allocating a view. */
export function copy(dst: Uint8Array, d: number, src: Uint8Array, s: number, n: number): void {
  for (let i = 0; i < n; i++) dst[d + i] = src[s + i];
}

/** Compares two big-endian byte strings: -1, 0 or 1. */
export function compareBE(a: Uint8Array, ao: number, b: Uint8Array, bo: number, n: number): number {
  for (let i = 0; i < n; i++) {
    const x = a[ao + i];
    const y = b[bo + i];
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/** ASCII string to bytes (config time only). */
export function ascii(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 255;
  return out;
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Standard base64 with padding, as `wg` prints keys. */
export function toBase64(b: Uint8Array): string {
  let s = '';
  let i = 0;
  for (; i + 2 < b.length; i += 3) {
    const n = (b[i] << 16) | (b[i + 1] << 8) | b[i + 2];
    s += B64.charAt(n >> 18) + B64.charAt((n >> 12) & 63) + B64.charAt((n >> 6) & 63) + B64.charAt(n & 63);
  }
  const rest = b.length - i;
  if (rest === 1) {
    const n = b[i] << 16;
    s += B64.charAt(n >> 18) + B64.charAt((n >> 12) & 63) + '==';
  } else if (rest === 2) {
    const n = (b[i] << 16) | (b[i + 1] << 8);
    s += B64.charAt(n >> 18) + B64.charAt((n >> 12) & 63) + B64.charAt((n >> 6) & 63) + '=';
  }
  return s;
}

/** Strict base64 decoding; returns null on any malformed input. */
export function fromBase64(s: string): Uint8Array | null {
  if (s.length % 4 !== 0) return null;
  let pad = 0;
  if (s.length > 0 && s.charAt(s.length - 1) === '=') pad++;
  if (s.length > 1 && s.charAt(s.length - 2) === '=') pad++;
  const out = new Uint8Array((s.length / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < s.length; i += 4) {
    let n = 0;
    for (let j = 0; j < 4; j++) {
      const c = s.charAt(i + j);
      let v: number;
      if (c === '=') {
        if (i + 4 !== s.length || j < 4 - pad) return null;
        v = 0;
      } else {
        v = B64.indexOf(c);
        if (v < 0) return null;
      }
      n = (n << 6) | v;
    }
    if (o < out.length) out[o++] = (n >> 16) & 255;
    if (o < out.length) out[o++] = (n >> 8) & 255;
    if (o < out.length) out[o++] = n & 255;
  }
  // Reject non-canonical encodings (non-zero bits in the padding), as wg does.
  if (toBase64(out) !== s) return null;
  return out;
}

const HEX = '0123456789abcdef';

export function toHex(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += HEX.charAt(b[i] >> 4) + HEX.charAt(b[i] & 15);
  return s;
}

/** Strict hex decoding (lower or upper case); returns null on malformed input. */
export function fromHex(s: string): Uint8Array | null {
  if (s.length % 2 !== 0) return null;
  const out = new Uint8Array(s.length / 2);
  const lower = s.toLowerCase();
  for (let i = 0; i < out.length; i++) {
    const hi = HEX.indexOf(lower.charAt(2 * i));
    const lo = HEX.indexOf(lower.charAt(2 * i + 1));
    if (hi < 0 || lo < 0) return null;
    out[i] = (hi << 4) | lo;
  }
  return out;
}

/** 32-bit multiply modulo 2^32 (Math.imul, which Espruino lacks); exact in doubles. */
export function mul32(a: number, b: number): number {
  const lo = (a & 0xffff) * b;
  const hi = ((a >>> 16) * b) & 0xffff;
  return (lo + hi * 65536) >>> 0;
}
