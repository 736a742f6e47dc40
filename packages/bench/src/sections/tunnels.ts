/**
 * Tunnels section: setups side by side in network namespaces — plain veth, wireguard-go ↔
 * wireguard-go, wgjs ↔ wgjs, wgjs ↔ wireguard-go, and wgjs ↔ wgjs with the portable AEAD (see
 * SPECS) — each on its own veth pair, all up at once
 * and measured in interleaved rounds (round → setup, the setup order rotated every round):
 * iperf3 TCP with 1 and 2 streams, the highest UDP rate with < 1 % loss (a bounded search with
 * short runs), ping RTT idle and during the 1-stream TCP run, CPU time of each peer process
 * (utime + stime from /proc/<pid>/stat over the TCP run) and its RSS. Ratios against wireguard-go
 * and veth are taken within each round, then their median across rounds.
 *
 * Traffic flows from namespace A (iperf3 client, the encrypting peer) to B (iperf3 server, the
 * decrypting peer); in "wgjs ↔ wireguard-go" wgjs is the sender.
 */
import { readFileSync } from 'node:fs';
import { execFileSync, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { exec, genKeyPair, Lab, requireTools, waitUntil, which, type KeyPair } from '../../../node-tun/test/lab/netns.js';
import { BENCH_DIR } from '../run-child.js';
import { progress, skipped, sleep, summarize, type Skipped, type Summary } from '../stats.js';

export const SETUPS = ['veth', 'wg-go ↔ wg-go', 'wgjs ↔ wgjs', 'wgjs ↔ wg-go', 'wgjs ↔ wgjs, portable AEAD'] as const;
export type SetupName = (typeof SETUPS)[number];

/**
 * Who runs on each side, and the WGJS_CRYPTO of the wgjs processes: `host` (node:crypto X25519 and
 * AEAD) for the main pairs, and the last setup the same pair with the zero-allocation portable
 * AEAD (`host-portable-aead`, what `wgjs up` uses by default), measured in the same rounds, to
 * show what the AEAD choice costs on the data path.
 */
const SPECS: Record<SetupName, { a: 'wgjs' | 'wireguard-go' | null; b: 'wgjs' | 'wireguard-go' | null; crypto?: string }> = {
  veth: { a: null, b: null },
  'wg-go ↔ wg-go': { a: 'wireguard-go', b: 'wireguard-go' },
  'wgjs ↔ wgjs': { a: 'wgjs', b: 'wgjs', crypto: 'host' },
  'wgjs ↔ wg-go': { a: 'wgjs', b: 'wireguard-go', crypto: 'host' },
  'wgjs ↔ wgjs, portable AEAD': { a: 'wgjs', b: 'wgjs', crypto: 'host-portable-aead' },
};

const WGJS_BIN = path.resolve(BENCH_DIR, '../node-tun/bin/wgjs.js');
const IPERF_PORT = 5201;
/** UDP payload that fills a 1420-byte tunnel MTU exactly (1392 + 8 + 20). */
const UDP_LEN = 1392;

export interface TunnelOptions {
  repeats: number;
  /** iperf3 -t for the TCP runs, seconds. */
  tcpSeconds: number;
  /** iperf3 -t for each step of the UDP search, seconds. */
  udpSeconds: number;
  /** Most UDP runs per search. */
  udpSteps: number;
  /** Pings for the idle RTT. */
  idlePings: number;
  /** Directory for `node --cpu-prof` profiles of the wgjs processes (none when absent). */
  cpuProfDir?: string;
}

/** Per-process figures over one TCP 1-stream run. */
export interface ProcessSample {
  role: 'sender' | 'receiver';
  impl: 'wgjs' | 'wireguard-go';
  /** CPU time / wall time, percent of one core. */
  cpuPercent: number;
  /** CPU seconds per GB carried. */
  cpuSecondsPerGB: number;
  rssMiB: number;
  peakRssMiB: number;
}

export interface SetupRound {
  round: number;
  tcp1Mbps: number;
  tcp1Retransmits: number;
  tcp2Mbps: number;
  udpMbps: number;
  udpOfferedMbps: number;
  udpSteps: Array<{ offeredMbps: number; receivedMbps: number; lossPercent: number }>;
  pingIdleMs: number;
  pingIdleMaxMs: number;
  pingLoadedMs: number;
  pingLoadedMaxMs: number;
  pingLoadedLoss: number;
  /** Whole-machine CPU busy during the TCP 1-stream run (all cores), percent. */
  systemBusyPercent: number;
  processes: ProcessSample[];
  errors: string[];
}

export interface SetupResult {
  setup: SetupName;
  status: 'ok' | 'skipped' | 'failed';
  reason?: string;
  /** Which implementation runs on each side, and how. */
  detail?: string;
  rounds: SetupRound[];
  tcp1Mbps: Summary;
  tcp2Mbps: Summary;
  udpMbps: Summary;
  pingIdleMs: Summary;
  pingLoadedMs: Summary;
  senderCpuPercent: Summary;
  receiverCpuPercent: Summary;
  senderCpuSecondsPerGB: Summary;
  receiverCpuSecondsPerGB: Summary;
  senderRssMiB: Summary;
  receiverRssMiB: Summary;
  /** Median over rounds of (this setup / wg-go ↔ wg-go in the same round). */
  vsWireguardGo: { tcp1: Summary; tcp2: Summary; udp: Summary };
  /** Median over rounds of (this setup / veth in the same round). */
  vsVeth: { tcp1: Summary; tcp2: Summary; udp: Summary };
}

export interface TunnelSection {
  status: 'ok' | 'partial';
  repeats: number;
  options: TunnelOptions;
  setups: SetupResult[];
  wgjsCrypto: string;
  notes: string[];
}

interface Running {
  name: SetupName;
  a: string;
  b: string;
  target: string;
  /** The peer processes: A (sender) and B (receiver); none for veth. */
  procs: Array<{ role: 'sender' | 'receiver'; impl: 'wgjs' | 'wireguard-go'; proc: ChildProcess }>;
  server: ChildProcess | null;
  /** How each wgjs peer runs (its UDP transport and crypto). */
  detail: string;
}

// ---------------------------------------------------------------------------------------------
// /proc helpers

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** utime + stime of a process (all its threads), seconds. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields after the command: state is field 3, utime field 14, stime field 15.
  return (Number(rest[11]) + Number(rest[12])) / CLK_TCK;
}

function statusKiB(pid: number, key: string): number {
  const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

/** Busy and total jiffies of the whole machine (/proc/stat "cpu" line). */
function systemJiffies(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  const total = v.reduce((a, x) => a + x, 0);
  return { busy: total - idle, total };
}

// ---------------------------------------------------------------------------------------------
// Peers

let ifCounter = 0;
/** Interface names unique on the host (UAPI and control sockets share one directory). */
const ifname = (): string => `wb${process.pid % 100000}x${ifCounter++}`;

function wgjsConf(o: { priv: string; port: number; addr: string; peerPub: string; allowed: string; endpoint?: string }): string {
  return `[Interface]\nPrivateKey = ${o.priv}\nListenPort = ${o.port}\nAddress = ${o.addr}\n\n[Peer]\nPublicKey = ${o.peerPub}\nAllowedIPs = ${o.allowed}\n${o.endpoint ? `Endpoint = ${o.endpoint}\n` : ''}`;
}

/** `wgjs up <file>` in `ns` (as packages/node-tun/test/host.test.ts does), waiting for "is up". */
async function wgjsUp(lab: Lab, ns: string, conf: string, cpuProfDir?: string, crypto?: string): Promise<{ proc: ChildProcess; transport: string }> {
  const name = ifname();
  const file = lab.writeTemp(`${name}.conf`, conf);
  const flags = cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`, `--cpu-prof-name=wgjs-${name}.cpuprofile`] : [];
  const env = crypto ? { ...process.env, WGJS_CRYPTO: crypto } : process.env;
  const proc = lab.spawnIn(ns, process.execPath, [...flags, WGJS_BIN, 'up', file], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  await waitUntil(`wgjs up ${name} in ${ns}`, 20_000, () => {
    if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`wgjs up exited early:\n${out}`);
    return out.includes(`[+] ${name} is up`) ? true : undefined;
  });
  return { proc, transport: /, (\w+) transport/.exec(out)?.[1] ?? 'unknown' };
}

async function setUp(lab: Lab, name: SetupName, keys: KeyPair[], o: TunnelOptions, subnet: number): Promise<Running> {
  const { a, b, link } = await lab.pair();
  const net = `10.${90 + subnet}.0`;
  const [ka, kb] = [keys[0]!, keys[1]!];
  const procs: Running['procs'] = [];
  const spec = SPECS[name];
  if (!spec.a || !spec.b) return { name, a, b, target: link.b.v4, procs, server: null, detail: 'kernel veth, no tunnel' };
  const goPeer = async (ns: string, me: KeyPair, other: KeyPair, addr: string, peerAddr: string, port: number, endpoint?: string): Promise<ChildProcess> => {
    const h = await lab.startWireguardGo(ns, {
      privateKey: me.privateKey, listenPort: port, address4: `${addr}/24`, ifname: ifname(),
      peers: [{ publicKey: other.publicKey, allowedIps: [`${peerAddr}/32`], endpoint }],
    });
    return h.process;
  };
  const transports: string[] = [];
  const jsPeer = async (ns: string, me: KeyPair, other: KeyPair, addr: string, peerAddr: string, port: number, endpoint?: string): Promise<ChildProcess> => {
    const u = await wgjsUp(lab, ns, wgjsConf({ priv: me.privateKey, port, addr: `${addr}/24`, peerPub: other.publicKey, allowed: `${peerAddr}/32`, endpoint }), o.cpuProfDir, spec.crypto);
    transports.push(u.transport);
    return u.proc;
  };
  const aImpl = spec.a;
  const bImpl = spec.b;
  // B listens; A knows B's endpoint and initiates.
  const pb = bImpl === 'wgjs'
    ? await jsPeer(b, kb, ka, `${net}.2`, `${net}.1`, 51821)
    : await goPeer(b, kb, ka, `${net}.2`, `${net}.1`, 51821);
  const pa = aImpl === 'wgjs'
    ? await jsPeer(a, ka, kb, `${net}.1`, `${net}.2`, 51820, `${link.b.v4}:51821`)
    : await goPeer(a, ka, kb, `${net}.1`, `${net}.2`, 51820, `${link.b.v4}:51821`);
  procs.push({ role: 'sender', impl: aImpl, proc: pa }, { role: 'receiver', impl: bImpl, proc: pb });
  const target = `${net}.2`;
  // The first ping triggers the handshake; wait (bounded) until the tunnel carries traffic.
  await waitUntil(`${name}: the tunnel to carry a ping`, 15_000, async () => ((await lab.ping(a, target, { count: 1, timeoutSec: 1 })) === 1 ? true : undefined), 50);
  const detail = `A: ${aImpl}, B: ${bImpl}` + (transports.length ? `; wgjs UDP transport ${[...new Set(transports)].join('/')}, WGJS_CRYPTO=${spec.crypto ?? process.env.WGJS_CRYPTO ?? 'host-portable-aead'}` : '');
  return { name, a, b, target, procs, server: null, detail };
}

async function startServer(lab: Lab, r: Running): Promise<void> {
  if (r.server && r.server.exitCode === null && r.server.signalCode === null) return;
  r.server = lab.spawnIn(r.b, 'iperf3', ['-s', '-p', String(IPERF_PORT)], { stdio: ['ignore', 'pipe', 'pipe'] });
  await sleep(300);
}

async function restartServer(lab: Lab, r: Running): Promise<void> {
  r.server?.kill('SIGKILL');
  r.server = null;
  await sleep(200);
  await startServer(lab, r);
}

/** One iperf3 client run from A to B; retried once (with a fresh server) on failure. */
async function iperf(lab: Lab, r: Running, args: string[], seconds: number): Promise<Record<string, any>> {
  let lastErr: unknown;
  for (let attempt = 0; attempt < 2; attempt++) {
    await startServer(lab, r);
    try {
      const { stdout } = await exec(r.a, 'iperf3', ['-c', r.target, '-p', String(IPERF_PORT), '-J', '-t', String(seconds), ...args], { timeoutMs: (seconds + 20) * 1000 });
      const j = JSON.parse(stdout) as Record<string, any>;
      if (j.error) throw new Error(String(j.error));
      return j;
    } catch (e) {
      lastErr = e;
      await restartServer(lab, r);
    }
  }
  throw lastErr;
}

interface PingStats { avg: number; max: number; loss: number }

/** `ping -c count -i interval` from A to B; RTT avg/max in ms and the loss fraction. */
async function pingStats(r: Running, count: number, interval: number): Promise<PingStats> {
  const args = ['-n', '-q', '-c', String(count), '-i', String(interval), '-w', String(Math.ceil(count * interval + 5)), r.target];
  let out = '';
  try {
    out = (await exec(r.a, 'ping', args, { timeoutMs: (count * interval + 15) * 1000 })).stdout;
  } catch (e) {
    out = String((e as Error).message); // ping exits 1 on loss; the summary is still there
  }
  const rtt = /= ([\d.]+)\/([\d.]+)\/([\d.]+)\/([\d.]+) ms/.exec(out);
  const loss = /([\d.]+)% packet loss/.exec(out);
  return { avg: rtt ? Number(rtt[2]) : NaN, max: rtt ? Number(rtt[3]) : NaN, loss: loss ? Number(loss[1]) / 100 : 1 };
}

async function tcpRun(lab: Lab, r: Running, o: TunnelOptions, streams: number, withPing: boolean): Promise<{ mbps: number; retrans: number; ping?: PingStats; procs: ProcessSample[]; busy: number }> {
  const pids = r.procs.map((p) => p.proc.pid!);
  const cpu0 = pids.map(cpuSeconds);
  const sys0 = systemJiffies();
  const t0 = performance.now();
  // Ping during the transfer: starts after slow start, ends before iperf3 does.
  const pingCount = Math.max(5, Math.floor((o.tcpSeconds - 1) / 0.05));
  const pingP = withPing ? sleep(500).then(() => pingStats(r, pingCount, 0.05)) : Promise.resolve(undefined);
  const j = await iperf(lab, r, streams > 1 ? ['-P', String(streams)] : [], o.tcpSeconds);
  const wall = (performance.now() - t0) / 1000;
  const cpu1 = pids.map(cpuSeconds);
  const sys1 = systemJiffies();
  const ping = await pingP;
  const bytes = Number(j.end.sum_received.bytes);
  const procs = r.procs.map((p, i): ProcessSample => ({
    role: p.role,
    impl: p.impl,
    cpuPercent: ((cpu1[i]! - cpu0[i]!) / wall) * 100,
    cpuSecondsPerGB: (cpu1[i]! - cpu0[i]!) / (bytes / 1e9),
    rssMiB: statusKiB(pids[i]!, 'VmRSS') / 1024,
    peakRssMiB: statusKiB(pids[i]!, 'VmHWM') / 1024,
  }));
  return {
    mbps: Number(j.end.sum_received.bits_per_second) / 1e6,
    retrans: Number(j.end.sum_sent?.retransmits ?? 0),
    ping,
    procs,
    busy: ((sys1.busy - sys0.busy) / Math.max(1, sys1.total - sys0.total)) * 100,
  };
}

/** One UDP run at `mbps` offered: received rate and loss (as the iperf3 server counted them). */
async function udpRun(lab: Lab, r: Running, o: TunnelOptions, mbps: number): Promise<{ offeredMbps: number; receivedMbps: number; lossPercent: number }> {
  const j = await iperf(lab, r, ['-u', '-b', `${Math.round(mbps)}M`, '-l', String(UDP_LEN)], o.udpSeconds);
  const recv = j.end.sum_received ?? j.end.sum;
  const lost = Number(recv.lost_percent ?? j.end.sum.lost_percent ?? 100);
  return { offeredMbps: mbps, receivedMbps: Number(recv.bits_per_second) / 1e6, lossPercent: lost };
}

/**
 * The highest offered rate with < 1 % loss: from `start`, halve until a run passes (or grow ×1.6
 * until one fails), then bisect (geometric mean) between the best passing and the lowest failing
 * rate; at most `o.udpSteps` runs. Returns the passing run with the highest received rate.
 */
async function udpSearch(lab: Lab, r: Running, o: TunnelOptions, start: number): Promise<{ best: { offeredMbps: number; receivedMbps: number } | null; steps: SetupRound['udpSteps'] }> {
  const steps: SetupRound['udpSteps'] = [];
  let good = 0;
  let bad = Infinity;
  let rate = Math.max(10, start);
  for (let i = 0; i < o.udpSteps; i++) {
    const s = await udpRun(lab, r, o, rate);
    steps.push(s);
    if (s.lossPercent < 1) good = Math.max(good, rate);
    else bad = Math.min(bad, rate);
    if (bad === Infinity) rate = rate * 1.6;
    else if (good === 0) rate = rate / 2;
    else if (bad / good < 1.06) break;
    else rate = Math.sqrt(good * bad);
    if (rate < 5) break;
  }
  const passing = steps.filter((s) => s.lossPercent < 1);
  if (passing.length === 0) return { best: null, steps };
  const best = passing.reduce((x, y) => (y.receivedMbps > x.receivedMbps ? y : x));
  return { best: { offeredMbps: best.offeredMbps, receivedMbps: best.receivedMbps }, steps };
}

async function measureRound(lab: Lab, r: Running, o: TunnelOptions, round: number, udpStart: number): Promise<SetupRound> {
  const errors: string[] = [];
  const nan = NaN;
  const out: SetupRound = {
    round, tcp1Mbps: nan, tcp1Retransmits: nan, tcp2Mbps: nan, udpMbps: nan, udpOfferedMbps: nan, udpSteps: [],
    pingIdleMs: nan, pingIdleMaxMs: nan, pingLoadedMs: nan, pingLoadedMaxMs: nan, pingLoadedLoss: nan, systemBusyPercent: nan, processes: [], errors,
  };
  const attempt = async (what: string, f: () => Promise<void>): Promise<void> => {
    try {
      await f();
    } catch (e) {
      errors.push(`${what}: ${(e as Error).message.slice(0, 300)}`);
      progress(`tunnels: ${r.name}: ${what} failed: ${(e as Error).message.slice(0, 200)}`);
    }
  };
  await attempt('ping idle', async () => {
    const p = await pingStats(r, o.idlePings, 0.02);
    out.pingIdleMs = p.avg;
    out.pingIdleMaxMs = p.max;
  });
  await attempt('TCP 1 stream', async () => {
    const t = await tcpRun(lab, r, o, 1, true);
    out.tcp1Mbps = t.mbps;
    out.tcp1Retransmits = t.retrans;
    out.processes = t.procs;
    out.systemBusyPercent = t.busy;
    if (t.ping) {
      out.pingLoadedMs = t.ping.avg;
      out.pingLoadedMaxMs = t.ping.max;
      out.pingLoadedLoss = t.ping.loss;
    }
  });
  await attempt('TCP 2 streams', async () => {
    out.tcp2Mbps = (await tcpRun(lab, r, o, 2, false)).mbps;
  });
  await attempt('UDP rate search', async () => {
    // The previous round's result for this setup, else the TCP rate (capped: iperf3's own UDP
    // path tops out far below veth's TCP rate).
    const start = udpStart > 0 ? udpStart * 1.05 : Math.min(Number.isFinite(out.tcp1Mbps) ? out.tcp1Mbps : 200, 1000);
    const s = await udpSearch(lab, r, o, start);
    out.udpSteps = s.steps;
    out.udpMbps = s.best ? s.best.receivedMbps : 0;
    out.udpOfferedMbps = s.best ? s.best.offeredMbps : 0;
  });
  return out;
}

function ratio(rounds: Map<SetupName, SetupRound[]>, name: SetupName, ref: SetupName, key: 'tcp1Mbps' | 'tcp2Mbps' | 'udpMbps'): Summary {
  const mine = rounds.get(name) ?? [];
  const theirs = rounds.get(ref) ?? [];
  const xs: number[] = [];
  for (const m of mine) {
    const t = theirs.find((x) => x.round === m.round);
    if (t && Number.isFinite(m[key]) && Number.isFinite(t[key]) && t[key] > 0) xs.push(m[key] / t[key]);
  }
  return summarize(xs);
}

/** Capability check: null when the section can run at all, else the reason. */
export function tunnelsUnavailable(): string | null {
  return requireTools('iperf3', 'ping');
}

export async function runTunnels(o: TunnelOptions): Promise<TunnelSection | Skipped> {
  const base = tunnelsUnavailable();
  if (base) return skipped('tunnels', `${base} (needs root, network namespaces, /dev/net/tun, ip, iperf3 and ping)`);
  const noGo = requireTools('wireguard-go', 'wg');
  let noWgjs: string | null = null;
  try {
    const { loadNative, nativeLoadError } = await import('@wgjs/node-tun/native');
    if (!loadNative()) noWgjs = `the native addon (TUN) did not load: ${nativeLoadError() ?? 'unknown error'}`;
  } catch (e) {
    noWgjs = `cannot load the native addon: ${(e as Error).message}`;
  }
  const lab = new Lab();
  const results = new Map<SetupName, SetupResult>();
  const rounds = new Map<SetupName, SetupRound[]>();
  const running: Running[] = [];
  const crypto = 'host';
  try {
    // Keys with `wg genkey` when wg exists (wgjs's own genkey otherwise).
    const keys: KeyPair[] = [];
    for (let i = 0; i < 2; i++) keys.push(which('wg') ? await genKeyPair() : await wgjsKeyPair());
    let subnet = 0;
    for (const name of SETUPS) {
      const needsGo = SPECS[name].a === 'wireguard-go' || SPECS[name].b === 'wireguard-go';
      const needsJs = SPECS[name].a === 'wgjs' || SPECS[name].b === 'wgjs';
      const why = needsGo && noGo ? `${noGo} (wireguard-go and wg are needed)` : needsJs && noWgjs ? noWgjs : null;
      if (why) {
        skipped(`tunnels: ${name}`, why);
        results.set(name, emptyResult(name, 'skipped', why));
        continue;
      }
      progress(`tunnels: bringing up ${name}`);
      try {
        running.push(await setUp(lab, name, keys, o, subnet++));
      } catch (e) {
        const msg = (e as Error).message.slice(0, 500);
        progress(`tunnels: ${name} failed to come up: ${msg}`);
        results.set(name, emptyResult(name, 'failed', msg));
      }
    }
    for (let round = 0; round < o.repeats; round++) {
      for (let k = 0; k < running.length; k++) {
        const r = running[(k + round) % running.length]!;
        progress(`tunnels: round ${round + 1}/${o.repeats}: ${r.name} (TCP ×1 ${o.tcpSeconds} s with ping, TCP ×2, UDP search ≤ ${o.udpSteps} × ${o.udpSeconds} s)`);
        const prev = rounds.get(r.name) ?? [];
        const last = prev.length ? prev[prev.length - 1]!.udpOfferedMbps : 0;
        const res = await measureRound(lab, r, o, round, Number.isFinite(last) ? last : 0);
        rounds.set(r.name, [...prev, res]);
        progress(`tunnels:   ${r.name}: TCP ${res.tcp1Mbps.toFixed(0)} / ${res.tcp2Mbps.toFixed(0)} Mbit/s (1/2 streams), UDP ${res.udpMbps.toFixed(0)} Mbit/s < 1 % loss, ping ${res.pingIdleMs.toFixed(3)} ms idle / ${res.pingLoadedMs.toFixed(2)} ms loaded`);
      }
    }
  } finally {
    progress('tunnels: cleaning up namespaces and processes');
    // wgjs writes its CPU profile on a clean exit: SIGTERM first (Lab.cleanup does), then the rest.
    await lab.cleanup();
  }
  for (const r of running) {
    const rs = rounds.get(r.name) ?? [];
    const pick = (f: (x: SetupRound) => number): Summary => summarize(rs.map(f));
    const proc = (role: 'sender' | 'receiver', f: (p: ProcessSample) => number): Summary =>
      summarize(rs.map((x) => { const p = x.processes.find((q) => q.role === role); return p ? f(p) : NaN; }));
    const failedAll = rs.every((x) => !Number.isFinite(x.tcp1Mbps));
    results.set(r.name, {
      setup: r.name,
      detail: r.detail,
      status: failedAll ? 'failed' : 'ok',
      reason: failedAll ? rs.flatMap((x) => x.errors).join('; ').slice(0, 500) : undefined,
      rounds: rs,
      tcp1Mbps: pick((x) => x.tcp1Mbps),
      tcp2Mbps: pick((x) => x.tcp2Mbps),
      udpMbps: pick((x) => x.udpMbps),
      pingIdleMs: pick((x) => x.pingIdleMs),
      pingLoadedMs: pick((x) => x.pingLoadedMs),
      senderCpuPercent: proc('sender', (p) => p.cpuPercent),
      receiverCpuPercent: proc('receiver', (p) => p.cpuPercent),
      senderCpuSecondsPerGB: proc('sender', (p) => p.cpuSecondsPerGB),
      receiverCpuSecondsPerGB: proc('receiver', (p) => p.cpuSecondsPerGB),
      senderRssMiB: proc('sender', (p) => p.rssMiB),
      receiverRssMiB: proc('receiver', (p) => p.rssMiB),
      vsWireguardGo: { tcp1: ratio(rounds, r.name, 'wg-go ↔ wg-go', 'tcp1Mbps'), tcp2: ratio(rounds, r.name, 'wg-go ↔ wg-go', 'tcp2Mbps'), udp: ratio(rounds, r.name, 'wg-go ↔ wg-go', 'udpMbps') },
      vsVeth: { tcp1: ratio(rounds, r.name, 'veth', 'tcp1Mbps'), tcp2: ratio(rounds, r.name, 'veth', 'tcp2Mbps'), udp: ratio(rounds, r.name, 'veth', 'udpMbps') },
    });
  }
  const setups = SETUPS.map((n) => results.get(n)!).filter(Boolean);
  return {
    status: setups.every((s) => s.status === 'ok') ? 'ok' : 'partial',
    repeats: o.repeats,
    options: o,
    setups,
    wgjsCrypto: crypto,
    notes: [
      'Each setup is its own pair of namespaces joined by a veth; iperf3 runs A → B through the tunnel (A encrypts, B decrypts); all setups are up at once and measured round by round, the setup order rotated each round.',
      `UDP: the highest offered rate (iperf3 -u -l ${UDP_LEN}) whose loss stays below 1 %: starting from the setup's previous result (first round: its TCP rate, at most 1 Gbit/s), halving until a run passes or ×1.6 until one fails, then bisecting; ≤ ${o.udpSteps} runs of ${o.udpSeconds} s. The figure is the rate the iperf3 server received. iperf3 is single-threaded and shares the cores, so on veth the iperf3 receiver is the limit.`,
      'Ping: ICMP echo A → B through the tunnel, every 20 ms idle, and every 50 ms during the 1-stream TCP run (under load).',
      'CPU: utime + stime of each peer process (all threads) over the TCP 1-stream run, as % of one core and as CPU seconds per GB carried; kernel work done in softirq context on behalf of a process is not always charged to it. RSS: VmRSS at the end of that run.',
      `wgjs runs \`wgjs up\` from a wg-quick file (WGJS_CRYPTO=${crypto}: node:crypto X25519 and ChaCha20-Poly1305, native recvmmsg/sendmmsg UDP); "wgjs ↔ wgjs, portable AEAD" is the same pair with WGJS_CRYPTO=host-portable-aead (the zero-allocation portable ChaCha20-Poly1305, wgjs up's default). wireguard-go runs with GOMAXPROCS unset (all cores).`,
    ],
  };
}

async function wgjsKeyPair(): Promise<KeyPair> {
  const privateKey = (await exec(null, process.execPath, [WGJS_BIN, 'genkey'])).stdout.trim();
  const publicKey = (await exec(null, process.execPath, [WGJS_BIN, 'pubkey'], { input: `${privateKey}\n` })).stdout.trim();
  return { privateKey, publicKey };
}

function emptyResult(setup: SetupName, status: 'skipped' | 'failed', reason: string): SetupResult {
  const e = summarize([]);
  return {
    setup, status, reason, rounds: [], tcp1Mbps: e, tcp2Mbps: e, udpMbps: e, pingIdleMs: e, pingLoadedMs: e,
    senderCpuPercent: e, receiverCpuPercent: e, senderCpuSecondsPerGB: e, receiverCpuSecondsPerGB: e, senderRssMiB: e, receiverRssMiB: e,
    vsWireguardGo: { tcp1: e, tcp2: e, udp: e }, vsVeth: { tcp1: e, tcp2: e, udp: e },
  };
}
