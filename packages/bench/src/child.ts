/**
 * Measurements that need a process of their own, run by the orchestrator (src/index.ts) as
 * `node --import tsx src/child.ts <task> <json-args>`; the result is the last stdout line (JSON).
 *
 *  - `throughput {sizes, packets}`: engine-throughput.ts's `runThroughput` for each size, in a
 *    fresh heap, so the GC events and heap growth it counts belong to the stream alone and not
 *    to whatever the orchestrator did before.
 *  - `memory {peers, profile}`: engine state per peer: the heap (plus ArrayBuffer backing stores)
 *    after full GCs, before and after constructing an Engine with maxPeers = N and adding N
 *    peers, divided by N; with a breakdown of the largest fixed-capacity parts.
 */
import { randomFillSync } from 'node:crypto';
import v8 from 'node:v8';
import vm from 'node:vm';
import { AllowedIps, Engine, ReplayPool, type EngineOptions } from '@wgjs/core';
import { createHostProvider } from '@wgjs/node-tun/crypto-host';
import { runThroughput, type ThroughputResult } from './engine-throughput.js';

const random = (b: Uint8Array, o: number, n: number): void => {
  randomFillSync(b, o, n);
};

/** Engine options of the memory profiles, for N peers. */
export function memoryProfile(profile: string, n: number): Partial<EngineOptions> {
  // 'default': every capacity at its default (16 AllowedIPs prefixes and 3 sessions with an
  // 8160-packet replay window per peer). 'server': what a many-peer server would set: 2 prefixes
  // per peer, everything else default.
  if (profile === 'server') return { maxAllowedIPs: 2 * n };
  return {};
}

export interface MemoryResult {
  peers: number;
  profile: string;
  /** Engine state per peer, bytes: (after adding N peers − before construction) / N. */
  bytesPerPeer: number;
  /** Of which allocated by the constructor (fixed capacity), per peer. */
  constructorBytesPerPeer: number;
  /** Of which allocated by addPeer (endpoint strings, prefixes, key copies), per peer. */
  addPeerBytesPerPeer: number;
  /** Breakdown per peer of two fixed-capacity parts, each measured on its own. */
  replayWindowsBytesPerPeer: number;
  allowedIpsBytesPerPeer: number;
  constructMs: number;
  addPeersMs: number;
}

function gcFunction(): () => void {
  // The --expose-gc flag set at run time, then `gc` fetched from a fresh context (which gets it).
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}

async function memory(n: number, profile: string): Promise<MemoryResult> {
  const gc = gcFunction();
  const used = (): number => {
    gc();
    gc();
    const m = process.memoryUsage();
    return m.heapUsed + m.arrayBuffers;
  };
  // Inputs are made before the first measurement: they are the caller's, not the engine's.
  const keys: Uint8Array[] = [];
  const allowed: string[][] = [];
  const endpoints: string[] = [];
  for (let i = 0; i < n; i++) {
    const k = new Uint8Array(32);
    random(k, 0, 32);
    keys.push(k);
    allowed.push([`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}/32`]);
    endpoints.push(`198.51.${(i >> 8) & 255}.${i & 255}:51820`);
  }
  const priv = new Uint8Array(32);
  random(priv, 0, 32);
  const opts: EngineOptions = { privateKey: priv, crypto: createHostProvider(), random, wallTime: Date.now, maxPeers: n, ...memoryProfile(profile, n) };
  // Kept reachable through a global: a local that is never read again may be collected by
  // optimised code before the last measurement.
  const keep = globalThis as unknown as { __wgjsBenchKeep?: unknown[] };
  keep.__wgjsBenchKeep = [keys, allowed, endpoints];
  const m0 = used();
  const c0 = performance.now();
  const engine = new Engine(opts, { send() {}, deliver() {} });
  keep.__wgjsBenchKeep.push(engine);
  const c1 = performance.now();
  const m1 = used();
  for (let i = 0; i < n; i++) engine.addPeer({ publicKey: keys[i]!, allowedIPs: allowed[i]!, endpoint: endpoints[i]! });
  const c2 = performance.now();
  const m2 = used();
  if (engine.peerIds().length !== n) throw new Error(`added ${engine.peerIds().length} of ${n} peers`);
  // The two largest fixed-capacity parts, built alone with the same sizes as inside the engine.
  const sessions = opts.maxSessions ?? n * 3 + 1;
  const r0 = used();
  keep.__wgjsBenchKeep.push(new ReplayPool(sessions, opts.replayWindowWords ?? 256));
  const r1 = used();
  keep.__wgjsBenchKeep.push(new AllowedIps(opts.maxAllowedIPs ?? n * 16));
  const r2 = used();
  keep.__wgjsBenchKeep = undefined;
  return {
    peers: n,
    profile,
    bytesPerPeer: (m2 - m0) / n,
    constructorBytesPerPeer: (m1 - m0) / n,
    addPeerBytesPerPeer: (m2 - m1) / n,
    replayWindowsBytesPerPeer: (r1 - r0) / n,
    allowedIpsBytesPerPeer: (r2 - r1) / n,
    constructMs: c1 - c0,
    addPeersMs: c2 - c1,
  };
}

async function throughput(sizes: number[], packets: number[]): Promise<ThroughputResult[]> {
  const out: ThroughputResult[] = [];
  for (let i = 0; i < sizes.length; i++) out.push(await runThroughput(packets[i]!, sizes[i]!, 'portable'));
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const task = process.argv[2];
  const args = JSON.parse(process.argv[3] ?? '{}') as Record<string, unknown>;
  let result: unknown;
  if (task === 'memory') result = await memory(Number(args.peers), String(args.profile ?? 'default'));
  else if (task === 'throughput') result = await throughput(args.sizes as number[], args.packets as number[]);
  else throw new Error(`unknown task ${task}`);
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
