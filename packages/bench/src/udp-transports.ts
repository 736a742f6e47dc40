/**
 * UDP transports on loopback: node:dgram (DgramUdp) vs the native addon (NativeUdp, recvmmsg /
 * sendto / sendmmsg), for 1400-byte datagrams.
 *
 *  - receive: a child process floods N datagrams (NativeUdp, sendmmsg batches of 64) at this
 *    process, which receives them with each transport; packets/s is counted between the first
 *    and the last datagram received (what the kernel could not queue is dropped, and reported).
 *  - send: this process sends N datagrams with each transport (NativeUdp singly with sendto
 *    and corked with sendmmsg) to a child that counts them.
 * GC events (PerformanceObserver 'gc') and heap growth are measured in this process only.
 *
 *   pnpm --filter @wgjs/bench exec tsx src/udp-transports.ts [--packets 200000] [--size 1400] [--family 4|6] [--rounds 5]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { PerformanceObserver } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { DgramUdp, NativeUdp, type UdpTransport } from '@wgjs/node-tun/udp';
import { ADDR_SIZE, loadNative } from '@wgjs/node-tun/native';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf('--' + name);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
}

const PACKETS = Number(arg('packets', '200000'));
const SIZE = Number(arg('size', '1400'));
const FAMILY = Number(arg('family', '4')) === 6 ? 6 : 4;
const ROUNDS = Number(arg('rounds', '5'));
const HOST = FAMILY === 6 ? '::1' : '127.0.0.1';
const BUF = 32 * 1024 * 1024;
const self = fileURLToPath(import.meta.url);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const epOf = (port: number): string => (FAMILY === 6 ? `[${HOST}]:${port}` : `${HOST}:${port}`);

// ---------------------------------------------------------------------------------------------
// Children

/**
 * Floods `packets` datagrams at `target` as fast as this machine can: the addon's sendmmsg in
 * batches of 64 straight from one prepared slab (no per-datagram JS work), so that the receiver
 * under test is the bottleneck. Prints its own send rate.
 */
async function blaster(target: string, packets: number, size: number): Promise<void> {
  const addon = loadNative()!;
  const udp = NativeUdp.open({ family: FAMILY, bindAddress: HOST, sendBufferSize: BUF });
  const slab = new Uint8Array(64 * size);
  for (let i = 0; i < slab.length; i++) slab[i] = i & 255;
  const offsets = new Int32Array(64);
  const lengths = new Int32Array(64).fill(size);
  const addrs = new Uint8Array(64 * ADDR_SIZE);
  for (let j = 0; j < 64; j++) {
    offsets[j] = j * size;
    if (addon.encodeEndpoint(target, FAMILY, addrs, j * ADDR_SIZE) !== 0) throw new Error(`bad target ${target}`);
  }
  let sent = 0;
  let dropped = 0;
  const t0 = performance.now();
  while (sent + dropped < packets) {
    const n = Math.min(64, packets - sent - dropped);
    const r = addon.udpSendBatch(udp.fd, slab, offsets, lengths, addrs, n);
    if (r > 0) sent += r;
    else dropped += n; // EAGAIN: the send buffer is full
  }
  const dt = (performance.now() - t0) / 1000;
  udp.close();
  console.log(JSON.stringify({ sent, dropped, pps: sent / dt }));
}

/** Counts datagrams until none arrived for 300 ms after at least one, or 'stop' on stdin. */
function sink(): void {
  const udp = NativeUdp.open({ family: FAMILY, bindAddress: HOST, recvBufferSize: BUF });
  let count = 0;
  let t0 = 0;
  let t1 = 0;
  udp.onDatagram(() => {
    if (count === 0) t0 = performance.now();
    t1 = performance.now();
    count++;
  });
  console.log(JSON.stringify({ port: udp.port }));
  process.stdin.setEncoding('utf8').on('data', async (d: string) => {
    if (!d.includes('report')) return;
    // Drain what is still queued.
    let last = -1;
    while (last !== count) {
      last = count;
      await sleep(100);
    }
    console.log(JSON.stringify({ received: count, pps: count > 1 ? (count - 1) / ((t1 - t0) / 1000) : 0 }));
    udp.close();
    process.exit(0);
  });
}

function child(args: string[]): { proc: ChildProcess; lines: AsyncGenerator<Record<string, number>> } {
  const proc = spawn(process.execPath, ['--import', 'tsx', self, ...args, '--family', String(FAMILY)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  async function* lines(): AsyncGenerator<Record<string, number>> {
    let buf = '';
    for await (const chunk of proc.stdout!) {
      buf += String(chunk);
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.startsWith('{')) yield JSON.parse(line) as Record<string, number>;
      }
    }
  }
  return { proc, lines: lines() };
}

async function next(it: AsyncGenerator<Record<string, number>>, what: string): Promise<Record<string, number>> {
  const r = await Promise.race([it.next(), sleep(30_000).then(() => null)]);
  if (!r || r.done) throw new Error(`child: no ${what}`);
  return r.value;
}

// ---------------------------------------------------------------------------------------------
// Measurements

interface Gc {
  events: number;
  stop(): Promise<number>;
}

function watchGc(): Gc {
  const g = {
    events: 0,
    obs: new PerformanceObserver((list) => {
      g.events += list.getEntries().length;
    }),
    async stop(): Promise<number> {
      await sleep(20); // pending entries are delivered asynchronously
      g.obs.disconnect();
      return g.events;
    },
  };
  g.obs.observe({ entryTypes: ['gc'] });
  return g;
}

export interface RecvResult {
  impl: string;
  received: number;
  sent: number;
  /** The flooding child's own send rate. */
  senderPps: number;
  pps: number;
  /** CPU time of this whole process (all threads) per received datagram. */
  cpuUsPerPacket: number;
  gcEvents: number;
  heapGrowthKiB: number;
}

async function openImpl(impl: string, opts: { recvBufferSize?: number; sendBufferSize?: number }): Promise<UdpTransport> {
  return impl === 'dgram'
    ? DgramUdp.open({ family: FAMILY, bindAddress: HOST, ...opts })
    : NativeUdp.open({ family: FAMILY, bindAddress: HOST, ...opts });
}

async function measureRecv(impl: 'dgram' | 'native'): Promise<RecvResult> {
  const udp = await openImpl(impl, { recvBufferSize: BUF });
  let count = 0;
  let bytes = 0;
  let t0 = 0;
  let t1 = 0;
  // performance.now() returns a heap number: sample it, so the harness itself hardly allocates.
  udp.onDatagram((buf, off, len) => {
    if (count === 0) t0 = performance.now();
    if ((++count & 255) === 0) t1 = performance.now();
    bytes += len + buf[off]!;
  });
  await sleep(50);
  const heap0 = process.memoryUsage().heapUsed;
  const cpu0 = process.cpuUsage();
  const gc = watchGc();
  const c = child(['--role', 'blast', '--target', epOf(udp.port), '--packets', String(PACKETS), '--size', String(SIZE)]);
  const report = await next(c.lines, 'blast report');
  // Drain: stop when nothing more arrives.
  let last = -1;
  while (last !== count) {
    last = count;
    await sleep(100);
  }
  const cpu = process.cpuUsage(cpu0);
  const heap1 = process.memoryUsage().heapUsed;
  const gcEvents = await gc.stop();
  udp.close();
  c.proc.kill();
  void bytes;
  return {
    impl,
    received: count,
    sent: report.sent!,
    senderPps: report.pps!,
    pps: count > 256 ? ((count & ~255) - 1) / ((t1 - t0) / 1000) : 0,
    cpuUsPerPacket: (cpu.user + cpu.system) / count,
    gcEvents,
    heapGrowthKiB: Math.round((heap1 - heap0) / 1024),
  };
}

export interface SendResult {
  impl: string;
  sent: number;
  delivered: number;
  pps: number;
  cpuUsPerPacket: number;
  gcEvents: number;
  heapGrowthKiB: number;
}

async function measureSend(impl: 'dgram' | 'native' | 'native-corked'): Promise<SendResult> {
  const c = child(['--role', 'sink']);
  const { port } = await next(c.lines, 'sink port');
  const udp = await openImpl(impl === 'dgram' ? 'dgram' : 'native', { sendBufferSize: BUF });
  const target = epOf(port!);
  const pkt = new Uint8Array(SIZE);
  const corked = impl === 'native-corked';
  const heap0 = process.memoryUsage().heapUsed;
  const cpu0 = process.cpuUsage();
  const gc = watchGc();
  const t0 = performance.now();
  for (let i = 0; i < PACKETS; ) {
    if (corked) udp.cork();
    for (let j = 0; j < 64 && i < PACKETS; j++, i++) {
      pkt[0] = i & 255;
      udp.send(pkt, 0, SIZE, target);
    }
    if (corked) udp.uncork();
    // node:dgram queues what it cannot send at once; let it drain now and then.
    if ((i & 4095) === 0) await new Promise((r) => setImmediate(r));
  }
  const t1 = performance.now();
  const cpu = process.cpuUsage(cpu0);
  const heap1 = process.memoryUsage().heapUsed;
  const gcEvents = await gc.stop();
  c.proc.stdin!.write('report\n');
  const r = await next(c.lines, 'sink report');
  const s = udp.stats();
  udp.close();
  return {
    impl,
    sent: s.txPackets,
    delivered: r.received!,
    pps: PACKETS / ((t1 - t0) / 1000),
    cpuUsPerPacket: (cpu.user + cpu.system) / PACKETS,
    gcEvents,
    heapGrowthKiB: Math.round((heap1 - heap0) / 1024),
  };
}

function median(xs: number[]): number {
  const v = [...xs].sort((x, y) => x - y);
  const m = v.length >> 1;
  return v.length & 1 ? v[m]! : (v[m - 1]! + v[m]!) / 2;
}

interface Summary {
  impl: string;
  medianPps: number;
  minPps: number;
  maxPps: number;
  medianCpuUsPerPacket: number;
  medianGcEvents: number;
  medianHeapGrowthKiB: number;
}

function summarize(impl: string, runs: Array<{ pps: number; cpuUsPerPacket: number; gcEvents: number; heapGrowthKiB: number }>): Summary {
  return {
    impl,
    medianPps: median(runs.map((r) => r.pps)),
    minPps: Math.min(...runs.map((r) => r.pps)),
    maxPps: Math.max(...runs.map((r) => r.pps)),
    medianCpuUsPerPacket: median(runs.map((r) => r.cpuUsPerPacket)),
    medianGcEvents: median(runs.map((r) => r.gcEvents)),
    medianHeapGrowthKiB: median(runs.map((r) => r.heapGrowthKiB)),
  };
}

async function main(): Promise<void> {
  if (!NativeUdp.available()) {
    console.error('the native addon is not available: run `pnpm install` (or `pnpm --filter @wgjs/node-tun build:native`)');
    process.exit(1);
  }
  console.log(`UDP transports, loopback IPv${FAMILY}, ${SIZE}-byte datagrams, ${PACKETS} per run, ${ROUNDS} runs`);
  const recv: Record<string, RecvResult[]> = { dgram: [], native: [] };
  const send: Record<string, SendResult[]> = { dgram: [], native: [], 'native-corked': [] };
  for (let r = 0; r < ROUNDS; r++) {
    for (const impl of ['dgram', 'native'] as const) recv[impl]!.push(await measureRecv(impl));
    for (const impl of ['dgram', 'native', 'native-corked'] as const) send[impl]!.push(await measureSend(impl));
  }
  const k = (n: number): string => Math.round(n).toLocaleString('en');
  const line = (x: Summary, extra: string): string =>
    `  ${x.impl.padEnd(14)} ${k(x.medianPps).padStart(9)} packets/s (${k(x.minPps)}–${k(x.maxPps)})` +
    `  ${x.medianCpuUsPerPacket.toFixed(2)} µs CPU/packet  GC events ${x.medianGcEvents}  heap growth ${x.medianHeapGrowthKiB} KiB  ${extra}`;
  console.log('medians of the runs (range in brackets); CPU is this whole process (all threads) per datagram');
  console.log('receive (flooded by a child; datagrams the kernel dropped while the receiver was busy are not counted):');
  for (const impl of Object.keys(recv)) {
    const runs = recv[impl]!;
    const got = runs.map((r) => `${r.received}/${r.sent}`).join(', ');
    console.log(line(summarize(impl, runs), `received ${got}; sender ${k(median(runs.map((r) => r.senderPps)))}/s`));
  }
  console.log('send (to a counting child):');
  for (const impl of Object.keys(send)) {
    const runs = send[impl]!;
    console.log(line(summarize(impl, runs), `delivered ${runs.map((r) => r.delivered).join(', ')} of ${PACKETS}`));
  }
  console.log(JSON.stringify({ family: FAMILY, size: SIZE, packets: PACKETS, recv, send }));
}

const role = arg('role', 'main');
if (role === 'blast') await blaster(arg('target', ''), PACKETS, SIZE);
else if (role === 'sink') sink();
else await main();
