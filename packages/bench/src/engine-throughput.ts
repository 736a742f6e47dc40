/**
 * Engine throughput: pushes packets through two engines in one process (A encrypts, B decrypts,
 * synchronously, no sockets) and reports packets/s and the GC events seen during the stream.
 *
 *   pnpm --filter @wgjs/bench exec tsx src/engine-throughput.ts [--packets 1000000] [--size 1420]
 *     [--provider portable|noble] [--check-gc]
 *
 * `--check-gc` makes it a test of the allocation-free data path: the exit code is 1 when any GC
 * ran during the stream, or when the heap grew by more than CHECK_GC_MAX_GROWTH bytes (without
 * a GC, heap growth is what the stream allocated, so this also catches allocations too small to
 * fill the young generation in a short run).
 */
import { PerformanceObserver, constants as perfConstants } from 'node:perf_hooks';
import { randomFillSync } from 'node:crypto';
import { Engine, createPortableProvider, type CryptoProvider, type EngineSink } from '@wgjs/core';
import { createNobleProvider } from '@wgjs/core/crypto/noble';

export interface ThroughputResult {
  provider: string;
  size: number;
  packets: number;
  seconds: number;
  packetsPerSecond: number;
  megabytesPerSecond: number;
  gcEvents: number;
  /** GC kinds seen during the stream (perf_hooks `detail.kind` names), in order. */
  gcKinds: string[];
  heapGrowthBytes: number;
  delivered: number;
}

/**
 * Most heap growth `--check-gc` accepts over a whole stream: room for the measurement itself
 * (`process.memoryUsage()` and the timer calls allocate a little), far below one heap number
 * (16 bytes) per thousand packets.
 */
export const CHECK_GC_MAX_GROWTH = 8192;

function arg(name: string, def: string): string {
  const i = process.argv.indexOf('--' + name);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : def;
}

const random = (b: Uint8Array, o: number, n: number): void => {
  randomFillSync(b, o, n);
};

const GC_KINDS: Record<number, string> = {
  [perfConstants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [perfConstants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [perfConstants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [perfConstants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
};

/** Runs the stream and returns the measurements. */
export async function runThroughput(packets: number, size: number, providerName: string): Promise<ThroughputResult> {
  const mk: () => CryptoProvider = providerName === 'noble' ? createNobleProvider : createPortableProvider;
  const ca = mk();
  const kA = new Uint8Array(32); random(kA, 0, 32);
  const kB = new Uint8Array(32); random(kB, 0, 32);
  const pubA = new Uint8Array(32); ca.x25519Base(pubA, kA);
  const pubB = new Uint8Array(32); ca.x25519Base(pubB, kB);
  let now = 0;
  let delivered = 0;
  let a: Engine;
  let b: Engine;
  // Datagrams go straight into the other engine, decrypted in place in the sender's buffer.
  const sinkA: EngineSink = {
    send(buf, off, len, ep) { b.receive(now, buf, off, len, 'A'); void ep; },
    deliver() { /* A receives nothing but handshake traffic here */ },
  };
  const sinkB: EngineSink = {
    send(buf, off, len) { a.receive(now, buf, off, len, 'B'); },
    deliver() { delivered++; },
  };
  a = new Engine({ privateKey: kA, crypto: ca, random, wallTime: Date.now, maxPeers: 1 }, sinkA);
  b = new Engine({ privateKey: kB, crypto: mk(), random, wallTime: Date.now, maxPeers: 1 }, sinkB);
  const pa = a.addPeer({ publicKey: pubB, allowedIPs: ['10.0.0.2/32'], endpoint: 'B' });
  b.addPeer({ publicKey: pubA, allowedIPs: ['10.0.0.1/32'], endpoint: 'A' });
  a.connect(now, pa);

  const pkt = new Uint8Array(size);
  pkt[0] = 0x45;
  pkt[2] = size >> 8; pkt[3] = size & 255;
  pkt[8] = 64; pkt[9] = 17;
  pkt.set([10, 0, 0, 1], 12);
  pkt.set([10, 0, 0, 2], 16);

  // The stream loop lives in its own function, warmed up by many short calls, so the measured
  // call runs fully optimised code from its first packet (no on-stack replacement mid-stream,
  // whose compilation and deoptimisation allocate).
  const pump = (n: number): void => {
    for (let i = 0; i < n; i++) {
      a.sendPacket(now, pkt, 0, size);
      // A virtual clock: the stream spans under a minute, well inside one session's lifetime.
      if ((i & 1023) === 0) now += 1;
    }
  };
  for (let i = 0; i < 40; i++) pump(1000);
  delivered = 0;

  // GC entries carry their start time on the performance.now() clock: count those that started
  // during the stream. A GC the event loop runs right after it (an idle-time scavenge of what the
  // setup allocated, say) is not the stream's doing.
  let gcEvents = 0;
  const gcKinds: string[] = [];
  let t0 = Infinity;
  let t1 = Infinity;
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      if (e.startTime < t0 || e.startTime > t1) continue;
      gcEvents++;
      const kind = (e as unknown as { detail?: { kind?: number } }).detail?.kind ?? 0;
      gcKinds.push(GC_KINDS[kind] ?? String(kind));
    }
  });
  obs.observe({ entryTypes: ['gc'] });
  const heap0 = process.memoryUsage().heapUsed;
  t0 = performance.now();
  pump(packets);
  t1 = performance.now();
  const heap1 = process.memoryUsage().heapUsed;
  await new Promise((r) => setTimeout(r, 50)); // let the observer deliver pending entries
  obs.disconnect();
  const seconds = (t1 - t0) / 1000;
  return {
    provider: providerName,
    size,
    packets,
    seconds,
    packetsPerSecond: packets / seconds,
    megabytesPerSecond: (packets * size) / seconds / 1e6,
    gcEvents,
    gcKinds,
    heapGrowthBytes: heap1 - heap0,
    delivered,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const checkGc = process.argv.includes('--check-gc');
  const r = await runThroughput(Number(arg('packets', '1000000')), Number(arg('size', '1420')), arg('provider', 'portable'));
  console.log(`engine throughput (${r.provider}, ${r.size} B, ${r.packets} packets, encrypt → decrypt on one core)`);
  console.log(`  ${Math.round(r.packetsPerSecond).toLocaleString('en')} packets/s, ${r.megabytesPerSecond.toFixed(1)} MB/s, ${r.seconds.toFixed(2)} s`);
  console.log(`  GC events during the stream: ${r.gcEvents}${r.gcEvents ? ' (' + r.gcKinds.join(', ') + ')' : ''}; heap growth ${(r.heapGrowthBytes / 1024).toFixed(1)} KiB; delivered ${r.delivered}/${r.packets}`);
  console.log(JSON.stringify(r));
  if (r.delivered !== r.packets) process.exitCode = 1;
  if (checkGc) {
    const ok = r.gcEvents === 0 && r.heapGrowthBytes <= CHECK_GC_MAX_GROWTH;
    console.log(ok
      ? `check-gc: OK (0 GC events, heap growth ${r.heapGrowthBytes} B <= ${CHECK_GC_MAX_GROWTH} B)`
      : `check-gc: FAILED (${r.gcEvents} GC events, heap growth ${r.heapGrowthBytes} B; limit 0 events, ${CHECK_GC_MAX_GROWTH} B)`);
    if (!ok) process.exitCode = 1;
  }
}
