import { describe, expect, it } from 'vitest';
import { TimestampGuard } from '../src/tai64n.js';
import { compareBE, toHex } from '../src/bytes.js';

const stamp = (g: TimestampGuard, ms: number) => {
  const out = new Uint8Array(12);
  g.stamp(ms, out, 0);
  return out;
};

describe('TAI64N timestamps', () => {
  it('encodes 2^62 + 10 + seconds and whitened nanoseconds (big-endian)', () => {
    const t = stamp(new TimestampGuard(), 1_700_000_000_123);
    // 1_700_000_000 + 10 = 0x6553f10a
    expect(toHex(t.subarray(0, 8))).toBe('400000006553f10a');
    const nanos = new DataView(t.buffer).getUint32(8);
    expect(nanos % 0x1000000).toBe(0);
    expect(nanos).toBeLessThanOrEqual(123_000_000);
    expect(nanos).toBeGreaterThan(123_000_000 - 0x1000000);
  });

  it('never goes backwards when the wall clock does', () => {
    const g = new TimestampGuard();
    const a = stamp(g, 1_700_000_100_000);
    const b = stamp(g, 1_600_000_000_000); // clock stepped back by years
    const c = stamp(g, 1_700_000_100_000); // same time again
    expect(compareBE(b, 0, a, 0, 12)).toBe(1);
    expect(compareBE(c, 0, b, 0, 12)).toBe(1);
  });

  it('strictly increases across many stamps within one whitening interval, carrying into seconds', () => {
    const g = new TimestampGuard();
    let prev = stamp(g, 5_000);
    for (let i = 0; i < 200; i++) {
      const t = stamp(g, 5_000);
      expect(compareBE(t, 0, prev, 0, 12)).toBe(1);
      prev = t;
    }
    expect(new DataView(prev.buffer).getUint32(4)).toBeGreaterThan(5 + 10);
  });

  it('a restored value survives a reboot without a real-time clock', () => {
    const before = new TimestampGuard();
    stamp(before, 1_700_000_000_000);
    const saved = before.save();
    const after = new TimestampGuard();
    after.restore(saved);
    const t = stamp(after, 0); // the device booted with its clock at the epoch
    expect(compareBE(t, 0, saved, 0, 12)).toBe(1);
    after.restore(new Uint8Array(12)); // an older value is ignored
    expect(compareBE(stamp(after, 0), 0, t, 0, 12)).toBe(1);
  });
});
