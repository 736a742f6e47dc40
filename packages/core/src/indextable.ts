/**
 * Receiver-index table: maps the random 32-bit indexes we hand out in handshake messages (and
 * which peers put in every message they send us) to a session or an in-progress handshake, in
 * O(1) and without allocating. Open addressing with linear probing and backward-shift deletion,
 * in typed arrays sized once at construction.
 */

export class IndexTable {
  private keys: Uint32Array;
  private vals: Int32Array;
  private used: Uint8Array;
  private mask: number;
  size: number;
  readonly capacity: number;

  /** @param capacity the most entries that will ever be live at once. */
  constructor(capacity: number) {
    let n = 8;
    while (n < capacity * 2) n *= 2;
    this.keys = new Uint32Array(n);
    this.vals = new Int32Array(n);
    this.used = new Uint8Array(n);
    this.mask = n - 1;
    this.size = 0;
    this.capacity = capacity;
  }

  private slotOf(key: number): number {
    // Indexes are random, but mix anyway so a hostile peer's choice cannot matter (we choose ours).
    let h = key ^ (key >>> 16);
    // h * 0x45d9f3b mod 2^32 (as bytes.ts mul32; Espruino has no Math.imul), kept as int32 with
    // `| 0`: on the per-packet path a uint32 >= 2^31 returned by a call V8 did not inline would be
    // boxed as a heap number.
    h = ((h & 0xffff) * 0x45d9f3b + (((h >>> 16) * 0x45d9f3b) & 0xffff) * 65536) | 0;
    return (h ^ (h >>> 16)) & this.mask;
  }

  /**
   * Value stored for `key`, or -1. `key` may be given as uint32 or as the int32 with the same
   * bits (the per-packet path passes int32, which V8 never boxes).
   */
  get(key: number): number {
    // slotOf gets `key` as passed (only its bits matter): the uint32 `k` could be boxed if
    // slotOf were not inlined.
    const k = key >>> 0;
    let i = this.slotOf(key);
    const keys = this.keys;
    const used = this.used;
    for (;;) {
      if (used[i] === 0) return -1;
      if (keys[i] === k) return this.vals[i];
      i = (i + 1) & this.mask;
    }
  }

  /** True if `key` is in the table. */
  has(key: number): boolean {
    return this.get(key) !== -1;
  }

  /** Inserts a key that is not yet present. Returns false if the table is full. */
  insert(key: number, val: number): boolean {
    if (this.size >= this.capacity) return false;
    let i = this.slotOf(key);
    while (this.used[i] !== 0) i = (i + 1) & this.mask;
    this.used[i] = 1;
    this.keys[i] = key;
    this.vals[i] = val;
    this.size++;
    return true;
  }

  /** Changes the value of an existing key (a handshake's index passing to its new session). */
  replace(key: number, val: number): boolean {
    let i = this.slotOf(key);
    for (;;) {
      if (this.used[i] === 0) return false;
      if (this.keys[i] === key) {
        this.vals[i] = val;
        return true;
      }
      i = (i + 1) & this.mask;
    }
  }

  /** Removes `key`; returns whether it was present. */
  remove(key: number): boolean {
    const mask = this.mask;
    const used = this.used;
    const keys = this.keys;
    let i = this.slotOf(key);
    for (;;) {
      if (used[i] === 0) return false;
      if (keys[i] === key) break;
      i = (i + 1) & mask;
    }
    // Backward-shift deletion keeps probe chains intact without tombstones.
    let j = i;
    for (;;) {
      used[i] = 0;
      for (;;) {
        j = (j + 1) & mask;
        if (used[j] === 0) {
          this.size--;
          return true;
        }
        const k = this.slotOf(keys[j]);
        // Move entry j into the hole at i unless its home slot lies cyclically in (i, j].
        if (i <= j ? i < k && k <= j : i < k || k <= j) continue;
        break;
      }
      used[i] = 1;
      keys[i] = keys[j];
      this.vals[i] = this.vals[j];
      i = j;
    }
  }
}
