/**
 * UDP transports for the host peer: {@link NativeUdp} (the addon: recvmmsg into a preallocated
 * slab, sendto/sendmmsg, no per-datagram allocation) and {@link DgramUdp} (node:dgram, the
 * fallback). {@link openUdp} picks the native one when the addon loads (it is measured faster:
 * see README "Native data path"), else node:dgram with a printed reason.
 *
 * Endpoint strings are "a.b.c.d:port" or "[v6]:port" (link-local: "[fe80::1%ifname]:port"),
 * formatted by libuv exactly as node:dgram formats sources; IPv4-mapped IPv6 sources of a
 * dual-stack socket appear as plain IPv4.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { ADDR_SIZE, codedError, errnoName, loadNative, nativeLoadError, type NativeAddon } from './native.js';

/** Called once per received datagram; `buf` is reused after the call returns. */
export type DatagramHandler = (buf: Uint8Array, off: number, len: number, endpoint: string) => void;

/** What the host peer needs from a UDP socket. */
export interface UdpTransport {
  /** "native" (addon) or "dgram" (node:dgram). */
  readonly kind: 'native' | 'dgram';
  /** The bound local port. */
  readonly port: number;
  /** 4, or 6 for a dual-stack socket. */
  readonly family: 4 | 6;
  /**
   * Sends `buf[off, off+len)` to `endpoint` ("a.b.c.d:port" / "[v6]:port"). The bytes are
   * copied or sent before this returns, so the caller may reuse `buf` at once. Never throws for
   * network conditions: a full socket buffer or an unreachable destination is counted in
   * {@link stats}. Throws TypeError for a malformed endpoint string.
   */
  send(buf: Uint8Array, off: number, len: number, endpoint: string): void;
  /** Sets the receive handler and starts receiving (datagrams before this are left queued in the kernel). */
  onDatagram(cb: DatagramHandler): void;
  /**
   * Batching hint: sends between cork() and the matching uncork() may be queued and flushed
   * together (one sendmmsg). Nested calls are counted. A no-op for node:dgram.
   */
  cork(): void;
  uncork(): void;
  /** Whether the socket keeps the event loop alive (default yes). */
  ref(): void;
  unref(): void;
  /** Counters since open. */
  stats(): UdpStats;
  /** Closes the socket; idempotent. */
  close(): void;
}

/** Transport counters. */
export interface UdpStats {
  rxPackets: number;
  rxBytes: number;
  txPackets: number;
  txBytes: number;
  /** Dropped because the socket send buffer was full (EAGAIN/ENOBUFS). */
  txDropped: number;
  /** Other send errors (unreachable, wrong family...); the last one is in lastTxError. */
  txErrors: number;
  lastTxError: string | null;
  /** Received datagrams larger than a receive slot (native only), dropped. */
  rxTruncated: number;
  rxErrors: number;
  /** Endpoint strings formatted (receive-side cache misses; native only). */
  endpointMisses: number;
}

/** Options for {@link openUdp}, {@link NativeUdp.open}, {@link DgramUdp.open}. */
export interface UdpOptions {
  /** 4, or 6 (default) for a dual-stack IPv6 socket that also sends and receives IPv4. */
  family?: 4 | 6;
  /** Local address (default: any). */
  bindAddress?: string;
  /** Local port (default 0: the kernel picks one). */
  port?: number;
  /** Socket buffer sizes in bytes (default: the kernel's). */
  recvBufferSize?: number;
  sendBufferSize?: number;
  /** Native only: datagrams per recvmmsg (default 64, at most 1024). */
  batch?: number;
  /** Native only: receive slot size; longer datagrams are dropped and counted (default 65536). */
  slotSize?: number;
  /** Which implementation {@link openUdp} uses (default "auto", or the WGJS_UDP variable). */
  impl?: 'auto' | 'native' | 'dgram';
}

// ---------------------------------------------------------------------------------------------
// Native

// Counter indices (a Float64Array, so counting never allocates).
const RX_PACKETS = 0;
const RX_BYTES = 1;
const TX_PACKETS = 2;
const TX_BYTES = 3;
const TX_DROPPED = 4;
const TX_ERRORS = 5;
const RX_TRUNCATED = 6;
const RX_ERRORS = 7;
const EP_MISSES = 8;
const N_COUNTERS = 9;

const EAGAIN = -11;
const ENOBUFS = -105;
const EAFNOSUPPORT = -97;

/** Receive-side endpoint cache: direct-mapped, keyed by the 24-byte address record. */
const RX_CACHE = 256;
/** Send-side cache of parsed endpoint strings; cleared when full. */
const TX_CACHE = 1024;
/** Queue used while corked. */
const TX_SLOTS = 64;
const TX_SLOT_SIZE = 2048;
const WORDS = ADDR_SIZE / 4;

/**
 * UDP through the addon. Receiving: one recvmmsg per wake-up into a preallocated slab, one
 * JS callback per batch, the handler called per datagram with a cached endpoint string (a new
 * string is formatted only for a source not seen recently). Sending: sendto, or sendmmsg of
 * the datagrams queued while corked (sends made from inside a receive handler are corked
 * automatically and flushed after the batch).
 */
export class NativeUdp implements UdpTransport {
  readonly kind = 'native' as const;
  readonly port: number;
  readonly family: 4 | 6;
  readonly fd: number;
  private addon: NativeAddon;
  private closed: boolean;
  private refed: boolean;
  private handler: DatagramHandler | null;
  private counters: Float64Array;
  private lastTxError: string | null;
  // receive
  private slots: number;
  private slotSize: number;
  private rxSlab: Uint8Array;
  private rxLengths: Int32Array;
  private rxAddrs: Uint8Array;
  private rxAddr32: Int32Array;
  private rxKeys: Int32Array;
  private rxEps: string[];
  private onBatch: (count: number) => void;
  // send
  private txIndex: Map<string, number>;
  private txAddrs: Uint8Array;
  private txAddr32: Int32Array;
  private txNext: number;
  private lastEp: string | null;
  private lastIdx: number;
  private corkDepth: number;
  private qSlab: Uint8Array;
  private qOffsets: Int32Array;
  private qLengths: Int32Array;
  private qAddrs: Uint8Array;
  private qAddr32: Int32Array;
  private qCount: number;

  private constructor(addon: NativeAddon, fd: number, port: number, family: 4 | 6, opts: UdpOptions) {
    this.addon = addon;
    this.fd = fd;
    this.port = port;
    this.family = family;
    this.closed = false;
    this.refed = true;
    this.handler = null;
    this.counters = new Float64Array(N_COUNTERS);
    this.lastTxError = null;
    this.slots = Math.max(1, Math.min(opts.batch ?? 64, addon.MAX_SLOTS));
    this.slotSize = Math.max(64, Math.min(opts.slotSize ?? 65536, 65536));
    this.rxSlab = new Uint8Array(this.slots * this.slotSize);
    this.rxLengths = new Int32Array(this.slots);
    this.rxAddrs = new Uint8Array(this.slots * ADDR_SIZE);
    this.rxAddr32 = new Int32Array(this.rxAddrs.buffer);
    // Family byte 0 never occurs in a real record, so the zeroed keys never match.
    this.rxKeys = new Int32Array(RX_CACHE * WORDS);
    this.rxEps = new Array<string>(RX_CACHE).fill('');
    this.onBatch = (count: number): void => this.dispatch(count);
    this.txIndex = new Map();
    this.txAddrs = new Uint8Array(TX_CACHE * ADDR_SIZE);
    this.txAddr32 = new Int32Array(this.txAddrs.buffer);
    this.txNext = 0;
    this.lastEp = null;
    this.lastIdx = 0;
    this.corkDepth = 0;
    this.qSlab = new Uint8Array(TX_SLOTS * TX_SLOT_SIZE);
    this.qOffsets = new Int32Array(TX_SLOTS);
    for (let i = 0; i < TX_SLOTS; i++) this.qOffsets[i] = i * TX_SLOT_SIZE;
    this.qLengths = new Int32Array(TX_SLOTS);
    this.qAddrs = new Uint8Array(TX_SLOTS * ADDR_SIZE);
    this.qAddr32 = new Int32Array(this.qAddrs.buffer);
    this.qCount = 0;
  }

  /** Whether the addon is available (else {@link nativeLoadError} says why). */
  static available(): boolean {
    return loadNative() !== null;
  }

  /** Opens and binds the socket. Throws EADDRINUSE etc. with a clear message; throws if the addon is missing. */
  static open(opts: UdpOptions = {}): NativeUdp {
    const addon = loadNative();
    if (!addon) throw codedError(`NativeUdp unavailable: ${nativeLoadError()}`, 'ENOTSUP');
    const family = opts.family ?? 6;
    const r = addon.udpOpen(family, opts.bindAddress ?? null, opts.port ?? 0, opts.recvBufferSize ?? null, opts.sendBufferSize ?? null);
    return new NativeUdp(addon, r.fd, r.port, family, opts);
  }

  onDatagram(cb: DatagramHandler): void {
    if (this.closed) throw codedError('NativeUdp: socket is closed', 'EBADF');
    const first = this.handler === null;
    this.handler = cb;
    if (first) {
      this.addon.udpStartReading(this.fd, this.rxSlab, this.slotSize, this.slots, this.rxAddrs, this.rxLengths, this.onBatch);
      if (!this.refed) this.addon.setReaderRef(this.fd, false);
    }
  }

  /** One receive batch (called by the addon). */
  private dispatch(count: number): void {
    const c = this.counters;
    if (count < 0) {
      c[RX_ERRORS]++;
      return;
    }
    const cb = this.handler!;
    const lengths = this.rxLengths;
    const slab = this.rxSlab;
    const slotSize = this.slotSize;
    this.corkDepth++;
    try {
      for (let i = 0; i < count; i++) {
        if (this.closed) return;
        const len = lengths[i];
        if (len < 0) {
          c[RX_TRUNCATED]++;
          continue;
        }
        c[RX_PACKETS]++;
        c[RX_BYTES] += len;
        cb(slab, i * slotSize, len, this.endpointAt(i));
      }
    } finally {
      this.corkDepth--;
      if (this.corkDepth === 0 && this.qCount > 0 && !this.closed) this.flush();
    }
  }

  /** The endpoint string of receive slot i, from the cache when this source was seen recently. */
  private endpointAt(i: number): string {
    const a = this.rxAddr32;
    const b = i * WORDS;
    const w0 = a[b];
    const w1 = a[b + 1];
    const w2 = a[b + 2];
    const w3 = a[b + 3];
    const w4 = a[b + 4];
    const w5 = a[b + 5];
    let h = Math.imul(w0 ^ 0x2545f491, 0x9e3779b1);
    h = Math.imul(h ^ w1, 0x85ebca6b);
    h = Math.imul(h ^ w2, 0xc2b2ae35);
    h = Math.imul(h ^ w3, 0x27d4eb2f);
    h = Math.imul(h ^ w4, 0x165667b1);
    h = Math.imul(h ^ w5, 0x9e3779b1);
    const slot = (h ^ (h >>> 15)) & (RX_CACHE - 1);
    const k = this.rxKeys;
    const o = slot * WORDS;
    if (k[o] === w0 && k[o + 1] === w1 && k[o + 2] === w2 && k[o + 3] === w3 && k[o + 4] === w4 && k[o + 5] === w5) {
      return this.rxEps[slot];
    }
    // A new source: formatting allocates the string, once per source while it stays cached.
    const ep = this.addon.formatEndpoint(this.rxAddrs, i * ADDR_SIZE);
    k[o] = w0;
    k[o + 1] = w1;
    k[o + 2] = w2;
    k[o + 3] = w3;
    k[o + 4] = w4;
    k[o + 5] = w5;
    this.rxEps[slot] = ep;
    this.counters[EP_MISSES]++;
    return ep;
  }

  /** Index of `endpoint`'s address record in txAddrs (parsed once per endpoint string). */
  private addrIndex(endpoint: string): number {
    const known = this.txIndex.get(endpoint);
    if (known !== undefined) return known;
    if (this.txNext === TX_CACHE) {
      // Many distinct destinations: start over rather than grow without bound.
      this.txIndex.clear();
      this.txNext = 0;
      this.lastEp = null;
    }
    const idx = this.txNext;
    const r = this.addon.encodeEndpoint(endpoint, this.family, this.txAddrs, idx * ADDR_SIZE);
    if (r === EAFNOSUPPORT) return -1;
    if (r < 0) throw new TypeError(`NativeUdp.send: bad endpoint ${JSON.stringify(endpoint)} (${errnoName(r)})`);
    this.txNext++;
    this.txIndex.set(endpoint, idx);
    return idx;
  }

  send(buf: Uint8Array, off: number, len: number, endpoint: string): void {
    if (this.closed) return;
    let idx: number;
    if (endpoint === this.lastEp) idx = this.lastIdx;
    else {
      idx = this.addrIndex(endpoint);
      if (idx < 0) {
        this.txError(EAFNOSUPPORT);
        return;
      }
      this.lastEp = endpoint;
      this.lastIdx = idx;
    }
    if (this.corkDepth > 0 && len <= TX_SLOT_SIZE) {
      if (this.qCount === TX_SLOTS) this.flush();
      const q = this.qCount++;
      this.addon.copyBytes(this.qSlab, q * TX_SLOT_SIZE, buf, off, len);
      this.qLengths[q] = len;
      const d = this.qAddr32;
      const s = this.txAddr32;
      const dq = q * WORDS;
      const si = idx * WORDS;
      d[dq] = s[si];
      d[dq + 1] = s[si + 1];
      d[dq + 2] = s[si + 2];
      d[dq + 3] = s[si + 3];
      d[dq + 4] = s[si + 4];
      d[dq + 5] = s[si + 5];
      return;
    }
    // Keep datagram order: what is queued goes first.
    if (this.qCount > 0) this.flush();
    const r = this.addon.udpSend(this.fd, buf, off, len, this.txAddrs, idx * ADDR_SIZE);
    if (r >= 0) {
      this.counters[TX_PACKETS]++;
      this.counters[TX_BYTES] += len;
    } else this.txError(r);
  }

  private txError(r: number): void {
    if (r === EAGAIN || r === ENOBUFS) this.counters[TX_DROPPED]++;
    else {
      this.counters[TX_ERRORS]++;
      this.lastTxError = errnoName(r);
    }
  }

  /** Sends the queued datagrams with sendmmsg; one that fails is counted and skipped. */
  private flush(): void {
    const n = this.qCount;
    this.qCount = 0;
    let start = 0;
    while (start < n) {
      const r = this.addon.udpSendBatch(this.fd, this.qSlab, this.qOffsets, this.qLengths, this.qAddrs, n, start);
      if (r > 0) {
        for (let i = start; i < start + r; i++) this.counters[TX_BYTES] += this.qLengths[i];
        this.counters[TX_PACKETS] += r;
        start += r;
        continue;
      }
      if (r === EAGAIN || r === ENOBUFS) {
        // The socket buffer is full: the rest would fail the same way now.
        this.counters[TX_DROPPED] += n - start;
        return;
      }
      this.txError(r);
      start++;
    }
  }

  cork(): void {
    this.corkDepth++;
  }

  uncork(): void {
    if (this.corkDepth > 0) this.corkDepth--;
    if (this.corkDepth === 0 && this.qCount > 0 && !this.closed) this.flush();
  }

  ref(): void {
    this.refed = true;
    if (!this.closed) this.addon.setReaderRef(this.fd, true);
  }

  unref(): void {
    this.refed = false;
    if (!this.closed) this.addon.setReaderRef(this.fd, false);
  }

  stats(): UdpStats {
    const c = this.counters;
    return {
      rxPackets: c[RX_PACKETS],
      rxBytes: c[RX_BYTES],
      txPackets: c[TX_PACKETS],
      txBytes: c[TX_BYTES],
      txDropped: c[TX_DROPPED],
      txErrors: c[TX_ERRORS],
      lastTxError: this.lastTxError,
      rxTruncated: c[RX_TRUNCATED],
      rxErrors: c[RX_ERRORS],
      endpointMisses: c[EP_MISSES],
    };
  }

  close(): void {
    if (this.closed) return;
    if (this.qCount > 0) this.flush();
    this.closed = true;
    this.addon.udpClose(this.fd);
  }
}

// ---------------------------------------------------------------------------------------------
// node:dgram

/** "a.b.c.d:port" / "[v6]:port" from a node:dgram source; IPv4-mapped IPv6 shown as IPv4. */
export function formatDgramEndpoint(address: string, port: number): string {
  if (address.startsWith('::ffff:') && net.isIPv4(address.slice(7))) return `${address.slice(7)}:${port}`;
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

interface DgramDest {
  host: string;
  port: number;
}

/** Parses an endpoint string for a socket of `family`; null if malformed or of the wrong family. */
function parseDgramEndpoint(ep: string, family: 4 | 6): DgramDest | null | 'family' {
  let host: string;
  let portText: string;
  if (ep.startsWith('[')) {
    const close = ep.indexOf(']');
    if (close < 0 || ep[close + 1] !== ':') return null;
    host = ep.slice(1, close);
    portText = ep.slice(close + 2);
  } else {
    const colon = ep.lastIndexOf(':');
    if (colon < 0) return null;
    host = ep.slice(0, colon);
    portText = ep.slice(colon + 1);
  }
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) return null;
  const port = Number(portText);
  const pct = host.indexOf('%');
  const bare = pct >= 0 ? host.slice(0, pct) : host;
  if (net.isIPv4(host)) return { host: family === 6 ? `::ffff:${host}` : host, port };
  if (!net.isIPv6(bare)) return null;
  if (family === 4) {
    if (bare.toLowerCase().startsWith('::ffff:') && net.isIPv4(bare.slice(7))) return { host: bare.slice(7), port };
    return 'family';
  }
  return { host, port };
}

/**
 * UDP through node:dgram: the fallback. Costs per received datagram what node:dgram costs (a
 * Buffer and an rinfo object); sends copy the payload because node:dgram may hold on to it
 * after send() returns (when the socket buffer is full it queues the send).
 */
export class DgramUdp implements UdpTransport {
  readonly kind = 'dgram' as const;
  readonly port: number;
  readonly family: 4 | 6;
  private sock: dgram.Socket;
  private closed: boolean;
  private handler: DatagramHandler | null;
  private counters: Float64Array;
  private lastTxError: string | null;
  private dests: Map<string, DgramDest>;
  private lastAddr: string;
  private lastPort: number;
  private lastEp: string;

  private constructor(sock: dgram.Socket, family: 4 | 6) {
    this.sock = sock;
    this.family = family;
    this.port = sock.address().port;
    this.closed = false;
    this.handler = null;
    this.counters = new Float64Array(N_COUNTERS);
    this.lastTxError = null;
    this.dests = new Map();
    this.lastAddr = '';
    this.lastPort = -1;
    this.lastEp = '';
    sock.on('error', (err: Error & { code?: string }) => {
      this.counters[TX_ERRORS]++;
      this.lastTxError = err.code ?? err.message;
    });
  }

  /** Creates and binds a node:dgram socket. Rejects with EADDRINUSE etc. */
  static async open(opts: UdpOptions = {}): Promise<DgramUdp> {
    const family = opts.family ?? 6;
    const sock = dgram.createSocket({
      type: family === 6 ? 'udp6' : 'udp4',
      ipv6Only: false,
      recvBufferSize: opts.recvBufferSize,
      sendBufferSize: opts.sendBufferSize,
      // Destinations are always IP literals: answer synchronously instead of through dns.lookup
      // (which defers every send to a later tick).
      // (node:dgram calls lookup(address, family, callback)).
      lookup: ((host: string, fam: number, cb: (err: Error | null, addr: string, fam: number) => void) =>
        cb(null, host, fam)) as unknown as dgram.SocketOptions['lookup'],
    });
    const host = opts.bindAddress ?? (family === 6 ? '::' : '0.0.0.0');
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error & { code?: string }): void => {
        sock.close();
        const what = host.includes(':') ? `[${host}]:${opts.port ?? 0}` : `${host}:${opts.port ?? 0}`;
        const msg =
          err.code === 'EADDRINUSE'
            ? `DgramUdp: cannot bind UDP ${what}: address already in use (EADDRINUSE)`
            : `DgramUdp: cannot bind UDP ${what}: ${err.message}`;
        reject(codedError(msg, err.code ?? 'EIO'));
      };
      sock.once('error', onError);
      sock.bind({ port: opts.port ?? 0, address: host, exclusive: true }, () => {
        sock.removeListener('error', onError);
        resolve();
      });
    });
    return new DgramUdp(sock, family);
  }

  onDatagram(cb: DatagramHandler): void {
    const first = this.handler === null;
    this.handler = cb;
    if (!first) return;
    this.sock.on('message', (msg: Buffer, rinfo: dgram.RemoteInfo) => {
      let ep: string;
      if (rinfo.address === this.lastAddr && rinfo.port === this.lastPort) ep = this.lastEp;
      else {
        ep = formatDgramEndpoint(rinfo.address, rinfo.port);
        this.lastAddr = rinfo.address;
        this.lastPort = rinfo.port;
        this.lastEp = ep;
        this.counters[EP_MISSES]++;
      }
      this.counters[RX_PACKETS]++;
      this.counters[RX_BYTES] += msg.length;
      this.handler!(msg, 0, msg.length, ep);
    });
  }

  send(buf: Uint8Array, off: number, len: number, endpoint: string): void {
    if (this.closed) return;
    let d = this.dests.get(endpoint);
    if (d === undefined) {
      const p = parseDgramEndpoint(endpoint, this.family);
      if (p === 'family') {
        this.counters[TX_ERRORS]++;
        this.lastTxError = 'EAFNOSUPPORT';
        return;
      }
      if (p === null) throw new TypeError(`DgramUdp.send: bad endpoint ${JSON.stringify(endpoint)}`);
      if (this.dests.size >= TX_CACHE) this.dests.clear();
      this.dests.set(endpoint, p);
      d = p;
    }
    // Copy: node:dgram keeps a reference to the bytes if it has to queue the send.
    const copy = Buffer.allocUnsafe(len);
    copy.set(buf.subarray(off, off + len));
    this.sock.send(copy, d.port, d.host);
    this.counters[TX_PACKETS]++;
    this.counters[TX_BYTES] += len;
  }

  cork(): void {
    // node:dgram has no batching API.
  }

  uncork(): void {
    // node:dgram has no batching API.
  }

  ref(): void {
    if (!this.closed) this.sock.ref();
  }

  unref(): void {
    if (!this.closed) this.sock.unref();
  }

  stats(): UdpStats {
    const c = this.counters;
    return {
      rxPackets: c[RX_PACKETS],
      rxBytes: c[RX_BYTES],
      txPackets: c[TX_PACKETS],
      txBytes: c[TX_BYTES],
      txDropped: c[TX_DROPPED],
      txErrors: c[TX_ERRORS],
      lastTxError: this.lastTxError,
      rxTruncated: c[RX_TRUNCATED],
      rxErrors: c[RX_ERRORS],
      endpointMisses: c[EP_MISSES],
    };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sock.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Choice

let warned = false;

/**
 * Opens the preferred transport: {@link NativeUdp} when the addon loads, else {@link DgramUdp}
 * (printing why, once). `opts.impl` or the WGJS_UDP environment variable ("native"/"dgram")
 * forces one; forcing "native" without the addon throws.
 */
export async function openUdp(opts: UdpOptions = {}): Promise<UdpTransport> {
  const env = process.env.WGJS_UDP;
  const impl = opts.impl && opts.impl !== 'auto' ? opts.impl : env === 'native' || env === 'dgram' ? env : 'auto';
  if (impl === 'dgram') return DgramUdp.open(opts);
  if (impl === 'native' || NativeUdp.available()) return NativeUdp.open(opts);
  if (!warned) {
    warned = true;
    console.warn(`[wgjs] UDP: using node:dgram (slower): ${nativeLoadError()}`);
  }
  return DgramUdp.open(opts);
}
