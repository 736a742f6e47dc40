/**
 * The NAT lab (issue #5): how a WireGuard device behind a NAT recovers from NAT events.
 *
 * Every scenario builds device — router (nft masquerade, conntrack UDP timeouts of
 * {@link NAT_TIMEOUT_S} s so minutes of NAT behaviour take seconds) — server, with the device a
 * wgjs library-mode peer (a WgDevice child, see wgjs-peer.ts) and the server either wireguard-go
 * or `wgjs up` on a TUN. Tunnel: 10.99.0.1/24 (server), 10.99.0.2/32 (device). The server has the
 * device as a peer with no endpoint (it is behind the NAT); the device has the server's endpoint.
 *
 * "The server reaches the device" is measured by pinging 10.99.0.2 from the server namespace every
 * {@link PROBE_INTERVAL_MS} ms ({@link measureRecovery}); the WgDevice answers ICMP echo. Bytes are
 * the router's nftables counters on its forward chain (what passed the NAT each way), with the
 * probe pings (a distinctive size, counted separately) taken out.
 *
 * Adding a scenario (e.g. server-restart, stuck-rekey): write `(o) => runScenario(name, o, topo,
 * async (ctx) => {...})` using `ctx.startDevice`, `ctx.server.restart()`, `ctx.nat.addForwardRule`
 * and {@link measureRecovery}, and list it in {@link SCENARIOS}. `o.devicePeer` is merged into the
 * device's peer config as given (e.g. `{ persistentKeepalive: 'auto', keepaliveResponder:
 * '10.99.0.1:51821' }`), so new peer options need no change here.
 */
import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { exec, genKeyPair, Lab, parseWgDump, waitUntil, type KeyPair, type NatLab, type NatTopologyOptions, type WgDump } from './netns.js';
import { WgjsChild, type PeerEvent } from './wgjs-child.js';
import { dailyCost } from '@wgjs/core';

export type ServerKind = 'wireguard-go' | 'wgjs';
export const SERVER_KINDS: readonly ServerKind[] = ['wireguard-go', 'wgjs'];

/** Conntrack UDP timeout (and stream timeout) set on the router, seconds. */
export const NAT_TIMEOUT_S = 3;
/** UDP port of both WireGuard peers. */
export const WG_PORT = 51820;
export const SERVER_TUNNEL_IP = '10.99.0.1';
export const DEVICE_TUNNEL_IP = '10.99.0.2';
/** Probe pings from the server: interval, and an ICMP payload size no other lab traffic has. */
export const PROBE_INTERVAL_MS = 50;
const PROBE_PAYLOAD = 200;
/** Outer UDP length of a probe: 8 + WireGuard (16 + inner 228 padded to 240 + 16 tag). */
const PROBE_UDP_LEN = 8 + 16 + 240 + 16;
/** Outer IPv4 length of a handshake initiation (148-byte message + UDP + IP headers). */
const INITIATION_IP_LEN = 148 + 8 + 20;

export interface ScenarioResult {
  name: string;
  server: ServerKind;
  /** ms from the fault (or the device's action, see notes) to the first probe reply; null: none within the bound. */
  recoveryMs: number | null;
  /** Bytes device → server through the NAT (nft counter, router forward chain), probe pings excluded. */
  upBytes: number;
  /** Bytes server → device through the NAT, probe pings excluded. */
  downBytes: number;
  notes: string;
  /** Further measurements of this scenario, by name. */
  metrics: Record<string, number | null>;
}

export interface ScenarioOptions {
  server: ServerKind;
  /** The server's config names the device's endpoint: the router's WAN address, port 51820. */
  serverKnowsDevice?: boolean;
  /** Both wgjs peers run their protocol timers this many times faster (wgjs server only). */
  timeScale?: number;
  /** Build in this lab (the caller cleans it up); default: a private lab, cleaned up before returning. */
  lab?: Lab;
  /** Merged into the device's peer config, e.g. `{ persistentKeepalive: 'auto' }`. */
  devicePeer?: Record<string, unknown>;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

export type Scenario = (o: ScenarioOptions) => Promise<ScenarioResult>;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const here = path.dirname(fileURLToPath(import.meta.url));
const WGJS_BIN = path.resolve(here, '../../bin/wgjs.js');

// ---------------------------------------------------------------------------------------------
// Servers

/** The server peer, whichever implementation runs it. */
export interface Server {
  kind: ServerKind;
  ns: string;
  publicKey: string;
  ifname(): string;
  /** `wg show <iface> dump` (wgjs serves the same UAPI socket). */
  show(): Promise<WgDump>;
  /** Initiations rejected as replays (stale TAI64N): wgjs's drop counter, wireguard-go's verbose log. */
  replayRejections(): Promise<number>;
  output(): string;
  stop(): Promise<void>;
  /** Stop, then start again with the same key, port and peer (for a server-restart scenario). */
  restart(): Promise<void>;
}

interface ServerPeer {
  publicKey: string;
  endpoint?: string;
}

let wgjsIfCounter = 0;

/** Send `signal`, then SIGKILL if the process is still there after 5 s; bounded. */
async function stopProcess(p: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  const gone = (): boolean => p.exitCode !== null || p.signalCode !== null;
  if (gone()) return;
  const exited = new Promise<void>((r) => p.once('exit', () => r()));
  p.kill(signal);
  await Promise.race([exited, sleep(5000)]);
  if (!gone()) {
    p.kill('SIGKILL');
    await Promise.race([exited, sleep(2000)]);
  }
  if (!gone()) throw new Error(`process ${p.pid} did not exit`);
}

async function startWireguardGoServer(lab: Lab, ns: string, key: KeyPair, peer: ServerPeer): Promise<Server> {
  const start = () =>
    lab.startWireguardGo(ns, {
      privateKey: key.privateKey,
      listenPort: WG_PORT,
      address4: `${SERVER_TUNNEL_IP}/24`,
      peers: [{ publicKey: peer.publicKey, allowedIps: [`${DEVICE_TUNNEL_IP}/32`], endpoint: peer.endpoint }],
      // Verbose: the log is how wireguard-go tells a replayed initiation.
      logLevel: 'verbose',
    });
  let h = await start();
  let pastOutput = '';
  const output = (): string => pastOutput + h.output();
  return {
    kind: 'wireguard-go',
    ns,
    publicKey: key.publicKey,
    ifname: () => h.ifname,
    show: () => h.show(),
    replayRejections: async () => (output().match(/handshake replay/g) ?? []).length,
    output,
    stop: () => h.stop(),
    restart: async () => {
      await h.stop();
      pastOutput = output();
      h = await start();
    },
  };
}

async function startWgjsServer(lab: Lab, ns: string, key: KeyPair, peer: ServerPeer, timeScale?: number): Promise<Server> {
  const start = async (): Promise<{ name: string; proc: ChildProcess; out: () => string }> => {
    const name = `wn${process.pid % 100000}x${wgjsIfCounter++}`;
    const conf =
      `[Interface]\nPrivateKey = ${key.privateKey}\nListenPort = ${WG_PORT}\nAddress = ${SERVER_TUNNEL_IP}/24\n\n` +
      `[Peer]\nPublicKey = ${peer.publicKey}\nAllowedIPs = ${DEVICE_TUNNEL_IP}/32\n` +
      (peer.endpoint ? `Endpoint = ${peer.endpoint}\n` : '');
    const file = lab.writeTemp(`${name}.conf`, conf);
    const proc = lab.spawnIn(ns, process.execPath, [WGJS_BIN, 'up', file], {
      env: { ...process.env, ...(timeScale ? { WGJS_TIME_SCALE: String(timeScale) } : {}) },
    });
    let text = '';
    proc.stdout!.on('data', (d) => (text += d));
    proc.stderr!.on('data', (d) => (text += d));
    const deadline = Date.now() + 15_000;
    while (!text.includes(`[+] ${name} is up`)) {
      if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`wgjs up ${name} exited early:\n${text}`);
      if (Date.now() > deadline) {
        await stopProcess(proc);
        throw new Error(`wgjs up ${name} not up after 15 s:\n${text}`);
      }
      await sleep(20);
    }
    return { name, proc, out: () => text };
  };
  let h = await start();
  let pastOutput = '';
  const stop = async (): Promise<void> => {
    await stopProcess(h.proc);
    // wgjs removes its sockets on SIGTERM; make sure even after a SIGKILL.
    rmSync(`/var/run/wireguard/${h.name}.sock`, { force: true });
    rmSync(`/var/run/wgjs/${h.name}.sock`, { force: true });
  };
  return {
    kind: 'wgjs',
    ns,
    publicKey: key.publicKey,
    ifname: () => h.name,
    show: async () => parseWgDump((await exec(ns, 'wg', ['show', h.name, 'dump'])).stdout),
    replayRejections: async () => {
      const { stdout } = await exec(ns, process.execPath, [WGJS_BIN, 'show', h.name]);
      return Number(/stale_timestamp (\d+)/.exec(stdout)?.[1] ?? 0);
    },
    output: () => pastOutput + h.out(),
    stop,
    restart: async () => {
      await stop();
      pastOutput += h.out();
      h = await start();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Setup

/** Device child options beyond the defaults. */
export interface DeviceStart {
  /** Persistent keepalive in seconds (0: off). */
  keepalive: number;
  /** The device's wall clock reads clockStartMs + its uptime (no real-time clock). */
  clockStartMs?: number;
  timestampFile?: string;
  restoreTimestamp?: boolean;
}

/** Bytes through the NAT since a mark. */
export interface Bytes {
  up: number;
  down: number;
  probeUp: number;
  probeDown: number;
}

export interface Ctx {
  lab: Lab;
  nat: NatLab;
  server: Server;
  serverKey: KeyPair;
  deviceKey: KeyPair;
  o: ScenarioOptions;
  /** The running device child, if any. */
  device: WgjsChild | null;
  /** Start the device child (the previous one must be stopped). */
  startDevice(d: DeviceStart): Promise<WgjsChild>;
  /** Kill the device child: SIGKILL (a power cut) or SIGTERM. */
  stopDevice(signal?: NodeJS.Signals): Promise<void>;
  /** Counter snapshot; the scenario's byte window starts at the last call (setup calls it once). */
  markBytes(): Promise<void>;
  /** Bytes since {@link markBytes}. */
  bytesSinceMark(): Promise<Bytes>;
  log(line: string): void;
}

async function setup(lab: Lab, o: ScenarioOptions, topo: NatTopologyOptions): Promise<Ctx> {
  const nat = await lab.natTopology(topo);
  await nat.setUdpTimeouts(NAT_TIMEOUT_S);
  await nat.addCounter('probe_up', 'up', `udp length ${PROBE_UDP_LEN}`);
  await nat.addCounter('probe_down', 'down', `udp length ${PROBE_UDP_LEN}`);
  const [serverKey, deviceKey] = await Promise.all([genKeyPair(), genKeyPair()]);
  if (o.timeScale && o.server !== 'wgjs') throw new Error('timeScale needs wgjs as the server (wireguard-go cannot scale its timers)');
  const serverPeer = { publicKey: deviceKey.publicKey, endpoint: o.serverKnowsDevice ? `${nat.wan.a.v4}:${WG_PORT}` : undefined };
  const server = o.server === 'wgjs'
    ? await startWgjsServer(lab, nat.server, serverKey, serverPeer, o.timeScale)
    : await startWireguardGoServer(lab, nat.server, serverKey, serverPeer);
  const snapshot = async (): Promise<Bytes> => {
    const c = await nat.counters();
    const get = (n: string): number => c[n]?.bytes ?? 0;
    return { up: get('up'), down: get('down'), probeUp: get('probe_up'), probeDown: get('probe_down') };
  };
  let mark = await snapshot();
  const ctx: Ctx = {
    lab,
    nat,
    server,
    serverKey,
    deviceKey,
    o,
    device: null,
    async startDevice(d) {
      if (ctx.device) throw new Error('the device child is already running');
      const peer = {
        publicKey: serverKey.publicKey,
        allowedIPs: [`${SERVER_TUNNEL_IP}/32`],
        endpoint: `${nat.wan.b.v4}:${WG_PORT}`,
        persistentKeepalive: d.keepalive,
        ...o.devicePeer,
      };
      ctx.device = await WgjsChild.start(lab, nat.device, {
        privateKey: deviceKey.privateKey,
        listenPort: WG_PORT,
        address: [`${DEVICE_TUNNEL_IP}/32`],
        peers: [peer],
        clockStartMs: d.clockStartMs,
        timeScale: o.timeScale,
        timestampFile: d.timestampFile,
        restoreTimestamp: d.restoreTimestamp,
      });
      return ctx.device;
    },
    async stopDevice(signal = 'SIGKILL') {
      const dev = ctx.device;
      ctx.device = null;
      if (dev) await stopProcess(dev.proc, signal);
    },
    async markBytes() {
      mark = await snapshot();
    },
    async bytesSinceMark() {
      const now = await snapshot();
      return {
        up: now.up - mark.up,
        down: now.down - mark.down,
        probeUp: now.probeUp - mark.probeUp,
        probeDown: now.probeDown - mark.probeDown,
      };
    },
    log: (line) => o.log?.(`[${o.server}] ${line}`),
  };
  return ctx;
}

/** What a scenario body returns; bytes default to those since the last {@link Ctx.markBytes}. */
type Body = (ctx: Ctx) => Promise<{ recoveryMs: number | null; notes: string; metrics?: Record<string, number | null>; bytes?: Bytes }>;

/**
 * Runs one scenario: sets up the topology and server, runs `body`, reads the byte counters, stops
 * everything it started (and cleans up the lab unless the caller passed one). Errors carry the
 * server's output and the device's last events.
 */
export async function runScenario(name: string, o: ScenarioOptions, topo: NatTopologyOptions, body: Body): Promise<ScenarioResult> {
  const lab = o.lab ?? new Lab();
  let ctx: Ctx | null = null;
  try {
    ctx = await setup(lab, o, topo);
    ctx.log(`${name}: start`);
    const r = await body(ctx);
    const b = r.bytes ?? (await ctx.bytesSinceMark());
    // The device's drop counters (by reason) tell where packets that did not count went.
    const drops: Record<string, number> = ctx.device ? (await ctx.device.status().catch(() => ({ drops: {} }))).drops : {};
    for (const [k, v] of Object.entries(drops)) r.metrics = { ...r.metrics, [`deviceDrop.${k}`]: v };
    const result: ScenarioResult = {
      name,
      server: o.server,
      recoveryMs: r.recoveryMs,
      upBytes: b.up - b.probeUp,
      downBytes: b.down - b.probeDown,
      notes: r.notes,
      metrics: { ...r.metrics, probeUpBytes: b.probeUp, probeDownBytes: b.probeDown },
    };
    ctx.log(`${name}: recovery ${result.recoveryMs ?? 'none'} ms, up ${result.upBytes} B, down ${result.downBytes} B`);
    return result;
  } catch (err) {
    const detail = ctx
      ? `\n--- server (${o.server}) output:\n${ctx.server.output().slice(-3000)}\n--- device events:\n` +
        JSON.stringify(ctx.device?.events.slice(-15) ?? [])
      : '';
    throw new Error(`${name} against ${o.server}: ${(err as Error).message}${detail}`, { cause: err });
  } finally {
    if (ctx) {
      await ctx.stopDevice().catch(() => undefined);
      await ctx.server.stop().catch(() => undefined);
    }
    if (!o.lab) await lab.cleanup();
  }
}

// ---------------------------------------------------------------------------------------------
// Measuring

/**
 * Runs `fault` (if any), then pings the device's tunnel address from the server every
 * {@link PROBE_INTERVAL_MS} ms, running `trigger` (if any) once the prober has started. Resolves
 * with the ms from the end of `fault` to the first reply (ping's own receive timestamp), or null
 * if none came within `timeoutMs`; also how many replies arrived by then.
 */
export async function measureRecovery(
  ctx: Ctx,
  o: { fault?: () => Promise<unknown>; trigger?: () => unknown; timeoutMs: number },
): Promise<{ recoveryMs: number | null; replies: number }> {
  if (o.fault) await o.fault();
  const t0 = Date.now();
  const args = ['-n', '-D', '-i', String(PROBE_INTERVAL_MS / 1000), '-s', String(PROBE_PAYLOAD)];
  args.push('-w', String(Math.ceil(o.timeoutMs / 1000) + 2), DEVICE_TUNNEL_IP);
  const ping = ctx.lab.spawnIn(ctx.nat.server, 'ping', args);
  let first: number | null = null;
  let replies = 0;
  let pending = '';
  let wake: () => void = () => undefined;
  const done = new Promise<void>((r) => (wake = r));
  ping.stdout!.setEncoding('utf8').on('data', (d: string) => {
    pending += d;
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      const m = /^\[(\d+\.\d+)\] \d+ bytes from /.exec(line);
      if (!m) continue;
      const at = Math.round(Number(m[1]) * 1000);
      if (at < t0) continue;
      replies++;
      if (first === null) {
        first = at - t0;
        wake();
      }
    }
  });
  const timer = setTimeout(wake, o.timeoutMs);
  try {
    await o.trigger?.();
    await done;
  } finally {
    clearTimeout(timer);
    await stopProcess(ping);
  }
  return { recoveryMs: first, replies };
}

/** Resolves with the first device event after index `from` matching `pred`, or null after timeoutMs. */
async function nextEvent(dev: WgjsChild, from: number, pred: (e: PeerEvent) => boolean, timeoutMs: number): Promise<PeerEvent | null> {
  return dev.waitFor((e) => dev.events.indexOf(e) >= from && pred(e), timeoutMs).catch(() => null);
}

const isHandshake = (e: PeerEvent): boolean => e.event === 'handshake';

/** Start the device, wait for its handshake and for the server to have confirmed the session. */
async function connectDevice(ctx: Ctx, d: DeviceStart): Promise<WgjsChild> {
  const dev = await ctx.startDevice(d);
  // With no keepalive the device would wait for traffic: ask for the handshake.
  if (d.keepalive === 0) dev.send({ cmd: 'connect', peer: ctx.serverKey.publicKey });
  if (!(await nextEvent(dev, 0, isHandshake, 10_000))) throw new Error('the device did not complete a handshake in 10 s');
  await waitUntil('the server to have a session with the device', 5000, async () => {
    const p = (await ctx.server.show()).peers[0];
    return p?.endpoint && p.latestHandshake > 0 ? true : undefined;
  }, 100);
  return dev;
}

async function currentEndpoint(ctx: Ctx): Promise<string | null> {
  return (await ctx.server.show()).peers[0]?.endpoint ?? null;
}

// ---------------------------------------------------------------------------------------------
// Scenarios

/**
 * 1. No keepalive: after the handshake the device is idle longer than the NAT timeout, the router
 * forgets the mapping and the server cannot reach the device (probes fail for `unreachableMs`)
 * until the device sends. Then the device sends one UDP datagram through the tunnel: recoveryMs is
 * the time from that datagram to the first probe reply (the server roams to the new mapping).
 */
export const mappingExpiryNoKeepalive: Scenario = (o) =>
  runScenario('mapping-expiry-no-keepalive', o, {}, async (ctx) => {
    const dev = await connectDevice(ctx, { keepalive: 0 });
    const ep0 = await currentEndpoint(ctx);
    await ctx.markBytes();
    const idleStart = Date.now();
    const lanIp = ctx.nat.lan.b.v4;
    await waitUntil(`the router to forget the device's mapping`, (NAT_TIMEOUT_S + 10) * 1000, async () =>
      (await ctx.nat.conntrackUdp()).some((l) => l.includes(`src=${lanIp}`)) ? undefined : true,
    250);
    const idleMs = Date.now() - idleStart;
    const unreachableMs = 4000;
    const before = await measureRecovery(ctx, { timeoutMs: unreachableMs });
    const after = await measureRecovery(ctx, {
      trigger: () => dev.send({ cmd: 'udp', dst: SERVER_TUNNEL_IP, port: 9, data: 'wake up' }),
      timeoutMs: 5000,
    });
    const ep1 = await currentEndpoint(ctx);
    return {
      recoveryMs: after.recoveryMs,
      notes:
        `mapping gone after ${(idleMs / 1000).toFixed(1)} s idle; server probes for ${unreachableMs / 1000} s got ` +
        `${before.replies} replies (unreachable until the device sends); recovery timed from the device's one datagram; ` +
        `server endpoint ${ep0} → ${ep1}`,
      metrics: { idleMs, unreachableMs, repliesWhileUnreachable: before.replies },
    };
  });

/**
 * 2. Keepalive 2 s under a 3 s NAT timeout: after `idleMs` (20 s) of idle the server's first probe
 * is answered at once. upBytes/downBytes cover the idle time only; metrics.bytesPerMinute too.
 */
export const mappingExpiryWithKeepalive: Scenario = (o) =>
  runScenario('mapping-expiry-with-keepalive', o, {}, async (ctx) => {
    await connectDevice(ctx, { keepalive: 2 });
    await ctx.markBytes();
    const idleMs = 20_000;
    await sleep(idleMs);
    const idle = await ctx.bytesSinceMark();
    const r = await measureRecovery(ctx, { timeoutMs: 3000 });
    const perMin = (b: number): number => Math.round((b * 60_000) / idleMs);
    const upPerMin = perMin(idle.up - idle.probeUp);
    const downPerMin = perMin(idle.down - idle.probeDown);
    return {
      recoveryMs: r.recoveryMs,
      notes: `after ${idleMs / 1000} s idle the server's ping took ${r.recoveryMs} ms; idle cost ${upPerMin} B/min up, ${downPerMin} B/min down`,
      metrics: { idleMs, upBytesPerMinute: upPerMin, downBytesPerMinute: downPerMin },
      // The byte window is the idle time only.
      bytes: idle,
    };
  });

/**
 * 3. NAT rebinding: random-port masquerade, keepalive 2 s; `conntrack -F` on the router, so the
 * device's next packet leaves from a new public port; recoveryMs from the flush.
 */
export const natRebinding: Scenario = (o) =>
  runScenario('nat-rebinding', o, { masquerade: 'random' }, async (ctx) => {
    await connectDevice(ctx, { keepalive: 2 });
    const ep0 = await currentEndpoint(ctx);
    await ctx.markBytes();
    const r = await measureRecovery(ctx, { fault: () => ctx.nat.flushConntrack(), timeoutMs: 8000 });
    const ep1 = await currentEndpoint(ctx);
    return {
      recoveryMs: r.recoveryMs,
      notes: `conntrack flushed; server endpoint ${ep0} → ${ep1}`,
      metrics: { keepaliveMs: 2000, portChanged: ep0 !== ep1 ? 1 : 0 },
    };
  });

/**
 * 4. The device's LAN address changes (.2 → .3, default route re-added), like a modem re-attach.
 * `told`: the app is told and forces a handshake at once (the "rebind" command); otherwise the
 * next keepalive (2 s) must carry the new mapping to the server. recoveryMs from the change.
 */
export function deviceIpChange(told: boolean): Scenario {
  return (o) =>
    runScenario(told ? 'device-ip-change-told' : 'device-ip-change-untold', o, {}, async (ctx) => {
      const dev = await connectDevice(ctx, { keepalive: 2 });
      const ep0 = await currentEndpoint(ctx);
      const n = dev.events.length;
      await ctx.markBytes();
      let t0 = 0;
      const hs = nextEvent(dev, n, isHandshake, 8000).then((e) => (e ? Date.now() - t0 : null));
      const r = await measureRecovery(ctx, {
        fault: async () => {
          await ctx.nat.setDeviceAddress(3);
          t0 = Date.now();
        },
        trigger: told ? () => dev.send({ cmd: 'rebind', peer: ctx.serverKey.publicKey }) : undefined,
        timeoutMs: 8000,
      });
      const ep1 = await currentEndpoint(ctx);
      const handshakeMs = told ? await hs : null;
      return {
        recoveryMs: r.recoveryMs,
        notes: `LAN address → ${ctx.nat.lan.b.v4}; ${told ? `app told: forced handshake after ${handshakeMs} ms` : 'app not told: recovery by keepalive'}; server endpoint ${ep0} → ${ep1}`,
        metrics: { handshakeMs, portChanged: ep0 !== ep1 ? 1 : 0 },
      };
    });
}

let tsCounter = 0;

/**
 * 5. Device reboot with no real-time clock (its wall clock is its uptime). The first boot pretends
 * to have been up for an hour (clock starts at 3.6e6 ms) and persists its handshake timestamp
 * after each handshake; the child is then killed (a power cut) and started again with the same
 * key and a clock starting at 0. `persisted`: it restores the timestamp and its first initiation
 * is accepted — recoveryMs from the new device's "ready" to the first probe reply. Otherwise its
 * timestamps are older than the last the server accepted: every initiation is rejected as a replay
 * (metrics.replayRejections), and nothing recovers within `waitMs` (8 s). Given longer (> 15 s),
 * a server with traffic for the device initiates itself (KEEPALIVE_TIMEOUT + REKEY_TIMEOUT after
 * its data went unanswered) and that handshake succeeds: the name then carries the bound.
 */
export function deviceReboot(persisted: boolean, waitMs = 8000): Scenario {
  const name = persisted ? 'device-reboot-persisted' : `device-reboot-no-persist${waitMs === 8000 ? '' : `-${waitMs / 1000}s`}`;
  return (o) =>
    runScenario(name, o, {}, async (ctx) => {
      const timestampFile = path.join(ctx.lab.tmpDir, `device-ts-${process.pid}-${tsCounter++}.bin`);
      await connectDevice(ctx, { keepalive: 2, clockStartMs: 3_600_000, timestampFile });
      await ctx.stopDevice('SIGKILL');
      const rejected0 = await ctx.server.replayRejections();
      await ctx.markBytes();
      const spawned = Date.now();
      const dev = await ctx.startDevice({ keepalive: 2, clockStartMs: 0, timestampFile, restoreTimestamp: persisted });
      const bootMs = Date.now() - spawned;
      const ready = Date.now();
      const hs = nextEvent(dev, 0, isHandshake, waitMs).then((e) => (e ? Date.now() - ready : null));
      const r = await measureRecovery(ctx, { timeoutMs: waitMs });
      const handshakeMs = await hs;
      const rejected = (await ctx.server.replayRejections()) - rejected0;
      return {
        recoveryMs: r.recoveryMs,
        notes: persisted
          ? `timestamp restored: handshake ${handshakeMs} ms after the device was ready (process start took ${bootMs} ms)`
          : `no timestamp: ${rejected} initiation(s) rejected as replays in ${waitMs / 1000} s; ` +
            (handshakeMs === null ? 'no handshake' : `handshake after ${handshakeMs} ms, initiated by the server`),
        metrics: { bootMs, handshakeMs, replayRejections: rejected },
      };
    });
}

/**
 * 6. Handshake loss: the router drops the device's first two handshake initiations (UDP length
 * 156 = a 148-byte initiation, counted by a quota); the device retries every REKEY_TIMEOUT (5 s +
 * jitter). recoveryMs from the device's "ready" (its first initiation) to the first probe reply.
 */
export const handshakeLoss: Scenario = (o) =>
  runScenario('handshake-loss', o, {}, async (ctx) => {
    await ctx.lab.exec(ctx.nat.router, 'nft', ['add', 'counter', 'inet', 'wgjs_nat', 'hs_dropped']);
    // quota counts IP bytes: two initiations fit, the third does not.
    const rule = await ctx.nat.addForwardRule('up', `udp length 156 quota until ${2 * INITIATION_IP_LEN + 100} bytes counter name "hs_dropped" drop`);
    await ctx.markBytes();
    const dev = await ctx.startDevice({ keepalive: 2 });
    const ready = Date.now();
    const hs = nextEvent(dev, 0, isHandshake, 16_000).then((e) => (e ? Date.now() - ready : null));
    const r = await measureRecovery(ctx, { timeoutMs: 16_000 });
    const handshakeMs = await hs;
    const dropped = (await ctx.nat.counters()).hs_dropped?.packets ?? 0;
    await ctx.nat.deleteForwardRule(rule);
    return {
      recoveryMs: r.recoveryMs,
      notes: `${dropped} initiation(s) dropped by the router; handshake ${handshakeMs} ms after the device was ready`,
      metrics: { droppedInitiations: dropped, handshakeMs },
    };
  });

// ---------------------------------------------------------------------------------------------
// Adaptive keepalive (PersistentKeepalive = auto)

export const RESPONDER = `${SERVER_TUNNEL_IP}:51821`;

/** Runs `wgjs probe-responder` on the server's tunnel address (it survives server restarts). */
async function startResponder(ctx: Ctx): Promise<void> {
  const p = ctx.lab.spawnIn(ctx.nat.server, process.execPath, [WGJS_BIN, 'probe-responder', RESPONDER]);
  let text = '';
  p.stdout!.on('data', (d) => (text += d));
  p.stderr!.on('data', (d) => (text += d));
  await waitUntil('the probe responder', 10_000, () => {
    if (p.exitCode !== null) throw new Error(`probe-responder exited: ${text}`);
    return text.includes('listening') ? true : undefined;
  }, 50);
}

interface AdaptiveInfo { interval: number; provenIdle: number; failedIdle: number | null; estimate: number; learning: boolean; echo: boolean; probes: number; answered: number; failed: number }

async function adaptiveOf(dev: WgjsChild): Promise<AdaptiveInfo> {
  const st = await dev.status();
  const a = (st.peers[0] as unknown as { adaptive: AdaptiveInfo | null }).adaptive;
  if (!a) throw new Error('the device peer has no adaptive keepalive');
  return a;
}

/** A device peer config with the adaptive keepalive; `learned` skips learning (ms), `echo` uses the responder. */
export function autoPeer(o: { echo?: boolean; learned?: number; verifyEvery?: number } = {}): Record<string, unknown> {
  return {
    persistentKeepalive: 'auto',
    keepaliveResponder: o.echo === false ? null : RESPONDER,
    adaptive: { learned: o.learned, verifyEvery: o.verifyEvery ?? 1_800_000 },
  };
}

/**
 * 7. Learning: conntrack UDP timeout `tauS`; the device (adaptive keepalive with the probe
 * responder) learns the mapping lifetime. Then, after 3 × tauS of idle, the server reaches the
 * device at once (recoveryMs). Bytes: the whole learning.
 */
export function adaptiveLearning(tauS: number): Scenario {
  return (o) =>
    runScenario(`adaptive-learning-${tauS}s`, { ...o, devicePeer: { ...autoPeer(), ...o.devicePeer } }, {}, async (ctx) => {
      await ctx.nat.setUdpTimeouts(tauS);
      await startResponder(ctx);
      await ctx.markBytes();
      const t0 = Date.now();
      const dev = await connectDevice(ctx, { keepalive: 0 });
      const bound = (14 * tauS + 90) * 1000;
      const a = await waitUntil(`the adaptive keepalive to learn a ${tauS} s NAT timeout`, bound, async () => {
        const x = await adaptiveOf(dev);
        return x.learning ? undefined : x;
      }, 250);
      const learnMs = Date.now() - t0;
      const learning = await ctx.bytesSinceMark();
      await sleep(3 * tauS * 1000);
      const r = await measureRecovery(ctx, { timeoutMs: 3000 });
      const err = (a.estimate / 1000 - tauS) / tauS;
      return {
        recoveryMs: r.recoveryMs,
        notes: `learned ${(a.estimate / 1000).toFixed(2)} s (${(err * 100).toFixed(1)} %) in ${(learnMs / 1000).toFixed(0)} s ` +
          `with ${a.probes} probes (${a.failed} unanswered); keepalive every ${(a.interval / 1000).toFixed(2)} s; ` +
          `after ${3 * tauS} s idle the server's ping took ${r.recoveryMs} ms`,
        metrics: { tauMs: tauS * 1000, estimateMs: Math.round(a.estimate), errorPct: Math.round(err * 1000) / 10, intervalMs: Math.round(a.interval), probes: a.probes, failed: a.failed, learnMs },
        bytes: learning,
      };
    });
}

/**
 * 7b. The NAT shortens its timeout: the device knows a 5 s lifetime (verification every 5 s, echo
 * probes); the router's conntrack UDP timeout drops to 2 s. The next verification fails, the
 * device handshakes, retests, and relearns. recoveryMs: from the change until the relearned
 * interval is below the new timeout; then the server must reach the device after 3 × 2 s idle.
 */
export const natShortens: Scenario = (o) =>
  runScenario('nat-shortens', { ...o, devicePeer: autoPeer({ learned: 5000, verifyEvery: 5000 }) }, {}, async (ctx) => {
    await ctx.nat.setUdpTimeouts(5);
    await startResponder(ctx);
    const dev = await connectDevice(ctx, { keepalive: 0 });
    await sleep(6000);
    await ctx.markBytes();
    await ctx.nat.setUdpTimeouts(2);
    await ctx.nat.flushConntrack(); // existing entries keep their old timer otherwise
    const t0 = Date.now();
    const a = await waitUntil('the adaptive keepalive to relearn a 2 s NAT timeout', 90_000, async () => {
      const x = await adaptiveOf(dev);
      return !x.learning && x.failed > 0 && x.interval < 2000 ? x : undefined;
    }, 250);
    const relearnMs = Date.now() - t0;
    await sleep(6000);
    const r = await measureRecovery(ctx, { timeoutMs: 3000 });
    return {
      recoveryMs: relearnMs,
      notes: `conntrack timeout 5 s → 2 s; relearned ${(a.estimate / 1000).toFixed(2)} s (keepalive every ${(a.interval / 1000).toFixed(2)} s) ` +
        `in ${(relearnMs / 1000).toFixed(1)} s, ${a.failed} unanswered probes in all; after 6 s idle the server's ping took ${r.recoveryMs} ms`,
      metrics: { relearnMs, estimateMs: Math.round(a.estimate), intervalMs: Math.round(a.interval), pingAfterMs: r.recoveryMs },
    };
  });

/**
 * 8. Server restart: the server loses its session (and, having no endpoint configured, cannot
 * reach the device) while the device keeps its own. `auto`: the adaptive keepalive (lifetime
 * known, verification every 5 s, passive probes) notices the unanswered probe and handshakes at
 * once. Stock (keepalive 2 s): keepalives draw no answer, so the device notices nothing until it
 * rekeys, REKEY_AFTER_TIME after its session began. recoveryMs from the restart.
 */
export function serverRestart(auto: boolean, boundMs = 30_000, keepaliveS = 2): Scenario {
  return (o) =>
    runScenario(`server-restart-${auto ? 'auto' : 'stock'}${o.timeScale ? `-scaled-${o.timeScale}x` : ''}`,
      { ...o, devicePeer: auto ? autoPeer({ echo: false, learned: 2700, verifyEvery: 5000 }) : undefined }, {}, async (ctx) => {
      const dev = await connectDevice(ctx, { keepalive: keepaliveS });
      const n = dev.events.length;
      await ctx.markBytes();
      let t0 = 0;
      const r = await measureRecovery(ctx, {
        fault: async () => {
          await ctx.server.restart();
          t0 = Date.now();
        },
        timeoutMs: boundMs,
      });
      const hs = dev.events.slice(n).some(isHandshake);
      return {
        recoveryMs: r.recoveryMs,
        notes: `server restarted (session and device endpoint lost); ${auto ? 'adaptive keepalive, verification every 5 s' : `stock keepalive ${keepaliveS} s`}; ` +
          (o.timeScale ? `timers ${o.timeScale}× faster on both peers (REKEY_AFTER_TIME = ${120 / o.timeScale} s); ` : '') +
          (r.recoveryMs === null ? `not recovered in ${boundMs / 1000} s` : `device handshook again: ${hs}`),
        metrics: { restartMs: t0 ? Date.now() - t0 : null },
      };
    });
}

/**
 * 9. The captured stuck-rekey state: the server's config names the device's endpoint (router WAN
 * address, port 51820) and it initiated the session, so the device is the responder and never
 * rekeys on time. The NAT then moves the device to another public port (conntrack flushed, port
 * range 40000–40999), and the server restarts: it retries initiations every ~5 s to the stale
 * endpoint while the device's keepalives, on a session the server lost, are dropped. A stock
 * pair stays stuck until the device's session expires (REJECT_AFTER_TIME, 180 s). wgjs as the
 * server re-sends its initiation to the device's new port when it sees that unknown-session
 * traffic; wgjs as the device (adaptive keepalive) notices the unanswered probe. recoveryMs from
 * the restart.
 */
export function stuckRekey(auto: boolean, boundMs = 30_000): Scenario {
  const name = `stuck-rekey-${auto ? 'auto' : 'stock'}-device`;
  return (o) =>
    runScenario(name, { ...o, serverKnowsDevice: true }, {}, async (ctx) => {
      const dev = await ctx.startDevice({ keepalive: 0 });
      // A port forward on the router lets the server initiate: the device is the session's responder.
      const wan = ctx.nat.wan.a.ifname;
      const nft = (...args: string[]) => ctx.lab.exec(ctx.nat.router, 'nft', args);
      await nft('add', 'chain', 'inet', 'wgjs_nat', 'prerouting', '{ type nat hook prerouting priority dstnat; policy accept; }');
      await nft('add', 'rule', 'inet', 'wgjs_nat', 'prerouting', 'iifname', wan, 'udp', 'dport', String(WG_PORT),
        'dnat', 'ip', 'to', `${ctx.nat.lan.b.v4}:${WG_PORT}`);
      const first = await measureRecovery(ctx, { timeoutMs: 10_000 });
      if (first.recoveryMs === null) throw new Error('the server could not reach the device through its configured endpoint');
      const ka = auto ? autoPeer({ echo: false, learned: 2700, verifyEvery: 5000 }) : { persistentKeepalive: 2 };
      dev.send({ cmd: 'peer', config: { publicKey: ctx.serverKey.publicKey, ...ka } });
      await nextEvent(dev, 0, (e) => e.event === 'peer', 5000);
      // Idle, as in the trace: the device's last echo reply (data) armed its "sent data, heard
      // nothing" handshake timer; the server's passive keepalive, 10 s after it, clears that.
      await sleep(12_000);
      const ep0 = await currentEndpoint(ctx);
      // The NAT rebinds: the forward goes, the device's traffic leaves from another port.
      await nft('delete', 'chain', 'inet', 'wgjs_nat', 'prerouting');
      await nft('insert', 'rule', 'inet', 'wgjs_nat', 'postrouting', 'oifname', wan,
        'udp', 'sport', String(WG_PORT), 'masquerade', 'to', ':40000-40999');
      await ctx.nat.flushConntrack();
      await sleep(3000); // the device's keepalives now leave from the new port
      await ctx.markBytes();
      let t0 = 0;
      const r = await measureRecovery(ctx, {
        fault: async () => {
          await ctx.server.restart();
          t0 = Date.now();
        },
        timeoutMs: boundMs,
      });
      const ep1 = await currentEndpoint(ctx);
      return {
        recoveryMs: r.recoveryMs,
        notes: `device = responder; NAT port ${ep0} → 40000–40999; server restarted with the stale endpoint; ` +
          `${auto ? 'device: adaptive keepalive (verification every 5 s)' : 'device: stock keepalive 2 s'}; ` +
          (r.recoveryMs === null ? `still stuck after ${boundMs / 1000} s` : `server endpoint now ${ep1}`),
        metrics: { restartMs: t0 ? Date.now() - t0 : null },
      };
    });
}

/**
 * 10. Idle cost, measured against the model: `windowS` of idle with a stock keepalive of 2 s and
 * with the adaptive keepalive (lifetime 2.7 s known, no verification in the window), counted by
 * the router's nft counters, next to `dailyCost` for the same policy and window.
 */
export function idleCost(auto: boolean, windowS = 40): Scenario {
  return (o) =>
    runScenario(`idle-cost-${auto ? 'auto' : 'stock'}`, { ...o, devicePeer: auto ? autoPeer({ echo: false, learned: 2700, verifyEvery: 3_600_000 }) : undefined }, {}, async (ctx) => {
      const dev = await connectDevice(ctx, { keepalive: 2 });
      await sleep(500);
      const st0 = (await dev.status()).peers[0];
      await ctx.markBytes();
      await sleep(windowS * 1000);
      const b = await ctx.bytesSinceMark();
      const st1 = (await dev.status()).peers[0];
      const interval = auto ? (await adaptiveOf(dev)).interval / 1000 : 2;
      return {
        recoveryMs: null,
        notes: `${windowS} s idle, keepalive ${auto ? 'auto' : 'stock'} every ${interval.toFixed(2)} s`,
        metrics: {
          windowS, intervalS: interval,
          // The engine's own count of WireGuard bytes sent, for the model comparison.
          engineTxBytes: st1.txBytes - st0.txBytes, engineRxBytes: st1.rxBytes - st0.rxBytes,
        },
        bytes: b,
      };
    });
}

/** Longest first: they set the file's wall time, the others run alongside. */
/**
 * 11. Sleep and wake: the device (no keepalive) is put to sleep, its NAT mapping expires, and after
 * `sleepS` it reports one datagram (`reportUdp`): after a short sleep the session is still young
 * and the report goes alone; after more than REKEY_AFTER_TIME − KEEPALIVE_TIMEOUT (110 s) it is one
 * handshake with the report as its confirmation. Nothing else is sent in the 8 s after it.
 * recoveryMs: from the report to its arrival at the server's UDP socket.
 */
export function sleepAndWake(sleepS: number): Scenario {
  return (o) =>
    runScenario(`sleep-and-wake-${sleepS}s`, o, {}, async (ctx) => {
      const dev = await connectDevice(ctx, { keepalive: 0 });
      const rx = await ctx.lab.udpReceiver(ctx.nat.server, 5555, { host: SERVER_TUNNEL_IP });
      dev.send({ cmd: 'sleep', peer: ctx.serverKey.publicKey });
      await sleep(sleepS * 1000);
      await ctx.markBytes();
      const t0 = Date.now();
      dev.send({ cmd: 'report', dst: SERVER_TUNNEL_IP, port: 5555, data: 'reading 21.5C' });
      await rx.waitFor(1, 10_000);
      const recoveryMs = Date.now() - t0;
      const atReport = await ctx.bytesSinceMark();
      await sleep(8000);
      const after = await ctx.bytesSinceMark();
      await rx.close();
      const st = (await dev.status()).peers[0] as unknown as { asleep: boolean };
      return {
        recoveryMs,
        notes: `asleep ${sleepS} s (mapping expired); report: ${atReport.up} B up, ${atReport.down} B down; ` +
          `${after.up - atReport.up} B up in the 8 s after; asleep again: ${st.asleep}`,
        metrics: { reportUp: atReport.up, reportDown: atReport.down, afterUp: after.up - atReport.up, asleep: st.asleep ? 1 : 0 },
        bytes: after,
      };
    });
}

/**
 * What `dailyCost` predicts for an idle-cost result's window: the same policy and length, less
 * the handshake the model's period starts with (initiation 176 + confirmation 60 B up, response
 * 120 B down) — the scenario's window starts after it.
 */
export function idleCostModel(r: ScenarioResult): { up: number; down: number } {
  const m = dailyCost({
    keepalive: r.metrics.intervalS!, natTimeout: NAT_TIMEOUT_S, seconds: r.metrics.windowS!, rtt: 0,
    refreshOnReceive: !r.name.endsWith('auto'),
  });
  return { up: m.upBytes - 176 - 60, down: m.downBytes - 120 };
}

export const ADAPTIVE_TAUS = [20, 10, 5, 2] as const;

/** The adaptive-keepalive scenarios run in CI (the stock baselines that take minutes are bench-only). */
export const ADAPTIVE_SCENARIOS: ReadonlyArray<{ name: string; run: Scenario; servers?: readonly ServerKind[] }> = [
  ...ADAPTIVE_TAUS.map((t) => ({ name: `adaptive-learning-${t}s`, run: adaptiveLearning(t) })),
  { name: 'nat-shortens', run: natShortens },
  { name: 'server-restart-auto', run: serverRestart(true) },
  // The stock recovery (the device's next rekey) with both wgjs peers' timers 10× faster: a stock
  // 25 s keepalive is 2.5 s here, REKEY_AFTER_TIME 12 s.
  { name: 'server-restart-stock-scaled-10x', run: (o) => serverRestart(false, 30_000, 25)({ ...o, timeScale: 10 }), servers: ['wgjs'] },
  { name: 'stuck-rekey-auto-device', run: stuckRekey(true) },
  // A stock device recovers only with wgjs as the server (wireguard-go: stuck up to 180 s).
  { name: 'stuck-rekey-stock-device', run: stuckRekey(false), servers: ['wgjs'] },
  { name: 'idle-cost-stock', run: idleCost(false), servers: ['wireguard-go'] },
  { name: 'idle-cost-auto', run: idleCost(true), servers: ['wireguard-go'] },
  { name: 'sleep-and-wake-5s', run: sleepAndWake(5) },
];

/** Every scenario, by name, in running order. */
export const SCENARIOS: ReadonlyArray<{ name: string; run: Scenario }> = [
  { name: 'mapping-expiry-no-keepalive', run: mappingExpiryNoKeepalive },
  { name: 'mapping-expiry-with-keepalive', run: mappingExpiryWithKeepalive },
  { name: 'nat-rebinding', run: natRebinding },
  { name: 'device-ip-change-told', run: deviceIpChange(true) },
  { name: 'device-ip-change-untold', run: deviceIpChange(false) },
  { name: 'device-reboot-persisted', run: deviceReboot(true) },
  { name: 'device-reboot-no-persist', run: deviceReboot(false) },
  { name: 'handshake-loss', run: handshakeLoss },
];

/** A markdown table of results (scenario × server). */
export function resultsTable(results: readonly ScenarioResult[]): string {
  const rows = results.map(
    (r) => `| ${r.name} | ${r.server} | ${r.recoveryMs === null ? '—' : r.recoveryMs} | ${r.upBytes} | ${r.downBytes} | ${r.notes.replace(/\|/g, '\\|')} |`,
  );
  return ['| scenario | server | recovery (ms) | bytes up | bytes down | notes |', '|---|---|---:|---:|---:|---|', ...rows].join('\n');
}
