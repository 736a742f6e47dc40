/**
 * Anti-replay sliding window (RFC 6479), as the Linux kernel's `counter_validate`
 * (drivers/net/wireguard/receive.c), but with 32-bit words so no BigInt is needed.
 *
 * Many windows live side by side: one per keypair slot, in a fixed pool sized at construction.
 * All bitmaps share one Uint32Array and all "last" counters one Float64Array; `check` allocates
 * nothing. Counters are non-negative integers held in doubles, exact below 2^53, which is where
 * REJECT_AFTER_MESSAGES is capped in this implementation (see constants.ts).
 */
import { REJECT_AFTER_MESSAGES } from './constants.js';
import { wgError } from './errors.js';

/** Default bitmap words per slot (8192 bits, 1 KiB). */
const DEFAULT_WORDS = 256;

/**
 * How far behind the highest accepted counter a counter may be and still be accepted (if unseen),
 * with the default ring of 256 words. One word of the ring is always being recycled, so the usable
 * window is one word short of the ring (the kernel: 8192 - 64 = 8128 with 64-bit words; here
 * 8192 - 32 = 8160).
 */
export const REPLAY_WINDOW_SIZE = DEFAULT_WORDS * 32 - 32;

/** A fixed pool of anti-replay windows, one per slot (e.g. one per keypair). */
export class ReplayPool {
  /** Number of slots, fixed at construction. */
  declare readonly slots: number;
  /** This pool's window: REPLAY_WINDOW_SIZE unless a smaller ring was asked for. */
  declare readonly windowSize: number;
  /** Bitmap words per slot (a power of two, so ring positions are a mask). */
  declare private readonly words: number;
  /** `words` words per slot: bit (n mod 32*words) set = counter n-1 seen. */
  declare private readonly bitmap: Uint32Array;
  /**
   * Per slot, the kernel's `counter->counter`: the highest accepted counter plus one, 0 when
   * nothing was accepted yet. Shifting by one lets 0 mean "empty" with no extra flag.
   */
  declare private readonly next: Float64Array;

  /**
   * Creates `slots` windows, all empty. Memory: 4 * words + 8 bytes per slot (1 KiB + 8 by default).
   * `words` (a power of two from 2 to 256, default 256) shrinks the ring on memory-starved devices,
   * giving a window of 32 * words - 32 counters; the default matches the kernel's tolerance of
   * reordering. Smaller windows only drop more reordered packets; they never accept replays.
   */
  constructor(slots: number, words?: number) {
    const w = words === undefined ? DEFAULT_WORDS : words;
    if (!(slots >= 0) || slots % 1 !== 0 || slots > 65536) {
      throw wgError('EINVAL', 'ReplayPool: slots must be an integer from 0 to 65536, got ' + slots);
    }
    if (!(w >= 2 && w <= DEFAULT_WORDS) || (w & (w - 1)) !== 0) {
      throw wgError('EINVAL', 'ReplayPool: words must be a power of two from 2 to 256, got ' + words);
    }
    this.slots = slots;
    this.words = w;
    this.windowSize = w * 32 - 32;
    this.bitmap = new Uint32Array(slots * w);
    this.next = new Float64Array(slots);
  }

  /** Empties the window of `slot` (call when a new keypair takes the slot). */
  reset(slot: number): void {
    const words = this.words;
    const base = slot * words;
    const bitmap = this.bitmap;
    for (let i = 0; i < words; i++) bitmap[base + i] = 0;
    this.next[slot] = 0;
  }

  /**
   * The highest counter accepted in `slot` since its last reset, or -1 if none.
   * Useful for logging and for the REJECT_AFTER_MESSAGES check on the receive side.
   */
  highest(slot: number): number {
    return this.next[slot] - 1;
  }

  /**
   * Checks `counter` against the window of `slot`. Returns true (and marks the counter as seen)
   * if it is new and not too old; false if it was already seen, is more than `windowSize`
   * behind the highest accepted counter, or is not an integer in [0, REJECT_AFTER_MESSAGES).
   * Call it only after the packet authenticated, as the kernel does. `slot` is not range-checked.
   */
  check(slot: number, counter: number): boolean {
    // Written so NaN fails too.
    if (!(counter >= 0 && counter < REJECT_AFTER_MESSAGES) || counter % 1 !== 0) return false;
    const n = counter + 1; // <= 2^53, exact
    const cur = this.next[slot];
    // Kernel: COUNTER_WINDOW_SIZE + n < cur. Written as a difference, which is exact near 2^53.
    if (cur - n > this.windowSize) return false;
    const words = this.words;
    const bitmap = this.bitmap;
    const base = slot * words;
    // Doubles: n may exceed 2^32, so no bitwise operators on it (Espruino-safe too).
    const index = Math.floor(n / 32);
    if (n > cur) {
      const indexCur = Math.floor(cur / 32);
      let top = index - indexCur;
      if (top > words) top = words;
      // Clear the words the window slides over; they hold bits of counters now out of reach.
      const ringCur = indexCur % words;
      const mask = words - 1;
      for (let i = 1; i <= top; i++) bitmap[base + ((ringCur + i) & mask)] = 0;
      this.next[slot] = n;
    }
    const w = base + (index % words);
    const bit = 1 << (n % 32);
    const word = bitmap[w];
    if ((word & bit) !== 0) return false;
    bitmap[w] = word | bit;
    return true;
  }
}
