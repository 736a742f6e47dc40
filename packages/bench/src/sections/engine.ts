/**
 * Engine section: packets/s through two engines (encrypt → decrypt, one core) at 64/512/1420 B with
 * the GC events and heap growth during the stream (engine-throughput.ts, in a fresh process per
 * round); handshakes/s as initiator and as responder per provider; engine memory per peer with
 * 1k and 10k peers; AllowedIPs longest-prefix lookups with 10k prefixes.
 */
import { randomFillSync } from 'node:crypto';
import { AllowedIps, createPortableProvider, type CryptoProvider } from '@wgjs/core';
import { createHostProvider } from '@wgjs/node-tun/crypto-host';
import type { ThroughputResult } from '../engine-throughput.js';
import type { MemoryResult } from '../child.js';
import { handshakeRoles, rate } from '../providers.js';
import { runChildTask } from '../run-child.js';
import { progress, skipped, summarize, type Skipped, type Summary } from '../stats.js';

export const ENGINE_SIZES = [64, 512, 1420] as const;

export interface ThroughputRow {
  size: number;
  provider: string;
  packetsPerSecond: Summary;
  megabytesPerSecond: Summary;
  /** GC events during the streams, summed over the rounds. */
  gcEvents: number;
  /** GC events per 1e6 packets over all rounds. */
  gcPerMillionPackets: number;
  heapGrowthBytes: Summary;
  packetsPerRound: number[];
}

export interface HandshakeRow {
  provider: string;
  initiatorPerSecond: Summary;
  responderPerSecond: Summary;
  fullPerSecond: Summary;
}

export interface AllowedIpsRow {
  family: 4 | 6;
  prefixes: number;
  nsPerLookup: Summary;
  matchedFraction: number;
}

export interface EngineSection {
  status: 'ok';
  throughput: ThroughputRow[];
  handshakes: HandshakeRow[];
  memory: Array<MemoryResult | (Skipped & { peers: number; profile: string })>;
  allowedIps: AllowedIpsRow[];
  notes: string[];
}

export interface EngineOptions {
  repeats: number;
  /** Seconds of stream per size and round (the packet count is derived from `estimate`). */
  streamSeconds: number;
  /** Seconds per handshake measurement. */
  handshakeSeconds: number;
  /** Peer counts for the memory measurement; counts above `maxMemoryPeers` are skipped. */
  memoryPeers: number[];
  maxMemoryPeers: number;
  /** Seconds per AllowedIPs measurement. */
  lookupSeconds: number;
  /** Packets/s estimate per size (from the crypto section), to size the streams. */
  estimate: (size: number) => number;
}

const random = (b: Uint8Array, o: number, n: number): void => {
  randomFillSync(b, o, n);
};

async function throughput(o: EngineOptions): Promise<ThroughputRow[]> {
  const per = new Map<number, ThroughputResult[]>();
  const packets = ENGINE_SIZES.map((s) => Math.max(20_000, Math.min(2_000_000, Math.round((o.estimate(s) * o.streamSeconds) / 1000) * 1000)));
  for (let r = 0; r < o.repeats; r++) {
    progress(`engine: throughput round ${r + 1}/${o.repeats}: ${ENGINE_SIZES.map((s, i) => `${packets[i]} × ${s} B`).join(', ')} (fresh process)`);
    // Rotate the size order per round; each round is a fresh heap.
    const order = ENGINE_SIZES.map((_, i) => (i + r) % ENGINE_SIZES.length);
    const res = await runChildTask<ThroughputResult[]>('throughput', { sizes: order.map((i) => ENGINE_SIZES[i]), packets: order.map((i) => packets[i]) }, 300_000);
    for (const x of res) per.set(x.size, [...(per.get(x.size) ?? []), x]);
    for (const x of res) {
      if (x.delivered !== x.packets) throw new Error(`engine throughput: delivered ${x.delivered} of ${x.packets} packets at ${x.size} B`);
    }
  }
  return ENGINE_SIZES.map((size) => {
    const runs = per.get(size)!;
    const gc = runs.reduce((a, x) => a + x.gcEvents, 0);
    const n = runs.reduce((a, x) => a + x.packets, 0);
    return {
      size,
      provider: runs[0]!.provider,
      packetsPerSecond: summarize(runs.map((x) => x.packetsPerSecond)),
      megabytesPerSecond: summarize(runs.map((x) => x.megabytesPerSecond)),
      gcEvents: gc,
      gcPerMillionPackets: (gc / n) * 1e6,
      heapGrowthBytes: summarize(runs.map((x) => x.heapGrowthBytes)),
      packetsPerRound: runs.map((x) => x.packets),
    };
  });
}

async function handshakes(o: EngineOptions): Promise<HandshakeRow[]> {
  const providers: Array<[string, () => CryptoProvider]> = [
    ['portable', createPortableProvider],
    ['host', () => createHostProvider()],
  ];
  const raw = new Map<string, Array<{ i: number; r: number; f: number }>>();
  for (let r = 0; r < o.repeats; r++) {
    progress(`engine: handshakes round ${r + 1}/${o.repeats} (${providers.map((p) => p[0]).join(', ')}; ${o.handshakeSeconds} s each)`);
    for (let k = 0; k < providers.length; k++) {
      const [name, mk] = providers[(k + r) % providers.length]!;
      const h = handshakeRoles(name, mk, o.handshakeSeconds);
      raw.set(name, [...(raw.get(name) ?? []), { i: h.initiator, r: h.responder, f: h.full }]);
      await new Promise((res) => setImmediate(res));
    }
  }
  return providers.map(([name]) => {
    const runs = raw.get(name)!;
    return {
      provider: name,
      initiatorPerSecond: summarize(runs.map((x) => x.i)),
      responderPerSecond: summarize(runs.map((x) => x.r)),
      fullPerSecond: summarize(runs.map((x) => x.f)),
    };
  });
}

async function memory(o: EngineOptions): Promise<EngineSection['memory']> {
  const out: EngineSection['memory'] = [];
  for (const profile of ['default', 'server']) {
    for (const peers of o.memoryPeers) {
      if (peers > o.maxMemoryPeers) {
        out.push({ ...skipped(`engine memory with ${peers} peers (${profile})`, `quick mode measures up to ${o.maxMemoryPeers} peers (adding 10k peers takes ~30 s: addPeer scans every slot, O(n) per peer)`), peers, profile });
        continue;
      }
      progress(`engine: memory per peer, ${peers} peers, profile ${profile} (fresh process)`);
      out.push(await runChildTask<MemoryResult>('memory', { peers, profile }, 240_000));
    }
  }
  return out;
}

/** Random prefixes, a realistic mix of lengths, and a lookup pool half inside them. */
function lookupCase(family: 4 | 6, prefixes: number, seconds: number, repeats: number): AllowedIpsRow {
  const bytes = family === 4 ? 4 : 16;
  const table = new AllowedIps(prefixes);
  const addrs = new Uint8Array(prefixes * bytes);
  random(addrs, 0, addrs.length);
  const lens: number[] = [];
  const pick = new Uint8Array(prefixes);
  random(pick, 0, pick.length);
  for (let i = 0; i < prefixes; i++) {
    const x = pick[i]!;
    // IPv4: half /32 hosts, a quarter /24, the rest /16../23 and /8../15. IPv6: /128, /64, /48.
    const cidr = family === 4
      ? (x < 128 ? 32 : x < 192 ? 24 : x < 232 ? 16 + (x & 7) : 8 + (x & 7))
      : (x < 128 ? 128 : x < 224 ? 64 : 48);
    lens.push(cidr);
    table.insert(addrs, i * bytes, family, cidr, i % 65536);
  }
  const POOL = 4096;
  const pool = new Uint8Array(POOL * bytes);
  random(pool, 0, pool.length);
  const rnd = new Uint8Array(POOL * 2);
  random(rnd, 0, rnd.length);
  for (let j = 0; j < POOL; j += 2) {
    // Every other address lies inside a stored prefix (its network bits, random host bits).
    const i = ((rnd[2 * j]! << 8) | rnd[2 * j + 1]!) % prefixes;
    const cidr = lens[i]!;
    for (let b = 0; b < bytes; b++) {
      const bit = b * 8;
      const keep = bit + 8 <= cidr ? 0xff : bit >= cidr ? 0 : (0xff00 >> (cidr - bit)) & 0xff;
      pool[j * bytes + b] = (addrs[i * bytes + b]! & keep) | (pool[j * bytes + b]! & ~keep & 0xff);
    }
  }
  let matched = 0;
  for (let j = 0; j < POOL; j++) if (table.lookup(pool, j * bytes, family) >= 0) matched++;
  let k = 0;
  let sink = 0;
  const f = (): void => {
    sink += table.lookup(pool, k * bytes, family);
    k = (k + 1) & (POOL - 1);
  };
  const runs: number[] = [];
  for (let r = 0; r < repeats; r++) runs.push(1e9 / rate(seconds, f));
  if (sink === 0.5) throw new Error('unreachable'); // keeps the lookups observable
  return { family, prefixes: table.size, nsPerLookup: summarize(runs), matchedFraction: matched / POOL };
}

export async function runEngine(o: EngineOptions): Promise<EngineSection> {
  const tp = await throughput(o);
  const hs = await handshakes(o);
  const mem = await memory(o);
  progress(`engine: AllowedIPs lookups with 10,000 IPv4 and 10,000 IPv6 prefixes`);
  const aips = [lookupCase(4, 10_000, o.lookupSeconds, o.repeats), lookupCase(6, 10_000, o.lookupSeconds, o.repeats)];
  return {
    status: 'ok',
    throughput: tp,
    handshakes: hs,
    memory: mem,
    allowedIps: aips,
    notes: [
      'Throughput: engine-throughput.ts (portable provider, the zero-allocation path); two engines in one process, A encrypts, B decrypts in place: one core does both ends, so a real peer (one end) would do about twice this.',
      'Handshakes: each step of every handshake timed on its own in one loop; initiator = create initiation + consume response, responder = consume initiation + create response (4 X25519 operations each side, one of them a fresh ephemeral key).',
      'Memory: heapUsed + arrayBuffers after two full GCs, before construction and after adding N peers (random keys, one /32 and an endpoint each), ÷ N; "server" sets maxAllowedIPs = 2 per peer (default 16), everything else default.',
      'AllowedIPs: 10,000 random prefixes of mixed lengths (IPv4: half /32, a quarter /24, the rest /8–/23; IPv6: /128, /64, /48); half the looked-up addresses are drawn inside a stored prefix, half at random (short IPv4 prefixes catch many of those too).',
    ],
  };
}
