/**
 * The keepalive probe responder (issue #5): a tiny UDP service, run on a server on its tunnel
 * address, that answers NAT-lifetime probes after the delay each one asks for. A device that gets
 * the answer knows its NAT mapping survived that long idle (wire format in @wgjs/core probe.ts).
 *
 * It only ever answers the sender, with a reply no larger than the request, and holds at most
 * MAX_PENDING_PER_SOURCE pending replies per source address and MAX_PENDING_TOTAL in all, so it
 * can be used neither to amplify traffic nor to exhaust memory.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import {
  PROBE_BAD_DELAY, PROBE_BAD_MAGIC, PROBE_BAD_RESERVED, PROBE_BAD_SIZE, PROBE_BAD_TYPE, PROBE_BAD_VERSION,
  PROBE_REPLY, PROBE_REQUEST, PROBE_SIZE, PROBE_TYPE_OFFSET, parseProbe, probeDelayMs,
} from '@wgjs/core';

/** Pending replies allowed per source address. */
export const MAX_PENDING_PER_SOURCE = 8;
/** Pending replies allowed in all. */
export const MAX_PENDING_TOTAL = 4096;

/** Counters of a ProbeResponder. */
export interface ProbeResponderStats {
  /** Datagrams received. */
  received: number;
  /** Valid requests accepted (a reply was scheduled). */
  requests: number;
  /** Replies sent. */
  replies: number;
  /** Replies the socket failed to send. */
  sendErrors: number;
  /** Datagrams ignored, by reason. */
  dropped: {
    size: number;
    magic: number;
    version: number;
    /** A valid probe that is not a request (e.g. a reply). */
    type: number;
    reserved: number;
    /** Delay above PROBE_MAX_DELAY_MS. */
    delay: number;
    /** The source already had MAX_PENDING_PER_SOURCE replies pending. */
    perSource: number;
    /** MAX_PENDING_TOTAL replies were pending. */
    total: number;
  };
}

/** Where to listen: an IP literal (no brackets) and a port (0 = any free port). */
export interface ProbeResponderOptions {
  host: string;
  port: number;
}

/** "a.b.c.d:port" or "[v6]:port". */
function formatAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Answers keepalive probes on one UDP socket; see the module comment. */
export class ProbeResponder {
  /** The address bound, "host:port" or "[v6]:port" (with the real port when 0 was asked). */
  readonly address: string;
  /** Live counters. */
  readonly stats: ProbeResponderStats;
  private socket: dgram.Socket;
  private timers = new Set<NodeJS.Timeout>();
  private pending = new Map<string, number>();
  private closed = false;

  private constructor(socket: dgram.Socket, address: string) {
    this.socket = socket;
    this.address = address;
    this.stats = {
      received: 0, requests: 0, replies: 0, sendErrors: 0,
      dropped: { size: 0, magic: 0, version: 0, type: 0, reserved: 0, delay: 0, perSource: 0, total: 0 },
    };
    socket.on('message', (msg, rinfo) => this.onMessage(msg, rinfo));
    // A send error (e.g. ICMP unreachable reported on a later call) must not kill the service.
    socket.on('error', () => {
      this.stats.sendErrors++;
    });
  }

  /**
   * Binds a UDP socket on `host:port` and starts answering. Rejects with an Error whose `code`
   * is the system's (EADDRINUSE, EADDRNOTAVAIL, EACCES, …) if the address cannot be bound, or
   * EINVAL if `host` is not an IP address or `port` not in 0..65535.
   */
  static async start(opts: ProbeResponderOptions): Promise<ProbeResponder> {
    const family = net.isIP(opts.host);
    if (family === 0 || !(Number.isInteger(opts.port) && opts.port >= 0 && opts.port <= 65535)) {
      throw Object.assign(new Error(`cannot listen on ${opts.host}:${opts.port}: need an IP address and a port 0..65535`), { code: 'EINVAL' });
    }
    const socket = dgram.createSocket({ type: family === 6 ? 'udp6' : 'udp4', ipv6Only: family === 6 });
    await new Promise<void>((resolve, reject) => {
      const onError = (e: Error) => {
        socket.close();
        reject(e);
      };
      socket.once('error', onError);
      socket.bind(opts.port, opts.host, () => {
        socket.off('error', onError);
        resolve();
      });
    });
    const a = socket.address();
    return new ProbeResponder(socket, formatAddress(a.address, a.port));
  }

  private onMessage(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const st = this.stats;
    st.received++;
    if (this.closed) return;
    const bytes = new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength);
    const kind = parseProbe(bytes, 0, bytes.length);
    if (kind !== PROBE_REQUEST) {
      const d = st.dropped;
      if (kind === PROBE_BAD_SIZE) d.size++;
      else if (kind === PROBE_BAD_MAGIC) d.magic++;
      else if (kind === PROBE_BAD_VERSION) d.version++;
      else if (kind === PROBE_BAD_RESERVED) d.reserved++;
      else if (kind === PROBE_BAD_DELAY) d.delay++;
      else if (kind === PROBE_BAD_TYPE || kind === PROBE_REPLY) d.type++;
      return;
    }
    if (this.timers.size >= MAX_PENDING_TOTAL) {
      st.dropped.total++;
      return;
    }
    const src = rinfo.address;
    const n = this.pending.get(src) ?? 0;
    if (n >= MAX_PENDING_PER_SOURCE) {
      st.dropped.perSource++;
      return;
    }
    this.pending.set(src, n + 1);
    st.requests++;
    const reply = new Uint8Array(PROBE_SIZE);
    reply.set(bytes);
    reply[PROBE_TYPE_OFFSET] = PROBE_REPLY;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.release(src);
      this.socket.send(reply, rinfo.port, rinfo.address, (err) => {
        if (err) st.sendErrors++;
        else st.replies++;
      });
    }, probeDelayMs(bytes, 0));
    this.timers.add(timer);
  }

  private release(src: string): void {
    const n = (this.pending.get(src) ?? 1) - 1;
    if (n > 0) this.pending.set(src, n);
    else this.pending.delete(src);
  }

  /** Replies scheduled and not yet sent. */
  get pendingReplies(): number {
    return this.timers.size;
  }

  /** Cancels every pending reply and closes the socket. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.pending.clear();
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }
}

/** Parses "a.b.c.d:port" or "[v6]:port" (port 0..65535); returns a sentence on error. */
export function parseListenAddress(text: string): ProbeResponderOptions | string {
  let host: string;
  let portText: string;
  if (text.startsWith('[')) {
    const end = text.indexOf(']');
    if (end < 0 || text[end + 1] !== ':') return `"${text}" must look like [ipv6-address]:port`;
    host = text.slice(1, end);
    portText = text.slice(end + 2);
    if (!net.isIPv6(host)) return `"${host}" is not an IPv6 address`;
  } else {
    const i = text.lastIndexOf(':');
    if (i < 0) return `"${text}" has no port: write it as address:port, e.g. 10.0.0.1:51821`;
    host = text.slice(0, i);
    portText = text.slice(i + 1);
    if (host.includes(':')) return `put an IPv6 address in brackets, e.g. [fd00::1]:51821`;
    if (!net.isIPv4(host)) return `"${host}" is not an IPv4 address (give the tunnel address, not a host name)`;
  }
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) return `invalid port "${portText}" (must be 0..65535)`;
  return { host, port: Number(portText) };
}

/** Why a bind failed, in words an operator can act on. */
function bindProblem(e: NodeJS.ErrnoException): string {
  switch (e.code) {
    case 'EADDRINUSE': return 'the port is already in use';
    case 'EADDRNOTAVAIL': return 'no such address on this host (is the tunnel up and its address assigned?)';
    case 'EACCES': return 'permission denied (ports below 1024 need root)';
    default: return e.message;
  }
}

/**
 * `wgjs probe-responder <addr:port>`: answers probes until SIGINT/SIGTERM. Prints one line when
 * listening. Exit code 0 after a clean stop, 1 if the address cannot be bound, 2 for usage errors.
 */
export async function probeResponderMain(args: string[]): Promise<number> {
  const usage = 'usage: wgjs probe-responder <address:port>   (e.g. 10.0.0.1:51821 or [fd00::1]:51821)';
  if (args.length !== 1 || args[0].startsWith('-')) {
    process.stderr.write(`wgjs: ${usage}\n`);
    return 2;
  }
  const where = parseListenAddress(args[0]);
  if (typeof where === 'string') {
    process.stderr.write(`wgjs: probe-responder: ${where}\n${usage}\n`);
    return 2;
  }
  let responder: ProbeResponder;
  try {
    responder = await ProbeResponder.start(where);
  } catch (e) {
    process.stderr.write(`wgjs: probe-responder: cannot listen on ${args[0]}: ${bindProblem(e as NodeJS.ErrnoException)}\n`);
    return 1;
  }
  process.stdout.write(`wgjs probe-responder: listening on ${responder.address} (UDP)\n`);
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  const pending = responder.pendingReplies;
  await responder.close();
  const s = responder.stats;
  const dropped = Object.values(s.dropped).reduce((a, b) => a + b, 0);
  process.stderr.write(`wgjs probe-responder: stopped; ${s.requests} requests, ${s.replies} replies, ${dropped} ignored, ${pending} pending cancelled\n`);
  return 0;
}
