import { describe, expect, it } from 'vitest';
import { AllowedIps } from '../src/allowedips.js';
import { formatCidr, parseCidr } from '../src/ipaddr.js';

function ip4(a: number, b: number, c: number, d: number): Uint8Array {
  return new Uint8Array([a, b, c, d]);
}
/** Like the kernel selftest's ip6(): four big-endian 32-bit words. */
function ip6(a: number, b: number, c: number, d: number): Uint8Array {
  const out = new Uint8Array(16);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, a >>> 0);
  dv.setUint32(4, b >>> 0);
  dv.setUint32(8, c >>> 0);
  dv.setUint32(12, d >>> 0);
  return out;
}
function add(t: AllowedIps, text: string, peer: number): void {
  const p = parseCidr(text);
  t.insert(p.ip, 0, p.family, p.cidr, peer);
}
function del(t: AllowedIps, text: string, peer?: number): boolean {
  const p = parseCidr(text);
  return t.remove(p.ip, 0, p.family, p.cidr, peer);
}
function look(t: AllowedIps, text: string): number {
  const p = parseCidr(text);
  return t.lookup(p.ip, 0, p.family);
}
function entries(t: AllowedIps, peer: number): string[] {
  const out: string[] = [];
  t.entriesForPeer(peer, (ip, family, cidr) => out.push(formatCidr(ip, 0, family, cidr)));
  return out;
}

/** Structural invariants of the trie, read through its private arrays. */
function checkInvariants(t: AllowedIps): void {
  const x = t as any;
  const nodes = x.families.length;
  let used = 0;
  let prefixes = 0;
  for (let n = 0; n < nodes; n++) {
    if (x.families[n] === 0) continue;
    used++;
    const c0 = x.children[2 * n];
    const c1 = x.children[2 * n + 1];
    if (x.peers[n] >= 0) prefixes++;
    else if (c0 < 0 || c1 < 0) throw new Error(`intermediate node ${n} has fewer than two children`);
    for (const [side, c] of [[0, c0], [1, c1]] as const) {
      if (c < 0) continue;
      if (x.parents[c] !== n || x.sides[c] !== side) throw new Error(`bad parent link ${n} -> ${c}`);
      if (x.cidrs[c] <= x.cidrs[n]) throw new Error(`child ${c} not longer than parent ${n}`);
      if (x.families[c] !== x.families[n]) throw new Error('family mix');
    }
    if (x.parents[n] < 0 && x.root4 !== n && x.root6 !== n) throw new Error(`orphan node ${n}`);
  }
  let free = 0;
  for (let n = x.freeHead; n >= 0; n = x.parents[n]) {
    if (x.families[n] !== 0) throw new Error(`used node ${n} on free list`);
    if (++free > nodes) throw new Error('free list cycle');
  }
  if (free + used !== nodes) throw new Error(`leak: ${free} free + ${used} used != ${nodes}`);
  if (prefixes !== t.size) throw new Error(`size ${t.size} but ${prefixes} prefix nodes`);
  if (used > 2 * prefixes) throw new Error(`${used} nodes for ${prefixes} prefixes`);
}

describe('AllowedIps: kernel selftest (drivers/net/wireguard/selftest/allowedips.c)', () => {
  const [a, b, c, d, e, f, g, h] = [0, 1, 2, 3, 4, 5, 6, 7];

  it('lookups', () => {
    const t = new AllowedIps(64);
    t.insert(ip4(192, 168, 4, 0), 0, 4, 24, a);
    t.insert(ip4(192, 168, 4, 4), 0, 4, 32, b);
    t.insert(ip4(192, 168, 0, 0), 0, 4, 16, c);
    t.insert(ip4(192, 95, 5, 64), 0, 4, 27, d);
    t.insert(ip4(192, 95, 5, 65), 0, 4, 27, c); // replaces previous entry, and maskself is required
    t.insert(ip6(0x26075300, 0x60006b00, 0, 0xc05f0543), 0, 6, 128, d);
    t.insert(ip6(0x26075300, 0x60006b00, 0, 0), 0, 6, 64, c);
    t.insert(ip4(0, 0, 0, 0), 0, 4, 0, e);
    t.insert(ip6(0, 0, 0, 0), 0, 6, 0, e);
    t.insert(ip6(0, 0, 0, 0), 0, 6, 0, f); // replaces previous entry
    t.insert(ip6(0x24046800, 0, 0, 0), 0, 6, 32, g);
    t.insert(ip6(0x24046800, 0x40040800, 0xdeadbeef, 0xdeadbeef), 0, 6, 64, h); // maskself
    t.insert(ip6(0x24046800, 0x40040800, 0xdeadbeef, 0xdeadbeef), 0, 6, 128, a);
    t.insert(ip6(0x24446800, 0x40e40800, 0xdeaebeef, 0xdefbeef), 0, 6, 128, c);
    t.insert(ip6(0x24446800, 0xf0e40800, 0xeeaebeef, 0), 0, 6, 98, b);
    t.insert(ip4(64, 15, 112, 0), 0, 4, 20, g);
    t.insert(ip4(64, 15, 123, 211), 0, 4, 25, h); // maskself
    t.insert(ip4(10, 0, 0, 0), 0, 4, 25, a);
    t.insert(ip4(10, 0, 0, 128), 0, 4, 25, b);
    t.insert(ip4(10, 1, 0, 0), 0, 4, 30, a);
    t.insert(ip4(10, 1, 0, 4), 0, 4, 30, b);
    t.insert(ip4(10, 1, 0, 8), 0, 4, 29, c);
    t.insert(ip4(10, 1, 0, 16), 0, 4, 29, d);
    checkInvariants(t);

    const cases: Array<[number, Uint8Array, number]> = [
      [4, ip4(192, 168, 4, 20), a],
      [4, ip4(192, 168, 4, 0), a],
      [4, ip4(192, 168, 4, 4), b],
      [4, ip4(192, 168, 200, 182), c],
      [4, ip4(192, 95, 5, 68), c],
      [4, ip4(192, 95, 5, 96), e],
      [6, ip6(0x26075300, 0x60006b00, 0, 0xc05f0543), d],
      [6, ip6(0x26075300, 0x60006b00, 0, 0xc02e01ee), c],
      [6, ip6(0x26075300, 0x60006b01, 0, 0), f],
      [6, ip6(0x24046800, 0x40040806, 0, 0x1006), g],
      [6, ip6(0x24046800, 0x40040806, 0x1234, 0x5678), g],
      [6, ip6(0x240467ff, 0x40040806, 0x1234, 0x5678), f],
      [6, ip6(0x24046801, 0x40040806, 0x1234, 0x5678), f],
      [6, ip6(0x24046800, 0x40040800, 0x1234, 0x5678), h],
      [6, ip6(0x24046800, 0x40040800, 0, 0), h],
      [6, ip6(0x24046800, 0x40040800, 0x10101010, 0x10101010), h],
      [6, ip6(0x24046800, 0x40040800, 0xdeadbeef, 0xdeadbeef), a],
      [4, ip4(64, 15, 116, 26), g],
      [4, ip4(64, 15, 127, 3), g],
      [4, ip4(64, 15, 123, 1), g],
      [4, ip4(64, 15, 123, 128), h],
      [4, ip4(64, 15, 123, 129), h],
      [4, ip4(10, 0, 0, 52), a],
      [4, ip4(10, 0, 0, 220), b],
      [4, ip4(10, 1, 0, 2), a],
      [4, ip4(10, 1, 0, 6), b],
      [4, ip4(10, 1, 0, 10), c],
      [4, ip4(10, 1, 0, 20), d],
    ];
    cases.forEach(([fam, addr, want], i) => {
      expect(t.lookup(addr, 0, fam as 4 | 6), `case ${i + 1}`).toBe(want);
    });

    for (const x of [1, 64, 128, 192, 255]) t.insert(ip4(x, 0, 0, 0), 0, 4, 32, a);
    t.removeByPeer(a);
    for (const x of [1, 64, 128, 192, 255]) expect(t.lookup(ip4(x, 0, 0, 0), 0, 4)).not.toBe(a);
    checkInvariants(t);
  });

  it('remove by peer with nested prefixes', () => {
    const t = new AllowedIps(8);
    t.insert(ip4(192, 168, 0, 0), 0, 4, 16, a);
    t.insert(ip4(192, 168, 0, 0), 0, 4, 24, a);
    expect(t.removeByPeer(a)).toBe(2);
    expect(t.lookup(ip4(192, 168, 0, 1), 0, 4)).toBe(-1);
    checkInvariants(t);
  });

  it('128 host routes differing in one bit', () => {
    const t = new AllowedIps(128);
    for (let i = 0; i < 128; i++) {
      const ip = new Uint8Array(16).fill(0xff);
      ip[i >> 3] &= ~(0x80 >> (i & 7));
      t.insert(ip, 0, 6, 128, a);
    }
    checkInvariants(t);
    expect(t.size).toBe(128);
    expect(t.removeByPeer(a)).toBe(128);
    checkInvariants(t);
  });

  it('reads nodes back masked (wg_allowedips_read_node)', () => {
    const t = new AllowedIps(8);
    t.insert(ip4(192, 95, 5, 93), 0, 4, 27, a);
    t.insert(ip6(0x26075300, 0x60006b00, 0, 0xc05f0543), 0, 6, 128, a);
    t.insert(ip4(10, 1, 0, 20), 0, 4, 29, a);
    t.insert(ip6(0x26075300, 0x6d8a6bf8, 0xdab1f1df, 0xc05f1523), 0, 6, 83, a);
    t.insert(ip6(0x26075300, 0x6d8a6bf8, 0xdab1f1df, 0xc05f1523), 0, 6, 21, a);
    expect(entries(t, a).sort()).toEqual(
      ['10.1.0.16/29', '192.95.5.64/27', '2607:5000::/21', '2607:5300:6000:6b00::c05f:543/128', '2607:5300:6d8a:6bf8:dab1:e000::/83'].sort(),
    );
  });
});

describe('AllowedIps: unit cases', () => {
  it('longest prefix wins regardless of insertion order', () => {
    const orders = [
      ['0.0.0.0/0', '10.0.0.0/8', '10.1.0.0/16', '10.1.2.0/24', '10.1.2.3/32'],
      ['10.1.2.3/32', '10.1.2.0/24', '10.1.0.0/16', '10.0.0.0/8', '0.0.0.0/0'],
      ['10.1.0.0/16', '10.1.2.3/32', '0.0.0.0/0', '10.1.2.0/24', '10.0.0.0/8'],
    ];
    for (const order of orders) {
      const t = new AllowedIps(16);
      const peerOf: Record<string, number> = { '0.0.0.0/0': 0, '10.0.0.0/8': 1, '10.1.0.0/16': 2, '10.1.2.0/24': 3, '10.1.2.3/32': 4 };
      for (const p of order) add(t, p, peerOf[p]!);
      expect(look(t, '10.1.2.3')).toBe(4);
      expect(look(t, '10.1.2.4')).toBe(3);
      expect(look(t, '10.1.3.4')).toBe(2);
      expect(look(t, '10.2.3.4')).toBe(1);
      expect(look(t, '11.0.0.1')).toBe(0);
      expect(look(t, '255.255.255.255')).toBe(0);
      checkInvariants(t);
    }
  });

  it('/0 matches everything of its family only; empty table matches nothing', () => {
    const t = new AllowedIps(4);
    expect(look(t, '1.2.3.4')).toBe(-1);
    expect(look(t, '::1')).toBe(-1);
    add(t, '0.0.0.0/0', 7);
    expect(look(t, '0.0.0.0')).toBe(7);
    expect(look(t, '255.255.255.255')).toBe(7);
    expect(look(t, '::')).toBe(-1);
    add(t, '::/0', 8);
    expect(look(t, 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff')).toBe(8);
    expect(look(t, '::ffff:1.2.3.4')).toBe(8); // a mapped address is still an IPv6 lookup
    expect(look(t, '1.2.3.4')).toBe(7);
  });

  it('/32 and /128 host routes', () => {
    const t = new AllowedIps(4);
    add(t, '192.0.2.1/32', 1);
    add(t, '2001:db8::1/128', 2);
    expect(look(t, '192.0.2.1')).toBe(1);
    expect(look(t, '192.0.2.0')).toBe(-1);
    expect(look(t, '192.0.2.3')).toBe(-1);
    expect(look(t, '2001:db8::1')).toBe(2);
    expect(look(t, '2001:db8::')).toBe(-1);
    expect(look(t, '2001:db8::3')).toBe(-1);
  });

  it('IPv4 and IPv6 are separate even with equal leading bytes', () => {
    const t = new AllowedIps(4);
    add(t, '10.0.0.0/8', 1);
    add(t, 'a00::/8', 2); // same first byte 0x0a
    expect(look(t, '10.1.2.3')).toBe(1);
    expect(look(t, 'a01::1')).toBe(2);
    expect(del(t, '10.0.0.0/8')).toBe(true);
    expect(look(t, 'a01::1')).toBe(2);
    expect(look(t, '10.1.2.3')).toBe(-1);
  });

  it('replacing a prefix changes its peer and keeps size', () => {
    const t = new AllowedIps(2);
    add(t, '10.0.0.0/24', 1);
    add(t, '10.0.0.77/24', 2); // host bits masked: same prefix
    expect(t.size).toBe(1);
    expect(look(t, '10.0.0.5')).toBe(2);
    expect(entries(t, 1)).toEqual([]);
    expect(entries(t, 2)).toEqual(['10.0.0.0/24']);
  });

  it('masks host bits in stored keys', () => {
    const t = new AllowedIps(4);
    add(t, '10.1.2.3/12', 1);
    add(t, 'fd00:1234:5678::9/33', 1);
    expect(entries(t, 1)).toEqual(['10.0.0.0/12', 'fd00:1234::/33']);
    expect(look(t, '10.15.255.255')).toBe(1);
    expect(look(t, '10.16.0.0')).toBe(-1);
  });

  it('removal: exact prefix only, optional peer check, parents survive', () => {
    const t = new AllowedIps(8);
    add(t, '10.0.0.0/8', 1);
    add(t, '10.1.0.0/16', 2);
    add(t, '10.1.1.0/24', 3);
    expect(del(t, '10.1.0.0/17')).toBe(false);
    expect(del(t, '10.1.0.0/16', 9)).toBe(false);
    expect(del(t, '10.1.0.0/16', 2)).toBe(true);
    expect(del(t, '10.1.0.0/16')).toBe(false);
    expect(look(t, '10.1.2.3')).toBe(1);
    expect(look(t, '10.1.1.3')).toBe(3);
    expect(del(t, '10.0.0.0/8')).toBe(true);
    expect(look(t, '10.1.2.3')).toBe(-1);
    expect(look(t, '10.1.1.3')).toBe(3);
    expect(t.size).toBe(1);
    checkInvariants(t);
    // An intermediate node (joining 10.1.1.0/24 and 10.1.2.0/24) is not a removable prefix.
    add(t, '10.1.2.0/24', 4);
    expect(del(t, '10.1.0.0/22')).toBe(false);
    // ...but it can become one.
    add(t, '10.1.0.0/22', 5);
    expect(t.size).toBe(3);
    expect(look(t, '10.1.3.1')).toBe(5);
    expect(del(t, '10.1.0.0/22')).toBe(true);
    expect(look(t, '10.1.3.1')).toBe(-1);
    checkInvariants(t);
  });

  it('removeByPeer and entriesForPeer', () => {
    const t = new AllowedIps(16);
    add(t, '10.0.0.0/24', 1);
    add(t, '10.0.1.0/24', 2);
    add(t, '10.0.0.128/25', 2);
    add(t, 'fd00::/64', 1);
    add(t, '0.0.0.0/0', 1);
    expect(entries(t, 1)).toEqual(['0.0.0.0/0', '10.0.0.0/24', 'fd00::/64']);
    expect(entries(t, 2)).toEqual(['10.0.0.128/25', '10.0.1.0/24']);
    expect(t.removeByPeer(1)).toBe(3);
    expect(t.removeByPeer(1)).toBe(0);
    expect(t.removeByPeer(-1)).toBe(0);
    expect(t.size).toBe(2);
    expect(look(t, '10.0.0.1')).toBe(-1);
    expect(look(t, '10.0.0.129')).toBe(2);
    checkInvariants(t);
    t.clear();
    expect(t.size).toBe(0);
    expect(look(t, '10.0.0.129')).toBe(-1);
    checkInvariants(t);
  });

  it('looks up in place inside a packet buffer', () => {
    const t = new AllowedIps(4);
    add(t, '192.168.7.0/24', 3);
    add(t, 'fd00::/8', 4);
    const pkt = new Uint8Array(64);
    pkt.set([192, 168, 7, 9], 16);
    expect(t.lookup(pkt, 16, 4)).toBe(3);
    pkt.set(parseCidr('fd12::1').ip, 24);
    expect(t.lookup(pkt, 24, 6)).toBe(4);
    // Out of bounds or bad family: no match, no throw.
    expect(t.lookup(pkt, 61, 4)).toBe(-1);
    expect(t.lookup(pkt, 50, 6)).toBe(-1);
    expect(t.lookup(pkt, 0, 5 as 4)).toBe(-1);
  });

  it('capacity exceeded is an ECAPACITY error with an actionable message', () => {
    const t = new AllowedIps(3);
    add(t, '10.0.0.0/24', 1);
    add(t, '10.0.1.0/24', 1);
    add(t, 'fd00::/64', 1);
    add(t, '10.0.1.0/24', 2); // replacement needs no room
    let err: any;
    try {
      add(t, '10.0.2.0/24', 1);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(Error);
    expect(err.code).toBe('ECAPACITY');
    expect(err.message).toMatch(/3 prefixes.*capacity/);
    expect(t.size).toBe(3);
    checkInvariants(t);
    // Turning an intermediate node into a prefix needs room too.
    expect(() => add(t, '10.0.0.0/23', 1)).toThrow(/capacity/);
    checkInvariants(t);
    const zero = new AllowedIps(0);
    expect(() => add(zero, '::/0', 1)).toThrow(/capacity/);
    expect(zero.lookup(new Uint8Array(16), 0, 6)).toBe(-1);
  });

  it('rejects bad arguments with EINVAL', () => {
    const t = new AllowedIps(4);
    const ip = new Uint8Array(16);
    const bad: Array<() => void> = [
      () => t.insert(ip, 0, 4, 33, 1),
      () => t.insert(ip, 0, 6, 129, 1),
      () => t.insert(ip, 0, 4, -1, 1),
      () => t.insert(ip, 0, 4, 1.5, 1),
      () => t.insert(ip, 0, 5 as 4, 8, 1),
      () => t.insert(ip, 13, 4, 8, 1),
      () => t.insert(ip, 1, 6, 8, 1),
      () => t.insert(ip, 0, 4, 8, -1),
      () => t.insert(ip, 0, 4, 8, 0.5),
      () => new AllowedIps(-1),
    ];
    for (const f of bad) {
      expect(f).toThrow();
      try {
        f();
      } catch (e: any) {
        expect(e.code).toBe('EINVAL');
      }
    }
    expect(t.size).toBe(0);
  });
});

/** Deterministic PRNG (xorshift32). */
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

interface RefEntry {
  family: 4 | 6;
  key: Uint8Array;
  cidr: number;
  peer: number;
}

function maskCopy(ip: Uint8Array, cidr: number): Uint8Array {
  const out = new Uint8Array(ip.length);
  for (let i = 0; i < ip.length; i++) {
    const keep = Math.max(0, Math.min(8, cidr - i * 8));
    out[i] = ip[i]! & ((0xff00 >> keep) & 0xff);
  }
  return out;
}
function inPrefix(addr: Uint8Array, key: Uint8Array, cidr: number): boolean {
  for (let bit = 0; bit < cidr; bit++) {
    const m = 0x80 >> (bit & 7);
    if ((addr[bit >> 3]! & m) !== (key[bit >> 3]! & m)) return false;
  }
  return true;
}

/** Linear-scan reference table. */
class RefTable {
  entries: RefEntry[] = [];
  constructor(readonly capacity: number) {}
  find(family: number, key: Uint8Array, cidr: number): number {
    return this.entries.findIndex((e) => e.family === family && e.cidr === cidr && e.key.every((v, i) => v === key[i]));
  }
  insert(ip: Uint8Array, family: 4 | 6, cidr: number, peer: number): boolean {
    const key = maskCopy(ip, cidr);
    const i = this.find(family, key, cidr);
    if (i >= 0) {
      this.entries[i]!.peer = peer;
      return true;
    }
    if (this.entries.length >= this.capacity) return false;
    this.entries.push({ family, key, cidr, peer });
    return true;
  }
  remove(ip: Uint8Array, family: 4 | 6, cidr: number, peer?: number): boolean {
    const i = this.find(family, maskCopy(ip, cidr), cidr);
    if (i < 0 || (peer !== undefined && this.entries[i]!.peer !== peer)) return false;
    this.entries.splice(i, 1);
    return true;
  }
  removeByPeer(peer: number): number {
    const before = this.entries.length;
    this.entries = this.entries.filter((e) => e.peer !== peer);
    return before - this.entries.length;
  }
  lookup(addr: Uint8Array, family: 4 | 6): number {
    let best = -1;
    let bestCidr = -1;
    for (const e of this.entries) {
      if (e.family === family && e.cidr > bestCidr && inPrefix(addr, e.key, e.cidr)) {
        best = e.peer;
        bestCidr = e.cidr;
      }
    }
    return best;
  }
}

describe('AllowedIps: randomized against a linear-scan reference', () => {
  it('agrees over 120,000 random operations on a small, heavily overlapping address space', () => {
    const rand = rng(0xa11e);
    const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const v4b0 = [10, 11, 192, 0, 255];
    const v4b = [0, 1, 2, 3, 64, 127, 128, 129, 254, 255];
    function randAddr(family: 4 | 6): Uint8Array {
      if (family === 4) {
        const a = new Uint8Array([pick(v4b0), pick(v4b), pick(v4b), pick(v4b)]);
        if (rand() < 0.3) a[Math.floor(rand() * 4)]! ^= 1 << Math.floor(rand() * 8);
        return a;
      }
      const a = new Uint8Array(16);
      a[0] = pick([0xfd, 0x20, 0x00, 0xff]);
      a[1] = pick([0x00, 0x01, 0x80]);
      // Sparse: a few random bytes anywhere, so prefixes of every length collide.
      const k = Math.floor(rand() * 4);
      for (let i = 0; i < k; i++) a[1 + Math.floor(rand() * 15)] = pick(v4b);
      return a;
    }
    function randCidr(family: 4 | 6): number {
      const bits = family === 4 ? 32 : 128;
      const r = rand();
      if (r < 0.01) return 0;
      if (r < 0.11) return bits;
      if (r < 0.5) return pick(family === 4 ? [8, 16, 24, 25, 30, 31] : [8, 16, 32, 48, 64, 96, 120, 127]);
      return Math.floor(rand() * (bits + 1));
    }
    const capacity = 250;
    const t = new AllowedIps(capacity);
    const ref = new RefTable(capacity);
    const OPS = 120_000;
    let lookups = 0;
    let hits = 0;
    let full = 0;
    for (let op = 0; op < OPS; op++) {
      const family: 4 | 6 = rand() < 0.5 ? 4 : 6;
      const r = rand();
      if (r < 0.35) {
        const ip = randAddr(family);
        const cidr = randCidr(family);
        const peer = Math.floor(rand() * 8);
        const ok = ref.insert(ip, family, cidr, peer);
        let got = true;
        try {
          t.insert(ip, 0, family, cidr, peer);
        } catch (e: any) {
          expect(e.code).toBe('ECAPACITY');
          got = false;
          full++;
        }
        if (got !== ok) throw new Error(`op ${op}: insert ok=${got}, reference ${ok}`);
      } else if (r < 0.55) {
        let ip: Uint8Array;
        let cidr: number;
        let fam = family;
        if (rand() < 0.7 && ref.entries.length > 0) {
          const e = pick(ref.entries);
          ip = e.key;
          cidr = e.cidr;
          fam = e.family;
        } else {
          ip = randAddr(family);
          cidr = randCidr(family);
        }
        const peer = rand() < 0.3 ? Math.floor(rand() * 8) : undefined;
        const want = ref.remove(ip, fam, cidr, peer);
        const got = t.remove(ip, 0, fam, cidr, peer);
        if (got !== want) throw new Error(`op ${op}: remove got ${got}, want ${want}`);
      } else if (r < 0.553) {
        const peer = Math.floor(rand() * 8);
        expect(t.removeByPeer(peer)).toBe(ref.removeByPeer(peer));
      } else {
        for (let k = 0; k < 4; k++) {
          const fam: 4 | 6 = rand() < 0.5 ? 4 : 6;
          const addr = randAddr(fam);
          // Random offset inside a larger buffer, as in a packet.
          const off = Math.floor(rand() * 8);
          const buf = new Uint8Array(off + addr.length + 3);
          buf.set(addr, off);
          const want = ref.lookup(addr, fam);
          const got = t.lookup(buf, off, fam);
          lookups++;
          if (want >= 0) hits++;
          if (got !== t.lookup(addr, 0, fam)) throw new Error('offset-dependent lookup');
          if (got !== want) throw new Error(`op ${op}: lookup ${Array.from(addr).join(',')} got ${got}, want ${want}`);
        }
      }
      if (t.size !== ref.entries.length) throw new Error(`op ${op}: size ${t.size} vs ${ref.entries.length}`);
      if (op % 2000 === 0) {
        checkInvariants(t);
        for (let p = 0; p < 8; p++) {
          const want = ref.entries
            .filter((e) => e.peer === p)
            .map((e) => formatCidr(e.key, 0, e.family, e.cidr))
            .sort();
          expect(entries(t, p).sort()).toEqual(want);
        }
      }
    }
    checkInvariants(t);
    // The test is only meaningful if it exercised matches, misses and a full table.
    expect(hits).toBeGreaterThan(lookups * 0.2);
    expect(lookups - hits).toBeGreaterThan(500);
    expect(full).toBeGreaterThan(0);
  });

  it('insert/remove churn (100,000 operations) never exhausts capacity 64', () => {
    const rand = rng(77);
    const t = new AllowedIps(64);
    const live: Array<{ ip: Uint8Array; family: 4 | 6; cidr: number }> = [];
    for (let i = 0; i < 100_000; i++) {
      if (live.length === 64 || (live.length > 0 && rand() < 0.5)) {
        const j = Math.floor(rand() * live.length);
        const e = live[j]!;
        if (!t.remove(e.ip, 0, e.family, e.cidr)) throw new Error(`op ${i}: remove failed`);
        live.splice(j, 1);
      } else {
        const family: 4 | 6 = rand() < 0.5 ? 4 : 6;
        const ip = new Uint8Array(family === 4 ? 4 : 16);
        for (let k = 0; k < ip.length; k++) ip[k] = Math.floor(rand() * 256);
        const cidr = 1 + Math.floor(rand() * (family === 4 ? 32 : 128));
        const key = maskCopy(ip, cidr);
        if (live.some((e) => e.family === family && e.cidr === cidr && e.ip.every((v, k) => v === key[k]))) continue;
        t.insert(ip, 0, family, cidr, i & 7);
        live.push({ ip: key, family, cidr });
      }
      if (t.size !== live.length) throw new Error(`op ${i}: size ${t.size} != ${live.length}`);
    }
    checkInvariants(t);
    for (const e of live) expect(t.remove(e.ip, 0, e.family, e.cidr)).toBe(true);
    expect(t.size).toBe(0);
    checkInvariants(t);
    expect((t as any).root4).toBe(-1);
    expect((t as any).root6).toBe(-1);
  });
});
