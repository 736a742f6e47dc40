/**
 * Network-namespace test lab (DESIGN.md section 6): namespaces, veth links, a NAT router,
 * wireguard-go peers driven by `wg`, and small traffic helpers, for vitest tests run as root.
 *
 * Everything a {@link Lab} creates is named `wgjs-<pid>-<n>` (namespaces) or `wg<pid>-<n>`
 * (wireguard-go interfaces, whose UAPI sockets share one host directory), so concurrent runs
 * never collide, and everything is torn down by {@link Lab.cleanup}, on process exit, and on
 * SIGINT/SIGTERM. Tests should still call `afterAll(() => lab.cleanup())`.
 *
 * Every wait here is bounded and fails with a message naming what it waited for.
 */
import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { accessSync, constants as fsConstants, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMainThread } from 'node:worker_threads';

// ---------------------------------------------------------------------------------------------
// Capability checks

/** Binaries the lab knows how to look for. */
export type LabTool =
  | 'ip'
  | 'wireguard-go'
  | 'wg'
  | 'iperf3'
  | 'nft'
  | 'ping'
  | 'socat'
  | 'conntrack'
  | 'tcpdump';

const ALL_TOOLS: readonly LabTool[] = [
  'ip',
  'wireguard-go',
  'wg',
  'iperf3',
  'nft',
  'ping',
  'socat',
  'conntrack',
  'tcpdump',
];

/** Result of {@link labCapability}. `ok` covers the base needs (root, netns, TUN, `ip`). */
export interface LabCapability {
  ok: boolean;
  reason?: string;
  /** Which binaries were found (absolute path) or not (null). */
  tools: Record<LabTool, string | null>;
}

// sbin directories are often missing from PATH in CI shells, yet that is where ip/nft live.
const EXTRA_BIN_DIRS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

const whichCache = new Map<string, string | null>();

/** Absolute path of an executable found on PATH or in the sbin directories, or null. */
export function which(name: string): string | null {
  if (name.includes('/')) return name;
  const cached = whichCache.get(name);
  if (cached !== undefined) return cached;
  const dirs = (process.env.PATH ?? '').split(':').filter((d) => d !== '').concat(EXTRA_BIN_DIRS);
  let found: string | null = null;
  for (const dir of dirs) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, fsConstants.X_OK);
      found = candidate;
      break;
    } catch {
      // not here
    }
  }
  whichCache.set(name, found);
  return found;
}

let capabilityCache: LabCapability | null = null;

/**
 * Whether this machine can run namespace tests: Linux, root, `/dev/net/tun`, `ip`, and a
 * working `ip netns add`/`del` (probed once, synchronously, so `describe.skipIf` can use it).
 * Also reports which optional binaries exist.
 */
export function labCapability(): LabCapability {
  if (capabilityCache) return capabilityCache;
  const tools = {} as Record<LabTool, string | null>;
  for (const t of ALL_TOOLS) tools[t] = which(t);
  let reason: string | undefined;
  if (process.platform !== 'linux') reason = `platform is ${process.platform}, not linux`;
  else if (typeof process.getuid !== 'function' || process.getuid() !== 0) reason = 'not running as root';
  else if (!existsSync('/dev/net/tun')) reason = '/dev/net/tun does not exist';
  else if (!tools.ip) reason = '`ip` (iproute2) not found';
  else {
    const probe = `wgjs-${process.pid}-probe`;
    try {
      execFileSync(tools.ip, ['netns', 'add', probe], { stdio: 'pipe', timeout: 10_000 });
      execFileSync(tools.ip, ['netns', 'del', probe], { stdio: 'pipe', timeout: 10_000 });
    } catch (err) {
      reason = `\`ip netns add\` does not work: ${errorText(err)}`;
    }
  }
  capabilityCache = reason === undefined ? { ok: true, tools } : { ok: false, reason, tools };
  return capabilityCache;
}

/**
 * Null when the base capability is there and every named binary exists; otherwise a reason
 * suitable for `describe.skipIf` plus a `console.warn`.
 */
export function requireTools(...names: LabTool[]): string | null {
  const cap = labCapability();
  if (!cap.ok) return cap.reason ?? 'lab capability missing';
  const missing = names.filter((n) => !cap.tools[n]);
  if (missing.length > 0) return `missing binaries: ${missing.join(', ')}`;
  return null;
}

// ---------------------------------------------------------------------------------------------
// Process helpers

/** Output of a successful {@link exec}. */
export interface ExecResult {
  stdout: string;
  stderr: string;
}

/** Options for {@link exec}. */
export interface ExecOptions {
  /** Written to the child's stdin, which is then closed. */
  input?: string;
  /** Kill the command (SIGKILL) and reject after this long. Default 20 s. */
  timeoutMs?: number;
  /** Extra environment variables. */
  env?: NodeJS.ProcessEnv;
}

function errorText(err: unknown): string {
  if (err && typeof err === 'object') {
    const e = err as { stderr?: Buffer | string; message?: string };
    const stderr = e.stderr ? e.stderr.toString().trim() : '';
    if (stderr) return stderr;
    if (e.message) return e.message;
  }
  return String(err);
}

function tail(text: string, max: number): string {
  return text.length > max ? `…${text.slice(text.length - max)}` : text;
}

/** argv to run `cmd` inside `ns` (or on the host when ns is null). */
function nsArgv(ns: string | null, cmd: string, args: readonly string[]): [string, string[]] {
  const bin = which(cmd) ?? cmd;
  if (ns === null) return [bin, [...args]];
  return [which('ip') ?? 'ip', ['netns', 'exec', ns, bin, ...args]];
}

function describeCmd(ns: string | null, cmd: string, args: readonly string[]): string {
  return `${ns ? `[${ns}] ` : ''}${cmd} ${args.join(' ')}`.trim();
}

/**
 * Run `cmd args` inside namespace `ns` (null: the host) and resolve with its output.
 * Rejects with the command line, exit status and stderr when it fails or times out.
 */
export function exec(
  ns: string | null,
  cmd: string,
  args: readonly string[] = [],
  opts: ExecOptions = {},
): Promise<ExecResult> {
  const [file, argv] = nsArgv(ns, cmd, args);
  const what = describeCmd(ns, cmd, args);
  const timeoutMs = opts.timeoutMs ?? 20_000;
  return new Promise((resolve, reject) => {
    const child = spawn(file, argv, {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: opts.env ? { ...process.env, ...opts.env } : process.env,
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`${what}: cannot start: ${err.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) reject(new Error(`${what}: timed out after ${timeoutMs} ms; stderr: ${tail(stderr.trim(), 2000)}`));
      else if (code === 0) resolve({ stdout, stderr });
      else
        reject(
          new Error(
            `${what}: failed (${code !== null ? `exit code ${code}` : `signal ${signal}`}): ${tail(stderr.trim() || stdout.trim(), 2000)}`,
          ),
        );
    });
    child.stdin.on('error', () => {
      // The command may exit without reading stdin; its exit status tells the story.
    });
    child.stdin.end(opts.input ?? '');
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Poll `check` every `intervalMs` until it returns a non-undefined value, or throw after timeoutMs. */
export async function waitUntil<T>(
  what: string,
  timeoutMs: number,
  check: () => T | undefined | Promise<T | undefined>,
  intervalMs = 20,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** Resolve true once the child has exited, false if it has not after `ms`. */
function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (exited(child)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const onExit = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    const timer = setTimeout(() => {
      child.removeListener('exit', onExit);
      resolve(exited(child));
    }, ms);
    child.once('exit', onExit);
  });
}

/** SIGTERM, wait up to termMs, then SIGKILL and wait up to killMs. Resolves whether it exited. */
async function terminate(child: ChildProcess, termMs = 2000, killMs = 2000): Promise<boolean> {
  if (exited(child)) return true;
  child.kill('SIGTERM');
  if (await waitExit(child, termMs)) return true;
  child.kill('SIGKILL');
  return waitExit(child, killMs);
}

// Output captured from spawned processes (bounded), for error messages.
const OUTPUT_LIMIT = 64 * 1024;
const outputs = new WeakMap<ChildProcess, { text: string }>();

/** Last 64 KiB of stdout+stderr captured from a process started by {@link Lab.spawnIn}. */
export function processOutput(child: ChildProcess): string {
  return outputs.get(child)?.text ?? '';
}

// ---------------------------------------------------------------------------------------------
// Keys

/** A WireGuard key pair as base64 strings. */
export interface KeyPair {
  privateKey: string;
  publicKey: string;
}

/** Generate a key pair with `wg genkey` / `wg pubkey`. */
export async function genKeyPair(): Promise<KeyPair> {
  const privateKey = (await exec(null, 'wg', ['genkey'])).stdout.trim();
  const publicKey = (await exec(null, 'wg', ['pubkey'], { input: `${privateKey}\n` })).stdout.trim();
  return { privateKey, publicKey };
}

/** Generate a preshared key with `wg genpsk`. */
export async function genPresharedKey(): Promise<string> {
  return (await exec(null, 'wg', ['genpsk'])).stdout.trim();
}

/** Public key of a base64 private key, via `wg pubkey`. */
export async function publicKeyOf(privateKey: string): Promise<string> {
  return (await exec(null, 'wg', ['pubkey'], { input: `${privateKey}\n` })).stdout.trim();
}

// ---------------------------------------------------------------------------------------------
// wg show dump

/** One peer line of `wg show <iface> dump`. */
export interface WgPeerDump {
  publicKey: string;
  /** null when none is set. */
  presharedKey: string | null;
  /** `host:port` / `[v6]:port`, or null before the peer's address is known. */
  endpoint: string | null;
  allowedIps: string[];
  /** Unix seconds of the latest handshake; 0 means never. */
  latestHandshake: number;
  rxBytes: number;
  txBytes: number;
  /** Seconds; 0 means off. */
  persistentKeepalive: number;
}

/** Parsed `wg show <iface> dump`. */
export interface WgDump {
  privateKey: string;
  publicKey: string;
  listenPort: number;
  fwmark: string;
  peers: WgPeerDump[];
}

/** Parse the output of `wg show <iface> dump` (tab-separated; first line is the interface). */
export function parseWgDump(text: string): WgDump {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  if (lines.length === 0) throw new Error('empty `wg show dump` output');
  const head = lines[0]!.split('\t');
  if (head.length < 4) throw new Error(`unexpected \`wg show dump\` interface line: ${lines[0]}`);
  const none = (s: string | undefined): string | null => (s === undefined || s === '(none)' || s === 'off' ? null : s);
  const peers = lines.slice(1).map((line): WgPeerDump => {
    const f = line.split('\t');
    if (f.length < 8) throw new Error(`unexpected \`wg show dump\` peer line: ${line}`);
    const ips = none(f[3]);
    return {
      publicKey: f[0]!,
      presharedKey: none(f[1]),
      endpoint: none(f[2]),
      allowedIps: ips ? ips.split(',') : [],
      latestHandshake: Number(f[4]),
      rxBytes: Number(f[5]),
      txBytes: Number(f[6]),
      persistentKeepalive: f[7] === 'off' ? 0 : Number(f[7]),
    };
  });
  return {
    privateKey: head[0]!,
    publicKey: head[1]!,
    listenPort: Number(head[2]),
    fwmark: head[3]!,
    peers,
  };
}

// ---------------------------------------------------------------------------------------------
// ping

/** Options for {@link ping}. */
export interface PingOptions {
  /** Echo requests to send. Default 3. */
  count?: number;
  /** Overall deadline in seconds (ping's -w). Default 5. */
  timeoutSec?: number;
  /** Seconds between requests. Default 0.2 (allowed as root). */
  intervalSec?: number;
}

/**
 * Ping `addr` (IPv4 or IPv6) from namespace `ns`; resolves with the number of replies received
 * (0 when unreachable, never rejects for packet loss).
 */
export async function ping(ns: string, addr: string, opts: PingOptions = {}): Promise<number> {
  const count = opts.count ?? 3;
  const timeoutSec = opts.timeoutSec ?? 5;
  const args = ['-n', '-q', '-c', String(count), '-w', String(timeoutSec), '-i', String(opts.intervalSec ?? 0.2)];
  if (addr.includes(':')) args.unshift('-6');
  args.push(addr);
  const [file, argv] = nsArgv(ns, 'ping', args);
  // ping exits 1 on loss, which is an answer here, not an error: parse its summary instead.
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (text += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (text += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), (timeoutSec + 5) * 1000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', () => {
      clearTimeout(timer);
      resolve(text);
    });
  });
  const m = /(\d+) (?:packets )?received/.exec(out);
  // No route at all: ping fails at connect() before printing a summary.
  if (!m && /Network is unreachable/i.test(out)) return 0;
  if (!m) throw new Error(`${describeCmd(ns, 'ping', args)}: no summary in output: ${tail(out.trim(), 1000)}`);
  return Number(m[1]);
}

// ---------------------------------------------------------------------------------------------
// Lab

/** One end of a veth link. */
export interface LinkEnd {
  ns: string;
  ifname: string;
  /** e.g. 10.77.3.1 */
  v4: string;
  /** e.g. fd77:3::1 */
  v6: string;
}

/** A veth link between two namespaces on 10.77.<subnet>.0/24 and fd77:<subnet>::/64. */
export interface VethLink {
  subnet: number;
  a: LinkEnd;
  b: LinkEnd;
}

/** Options for {@link Lab.startWireguardGo}. */
export interface WgPeerOptions {
  publicKey: string;
  /** Base64 preshared key; written to a 0600 temp file for `wg set`. */
  presharedKey?: string;
  allowedIps: string[];
  /** `host:port` or `[v6]:port`. */
  endpoint?: string;
  persistentKeepalive?: number;
}

/** Options for {@link Lab.startWireguardGo}. */
export interface WireguardGoOptions {
  privateKey: string;
  listenPort?: number;
  /** Interface name (≤ 15 chars, unique on the host because UAPI sockets are shared). Default `wg<pid>-<n>`. */
  ifname?: string;
  /** Tunnel address with prefix, e.g. 10.99.0.1/24. */
  address4?: string;
  /** Tunnel address with prefix, e.g. fd99::1/64 (added with nodad). */
  address6?: string;
  peers?: WgPeerOptions[];
  mtu?: number;
  /** wireguard-go LOG_LEVEL. Default 'error'. */
  logLevel?: 'verbose' | 'error' | 'silent';
  /** Bound on waiting for the UAPI socket. Default 5000 ms. */
  startTimeoutMs?: number;
}

/** A running wireguard-go started by {@link Lab.startWireguardGo}. */
export interface WgHandle {
  ns: string;
  ifname: string;
  publicKey: string;
  process: ChildProcess;
  /** Parsed `wg show <iface> dump`. */
  show(): Promise<WgDump>;
  /** Run `wg set <iface> ...args`. */
  set(args: readonly string[]): Promise<void>;
  /** Wait until the given peer (default: the first) has a handshake newer than `after` (unix s, default 0). */
  waitForHandshake(opts?: { peer?: string; after?: number; timeoutMs?: number }): Promise<WgPeerDump>;
  /** Captured stdout/stderr of wireguard-go. */
  output(): string;
  /** SIGTERM (then SIGKILL), bounded; removes a leftover UAPI socket. */
  stop(): Promise<void>;
}

/** The three-namespace NAT topology made by {@link Lab.natTopology}. */
export interface NatLab {
  device: string;
  router: string;
  server: string;
  /** router (a, .1) — device (b, .2); the device's default routes point at the router. */
  lan: VethLink;
  /** router (a, .1) — server (b, .2); the server has no route to the LAN, so only masqueraded traffic returns. */
  wan: VethLink;
  /** Set the router's `net.netfilter.nf_conntrack_udp_timeout` and `_stream` (seconds). Existing entries keep their timer until their next packet: flush to apply at once. */
  setUdpTimeouts(timeoutSec: number, streamSec?: number): Promise<void>;
  getUdpTimeouts(): Promise<{ timeout: number; stream: number }>;
  /** `conntrack -F` in the router. */
  flushConntrack(): Promise<void>;
  /** `conntrack -L -p udp` lines in the router. */
  conntrackUdp(): Promise<string[]>;
  /**
   * The router's named nftables counters: always `up` (LAN → WAN) and `down` (WAN → LAN), counted
   * on the forward chain (what passes the NAT), plus any added with {@link addCounter}.
   */
  counters(): Promise<Record<string, NftCounter>>;
  /**
   * Add a named counter fed by a rule inserted at the top of the forward chain (so it also sees
   * packets a later rule drops): `<direction> <match> counter name <name>`.
   */
  addCounter(name: string, dir: 'up' | 'down', match?: string): Promise<void>;
  /** Append `<direction> <rule>` to the forward chain, e.g. a drop rule; resolves with its handle. */
  addForwardRule(dir: 'up' | 'down', rule: string): Promise<number>;
  /** Delete a rule added by {@link addForwardRule}. */
  deleteForwardRule(handle: number): Promise<void>;
  /**
   * Give the device another LAN address (e.g. host 3: 10.77.<subnet>.3), as after a modem
   * re-attach: the old address goes, the default route is re-added; `lan.b.v4` is updated.
   */
  setDeviceAddress(host: number): Promise<string>;
}

/** One nftables counter. */
export interface NftCounter {
  packets: number;
  bytes: number;
}

/** Options for {@link Lab.natTopology}. */
export interface NatTopologyOptions {
  /**
   * Source-port allocation of the masquerade: 'default' keeps the device's port when it is free,
   * 'random' / 'fully-random' pick a random one for every new mapping (as carrier-grade NATs do).
   */
  masquerade?: 'default' | 'random' | 'fully-random';
}

/** A UDP receiver started by {@link Lab.udpReceiver}. */
export interface UdpReceiver {
  messages: Array<{ from: string; port: number; data: Buffer }>;
  /** Resolve once at least n messages have arrived, or throw after timeoutMs (default 5000). */
  waitFor(n: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

const UDP_RECEIVER_JS = `
const dgram = require('node:dgram');
const [type, port, host, echo] = process.argv.slice(1);
const s = dgram.createSocket({ type, ipv6Only: type === 'udp6' });
s.on('message', (m, r) => {
  process.stdout.write(JSON.stringify({ from: r.address, port: r.port, data: m.toString('base64') }) + '\\n');
  if (echo === '1') s.send(m, r.port, r.address);
});
s.on('error', (e) => { process.stderr.write(String(e) + '\\n'); process.exit(1); });
s.bind(Number(port), host, () => process.stdout.write('READY\\n'));
`;

const UDP_SEND_JS = `
const dgram = require('node:dgram');
const [type, host, port, b64, srcPort] = process.argv.slice(1);
const s = dgram.createSocket({ type, ipv6Only: type === 'udp6' });
const go = () => s.send(Buffer.from(b64, 'base64'), Number(port), host, (e) => { if (e) { console.error(String(e)); process.exit(1); } s.close(); });
if (srcPort !== '0') s.bind(Number(srcPort), go); else go();
`;

// Module-wide counters so several Labs in one process never reuse a name.
let nsCounter = 0;
let ifCounter = 0;
let subnetCounter = 0;

const liveLabs = new Set<Lab>();
let exitHooksInstalled = false;

function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  process.on('exit', () => {
    for (const lab of liveLabs) lab.cleanupSync();
  });
  // Signals reach only the main thread; in a worker thread 'exit' is all we get.
  if (!isMainThread) return;
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const handler = (): void => {
      for (const lab of liveLabs) lab.cleanupSync();
      process.removeListener(sig, handler);
      // Keep the default "die by signal" behaviour unless someone else handles it.
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
    };
    process.on(sig, handler);
  }
}

/** Namespaces named `wgjs-<pid>-*` that currently exist (default pid: this process). */
export function listLabNamespaces(pid: number = process.pid): string[] {
  const ip = which('ip');
  if (!ip) return [];
  const out = execFileSync(ip, ['netns', 'list'], { encoding: 'utf8', timeout: 10_000 });
  const prefix = `wgjs-${pid}-`;
  return out
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((n) => n.startsWith(prefix));
}

/**
 * Remove `wgjs-<pid>-*` namespaces whose creating process is gone (left by a run that was
 * SIGKILLed), killing the processes still inside them. Opt-in: call it from a setup script.
 */
export function reapStaleNamespaces(): string[] {
  const ip = which('ip');
  if (!ip) return [];
  const out = execFileSync(ip, ['netns', 'list'], { encoding: 'utf8', timeout: 10_000 });
  const reaped: string[] = [];
  for (const line of out.split('\n')) {
    const name = line.trim().split(/\s+/)[0] ?? '';
    const m = /^wgjs-(\d+)-/.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid) continue;
    try {
      process.kill(pid, 0);
      continue; // creator still alive
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') continue;
    }
    killNamespacePidsSync(ip, name);
    try {
      execFileSync(ip, ['netns', 'del', name], { stdio: 'pipe', timeout: 10_000 });
      reaped.push(name);
    } catch {
      // best effort
    }
  }
  return reaped;
}

function killNamespacePidsSync(ip: string, ns: string): void {
  let pids: number[] = [];
  try {
    pids = execFileSync(ip, ['netns', 'pids', ns], { encoding: 'utf8', timeout: 10_000 })
      .split(/\s+/)
      .filter((s) => s !== '')
      .map(Number);
  } catch {
    return;
  }
  for (const pid of pids) {
    if (pid === process.pid) continue;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/**
 * Owns namespaces, processes and temp files for one test file. Create one per file, call
 * `afterAll(() => lab.cleanup())`. May be reused after cleanup.
 */
export class Lab {
  private namespaces: string[] = [];
  private children = new Set<ChildProcess>();
  private ifnames: string[] = [];
  private ifCountPerNs = new Map<string, number>();
  private tmp: string | null = null;

  /** Namespaces created by this lab that are still alive. */
  get ownNamespaces(): readonly string[] {
    return this.namespaces;
  }

  /** A private temp directory (mode 0700), created on first use and removed by cleanup. */
  get tmpDir(): string {
    if (!this.tmp) {
      liveLabs.add(this);
      installExitHooks();
      this.tmp = mkdtempSync(join(tmpdir(), `wgjs-lab-${process.pid}-`));
    }
    return this.tmp;
  }

  /** Write a 0600 file in {@link tmpDir} and return its path. */
  writeTemp(name: string, content: string): string {
    const path = join(this.tmpDir, name);
    writeFileSync(path, content, { mode: 0o600 });
    return path;
  }

  /** Create a namespace `wgjs-<pid>-<n>` with loopback up. */
  async addNamespace(): Promise<string> {
    liveLabs.add(this);
    installExitHooks();
    const name = `wgjs-${process.pid}-${++nsCounter}`;
    await exec(null, 'ip', ['netns', 'add', name]);
    this.namespaces.push(name);
    await exec(null, 'ip', ['-n', name, 'link', 'set', 'lo', 'up']);
    return name;
  }

  /** Run a command in a namespace (see {@link exec}). */
  exec(ns: string | null, cmd: string, args: readonly string[] = [], opts?: ExecOptions): Promise<ExecResult> {
    return exec(ns, cmd, args, opts);
  }

  /** Ping from a namespace (see {@link ping}). */
  ping(ns: string, addr: string, opts?: PingOptions): Promise<number> {
    return ping(ns, addr, opts);
  }

  /** Read (value omitted) or write a sysctl inside `ns`, via /proc/sys (no procps needed). */
  async sysctl(ns: string, key: string, value?: string | number): Promise<string> {
    const path = `/proc/sys/${key.replace(/\./g, '/')}`;
    if (value !== undefined) {
      // /proc/sys/net reflects the netns of the process that opens it, hence sh inside ns.
      await exec(ns, 'sh', ['-c', 'printf "%s\\n" "$1" > "$2"', 'sh', String(value), path]);
    }
    return (await exec(ns, 'cat', [path])).stdout.trim();
  }

  /**
   * Connect two namespaces with a veth pair on 10.77.<subnet>.0/24 and fd77:<subnet>::/64
   * (a gets .1/::1, b gets .2/::2). Resolves once both ends are up and reachable.
   */
  async connect(a: string, b: string, opts: { subnet?: number; mtu?: number } = {}): Promise<VethLink> {
    const subnet = opts.subnet ?? (subnetCounter++ % 250) + 1;
    const ifA = this.nextIfname(a);
    const ifB = this.nextIfname(b);
    // Created directly inside the namespaces: no transient name in the host namespace.
    await exec(null, 'ip', ['-n', a, 'link', 'add', ifA, 'type', 'veth', 'peer', 'name', ifB, 'netns', b]);
    const link: VethLink = {
      subnet,
      a: { ns: a, ifname: ifA, v4: `10.77.${subnet}.1`, v6: `fd77:${subnet}::1` },
      b: { ns: b, ifname: ifB, v4: `10.77.${subnet}.2`, v6: `fd77:${subnet}::2` },
    };
    for (const end of [link.a, link.b]) {
      if (opts.mtu) await exec(null, 'ip', ['-n', end.ns, 'link', 'set', end.ifname, 'mtu', String(opts.mtu)]);
      await exec(null, 'ip', ['-n', end.ns, 'link', 'set', end.ifname, 'up']);
    }
    // Addresses go on only once both ends are operationally up: IPv6 added earlier stays
    // unusable for about a second (neighbour discovery fails until the device is "ready").
    for (const end of [link.a, link.b]) {
      await waitUntil(`${end.ns}/${end.ifname} operstate UP`, 5000, async () => {
        const out = (await exec(null, 'ip', ['-n', end.ns, '-o', 'link', 'show', end.ifname])).stdout;
        return /state UP/.test(out) ? true : undefined;
      });
    }
    for (const end of [link.a, link.b]) {
      await exec(null, 'ip', ['-n', end.ns, 'addr', 'add', `${end.v4}/24`, 'dev', end.ifname]);
      await exec(null, 'ip', ['-n', end.ns, '-6', 'addr', 'add', `${end.v6}/64`, 'dev', end.ifname, 'nodad']);
    }
    // Bounded proof that both families pass, so tests never race a half-ready link.
    for (const addr of which('ping') ? [link.b.v4, link.b.v6] : []) {
      await waitUntil(`${a} reaching ${addr}`, 5000, async () =>
        (await ping(a, addr, { count: 1, timeoutSec: 1 })) === 1 ? true : undefined,
      );
    }
    return link;
  }

  /** Two fresh namespaces joined by a veth link. */
  async pair(opts?: { subnet?: number; mtu?: number }): Promise<{ a: string; b: string; link: VethLink }> {
    const a = await this.addNamespace();
    const b = await this.addNamespace();
    const link = await this.connect(a, b, opts);
    return { a, b, link };
  }

  /**
   * device — router — server, with IPv4 and IPv6 forwarding in the router and nftables
   * masquerade on its server-facing (WAN) interface, and per-direction byte counters on its
   * forward chain.
   */
  async natTopology(opts: NatTopologyOptions = {}): Promise<NatLab> {
    const device = await this.addNamespace();
    const router = await this.addNamespace();
    const server = await this.addNamespace();
    const lan = await this.connect(router, device);
    const wan = await this.connect(router, server);
    await exec(null, 'ip', ['-n', device, 'route', 'add', 'default', 'via', lan.a.v4]);
    await exec(null, 'ip', ['-n', device, '-6', 'route', 'add', 'default', 'via', lan.a.v6]);
    await this.sysctl(router, 'net.ipv4.ip_forward', 1);
    await this.sysctl(router, 'net.ipv6.conf.all.forwarding', 1);
    const masq = opts.masquerade && opts.masquerade !== 'default' ? ` ${opts.masquerade}` : '';
    const dirMatch = {
      up: `iifname "${lan.a.ifname}" oifname "${wan.a.ifname}"`,
      down: `iifname "${wan.a.ifname}" oifname "${lan.a.ifname}"`,
    };
    const ruleset = [
      'table inet wgjs_nat {',
      '  counter up {',
      '  }',
      '  counter down {',
      '  }',
      '  chain postrouting {',
      '    type nat hook postrouting priority srcnat; policy accept;',
      `    oifname "${wan.a.ifname}" masquerade${masq}`,
      '  }',
      '  chain forward {',
      '    type filter hook forward priority filter; policy accept;',
      `    ${dirMatch.up} counter name "up"`,
      `    ${dirMatch.down} counter name "down"`,
      '  }',
      '}',
      '',
    ].join('\n');
    await exec(router, 'nft', ['-f', '-'], { input: ruleset });
    const timeoutKey = 'net.netfilter.nf_conntrack_udp_timeout';
    const streamKey = 'net.netfilter.nf_conntrack_udp_timeout_stream';
    return {
      device,
      router,
      server,
      lan,
      wan,
      setUdpTimeouts: async (timeoutSec: number, streamSec?: number) => {
        await this.sysctl(router, timeoutKey, timeoutSec);
        await this.sysctl(router, streamKey, streamSec ?? timeoutSec);
      },
      getUdpTimeouts: async () => ({
        timeout: Number(await this.sysctl(router, timeoutKey)),
        stream: Number(await this.sysctl(router, streamKey)),
      }),
      flushConntrack: async () => {
        await exec(router, 'conntrack', ['-F']);
      },
      conntrackUdp: async () => {
        const { stdout } = await exec(router, 'conntrack', ['-L', '-p', 'udp']);
        return stdout.split('\n').filter((l) => l.trim() !== '');
      },
      counters: async () => {
        const { stdout } = await exec(router, 'nft', ['list', 'counters', 'table', 'inet', 'wgjs_nat']);
        const out: Record<string, NftCounter> = {};
        for (const m of stdout.matchAll(/counter (\S+) \{\s*packets (\d+) bytes (\d+)/g)) {
          out[m[1]!] = { packets: Number(m[2]), bytes: Number(m[3]) };
        }
        return out;
      },
      addCounter: async (name, dir, match = '') => {
        await exec(router, 'nft', ['add', 'counter', 'inet', 'wgjs_nat', name]);
        await exec(router, 'nft', ['insert rule inet wgjs_nat forward', dirMatch[dir], match, `counter name "${name}"`]);
      },
      addForwardRule: async (dir, rule) => {
        const { stdout } = await exec(router, 'nft', ['--echo', '--handle', 'add rule inet wgjs_nat forward', dirMatch[dir], rule]);
        const m = /# handle (\d+)/.exec(stdout);
        if (!m) throw new Error(`nft printed no handle for the rule "${rule}": ${stdout}`);
        return Number(m[1]);
      },
      deleteForwardRule: async (handle) => {
        await exec(router, 'nft', ['delete', 'rule', 'inet', 'wgjs_nat', 'forward', 'handle', String(handle)]);
      },
      setDeviceAddress: async (host) => {
        const v4 = `10.77.${lan.subnet}.${host}`;
        await exec(device, 'ip', ['addr', 'del', `${lan.b.v4}/24`, 'dev', lan.b.ifname]);
        await exec(device, 'ip', ['addr', 'add', `${v4}/24`, 'dev', lan.b.ifname]);
        await exec(device, 'ip', ['route', 'replace', 'default', 'via', lan.a.v4]);
        lan.b.v4 = v4;
        return v4;
      },
    };
  }

  /**
   * Spawn `cmd args` inside `ns`. The process is killed by {@link cleanup}. When stdout/stderr
   * are pipes (the default) their last 64 KiB are kept for {@link processOutput}.
   */
  spawnIn(ns: string, cmd: string, args: readonly string[] = [], opts: SpawnOptions = {}): ChildProcess {
    liveLabs.add(this);
    installExitHooks();
    const [file, argv] = nsArgv(ns, cmd, args);
    const child = spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    child.on('error', () => {
      // Surfaced through exit status / waits; keeps an ENOENT from crashing the worker.
    });
    const buf = { text: '' };
    outputs.set(child, buf);
    const collect = (d: Buffer): void => {
      buf.text = tail(buf.text + d.toString('utf8'), OUTPUT_LIMIT);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    return child;
  }

  /**
   * Run `wireguard-go -f <iface>` in `ns`, wait (bounded) for its UAPI socket, configure it
   * with `wg set`, add the tunnel addresses and bring the interface up.
   */
  async startWireguardGo(ns: string, opts: WireguardGoOptions): Promise<WgHandle> {
    const ifname = opts.ifname ?? `wg${process.pid}-${++ifCounter}`;
    if (ifname.length > 15) throw new Error(`interface name ${ifname} is longer than 15 characters`);
    const sock = `/var/run/wireguard/${ifname}.sock`;
    const child = this.spawnIn(ns, 'wireguard-go', ['-f', ifname], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, WG_PROCESS_FOREGROUND: '1', LOG_LEVEL: opts.logLevel ?? 'error' },
    });
    this.ifnames.push(ifname);
    const startTimeoutMs = opts.startTimeoutMs ?? 5000;
    try {
      await waitUntil(`UAPI socket ${sock} of wireguard-go in ${ns}`, startTimeoutMs, () => {
        if (exited(child))
          throw new Error(
            `wireguard-go ${ifname} in ${ns} exited (${child.exitCode ?? child.signalCode}): ${processOutput(child)}`,
          );
        return existsSync(sock) ? true : undefined;
      });
    } catch (err) {
      await terminate(child);
      throw new Error(`${(err as Error).message}; output: ${tail(processOutput(child), 2000)}`);
    }

    const publicKey = await publicKeyOf(opts.privateKey);
    const set: string[] = ['private-key', this.writeTemp(`${ifname}.key`, `${opts.privateKey}\n`)];
    if (opts.listenPort !== undefined) set.push('listen-port', String(opts.listenPort));
    for (const [i, p] of (opts.peers ?? []).entries()) {
      set.push('peer', p.publicKey);
      if (p.presharedKey) set.push('preshared-key', this.writeTemp(`${ifname}.psk${i}`, `${p.presharedKey}\n`));
      set.push('allowed-ips', p.allowedIps.join(','));
      if (p.endpoint) set.push('endpoint', p.endpoint);
      if (p.persistentKeepalive !== undefined) set.push('persistent-keepalive', String(p.persistentKeepalive));
    }
    await exec(ns, 'wg', ['set', ifname, ...set]);
    if (opts.mtu) await exec(ns, 'ip', ['link', 'set', ifname, 'mtu', String(opts.mtu)]);
    if (opts.address4) await exec(ns, 'ip', ['addr', 'add', opts.address4, 'dev', ifname]);
    if (opts.address6) await exec(ns, 'ip', ['-6', 'addr', 'add', opts.address6, 'dev', ifname, 'nodad']);
    await exec(ns, 'ip', ['link', 'set', ifname, 'up']);

    const show = async (): Promise<WgDump> => parseWgDump((await exec(ns, 'wg', ['show', ifname, 'dump'])).stdout);
    return {
      ns,
      ifname,
      publicKey,
      process: child,
      show,
      set: async (args) => {
        await exec(ns, 'wg', ['set', ifname, ...args]);
      },
      waitForHandshake: async (o = {}) =>
        waitUntil(`a handshake on ${ifname} in ${ns}`, o.timeoutMs ?? 10_000, async () => {
          const d = await show();
          const peer = o.peer ? d.peers.find((p) => p.publicKey === o.peer) : d.peers[0];
          return peer && peer.latestHandshake > (o.after ?? 0) ? peer : undefined;
        }, 100),
      output: () => processOutput(child),
      stop: async () => {
        const ok = await terminate(child);
        if (!ok) throw new Error(`wireguard-go ${ifname} in ${ns} did not exit after SIGKILL`);
        rmSync(sock, { force: true });
      },
    };
  }

  /**
   * A UDP socket bound in `ns` (node:dgram in a child process) that records every datagram and
   * its source; with `echo` it sends each one back.
   */
  async udpReceiver(
    ns: string,
    port: number,
    opts: { host?: string; family?: 4 | 6; echo?: boolean; timeoutMs?: number } = {},
  ): Promise<UdpReceiver> {
    const family = opts.family ?? (opts.host?.includes(':') ? 6 : 4);
    const host = opts.host ?? (family === 6 ? '::' : '0.0.0.0');
    const child = this.spawnIn(ns, process.execPath, [
      '-e',
      UDP_RECEIVER_JS,
      family === 6 ? 'udp6' : 'udp4',
      String(port),
      host,
      opts.echo ? '1' : '0',
    ]);
    const messages: UdpReceiver['messages'] = [];
    let ready = false;
    let pending = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (d: string) => {
      pending += d;
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        if (line === 'READY') ready = true;
        else if (line.startsWith('{')) {
          const m = JSON.parse(line) as { from: string; port: number; data: string };
          messages.push({ from: m.from, port: m.port, data: Buffer.from(m.data, 'base64') });
        }
      }
    });
    await waitUntil(`UDP receiver on ${host}:${port} in ${ns}`, opts.timeoutMs ?? 5000, () => {
      if (exited(child)) throw new Error(`UDP receiver in ${ns} exited: ${processOutput(child)}`);
      return ready ? true : undefined;
    });
    return {
      messages,
      waitFor: (n, timeoutMs = 5000) =>
        waitUntil(`${n} datagram(s) at ${host}:${port} in ${ns} (have ${messages.length})`, timeoutMs, () =>
          messages.length >= n ? true : undefined,
        ).then(() => undefined),
      close: async () => {
        await terminate(child);
      },
    };
  }

  /** Send one UDP datagram from `ns` to host:port, optionally from a fixed source port. */
  async udpSend(ns: string, host: string, port: number, payload: string | Buffer, srcPort = 0): Promise<void> {
    const data = (typeof payload === 'string' ? Buffer.from(payload) : payload).toString('base64');
    await exec(ns, process.execPath, [
      '-e',
      UDP_SEND_JS,
      host.includes(':') ? 'udp6' : 'udp4',
      host,
      String(port),
      data,
      String(srcPort),
    ]);
  }

  /**
   * Kill every process this lab spawned (SIGTERM, then SIGKILL, bounded), kill whatever else
   * runs inside its namespaces, delete the namespaces (and so their veths and TUNs), remove
   * leftover UAPI sockets and the temp directory. Idempotent; throws after trying everything
   * if something could not be removed.
   */
  async cleanup(): Promise<void> {
    const errors: string[] = [];
    const children = [...this.children];
    await Promise.all(
      children.map(async (c) => {
        if (!(await terminate(c, 2000, 2000))) errors.push(`process ${c.pid} did not exit`);
      }),
    );
    this.children.clear();
    const ip = which('ip') ?? 'ip';
    for (const ns of [...this.namespaces].reverse()) {
      killNamespacePidsSync(ip, ns);
      try {
        await exec(null, 'ip', ['netns', 'del', ns], { timeoutMs: 10_000 });
      } catch (err) {
        if (listLabNamespaces().includes(ns)) errors.push((err as Error).message);
      }
    }
    this.namespaces = [];
    this.ifCountPerNs.clear();
    this.removeFiles();
    liveLabs.delete(this);
    if (errors.length > 0) throw new Error(`lab cleanup incomplete:\n${errors.join('\n')}`);
  }

  /** Synchronous best-effort {@link cleanup} (SIGKILL only), for process exit and signals. */
  cleanupSync(): void {
    for (const c of this.children) {
      if (!exited(c)) {
        try {
          c.kill('SIGKILL');
        } catch {
          // gone
        }
      }
    }
    this.children.clear();
    const ip = which('ip') ?? 'ip';
    for (const ns of [...this.namespaces].reverse()) {
      killNamespacePidsSync(ip, ns);
      try {
        execFileSync(ip, ['netns', 'del', ns], { stdio: 'pipe', timeout: 10_000 });
      } catch {
        // best effort at exit
      }
    }
    this.namespaces = [];
    this.removeFiles();
    liveLabs.delete(this);
  }

  private removeFiles(): void {
    for (const ifname of this.ifnames) rmSync(`/var/run/wireguard/${ifname}.sock`, { force: true });
    this.ifnames = [];
    if (this.tmp) rmSync(this.tmp, { recursive: true, force: true });
    this.tmp = null;
  }

  private nextIfname(ns: string): string {
    const n = this.ifCountPerNs.get(ns) ?? 0;
    this.ifCountPerNs.set(ns, n + 1);
    return `veth${n}`;
  }
}
