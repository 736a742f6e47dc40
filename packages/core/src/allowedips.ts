/**
 * Cryptokey routing table: longest-prefix match from IPv4/IPv6 prefixes to peer ids.
 *
 * A path-compressed binary trie, as the Linux kernel's allowedips.c, stored in fixed typed arrays.
 * Each node holds a (masked) key and a prefix length `cidr`; a node's children differ from it
 * in the bit at index `cidr` of the key. A node without a peer is an intermediate that exists only
 * to join two subtrees, so it always has two children; that bounds a tree of k prefixes to
 * 2k - 1 nodes, and the pool of 2 * capacity nodes can never run out while `size <= capacity`.
 * Removed nodes go back to a free list, so add/remove churn never exhausts the table.
 *
 * `lookup` reads the address in place from a packet and allocates nothing.
 */
import { wgError } from './errors.js';

/** Bytes of key per node (room for an IPv6 address). */
const KEY = 16;

/** Bit `i` (0 = most significant) of the address at a[off]. */
function bitAt(a: Uint8Array, off: number, i: number): number {
  return (a[off + (i >> 3)] >> (7 - (i & 7))) & 1;
}

/** Whether a[aOff..] and b[bOff..] agree on bits [from, to); `from` only skips whole bytes. */
function prefixMatches(a: Uint8Array, aOff: number, b: Uint8Array, bOff: number, from: number, to: number): boolean {
  const full = to >> 3;
  let i = from >> 3;
  for (; i < full; i++) if (a[aOff + i] !== b[bOff + i]) return false;
  const rem = to & 7;
  if (rem !== 0 && ((a[aOff + i] ^ b[bOff + i]) & (0xff00 >> rem) & 0xff) !== 0) return false;
  return true;
}

/** Number of leading bits (at most maxBits) on which a[aOff..] and b[bOff..] agree. */
function commonBits(a: Uint8Array, aOff: number, b: Uint8Array, bOff: number, maxBits: number): number {
  const bytes = maxBits >> 3;
  for (let i = 0; i < bytes; i++) {
    let x = a[aOff + i] ^ b[bOff + i];
    if (x !== 0) {
      let n = i * 8;
      while ((x & 0x80) === 0) {
        x <<= 1;
        n++;
      }
      return n;
    }
  }
  return maxBits;
}

/** Copies `len` bytes of src into dst and clears the bits from `cidr` on (dst keeps 16 bytes). */
function copyMasked(dst: Uint8Array, dOff: number, src: Uint8Array, sOff: number, len: number, cidr: number): void {
  for (let i = 0; i < KEY; i++) {
    const bit = i * 8;
    let v = i < len ? src[sOff + i] : 0;
    if (bit + 8 > cidr) v = bit >= cidr ? 0 : v & (0xff00 >> (cidr - bit)) & 0xff;
    dst[dOff + i] = v;
  }
}

/** Longest-prefix-match table mapping IPv4 and IPv6 prefixes to peer ids (non-negative integers). */
export class AllowedIps {
  /** Maximum number of prefixes (IPv4 and IPv6 together), fixed at construction. */
  declare readonly capacity: number;
  /** Number of prefixes currently stored. Read-only for callers. */
  declare size: number;

  /** Node keys, KEY bytes each, bits past the node's cidr zero. */
  declare private readonly keys: Uint8Array;
  declare private readonly cidrs: Uint8Array;
  /** Peer id, or -1 for an intermediate node. */
  declare private readonly peers: Int32Array;
  /** Children: [2n] for bit 0, [2n + 1] for bit 1; -1 = none. */
  declare private readonly children: Int32Array;
  /** Parent node, -1 when the node is its family's root. For free nodes: next free node. */
  declare private readonly parents: Int32Array;
  /** Which child of its parent the node is (0 or 1). */
  declare private readonly sides: Uint8Array;
  /** 4 or 6 for a node in use, 0 for a free node. */
  declare private readonly families: Uint8Array;
  declare private root4: number;
  declare private root6: number;
  declare private freeHead: number;
  /** Masked copy of the prefix being inserted or removed. */
  declare private readonly tmp: Uint8Array;

  /** Creates an empty table for up to `capacity` prefixes (about 70 bytes per prefix). */
  constructor(capacity: number) {
    if (!(capacity >= 0) || capacity % 1 !== 0 || capacity > 1048576) {
      throw wgError('EINVAL', 'AllowedIps: capacity must be an integer from 0 to 1048576, got ' + capacity);
    }
    const nodes = capacity * 2;
    this.capacity = capacity;
    this.size = 0;
    this.keys = new Uint8Array(nodes * KEY);
    this.cidrs = new Uint8Array(nodes);
    this.peers = new Int32Array(nodes);
    this.children = new Int32Array(nodes * 2);
    this.parents = new Int32Array(nodes);
    this.sides = new Uint8Array(nodes);
    this.families = new Uint8Array(nodes);
    this.tmp = new Uint8Array(KEY);
    this.root4 = -1;
    this.root6 = -1;
    this.freeHead = -1;
    this.clear();
  }

  /** Removes every prefix. */
  clear(): void {
    const nodes = this.families.length;
    for (let n = nodes - 1; n >= 0; n--) {
      this.families[n] = 0;
      this.parents[n] = n + 1 < nodes ? n + 1 : -1;
    }
    this.freeHead = nodes > 0 ? 0 : -1;
    this.root4 = -1;
    this.root6 = -1;
    this.size = 0;
  }

  /** Takes a node from the free list and fills it from this.tmp. */
  private alloc(family: number, cidr: number, peer: number): number {
    const n = this.freeHead;
    // Unreachable while the 2k - 1 bound holds; guard anyway rather than corrupt the trie.
    if (n < 0) throw wgError('ECAPACITY', 'AllowedIps: node pool exhausted (internal error)');
    this.freeHead = this.parents[n];
    copyMasked(this.keys, n * KEY, this.tmp, 0, KEY, cidr);
    this.cidrs[n] = cidr;
    this.peers[n] = peer;
    this.children[2 * n] = -1;
    this.children[2 * n + 1] = -1;
    this.parents[n] = -1;
    this.sides[n] = 0;
    this.families[n] = family;
    return n;
  }

  private free(n: number): void {
    this.families[n] = 0;
    this.peers[n] = -1;
    this.parents[n] = this.freeHead;
    this.freeHead = n;
  }

  /** Makes `child` (may be -1) the `side` child of `parent`, or the root of `family` if parent is -1. */
  private attach(parent: number, side: number, family: number, child: number): void {
    if (parent < 0) {
      if (family === 4) this.root4 = child;
      else this.root6 = child;
    } else {
      this.children[2 * parent + side] = child;
    }
    if (child >= 0) {
      this.parents[child] = parent;
      this.sides[child] = side;
    }
  }

  /** Validates arguments and leaves the masked prefix in this.tmp; returns the address bits. */
  private prepare(ip: Uint8Array, ipOff: number, family: number, cidr: number): number {
    if (family !== 4 && family !== 6) throw wgError('EINVAL', 'AllowedIps: family must be 4 or 6, got ' + family);
    const bits = family === 4 ? 32 : 128;
    const len = bits >> 3;
    if (!(cidr >= 0 && cidr <= bits) || cidr % 1 !== 0) {
      throw wgError('EINVAL', 'AllowedIps: IPv' + family + ' prefix length must be 0..' + bits + ', got ' + cidr);
    }
    if (!(ipOff >= 0) || ipOff % 1 !== 0 || ipOff + len > ip.length) {
      throw wgError('EINVAL', 'AllowedIps: need ' + len + ' address bytes at offset ' + ipOff);
    }
    copyMasked(this.tmp, 0, ip, ipOff, len, cidr);
    return bits;
  }

  /**
   * Finds the deepest node whose prefix contains this.tmp/cidr and is at most cidr long
   * (the kernel's node_placement). Returns it, or -1 if none.
   */
  private placement(root: number, cidr: number): number {
    const keys = this.keys;
    const cidrs = this.cidrs;
    const tmp = this.tmp;
    let parent = -1;
    let node = root;
    while (node >= 0) {
      const c = cidrs[node];
      if (c > cidr || !prefixMatches(keys, node * KEY, tmp, 0, 0, c)) break;
      parent = node;
      if (c === cidr) break;
      node = this.children[2 * node + bitAt(tmp, 0, c)];
    }
    return parent;
  }

  /**
   * Adds `ip/cidr` → `peer`, or changes the peer of that prefix if it is already present.
   * Host bits past `cidr` are ignored. Throws wgError('ECAPACITY') when the table is full,
   * wgError('EINVAL') on bad arguments.
   */
  insert(ip: Uint8Array, ipOff: number, family: 4 | 6, cidr: number, peer: number): void {
    const bits = this.prepare(ip, ipOff, family, cidr);
    if (!(peer >= 0 && peer <= 0x7fffffff) || peer % 1 !== 0) {
      throw wgError('EINVAL', 'AllowedIps: peer id must be a non-negative integer, got ' + peer);
    }
    const root = family === 4 ? this.root4 : this.root6;
    const parent = this.placement(root, cidr);
    if (parent >= 0 && this.cidrs[parent] === cidr) {
      if (this.peers[parent] < 0) {
        // An intermediate node becomes a prefix of its own.
        this.checkRoom(peer);
        this.size++;
      }
      this.peers[parent] = peer;
      return;
    }
    this.checkRoom(peer);
    const fresh = this.alloc(family, cidr, peer);
    this.size++;
    let down: number;
    let side = 0;
    if (parent < 0) {
      down = root;
      if (down < 0) {
        this.attach(-1, 0, family, fresh);
        return;
      }
    } else {
      side = bitAt(this.tmp, 0, this.cidrs[parent]);
      down = this.children[2 * parent + side];
      if (down < 0) {
        this.attach(parent, side, family, fresh);
        return;
      }
    }
    // `down` and the new prefix diverge somewhere below `parent`.
    const common = commonBits(this.keys, down * KEY, this.tmp, 0, bits);
    if (common >= cidr) {
      // The new prefix contains `down`: it goes between parent and down.
      this.attach(fresh, bitAt(this.keys, down * KEY, cidr), family, down);
      this.attach(parent, side, family, fresh);
      return;
    }
    // They split at bit `common`: join them under a new intermediate node.
    const mid = this.alloc(family, common, -1);
    this.attach(mid, bitAt(this.keys, down * KEY, common), family, down);
    this.attach(mid, bitAt(this.tmp, 0, common), family, fresh);
    this.attach(parent, side, family, mid);
  }

  private checkRoom(peer: number): void {
    if (this.size >= this.capacity) {
      throw wgError('ECAPACITY', 'AllowedIPs table full: ' + this.capacity + ' prefixes in use, cannot add one for peer ' +
        peer + '. Raise the AllowedIPs capacity when creating the device, or use fewer/wider prefixes.');
    }
  }

  /** Unlinks prefix node `n` (the kernel's remove_node), splicing out a peerless parent left with one child. */
  private removeNode(n: number): void {
    const children = this.children;
    this.peers[n] = -1;
    const c0 = children[2 * n];
    const c1 = children[2 * n + 1];
    if (c0 >= 0 && c1 >= 0) return; // stays as an intermediate joining two subtrees
    const child = c0 >= 0 ? c0 : c1;
    const parent = this.parents[n];
    const side = this.sides[n];
    const family = this.families[n];
    this.attach(parent, side, family, child);
    this.free(n);
    if (child < 0 && parent >= 0 && this.peers[parent] < 0) {
      const other = children[2 * parent + (1 - side)];
      this.attach(this.parents[parent], this.sides[parent], family, other);
      this.free(parent);
    }
  }

  /**
   * Removes prefix `ip/cidr` (host bits ignored). If `peer` is given, removes it only if it maps
   * to that peer. Returns whether a prefix was removed.
   */
  remove(ip: Uint8Array, ipOff: number, family: 4 | 6, cidr: number, peer?: number): boolean {
    this.prepare(ip, ipOff, family, cidr);
    const node = this.placement(family === 4 ? this.root4 : this.root6, cidr);
    if (node < 0 || this.cidrs[node] !== cidr || this.peers[node] < 0) return false;
    if (peer !== undefined && this.peers[node] !== peer) return false;
    this.removeNode(node);
    this.size--;
    return true;
  }

  /** Removes every prefix of `peer`; returns how many were removed. */
  removeByPeer(peer: number): number {
    let removed = 0;
    if (!(peer >= 0)) return 0;
    // Node indexes never move, and removal frees only the node itself and peerless parents,
    // so a linear scan sees every prefix of the peer exactly once.
    for (let n = 0; n < this.families.length; n++) {
      if (this.families[n] !== 0 && this.peers[n] === peer) {
        this.removeNode(n);
        this.size--;
        removed++;
      }
    }
    return removed;
  }

  /**
   * Longest-prefix match of the address at packet[off] (4 bytes for family 4, 16 for family 6),
   * read in place. Returns the peer id, or -1 if no prefix matches. Allocates nothing.
   */
  lookup(packet: Uint8Array, off: number, family: 4 | 6): number {
    let node: number;
    let bits: number;
    if (family === 4) {
      node = this.root4;
      bits = 32;
    } else if (family === 6) {
      node = this.root6;
      bits = 128;
    } else {
      return -1;
    }
    if (off < 0 || off + (bits >> 3) > packet.length) return -1;
    const keys = this.keys;
    const cidrs = this.cidrs;
    const peers = this.peers;
    const children = this.children;
    let best = -1;
    let i = 0; // bytes [0, i) already matched by ancestors
    // prefixMatches and bitAt are inlined: function calls dominate the cost on Espruino.
    while (node >= 0) {
      const c = cidrs[node];
      const k = node * KEY;
      const full = c >> 3;
      for (; i < full; i++) if (keys[k + i] !== packet[off + i]) return best;
      const rem = c & 7;
      if (rem !== 0 && ((keys[k + i] ^ packet[off + i]) & (0xff00 >> rem) & 0xff) !== 0) return best;
      if (peers[node] >= 0) best = peers[node];
      if (c === bits) return best;
      node = children[2 * node + ((packet[off + full] >> (7 - rem)) & 1)];
    }
    return best;
  }

  /**
   * Calls `cb(ip, family, cidr)` for each prefix of `peer`, IPv4 first, in address order
   * (shorter prefix first). `ip` is a fresh copy (4 or 16 bytes). Configuration time only: allocates.
   * `cb` must not modify the table.
   */
  entriesForPeer(peer: number, cb: (ip: Uint8Array, family: 4 | 6, cidr: number) => void): void {
    this.walk(this.root4, 4, peer, cb);
    this.walk(this.root6, 6, peer, cb);
  }

  private walk(root: number, family: 4 | 6, peer: number, cb: (ip: Uint8Array, family: 4 | 6, cidr: number) => void): void {
    const len = family === 4 ? 4 : 16;
    const stack: number[] = [];
    if (root >= 0) stack.push(root);
    while (stack.length > 0) {
      const n = stack.pop() as number;
      if (this.peers[n] === peer) {
        const ip = new Uint8Array(len);
        for (let i = 0; i < len; i++) ip[i] = this.keys[n * KEY + i];
        cb(ip, family, this.cidrs[n]);
      }
      // Push child 1 first so child 0 (lower addresses) is visited first.
      if (this.children[2 * n + 1] >= 0) stack.push(this.children[2 * n + 1]);
      if (this.children[2 * n] >= 0) stack.push(this.children[2 * n]);
    }
  }
}
