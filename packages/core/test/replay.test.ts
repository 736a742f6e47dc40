import { describe, expect, it } from 'vitest';
import { REJECT_AFTER_MESSAGES } from '../src/constants.js';
import { REPLAY_WINDOW_SIZE, ReplayPool } from '../src/replay.js';

const R = REJECT_AFTER_MESSAGES;

/**
 * The kernel's self-test table (drivers/net/wireguard/selftest/counter.c), as data, with our
 * window size in place of COUNTER_WINDOW_SIZE and our REJECT_AFTER_MESSAGES (2^53).
 * Note R + 1 rounds to R as a double; R + 2 is exact. Both must be rejected either way.
 */
function table(W: number): Array<[number, boolean]> {
  const T_LIM = W + 1;
  return [
  /*  1 */ [0, true],
  /*  2 */ [1, true],
  /*  3 */ [1, false],
  /*  4 */ [9, true],
  /*  5 */ [8, true],
  /*  6 */ [7, true],
  /*  7 */ [7, false],
  /*  8 */ [T_LIM, true],
  /*  9 */ [T_LIM - 1, true],
  /* 10 */ [T_LIM - 1, false],
  /* 11 */ [T_LIM - 2, true],
  /* 12 */ [2, true],
  /* 13 */ [2, false],
  /* 14 */ [T_LIM + 16, true],
  /* 15 */ [3, false],
  /* 16 */ [T_LIM + 16, false],
  /* 17 */ [T_LIM * 4, true],
  /* 18 */ [T_LIM * 4 - (T_LIM - 1), true],
  /* 19 */ [10, false],
  /* 20 */ [T_LIM * 4 - T_LIM, false],
  /* 21 */ [T_LIM * 4 - (T_LIM + 1), false],
  /* 22 */ [T_LIM * 4 - (T_LIM - 2), true],
  /* 23 */ [T_LIM * 4 + 1 - T_LIM, false],
  /* 24 */ [0, false],
  /* 25 */ [R, false],
  /* 26 */ [R - 1, true],
  /* 27 */ [R, false],
  /* 28 */ [R - 1, false],
  /* 29 */ [R - 2, true],
  /* 30 */ [R + 1, false],
  /* 31 */ [R + 2, false],
  /* 32 */ [R - 2, false],
  /* 33 */ [R - 3, true],
  /* 34 */ [0, false],
  ];
}

/** The sequences after the table in counter.c: fill the whole window in various orders. */
function tailSequences(W: number): Array<Array<[number, boolean]>> {
  const seqs: Array<Array<[number, boolean]>> = [];
  let s: Array<[number, boolean]> = [];
  for (let i = 1; i <= W; ++i) s.push([i, true]);
  s.push([0, true], [0, false]);
  seqs.push(s);

  s = [];
  for (let i = 2; i <= W + 1; ++i) s.push([i, true]);
  s.push([1, true], [0, false]);
  seqs.push(s);

  s = [];
  for (let i = W + 1; i-- > 0; ) s.push([i, true]);
  seqs.push(s);

  s = [];
  for (let i = W + 2; i-- > 1; ) s.push([i, true]);
  s.push([0, false]);
  seqs.push(s);

  s = [];
  for (let i = W + 1; i-- > 1; ) s.push([i, true]);
  s.push([W + 1, true], [0, false]);
  seqs.push(s);

  s = [];
  for (let i = W + 1; i-- > 1; ) s.push([i, true]);
  s.push([0, true], [W + 1, true]);
  seqs.push(s);
  return seqs;
}

function runSeq(pool: ReplayPool, slot: number, seq: Array<[number, boolean]>): void {
  pool.reset(slot);
  for (let i = 0; i < seq.length; i++) {
    const [n, want] = seq[i]!;
    if (pool.check(slot, n) !== want) {
      throw new Error(`step ${i + 1}: check(${n}) should be ${want}`);
    }
  }
}

/** Deterministic PRNG (xorshift32) so failures reproduce. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 4294967296;
  };
}

/** Naive reference: the set of every accepted counter plus the highest one. */
class RefWindow {
  seen = new Set<number>();
  max = -1;
  constructor(readonly W: number) {}
  check(c: number): boolean {
    if (!(c >= 0 && c < R) || !Number.isInteger(c)) return false;
    if (this.max >= 0 && this.max - c > this.W) return false;
    if (this.seen.has(c)) return false;
    this.seen.add(c);
    if (c > this.max) this.max = c;
    return true;
  }
}

describe('ReplayPool', () => {
  it('window size is at least the kernel one (8128)', () => {
    expect(REPLAY_WINDOW_SIZE).toBe(8160);
    expect(REPLAY_WINDOW_SIZE).toBeGreaterThanOrEqual(8128);
    expect(new ReplayPool(1).windowSize).toBe(REPLAY_WINDOW_SIZE);
    expect(new ReplayPool(1, 4).windowSize).toBe(96);
  });

  it('passes the kernel self-test table', () => {
    const pool = new ReplayPool(1);
    runSeq(pool, 0, table(REPLAY_WINDOW_SIZE));
  });

  it('passes the kernel window-fill sequences', () => {
    const pool = new ReplayPool(1);
    for (const seq of tailSequences(REPLAY_WINDOW_SIZE)) runSeq(pool, 0, seq);
  });

  it('passes both with smaller rings', () => {
    for (const words of [2, 4, 8, 64, 128]) {
      const pool = new ReplayPool(2, words);
      const W = pool.windowSize;
      expect(W).toBe(words * 32 - 32);
      runSeq(pool, 1, table(W));
      for (const seq of tailSequences(W)) runSeq(pool, 1, seq);
    }
  });

  it('runs the table in every slot of a pool, interleaved, without cross-talk', () => {
    const slots = 5;
    const pool = new ReplayPool(slots);
    const TABLE = table(REPLAY_WINDOW_SIZE);
    for (let s = 0; s < slots; s++) pool.reset(s);
    for (let i = 0; i < TABLE.length; i++) {
      for (let s = 0; s < slots; s++) {
        const [n, want] = TABLE[i]!;
        expect(pool.check(s, n), `slot ${s} step ${i + 1}`).toBe(want);
      }
    }
    // Resetting one slot leaves the others alone.
    pool.reset(2);
    expect(pool.check(2, 0)).toBe(true);
    expect(pool.check(3, 0)).toBe(false);
  });

  it('rejects malformed counters', () => {
    const pool = new ReplayPool(1);
    for (const c of [-1, 0.5, NaN, Infinity, -Infinity, R, R * 2]) expect(pool.check(0, c)).toBe(false);
    expect(pool.highest(0)).toBe(-1);
    expect(pool.check(0, 5)).toBe(true);
    expect(pool.highest(0)).toBe(5);
  });

  it('handles counters above 2^32 (no 32-bit truncation)', () => {
    const pool = new ReplayPool(1);
    const base = 4294967296 * 3 + 100; // 3 * 2^32 + 100
    expect(pool.check(0, base)).toBe(true);
    expect(pool.check(0, 100)).toBe(false); // same low 32 bits, far too old
    expect(pool.check(0, base - 1)).toBe(true);
    expect(pool.check(0, base - 1)).toBe(false);
    expect(pool.check(0, base + 4294967296)).toBe(true);
    expect(pool.check(0, base)).toBe(false); // now out of window
  });

  it('constructor validates its arguments', () => {
    expect(() => new ReplayPool(-1)).toThrow(/slots/);
    expect(() => new ReplayPool(1.5)).toThrow(/slots/);
    for (const w of [0, 1, 3, 12, 512]) expect(() => new ReplayPool(1, w)).toThrow(/words/);
    expect(new ReplayPool(0).slots).toBe(0);
  });

  it.each([256, 8, 2])('agrees with a Set-based reference model on random traffic (%i words)', (words) => {
    const rand = rng(0x5eed + words);
    const slots = 3;
    const pool = new ReplayPool(slots, words);
    const W = pool.windowSize;
    for (let round = 0; round < 30; round++) {
      const refs: RefWindow[] = [];
      for (let s = 0; s < slots; s++) {
        pool.reset(s);
        refs.push(new RefWindow(W));
      }
      // Some rounds start near the 2^53 limit.
      let front = round % 5 === 4 ? R - 50000 : round % 5 === 3 ? 4294967296 - 3000 : 0;
      for (let step = 0; step < 6000; step++) {
        const s = Math.floor(rand() * slots);
        const ref = refs[s]!;
        const r = rand();
        let c: number;
        if (r < 0.45) c = front + Math.floor(rand() * 40); // mostly in order, small reordering
        else if (r < 0.65) c = front - Math.floor(rand() * (W + 40)); // around the window edge
        else if (r < 0.75) c = front - W - 1 + Math.floor(rand() * 3);
        else if (r < 0.85) c = front + Math.floor(rand() * 3 * 32 * words); // jumps across the ring
        else if (r < 0.9) c = front + Math.floor(rand() * 1e9); // jump far beyond the ring
        else if (r < 0.97 && ref.max >= 0) c = ref.max - Math.floor(rand() * 64); // replays
        else c = Math.floor(rand() * (front + 1));
        if (c < 0) c = 0;
        if (c > front) front = Math.min(c, R + 3);
        const want = ref.check(c);
        const got = pool.check(s, c);
        if (got !== want) throw new Error(`round ${round} step ${step} slot ${s}: check(${c}) got ${got} want ${want}`);
      }
    }
  });
});
