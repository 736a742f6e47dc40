/**
 * Library mode: a WireGuard device in a Node process with no TUN and no root. The application
 * sends and receives inner IP packets (or UDP datagrams and pings, built for it) through the
 * tunnel; the outer transport is a node:dgram UDP socket.
 *
 * ```ts
 * const dev = await WgDevice.create({ privateKey, listenPort: 51820, address: ['10.0.0.1/24'] });
 * dev.addPeer({ publicKey, allowedIPs: ['10.0.0.2/32'], endpoint: '203.0.113.5:51820' });
 * dev.on('udp', (d) => console.log(d.src, d.srcPort, d.payload));
 * dev.sendUdp('10.0.0.2', 9000, new TextEncoder().encode('hello'), 9000);
 * ```
 */
import dns from 'node:dns/promises';
import net from 'node:net';
import { EventEmitter } from 'node:events';
import { randomFillSync } from 'node:crypto';
import {
  Engine, Drop, DROP_NAMES, EVENT_HANDSHAKE_COMPLETE, EVENT_ENDPOINT_CHANGED, EVENT_HANDSHAKE_GAVE_UP, EVENT_HANDSHAKE_INITIATED,
  formatKey, parseKey, parseCidr, formatIp, wgError, createPortableProvider,
  type CryptoProvider, type EngineSink, type PeerStatus, type AdaptiveKeepaliveOptions, type PeerUpdate,
} from '@wgjs/core';
import { formatDgramEndpoint, openUdp, type UdpTransport } from './udp.js';
import { checkEndpoint } from './config.js';
import type { TunDevice } from './tun.js';
import { answerEcho, parseIcmpEcho, parseUdp, writeIcmpEcho, writeUdp, udpInfo, echoInfo, ECHO_REQUEST, ECHO_REPLY } from '@wgjs/core/ip';

export interface DeviceOptions {
  /** Base64 private key (as `wg genkey` prints) or 32 raw bytes. */
  privateKey: string | Uint8Array;
  /** UDP port to listen on; 0 or undefined picks a free one. */
  listenPort?: number;
  /** Local address to bind (default: all, dual-stack). */
  bindAddress?: string;
  /** Our tunnel addresses with prefix, e.g. ['10.0.0.1/24', 'fd00::1/64']: sources for sendUdp/ping. */
  address?: string[];
  /** Answer ICMP echo requests to our tunnel addresses (default true). */
  answerPings?: boolean;
  crypto?: CryptoProvider;
  maxPeers?: number;
  mtu?: number;
  /**
   * Wall clock in ms since the Unix epoch, used only for handshake timestamps (default Date.now).
   * A device without a real-time clock may pass its uptime; it should then persist the timestamp
   * ({@link WgDevice.saveTimestamp}) and restore it after a reboot, or peers reject its handshakes.
   */
  wallTime?: () => number;
  /**
   * Runs the engine's clock this many times faster than real time (default 1), so every protocol
   * timer (REKEY_TIMEOUT, KEEPALIVE_TIMEOUT, REKEY_AFTER_TIME, keepalives…) shrinks by the same
   * factor: for labs that compress minutes of NAT behaviour into seconds. Both peers must use it.
   */
  timeScale?: number;
}

export interface DevicePeerConfig {
  publicKey: string | Uint8Array;
  presharedKey?: string | Uint8Array | null;
  allowedIPs?: string[];
  /** "host:port", "[v6]:port"; hostnames are resolved (and re-resolved when handshakes go stale). */
  endpoint?: string | null;
  /**
   * Seconds (0 = off), or 'auto': learn the NAT's mapping lifetime and keep just under it
   * (see `keepaliveResponder` and `adaptive`).
   */
  persistentKeepalive?: number | 'auto';
  /**
   * With 'auto': a probe responder inside the tunnel (`wgjs probe-responder`), e.g. "10.0.0.1:51821",
   * so lifetimes beyond 10 s can be learned. Its source is our tunnel address of the same family
   * (DeviceOptions.address).
   */
  keepaliveResponder?: string | null;
  /** With 'auto': tuning of the adaptive keepalive (defaults suit real NATs). */
  adaptive?: Omit<AdaptiveKeepaliveOptions, 'responder' | 'source'>;
}

export interface UdpMessage {
  src: string;
  srcPort: number;
  dst: string;
  dstPort: number;
  payload: Uint8Array;
  peer: string;
}

export interface PeerInfo extends Omit<PeerStatus, 'publicKey'> {
  publicKey: string;
}

export interface DeviceStatus {
  publicKey: string;
  listenPort: number;
  peers: PeerInfo[];
  drops: Record<string, number>;
}

/**
 * Splits "host:port" / "[v6]:port" (the wg-quick Endpoint syntax, checked as the config parser
 * checks it); throws EINVAL saying what is wrong.
 */
export function splitHostPort(ep: string): { host: string; port: number } {
  const r = checkEndpoint(ep);
  if (!r.ok) throw wgError('EINVAL', r.problem);
  return { host: r.host, port: r.port };
}

/** Socket buffers as wireguard-go sizes them (7 MiB): bursts from a TUN batch must not overflow. */
const SOCKET_BUFFER = 7 << 20;

const random = (buf: Uint8Array, off: number, len: number): void => {
  randomFillSync(buf, off, len);
};

export class WgDevice extends EventEmitter {
  readonly engine: Engine;
  private udp: UdpTransport;
  private tun: TunDevice | null = null;
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Infinity;
  private closed = false;
  private addrs: { ip: Uint8Array; family: 4 | 6; text: string }[] = [];
  private answerPings: boolean;
  private out: Uint8Array;
  private hostnames = new Map<number, string>();
  private timeScale: number;
  private bindAddress: string | undefined;
  listenPort = 0;

  private constructor(opts: DeviceOptions, udp: UdpTransport) {
    super();
    this.udp = udp;
    this.answerPings = opts.answerPings ?? true;
    this.bindAddress = opts.bindAddress;
    const ts = opts.timeScale ?? 1;
    if (!(ts > 0 && ts <= 1000)) throw wgError('EINVAL', `timeScale must be a number in (0, 1000], got ${ts}`);
    this.timeScale = ts;
    const key = typeof opts.privateKey === 'string' ? parseKey(opts.privateKey, 'private key') : opts.privateKey;
    for (const a of opts.address ?? []) {
      const c = parseCidr(a);
      this.addrs.push({ ip: c.ip, family: c.family, text: formatIp(c.ip, 0, c.family) });
    }
    const self = this;
    const sink: EngineSink = {
      send(buf, off, len, endpoint) {
        self.sendDatagram(buf, off, len, endpoint);
      },
      deliver(buf, off, len, peer) {
        self.onInner(buf, off, len, peer);
      },
      event(type, peer) {
        if (type === EVENT_HANDSHAKE_COMPLETE) self.emit('handshake', self.peerKey(peer));
        else if (type === EVENT_ENDPOINT_CHANGED) self.emit('roam', self.peerKey(peer));
        else if (type === EVENT_HANDSHAKE_GAVE_UP) self.onGaveUp(peer);
        // A node without a real-time clock persists saveTimestamp() here: the initiation just sent
        // carries the newest timestamp, and the peer may accept it even if no response comes back.
        else if (type === EVENT_HANDSHAKE_INITIATED) self.emit('initiation', self.peerKey(peer));
      },
    };
    this.engine = new Engine({
      privateKey: key,
      crypto: opts.crypto ?? createPortableProvider(),
      random,
      wallTime: opts.wallTime ?? Date.now,
      maxPeers: opts.maxPeers ?? 256,
      mtu: opts.mtu ?? 1420,
    }, sink);
    this.out = new Uint8Array(this.engine.mtu);
    this.attachSocket(udp);
  }

  private attachSocket(udp: UdpTransport): void {
    udp.onDatagram((buf, off, len, endpoint) => {
      if (this.closed || udp !== this.udp) return;
      this.engine.receive(this.now(), buf, off, len, endpoint);
      this.schedule();
    });
  }

  /** Creates a device and binds its UDP socket. Rejects with a clear error if the port is taken. */
  static async create(opts: DeviceOptions): Promise<WgDevice> {
    const udp = await WgDevice.bindUdp(opts.listenPort ?? 0, opts.bindAddress);
    const dev = new WgDevice(opts, udp);
    dev.listenPort = udp.port;
    return dev;
  }

  /**
   * Connects a TUN device: packets the kernel routes into it are encrypted to their peer, and
   * decrypted packets are written to it (instead of the 'packet'/'udp'/'pong' events).
   */
  attachTun(tun: TunDevice): void {
    this.tun = tun;
    const engine = this.engine;
    tun.onPackets((slab, offsets, lengths, count) => {
      if (this.closed) return;
      const now = this.now();
      const udp = this.udp;
      // One sendmmsg for the whole batch.
      udp.cork();
      for (let i = 0; i < count; i++) engine.sendPacket(now, slab, offsets[i], lengths[i]);
      udp.uncork();
      this.schedule();
    });
    tun.onError((err) => this.emit('error', err));
  }

  /** Which UDP implementation carries the tunnel ("native" recvmmsg/sendmmsg or "dgram"). */
  get transport(): 'native' | 'dgram' {
    return this.udp.kind;
  }

  /**
   * Moves the device to another UDP port (0 picks a free one), as `wg set listen-port` does.
   * The new socket is bound before the old one is closed, so on failure (EADDRINUSE) the device
   * keeps its current port.
   */
  async setListenPort(port: number): Promise<void> {
    if (this.closed) throw wgError('EINVAL', 'the device is closed');
    const udp = await WgDevice.bindUdp(port, this.bindAddress);
    if (this.closed) {
      udp.close();
      return;
    }
    const old = this.udp;
    this.udp = udp;
    this.attachSocket(udp);
    this.listenPort = udp.port;
    old.close();
  }

  /** Binds a UDP socket: dual-stack unless `bindAddr` is IPv4 (or IPv6 is unavailable). */
  private static async bindUdp(port: number, bindAddr: string | undefined): Promise<UdpTransport> {
    if (!(Number.isInteger(port) && port >= 0 && port <= 65535)) throw wgError('EINVAL', `listen port ${port} is not 0..65535`);
    const v4 = bindAddr !== undefined && net.isIPv4(bindAddr);
    try {
      try {
        return await openUdp({ family: v4 ? 4 : 6, bindAddress: bindAddr, port, recvBufferSize: SOCKET_BUFFER, sendBufferSize: SOCKET_BUFFER });
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (v4 || bindAddr !== undefined || (code !== 'EAFNOSUPPORT' && code !== 'EADDRNOTAVAIL')) throw e;
        return await openUdp({ family: 4, port, recvBufferSize: SOCKET_BUFFER, sendBufferSize: SOCKET_BUFFER });
      }
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code === 'EADDRINUSE') throw wgError('EADDRINUSE', `UDP port ${port} is already in use: choose another ListenPort or stop the program using it`);
      throw err;
    }
  }

  get publicKey(): string {
    return formatKey(this.engine.publicKey);
  }

  private peerKey(id: number): string {
    return formatKey(this.engine.peerStatus(id).publicKey);
  }

  private peerId(publicKey: string | Uint8Array): number {
    const k = typeof publicKey === 'string' ? parseKey(publicKey, 'peer public key') : publicKey;
    const id = this.engine.findPeer(k);
    if (id < 0) throw wgError('ENOENT', `no peer with public key ${formatKey(k)}`);
    return id;
  }

  /** Adds a peer (or updates it, if the public key is known). Hostname endpoints are resolved. */
  async addPeer(cfg: DevicePeerConfig): Promise<void> {
    const pub = typeof cfg.publicKey === 'string' ? parseKey(cfg.publicKey, 'peer public key') : cfg.publicKey;
    const psk = cfg.presharedKey === undefined || cfg.presharedKey === null ? cfg.presharedKey
      : typeof cfg.presharedKey === 'string' ? parseKey(cfg.presharedKey, 'preshared key') : cfg.presharedKey;
    const endpoint = cfg.endpoint ? await this.resolve(cfg.endpoint) : cfg.endpoint;
    let id = this.engine.findPeer(pub);
    const auto = cfg.persistentKeepalive === 'auto';
    const fixed = auto ? 0 : (cfg.persistentKeepalive as number | undefined);
    const update: PeerUpdate = {
      presharedKey: psk, allowedIPs: cfg.allowedIPs, endpoint,
      persistentKeepalive: fixed,
      adaptiveKeepalive: auto ? this.adaptiveOptions(cfg) : fixed === undefined ? undefined : null,
    };
    if (id < 0) id = this.engine.addPeer({ publicKey: pub, ...update });
    else this.engine.updatePeer(id, update);
    if (cfg.endpoint && !net.isIP(splitHostPort(cfg.endpoint).host)) this.hostnames.set(id, cfg.endpoint);
    else this.hostnames.delete(id);
    if (endpoint && (fixed ?? 0) > 0) this.engine.connect(this.now(), id);
    this.schedule();
  }

  private adaptiveOptions(cfg: DevicePeerConfig): AdaptiveKeepaliveOptions {
    const o: AdaptiveKeepaliveOptions = { ...cfg.adaptive };
    if (cfg.keepaliveResponder) {
      o.responder = cfg.keepaliveResponder;
      const fam = splitHostPort(cfg.keepaliveResponder).host.includes(':') ? 6 : 4;
      o.source = formatIp(this.source(fam), 0, fam);
    }
    return o;
  }

  /** Removes a peer; its keys are wiped. */
  removePeer(publicKey: string | Uint8Array): void {
    const id = this.peerId(publicKey);
    this.engine.removePeer(id);
    this.hostnames.delete(id);
    this.schedule();
  }

  /** Starts a handshake with a peer now rather than on first traffic. */
  /**
   * Handshakes with a peer now. `force` ignores the one-initiation-per-5-s limit: for when the
   * application knows the path changed (a new local address, a modem re-attach).
   */
  connect(publicKey: string | Uint8Array, force = false): void {
    this.engine.connect(this.now(), this.peerId(publicKey), force);
    this.schedule();
  }

  private async resolve(ep: string): Promise<string> {
    const { host, port } = splitHostPort(ep);
    if (net.isIP(host)) return formatDgramEndpoint(host, port);
    const r = await dns.lookup(host, { family: this.udp.family === 6 ? 0 : 4 });
    return formatDgramEndpoint(r.address, port);
  }

  /** A stale handshake with a hostname endpoint: the name may point elsewhere now. */
  private onGaveUp(id: number): void {
    const name = this.hostnames.get(id);
    this.emit('handshake-failed', this.peerKey(id));
    if (!name) return;
    this.resolve(name).then((ep) => {
      if (!this.closed && this.hostnames.get(id) === name) this.engine.updatePeer(id, { endpoint: ep });
    }, (err) => this.emit('warning', `re-resolving ${name} failed: ${(err as Error).message}`));
  }

  /**
   * Sends one inner IP packet into the tunnel (routed by AllowedIPs). Returns 0 if sent or
   * queued for a handshake, otherwise the drop reason's name.
   */
  send(packet: Uint8Array): 0 | string {
    const r = this.engine.sendPacket(this.now(), packet, 0, packet.length);
    this.schedule();
    return r === 0 ? 0 : DROP_NAMES[r];
  }

  private source(family: 4 | 6): Uint8Array {
    const a = this.addrs.find((x) => x.family === family);
    if (!a) throw wgError('EINVAL', `no IPv${family} tunnel address configured (DeviceOptions.address)`);
    return a.ip;
  }

  /** Sends a UDP datagram to `dst:dstPort` inside the tunnel, from our tunnel address. */
  sendUdp(dst: string, dstPort: number, payload: Uint8Array, srcPort = dstPort): 0 | string {
    return this.send(this.out.subarray(0, this.writeUdpOut(dst, dstPort, payload, srcPort)));
  }

  /** Builds the UDP datagram from our tunnel address into `this.out`; returns its length. */
  private writeUdpOut(dst: string, dstPort: number, payload: Uint8Array, srcPort: number): number {
    const d = parseCidr(dst);
    const len = writeUdp(this.out, 0, d.family, this.source(d.family), srcPort, d.ip, dstPort, payload, 0, payload.length);
    if (len < 0) throw wgError('EMSGSIZE', `UDP payload of ${payload.length} bytes does not fit the MTU of ${this.engine.mtu}`);
    return len;
  }

  /**
   * Report and sleep: sends one UDP datagram like `sendUdp` with the fewest packets (alone on a
   * young session, else one handshake with it as the confirmation) and puts the peer to sleep
   * once it has left: no keepalive, rekey or retry until the next send (see Engine.report).
   */
  reportUdp(dst: string, dstPort: number, payload: Uint8Array, srcPort = dstPort): 0 | string {
    const len = this.writeUdpOut(dst, dstPort, payload, srcPort);
    const peer = this.engine.routeOf(this.out, 0, len);
    if (peer < 0) return DROP_NAMES[Drop.NO_ROUTE];
    const r = this.engine.report(this.now(), peer, this.out, 0, len);
    this.schedule();
    return r === 0 ? 0 : DROP_NAMES[r];
  }

  /** Puts a peer to sleep (see `reportUdp`): nothing is sent to it until the next send. */
  sleepPeer(publicKey: string | Uint8Array): void {
    this.engine.sleepPeer(this.peerId(publicKey));
    this.schedule();
  }

  /** Sends an ICMP echo request to `dst`; the reply arrives as a 'pong' event. */
  ping(dst: string, id: number, seq: number, payload: Uint8Array = new Uint8Array(16)): 0 | string {
    const d = parseCidr(dst);
    const len = writeIcmpEcho(this.out, 0, d.family, this.source(d.family), d.ip, ECHO_REQUEST, id, seq, payload, 0, payload.length);
    return this.send(this.out.subarray(0, len));
  }

  private isOurs(buf: Uint8Array, off: number, family: 4 | 6): boolean {
    for (const a of this.addrs) {
      if (a.family !== family) continue;
      let eq = true;
      for (let i = 0; i < a.ip.length; i++) if (a.ip[i] !== buf[off + i]) { eq = false; break; }
      if (eq) return true;
    }
    return false;
  }

  private onInner(buf: Uint8Array, off: number, len: number, peer: number): void {
    if (this.tun !== null) {
      this.tun.write(buf, off, len);
      return;
    }
    const family = (buf[off] >> 4) === 6 ? 6 : 4;
    const dstOff = off + (family === 4 ? 16 : 24);
    if (this.listenerCount('packet') > 0) this.emit('packet', buf.subarray(off, off + len), this.peerKey(peer));
    if (this.addrs.length > 0 && !this.isOurs(buf, dstOff, family)) return;
    const kind = parseIcmpEcho(buf, off, len);
    if (kind > 0) {
      const r = echoInfo;
      if (kind === ECHO_REQUEST && this.answerPings) {
        const n = answerEcho(buf, off, len, this.out, 0);
        if (n > 0) this.engine.sendToPeer(this.now(), peer, this.out, 0, n);
      } else if (kind === ECHO_REPLY) {
        this.emit('pong', { src: formatIp(buf, off + (family === 4 ? 12 : 8), family), id: r.id, seq: r.seq });
      }
      return;
    }
    if (parseUdp(buf, off, len) >= 0) {
      const r = udpInfo;
      const msg: UdpMessage = {
        src: formatIp(buf, off + (family === 4 ? 12 : 8), family),
        srcPort: r.srcPort,
        dst: formatIp(buf, dstOff, family),
        dstPort: r.dstPort,
        payload: buf.slice(r.payloadOff, r.payloadOff + r.payloadLen),
        peer: this.peerKey(peer),
      };
      this.emit('udp', msg);
    }
  }

  private sendDatagram(buf: Uint8Array, off: number, len: number, endpoint: string): void {
    if (this.closed) return;
    // The transport copies or sends before returning, so the engine may reuse its buffer.
    this.udp.send(buf, off, len, endpoint);
  }

  /**
   * Arms one Node timer for the engine's next deadline. Called after every engine call made
   * here; call it yourself after changing `engine` directly (as the UAPI adapter does).
   */
  /** The engine's clock: monotonic ms, `timeScale` times real time. */
  now(): number {
    return performance.now() * this.timeScale;
  }

  schedule(): void {
    if (this.closed) return;
    const at = this.engine.nextDeadline();
    if (at === this.timerAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = at;
    if (at === Infinity) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.timerAt = Infinity;
      if (this.closed) return;
      this.engine.tick(this.now());
      this.schedule();
    }, Math.max(0, Math.ceil((at - this.now()) / this.timeScale)));
    this.timer.unref?.();
  }

  /** The last handshake timestamp sent (12 bytes TAI64N), to persist across reboots. */
  saveTimestamp(): Uint8Array {
    return this.engine.saveTimestamp();
  }

  /** Restores a persisted handshake timestamp: later initiations carry greater ones. */
  restoreTimestamp(saved: Uint8Array): void {
    this.engine.restoreTimestamp(saved);
  }

  /** Status of the device and every peer (keys in base64). */
  status(): DeviceStatus {
    const drops: Record<string, number> = {};
    this.engine.drops.forEach((n, i) => { if (n > 0) drops[DROP_NAMES[i]] = n; });
    return {
      publicKey: this.publicKey,
      listenPort: this.listenPort,
      peers: this.engine.peerIds().map((id) => {
        const s = this.engine.peerStatus(id);
        return { ...s, publicKey: formatKey(s.publicKey) };
      }),
      drops,
    };
  }

  /** Closes the socket and wipes every key. */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.engine.wipe();
    this.udp.close();
    if (this.tun !== null) this.tun.close();
    return Promise.resolve();
  }
}
