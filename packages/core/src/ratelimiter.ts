/**
 * Per-source handshake rate limiter (a token bucket per source address, as the kernel's
 * ratelimiter.c: 20 handshakes per second, bursts of 5), in a fixed-size table so a flood from
 * millions of spoofed sources cannot grow memory. Applied under load to handshakes that carry a
 * valid cookie (mac2), i.e. whose source address is proven.
 */
import { mul32 } from './bytes.js';

export const PACKETS_PER_SECOND = 20;
export const PACKETS_BURST = 5;
const COST_MS = 1000 / PACKETS_PER_SECOND;
const MAX_TOKENS = COST_MS * PACKETS_BURST;

export class RateLimiter {
  private tag: Uint32Array;
  private tokens: Float64Array;
  private last: Float64Array;
  private used: Uint8Array;
  private mask: number;

  /** @param size table entries (rounded up to a power of two). */
  constructor(size: number) {
    let n = 16;
    while (n < size) n *= 2;
    this.tag = new Uint32Array(n);
    this.tokens = new Float64Array(n);
    this.last = new Float64Array(n);
    this.used = new Uint8Array(n);
    this.mask = n - 1;
  }

  /**
   * Charges one handshake to the source identified by the 32-bit hash `key` at time `now` (ms).
   * Returns true if allowed. Table collisions replace the older entry, which can only give a
   * source more allowance, never lock a legitimate one out.
   */
  allow(key: number, now: number): boolean {
    const i = (key ^ (key >>> 13)) & this.mask;
    if (this.used[i] === 0 || this.tag[i] !== key) {
      this.used[i] = 1;
      this.tag[i] = key;
      this.tokens[i] = MAX_TOKENS - COST_MS;
      this.last[i] = now;
      return true;
    }
    let t = this.tokens[i] + (now - this.last[i]);
    if (t > MAX_TOKENS) t = MAX_TOKENS;
    this.last[i] = now;
    if (t >= COST_MS) {
      this.tokens[i] = t - COST_MS;
      return true;
    }
    this.tokens[i] = t;
    return false;
  }
}

/**
 * FNV-1a hash of the address part of an endpoint string ("1.2.3.4:5" or "[v6]:5"; the port is
 * ignored, as the kernel limits per address). For IPv6 only the first four groups (the /64) count,
 * because one host usually owns a whole /64.
 */
export function hashEndpointAddress(ep: string): number {
  let end = ep.lastIndexOf(':');
  if (end < 0) end = ep.length;
  let h = 0x811c9dc5;
  let colons = 0;
  for (let i = 0; i < end; i++) {
    const ch = ep.charCodeAt(i);
    if (ch === 58 && ++colons === 4) break;
    h ^= ch;
    h = mul32(h, 16777619);
  }
  return h >>> 0;
}
