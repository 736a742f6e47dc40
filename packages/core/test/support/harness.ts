/**
 * Test harness: engines wired through a virtual network with a virtual clock, so every timer
 * rule can be exercised deterministically in milliseconds of real time.
 */
import { Engine, type EngineOptions, type EngineSink } from '../../src/engine.js';
import type { CryptoProvider } from '../../src/crypto/provider.js';
import { createPortableProvider } from '../../src/crypto/portable.js';

/** Deterministic xorshift128 random source. */
export function seededRandom(seed: number): (buf: Uint8Array, off: number, len: number) => void {
  let a = seed | 1, b = 0x9e3779b9, c = 0x243f6a88, d = 0xb7e15162;
  return (buf, off, len) => {
    for (let i = 0; i < len; i++) {
      const t = a ^ (a << 11);
      a = b; b = c; c = d;
      d = (d ^ (d >>> 19) ^ (t ^ (t >>> 8))) >>> 0;
      buf[off + i] = d & 255;
    }
  };
}

export interface Datagram { from: string; to: string; data: Uint8Array }

export class Node {
  engine: Engine;
  delivered: Uint8Array[] = [];
  sent: Datagram[] = [];
  events: Array<[number, number]> = [];
  constructor(public name: string, public addr: string, public net: VirtualNet, opts: Partial<EngineOptions> & { privateKey: Uint8Array; crypto: CryptoProvider }) {
    const self = this;
    const sink: EngineSink = {
      send(buf, off, len, endpoint) {
        const d = { from: self.addr, to: endpoint, data: buf.slice(off, off + len) };
        self.sent.push(d);
        net.queue.push(d);
      },
      deliver(buf, off, len) {
        self.delivered.push(buf.slice(off, off + len));
      },
      event(type, peer) {
        self.events.push([type, peer]);
      },
    };
    this.engine = new Engine({
      random: seededRandom(name.charCodeAt(0) * 7919),
      wallTime: () => 1_700_000_000_000 + net.now,
      ...opts,
    }, sink);
  }
}

export class VirtualNet {
  now = 0;
  queue: Datagram[] = [];
  nodes = new Map<string, Node>();
  /** Return false to drop a datagram in flight. */
  filter: (d: Datagram) => boolean = () => true;
  /** Rewrites the source address a receiver sees (NAT); identity by default. */
  nat: (d: Datagram) => string = (d) => d.from;

  add(node: Node): Node {
    this.nodes.set(node.addr, node);
    return node;
  }

  /** Delivers queued datagrams until the network is quiet (bounded). Returns how many. */
  pump(max = 10_000): number {
    let n = 0;
    while (this.queue.length > 0) {
      if (++n > max) throw new Error('network did not quiesce');
      const d = this.queue.shift()!;
      if (!this.filter(d)) continue;
      const dst = this.nodes.get(d.to);
      if (!dst) continue;
      dst.engine.receive(this.now, d.data, 0, d.data.length, this.nat(d));
    }
    return n;
  }

  /** Advances the clock to `t`, firing every engine's timers in order and pumping the network. */
  advanceTo(t: number): void {
    this.pump(); // datagrams in flight arrive now, not after the jump
    for (let guard = 0; guard < 1_000_000; guard++) {
      let next = Infinity;
      for (const n of this.nodes.values()) next = Math.min(next, n.engine.nextDeadline());
      if (next > t) break;
      this.now = Math.max(this.now, next);
      for (const n of this.nodes.values()) if (n.engine.nextDeadline() <= this.now) n.engine.tick(this.now);
      this.pump();
    }
    this.now = t;
    this.pump();
  }

  advance(ms: number): void {
    this.advanceTo(this.now + ms);
  }
}

/** An IPv4/UDP packet from src to dst with `payload` (checksums not needed by the engine). */
export function ipv4Packet(src: string, dst: string, payload: Uint8Array): Uint8Array {
  const p = new Uint8Array(28 + payload.length);
  p[0] = 0x45;
  p[2] = p.length >> 8;
  p[3] = p.length & 255;
  p[8] = 64;
  p[9] = 17;
  src.split('.').forEach((x, i) => (p[12 + i] = +x));
  dst.split('.').forEach((x, i) => (p[16 + i] = +x));
  p[20] = 0x30; p[21] = 0x39; p[22] = 0x30; p[23] = 0x39;
  p[24] = (8 + payload.length) >> 8; p[25] = (8 + payload.length) & 255;
  p.set(payload, 28);
  return p;
}

export interface Pair { net: VirtualNet; a: Node; b: Node; aPeer: number; bPeer: number; crypto: CryptoProvider }

/** Two engines: A (10.1.0.1 inside, "192.0.2.1:51820" outside) and B (10.1.0.2, "192.0.2.2:51820"). */
export function makePair(opts: { psk?: boolean; crypto?: () => CryptoProvider; bEndpointKnown?: boolean; engine?: Partial<EngineOptions>; keepalive?: number; keySeed?: number } = {}): Pair {
  const mk = opts.crypto ?? createPortableProvider;
  const net = new VirtualNet();
  const ca = mk();
  const aPriv = new Uint8Array(32).map((_, i) => (i * 7 + 1 + (opts.keySeed ?? 0)) & 255);
  const bPriv = new Uint8Array(32).map((_, i) => (i * 13 + 5) & 255);
  const aPub = new Uint8Array(32); ca.x25519Base(aPub, aPriv);
  const bPub = new Uint8Array(32); ca.x25519Base(bPub, bPriv);
  const a = net.add(new Node('A', '192.0.2.1:51820', net, { privateKey: aPriv, crypto: ca, ...opts.engine }));
  const b = net.add(new Node('B', '192.0.2.2:51820', net, { privateKey: bPriv, crypto: mk(), ...opts.engine }));
  const psk = opts.psk ? new Uint8Array(32).fill(0x42) : null;
  const aPeer = a.engine.addPeer({ publicKey: bPub, presharedKey: psk, allowedIPs: ['10.1.0.2/32', 'fd01::2/128'], endpoint: b.addr, persistentKeepalive: opts.keepalive ?? 0 });
  const bPeer = b.engine.addPeer({ publicKey: aPub, presharedKey: psk, allowedIPs: ['10.1.0.1/32', 'fd01::1/128'], endpoint: opts.bEndpointKnown ? a.addr : null });
  return { net, a, b, aPeer, bPeer, crypto: ca };
}

export const aToB = (n: number) => ipv4Packet('10.1.0.1', '10.1.0.2', new Uint8Array([n & 255, n >> 8, 1, 2, 3]));
export const bToA = (n: number) => ipv4Packet('10.1.0.2', '10.1.0.1', new Uint8Array([n & 255, n >> 8, 9, 9]));

export const count = (sent: Datagram[], len: number, since = 0) => sent.slice(since).filter((d) => d.data.length === len).length;
export const initiations = (n: Node, since = 0) => n.sent.slice(since).filter((d) => d.data[0] === 1).length;
