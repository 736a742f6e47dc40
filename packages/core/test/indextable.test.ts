import { describe, expect, it } from 'vitest';
import { IndexTable } from '../src/indextable.js';
import { seededRandom } from './support/harness.js';

describe('receiver index table', () => {
  it('matches a Map over 200k random inserts, lookups and removals (backward-shift deletion)', () => {
    const t = new IndexTable(64);
    const ref = new Map<number, number>();
    const rnd = seededRandom(7);
    const b = new Uint8Array(4);
    const r32 = () => { rnd(b, 0, 4); return (b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24)) >>> 0; };
    const keys: number[] = [];
    let bad = 0;
    for (let i = 0; i < 200_000; i++) {
      const op = r32() % 3;
      if (op === 0 && ref.size < 64) {
        // Small key space so probe chains collide and wrap.
        const k = r32() % 512;
        if (!ref.has(k)) {
          if (!t.insert(k, i)) bad++;
          ref.set(k, i);
          keys.push(k);
        }
      } else if (op === 1 && keys.length > 0) {
        const k = keys.splice(r32() % keys.length, 1)[0];
        if (!t.remove(k)) bad++;
        ref.delete(k);
      } else {
        const k = r32() % 512;
        if (t.get(k) !== (ref.has(k) ? ref.get(k) : -1)) bad++;
      }
      if (t.size !== ref.size) bad++;
    }
    expect(bad).toBe(0);
    for (const [k, v] of ref) expect(t.get(k)).toBe(v);
  });

  it('refuses inserts beyond capacity and supports replace', () => {
    const t = new IndexTable(2);
    expect(t.insert(1, 10)).toBe(true);
    expect(t.insert(2, 20)).toBe(true);
    expect(t.insert(3, 30)).toBe(false);
    expect(t.replace(2, 21)).toBe(true);
    expect(t.replace(5, 1)).toBe(false);
    expect(t.get(2)).toBe(21);
    expect(t.remove(3)).toBe(false);
  });
});
