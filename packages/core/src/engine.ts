/**
 * The WireGuard engine: a sans-I/O state machine for one interface (one static key pair, a fixed
 * table of peers). A driver feeds it received datagrams, outgoing inner IP packets and the time;
 * it answers through the sink with datagrams to send and inner packets to deliver, and tells when
 * it next needs the clock (`nextDeadline`). It never reads a clock, a socket or a random source of
 * its own: time is the `now` argument (monotonic ms) and randomness the injected `random`.
 *
 * Names follow the whitepaper and the kernel implementation (send.c, receive.c, timers.c,
 * noise.c), whose behaviour real peers expect.
 */
import type { CryptoProvider, RandomSource } from './crypto/provider.js';
import {
  COOKIE_REPLY_SIZE, IDENTIFIER, INITIATION_SIZE, KEEPALIVE_TIMEOUT, MAX_TIMER_HANDSHAKES,
  MESSAGE_COOKIE_REPLY, MESSAGE_INITIATION, MESSAGE_RESPONSE, MESSAGE_TRANSPORT, REJECT_AFTER_MESSAGES,
  REJECT_AFTER_TIME, REKEY_AFTER_MESSAGES, REKEY_AFTER_TIME, REKEY_TIMEOUT, REKEY_TIMEOUT_JITTER_MAX,
  RESPONSE_SIZE, TAG_SIZE, TRANSPORT_HEADER_SIZE, TRANSPORT_MIN_SIZE, UNDER_LOAD_AFTER_TIME,
} from './constants.js';
import { ascii, compareBE, equalCT, isZero, readU32LE, writeU32LE } from './bytes.js';
import { HandshakeState, Noise } from './noise.js';
import { CookieChecker, CookieState } from './cookie.js';
import { TimestampGuard } from './tai64n.js';
import { IndexTable } from './indextable.js';
import { RateLimiter, hashEndpointAddress } from './ratelimiter.js';
import { ReplayPool } from './replay.js';
import { AllowedIps } from './allowedips.js';
import { formatCidr, parseCidr } from './ipaddr.js';
import { Drop, DROP_COUNT } from './drops.js';
import { wgError } from './errors.js';
import {
  AdaptiveKeepalive, KA_ECHO, KA_HANDSHAKE, KA_KEEPALIVE, KA_NONE, KA_PROBE, KA_REKEY, KA_REOPEN,
  type AdaptiveKeepaliveOptions, type AdaptiveStatus,
} from './keepalive.js';
import { PROBE_MAX_DELAY_MS, PROBE_SIZE, PROBE_REPLY, parseProbe, probeNonce, writeProbeRequest } from './probe.js';
import { parseUdp, udpInfo, writeUdp } from './ip.js';

/** Where the engine's output goes. Buffers passed are valid only during the call. */
export interface EngineSink {
  /** Send `buf[off, off+len)` as one UDP datagram to `endpoint` (a string the driver gave us). */
  send(buf: Uint8Array, off: number, len: number, endpoint: string, peer: number): void;
  /** Deliver a decrypted inner IP packet received from `peer`. */
  deliver(buf: Uint8Array, off: number, len: number, peer: number): void;
  /** Optional notifications (see the `EVENT_*` constants). */
  event?(type: number, peer: number): void;
}

/** A handshake completed and a new session is in use (either role). */
export const EVENT_HANDSHAKE_COMPLETE = 1;
/** The peer's endpoint changed to the source of an authenticated packet (roaming). */
export const EVENT_ENDPOINT_CHANGED = 2;
/** Handshake attempts gave up after REKEY_ATTEMPT_TIME. */
export const EVENT_HANDSHAKE_GAVE_UP = 3;
/** A handshake initiation was sent. */
export const EVENT_HANDSHAKE_INITIATED = 4;

export interface EngineOptions {
  /** Our static private key (32 bytes). */
  privateKey: Uint8Array;
  crypto: CryptoProvider;
  random: RandomSource;
  /** Wall-clock time in ms since the Unix epoch, used only for TAI64N timestamps. */
  wallTime: () => number;
  /** Most peers ever configured at once (default 16). */
  maxPeers?: number;
  /** Session (keypair) slots; default 3 per peer + 1. */
  maxSessions?: number;
  /** AllowedIPs prefixes across all peers (default 16 per peer). */
  maxAllowedIPs?: number;
  /** Largest inner packet in bytes (default 1420, WireGuard's usual MTU). */
  mtu?: number;
  /** Packets held while waiting for a handshake, across all peers (default 32). */
  maxStaged?: number;
  /** Handshake messages per second above which we are "under load" and demand cookies (default 256). */
  underLoadThreshold?: number;
  /** Entries of the per-source handshake rate limiter (default 1024). */
  rateLimiterSize?: number;
  /**
   * Replay window per session in 32-bit words, a power of two from 2 to 256 (default 256: an
   * 8160-packet window, 1 KiB per session). A small device may use e.g. 8 (224 packets, 32 bytes):
   * a smaller window only drops more reordered packets, it never accepts a replay.
   */
  replayWindowWords?: number;
}

/** Peer configuration. Keys are raw 32-byte arrays. */
export interface PeerConfig {
  publicKey: Uint8Array;
  /** Optional 32-byte preshared key (all zeros or null = none). */
  presharedKey?: Uint8Array | null;
  /** CIDR strings such as "10.0.0.2/32" or "fd00::/64". */
  allowedIPs?: string[];
  /** "ip:port" or "[ipv6]:port" as the driver formats endpoints. */
  endpoint?: string | null;
  /** Persistent keepalive interval in seconds (0 = off). Ignored while adaptiveKeepalive is set. */
  persistentKeepalive?: number;
  /**
   * Adaptive keepalive (`PersistentKeepalive = auto`): learn the NAT's mapping lifetime and keep
   * just under it (see keepalive.ts). `null` turns it off.
   */
  adaptiveKeepalive?: AdaptiveKeepaliveOptions | null;
}

/** Changeable peer settings (everything but the public key). */
export type PeerUpdate = Omit<PeerConfig, 'publicKey'>;

/** Timer slots per peer (kernel timers.c). */
const T_RETRANSMIT_HANDSHAKE = 0;
const T_SEND_KEEPALIVE = 1;
const T_NEW_HANDSHAKE = 2;
const T_ZERO_KEY_MATERIAL = 3;
const T_PERSISTENT_KEEPALIVE = 4;
/** The adaptive keepalive's next action (keepalive.ts). */
const T_ADAPTIVE = 5;
const TIMER_COUNT = 6;

/** Handshake states (noise.h). */
const HS_ZEROED = 0;
const HS_CREATED_INITIATION = 1;

/** Index table values: >= 0 is a session slot; HS_FLAG | peer is a handshake in flight. */
const HS_FLAG = 0x40000000;

/** The kernel accepts at most this many initiations per second from one peer. */
const INITIATIONS_PER_SECOND = 50;

/** An initiation unanswered this long (ms) makes unknown-session data from its host a rebind hint. */
const REBIND_AFTER = 1000;

/** Highest counter we accept: beyond 2^53 doubles lose precision (and no real peer gets there). */
const MAX_COUNTER_HI = 0x200000;

const IDENTIFIER_BYTES = ascii(IDENTIFIER);

/** Splits "a.b.c.d:port" / "[v6]:port" into address bytes and port; throws EINVAL. */
function parseHostPort(text: string): { ip: Uint8Array; family: number; port: number } {
  const i = text.lastIndexOf(':');
  const port = i > 0 ? Number(text.substring(i + 1)) : NaN;
  let host = i > 0 ? text.substring(0, i) : '';
  if (host.charAt(0) === '[' && host.charAt(host.length - 1) === ']') host = host.substring(1, host.length - 1);
  else if (host.indexOf(':') >= 0) host = '';
  if (host === '' || !(port >= 1 && port <= 65535 && port % 1 === 0)) {
    throw wgError('EINVAL', 'Invalid probe responder "' + text + '" (expected e.g. 10.0.0.1:51821 or [fd00::1]:51821)');
  }
  const c = parseCidr(host);
  return { ip: c.ip, family: c.family, port: port };
}

/** True if two endpoint strings name the same address (ports may differ). */
function sameHost(a: string, b: string): boolean {
  const i = a.lastIndexOf(':');
  return i === b.lastIndexOf(':') && a.substring(0, i) === b.substring(0, i);
}

/** Per-peer state. Allocated once per slot at construction and reused. */
class Peer {
  used: boolean;
  publicKey: Uint8Array;
  psk: Uint8Array;
  /** Precomputed DH(our static, their static); all zeros if the peer's key is low-order. */
  ss: Uint8Array;
  endpoint: string | null;
  hs: HandshakeState;
  hsState: number;
  hsLocalIndex: number;
  hsHasIndex: boolean;
  cookie: CookieState;
  greatestTimestamp: Uint8Array;
  lastInitiationConsumed: number;
  current: number;
  previous: number;
  next: number;
  timers: Float64Array;
  handshakeAttempts: number;
  lastSentHandshake: number;
  needAnotherKeepalive: boolean;
  sentLastMinuteHandshake: boolean;
  persistentKeepalive: number;
  /**
   * rx/tx byte counters: one-element Float64Arrays, because a plain number property that grows
   * past 2^30 becomes a heap-allocated double in V8 and each += would then allocate.
   */
  rx: Float64Array;
  tx: Float64Array;
  /** Wall-clock ms of the last completed handshake (0 = never), for `wg show`. */
  lastHandshakeWall: number;
  /** Monotonic ms of the last completed handshake (-Infinity = never). */
  lastHandshakeTime: number;
  /** Precomputed next ephemeral key pair and es = DH(e, peer static), made while idle. */
  preEPriv: Uint8Array;
  preEPub: Uint8Array;
  preEs: Uint8Array;
  hasPre: boolean;
  /** The last initiation we sent (to re-send it to a rebound source, see receiveTransport). */
  lastInitiation: Uint8Array;
  lastRebindProbe: number;
  /** Adaptive keepalive (null = off) and, for echo probes, the request packet's addresses. */
  ka: AdaptiveKeepalive | null;
  kaPkt: Uint8Array | null;
  kaSrc: Uint8Array | null;
  kaDst: Uint8Array | null;
  kaPort: number;
  kaFamily: number;
  /** Sleep-and-wake: no timer fires while asleep; `sleepAfterSend` sleeps once staged data left. */
  asleep: boolean;
  sleepAfterSend: boolean;

  constructor() {
    const mem = new Uint8Array(32 * 3 + 12);
    this.publicKey = mem.subarray(0, 32);
    this.psk = mem.subarray(32, 64);
    this.ss = mem.subarray(64, 96);
    this.greatestTimestamp = mem.subarray(96, 108);
    this.hs = new HandshakeState();
    this.cookie = new CookieState();
    const pre = new Uint8Array(96);
    this.preEPriv = pre.subarray(0, 32);
    this.preEPub = pre.subarray(32, 64);
    this.preEs = pre.subarray(64, 96);
    this.hasPre = false;
    this.lastInitiation = new Uint8Array(INITIATION_SIZE);
    this.lastRebindProbe = -Infinity;
    this.ka = null;
    this.kaPkt = null;
    this.kaSrc = null;
    this.kaDst = null;
    this.kaPort = 0;
    this.kaFamily = 0;
    this.asleep = false;
    this.sleepAfterSend = false;
    this.timers = new Float64Array(TIMER_COUNT);
    this.used = false;
    this.endpoint = null;
    this.hsState = HS_ZEROED;
    this.hsLocalIndex = 0;
    this.hsHasIndex = false;
    this.lastInitiationConsumed = -Infinity;
    this.current = -1;
    this.previous = -1;
    this.next = -1;
    this.handshakeAttempts = 0;
    this.lastSentHandshake = -Infinity;
    this.needAnotherKeepalive = false;
    this.sentLastMinuteHandshake = false;
    this.persistentKeepalive = 0;
    this.rx = new Float64Array(1);
    this.tx = new Float64Array(1);
    this.lastHandshakeWall = 0;
    this.lastHandshakeTime = -Infinity;
    this.timers.fill(Infinity);
  }
}

/** Read-only snapshot of a peer for status output (allocates; not for the data path). */
export interface PeerStatus {
  id: number;
  publicKey: Uint8Array;
  hasPresharedKey: boolean;
  endpoint: string | null;
  allowedIPs: string[];
  persistentKeepalive: number;
  rxBytes: number;
  txBytes: number;
  /** Wall-clock ms since the epoch of the last handshake, 0 if none. */
  lastHandshakeWall: number;
  /** Monotonic ms of the last handshake, -Infinity if none. */
  lastHandshakeTime: number;
  hasSession: boolean;
  handshakeAttempts: number;
  /** Adaptive keepalive state, null when off. */
  adaptive: AdaptiveStatus | null;
  /** In sleep-and-wake mode and asleep. */
  asleep: boolean;
}

export class Engine {
  readonly maxPeers: number;
  readonly mtu: number;
  /** Per-reason drop counters, indexed by `Drop.*`. */
  readonly drops: Float64Array;
  /** Cookie replies we sent while under load. */
  cookieRepliesSent: number;
  /** Initiations re-sent to a peer's new source port (see `unknownIndex`). */
  rebindProbes: number;
  /** Probes (see `probe`) received from peers and answered by the passive keepalive. */
  probesReceived: number;
  private lastRebindScan: number;

  private c: CryptoProvider;
  private noise: Noise;
  private random: RandomSource;
  private wallTime: () => number;
  private sink: EngineSink;
  private privateKey: Uint8Array;
  readonly publicKey: Uint8Array;
  private peers: Peer[];
  private checker: CookieChecker;
  private tai: TimestampGuard;
  private index: IndexTable;
  private limiter: RateLimiter;
  readonly allowedIPs: AllowedIps;

  // Session (keypair) pool, struct of arrays.
  private maxSessions: number;
  private kpUsed: Uint8Array;
  private kpPeer: Int32Array;
  private kpSendKey: Uint8Array[];
  private kpRecvKey: Uint8Array[];
  private kpKeyMem: Uint8Array;
  private kpSendCounter: Float64Array;
  private kpCreated: Float64Array;
  private kpLocalIndex: Uint32Array;
  private kpRemoteIndex: Uint32Array;
  private kpInitiator: Uint8Array;
  private replay: ReplayPool;

  // Staging: packets waiting for a handshake, a FIFO ring shared by all peers.
  private maxStaged: number;
  private stageBuf: Uint8Array;
  private stageLen: Int32Array;
  private stagePeer: Int32Array;
  private stageHead: number;
  private stageCount: number;

  // Scratch, allocated once.
  private tx: Uint8Array;
  private hsBuf: Uint8Array;
  private scratchHs: HandshakeState;
  private rsScratch: Uint8Array;
  private tsScratch: Uint8Array;
  private rnd: Uint8Array;
  private k1: Uint8Array;
  private k2: Uint8Array;

  // Load tracking for cookies.
  private underLoadThreshold: number;
  private loadWindowStart: number;
  private loadCount: number;
  private lastUnderLoad: number;
  /** Force "under load" regardless of the measured handshake rate (driver's own signal). */
  forceUnderLoad: boolean;

  constructor(opts: EngineOptions, sink: EngineSink) {
    const maxPeers = opts.maxPeers === undefined ? 16 : opts.maxPeers;
    if (!(maxPeers >= 1 && maxPeers <= 1000000 && maxPeers % 1 === 0)) {
      throw wgError('EINVAL', 'maxPeers must be an integer from 1 to 1000000, got ' + maxPeers);
    }
    const mtu = opts.mtu === undefined ? 1420 : opts.mtu;
    if (!(mtu >= 576 && mtu <= 65535 && mtu % 1 === 0)) {
      throw wgError('EINVAL', 'mtu must be an integer from 576 to 65535, got ' + mtu);
    }
    this.maxPeers = maxPeers;
    this.mtu = mtu;
    this.c = opts.crypto;
    this.noise = new Noise(opts.crypto);
    this.random = opts.random;
    this.wallTime = opts.wallTime;
    this.sink = sink;
    this.drops = new Float64Array(DROP_COUNT);
    this.cookieRepliesSent = 0;
    this.rebindProbes = 0;
    this.probesReceived = 0;
    this.lastRebindScan = -Infinity;

    this.peers = [];
    for (let i = 0; i < maxPeers; i++) this.peers.push(new Peer());

    this.maxSessions = opts.maxSessions === undefined ? maxPeers * 3 + 1 : opts.maxSessions;
    const ns = this.maxSessions;
    this.kpUsed = new Uint8Array(ns);
    this.kpPeer = new Int32Array(ns);
    this.kpKeyMem = new Uint8Array(ns * 64);
    this.kpSendKey = [];
    this.kpRecvKey = [];
    for (let i = 0; i < ns; i++) {
      this.kpSendKey.push(this.kpKeyMem.subarray(i * 64, i * 64 + 32));
      this.kpRecvKey.push(this.kpKeyMem.subarray(i * 64 + 32, i * 64 + 64));
    }
    this.kpSendCounter = new Float64Array(ns);
    this.kpCreated = new Float64Array(ns);
    this.kpLocalIndex = new Uint32Array(ns);
    this.kpRemoteIndex = new Uint32Array(ns);
    this.kpInitiator = new Uint8Array(ns);
    this.replay = new ReplayPool(ns, opts.replayWindowWords === undefined ? 256 : opts.replayWindowWords);

    this.index = new IndexTable(ns + maxPeers);
    this.limiter = new RateLimiter(opts.rateLimiterSize === undefined ? 1024 : opts.rateLimiterSize);
    this.allowedIPs = new AllowedIps(opts.maxAllowedIPs === undefined ? maxPeers * 16 : opts.maxAllowedIPs);

    this.maxStaged = opts.maxStaged === undefined ? 32 : opts.maxStaged;
    this.stageBuf = new Uint8Array(this.maxStaged * mtu);
    this.stageLen = new Int32Array(this.maxStaged);
    this.stagePeer = new Int32Array(this.maxStaged);
    this.stagePeer.fill(-1);
    this.stageHead = 0;
    this.stageCount = 0;

    // Room for header, payload padded to 16, tag.
    this.tx = new Uint8Array(TRANSPORT_HEADER_SIZE + mtu + 16 + TAG_SIZE);
    this.hsBuf = new Uint8Array(INITIATION_SIZE);
    this.scratchHs = new HandshakeState();
    this.rsScratch = new Uint8Array(32);
    this.tsScratch = new Uint8Array(12);
    this.rnd = new Uint8Array(4);
    this.k1 = new Uint8Array(32);
    this.k2 = new Uint8Array(32);

    this.underLoadThreshold = opts.underLoadThreshold === undefined ? 256 : opts.underLoadThreshold;
    this.loadWindowStart = -Infinity;
    this.loadCount = 0;
    this.lastUnderLoad = -Infinity;
    this.forceUnderLoad = false;

    this.checker = new CookieChecker();
    this.tai = new TimestampGuard();
    this.privateKey = new Uint8Array(32);
    this.publicKey = new Uint8Array(32);
    this.setPrivateKey(opts.privateKey);
  }

  // ------------------------------------------------------------------ configuration

  /**
   * Replaces our static private key. Existing sessions and handshakes are dropped (they were
   * authenticated with the old key) and the per-peer static-static DH is recomputed.
   */
  setPrivateKey(key: Uint8Array): void {
    if (key.length !== 32) throw wgError('EINVAL', 'private key must be 32 bytes, got ' + key.length);
    this.privateKey.set(key);
    this.c.x25519Base(this.publicKey, this.privateKey);
    this.checker.init(this.noise, this.publicKey);
    for (let i = 0; i < this.maxPeers; i++) {
      const p = this.peers[i];
      if (!p.used) continue;
      this.clearPeerSessions(i);
      if (!this.c.x25519(p.ss, this.privateKey, p.publicKey)) p.ss.fill(0);
    }
  }

  /** The id of the peer with this public key, or -1. */
  findPeer(publicKey: Uint8Array): number {
    for (let i = 0; i < this.maxPeers; i++) {
      const p = this.peers[i];
      if (p.used && equalCT(p.publicKey, 0, publicKey, 0, 32)) return i;
    }
    return -1;
  }

  /** Ids of all configured peers. */
  peerIds(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.maxPeers; i++) if (this.peers[i].used) out.push(i);
    return out;
  }

  /**
   * Adds a peer and returns its id. Throws a typed error (`code`): EINVAL for a bad key or
   * config, EEXIST if the public key is already configured, ENOSPC when `maxPeers` are configured,
   * ECAPACITY when AllowedIPs capacity is exhausted (the peer is then not added).
   */
  addPeer(cfg: PeerConfig): number {
    if (!cfg.publicKey || cfg.publicKey.length !== 32) throw wgError('EINVAL', 'peer public key must be 32 bytes');
    if (equalCT(cfg.publicKey, 0, this.publicKey, 0, 32)) {
      throw wgError('EINVAL', 'peer public key is this interface\'s own public key');
    }
    if (this.findPeer(cfg.publicKey) >= 0) throw wgError('EEXIST', 'a peer with this public key already exists');
    let id = -1;
    for (let i = 0; i < this.maxPeers; i++) {
      if (!this.peers[i].used) {
        id = i;
        break;
      }
    }
    if (id < 0) {
      throw wgError('ENOSPC', 'peer table full (' + this.maxPeers + ' peers): construct the engine with a larger maxPeers');
    }
    const p = this.peers[id];
    p.publicKey.set(cfg.publicKey);
    if (!this.c.x25519(p.ss, this.privateKey, p.publicKey)) p.ss.fill(0);
    p.cookie.init(this.noise, p.publicKey);
    p.used = true;
    this.resetPeerState(p);
    try {
      this.updatePeer(id, cfg);
    } catch (e) {
      this.removePeer(id);
      throw e;
    }
    return id;
  }

  /**
   * Changes a peer's settings; fields left undefined are kept. `allowedIPs` replaces the list.
   * Throws like `addPeer`; on an AllowedIPs error the previous list is restored.
   */
  updatePeer(id: number, cfg: PeerUpdate): void {
    const p = this.peerAt(id);
    if (cfg.presharedKey !== undefined) {
      if (cfg.presharedKey !== null && cfg.presharedKey.length !== 32) {
        throw wgError('EINVAL', 'preshared key must be 32 bytes');
      }
      if (cfg.presharedKey === null) p.psk.fill(0);
      else p.psk.set(cfg.presharedKey);
    }
    if (cfg.persistentKeepalive !== undefined) {
      const k = cfg.persistentKeepalive;
      if (!(k >= 0 && k <= 65535 && k % 1 === 0)) {
        throw wgError('EINVAL', 'persistent keepalive must be 0..65535 seconds, got ' + k);
      }
      p.persistentKeepalive = k;
      if (k === 0) p.timers[T_PERSISTENT_KEEPALIVE] = Infinity;
    }
    if (cfg.endpoint !== undefined) p.endpoint = cfg.endpoint;
    if (cfg.allowedIPs !== undefined) this.setAllowedIPs(id, cfg.allowedIPs);
    if (cfg.adaptiveKeepalive !== undefined) this.setAdaptive(p, cfg.adaptiveKeepalive);
  }

  private setAdaptive(p: Peer, o: AdaptiveKeepaliveOptions | null): void {
    if (o === null) {
      p.ka = null;
      p.kaPkt = p.kaSrc = p.kaDst = null;
      p.timers[T_ADAPTIVE] = Infinity;
      return;
    }
    // [name, value, least, most] in ms; a probe (max + KEEPALIVE_TIMEOUT) must fit a responder's limit.
    const checks = [['start', o.start, 100, 300000], ['max', o.max, 1000, PROBE_MAX_DELAY_MS - 2 * KEEPALIVE_TIMEOUT],
      ['verifyEvery', o.verifyEvery, 1000, 86400000], ['fallback', o.fallback, 1000, 86400000], ['learned', o.learned, 0, 86400000]];
    for (let i = 0; i < checks.length; i++) {
      const c = checks[i];
      const v = c[1] as number | undefined;
      if (v !== undefined && !(v >= (c[2] as number) && v <= (c[3] as number))) {
        throw wgError('EINVAL', 'adaptive keepalive: ' + c[0] + ' must be ' + c[2] + '..' + c[3] + ' ms, got ' + v);
      }
    }
    if (o.margin !== undefined && !(o.margin > 0 && o.margin < 1)) {
      throw wgError('EINVAL', 'adaptive keepalive: margin must be between 0 and 1, got ' + o.margin);
    }
    const hasR = o.responder !== undefined && o.responder !== null;
    const hasS = o.source !== undefined && o.source !== null;
    if (hasR !== hasS) {
      throw wgError('EINVAL', 'adaptive keepalive: a probe responder needs our tunnel address as its source, and vice versa');
    }
    let pkt: Uint8Array | null = null;
    let src: Uint8Array | null = null;
    let dst: Uint8Array | null = null;
    let port = 0;
    let family = 0;
    if (hasR) {
      const r = parseHostPort(o.responder as string);
      const sc = parseCidr(o.source as string);
      if (sc.family !== r.family) {
        throw wgError('EINVAL', 'adaptive keepalive: the source ' + o.source + ' and the responder ' + o.responder + ' are not the same IP version');
      }
      dst = r.ip;
      src = sc.ip;
      port = r.port;
      family = r.family;
      pkt = new Uint8Array((family === 4 ? 28 : 48) + PROBE_SIZE);
    }
    p.kaPkt = pkt;
    p.kaSrc = src;
    p.kaDst = dst;
    p.kaPort = port;
    p.kaFamily = family;
    p.ka = new AdaptiveKeepalive(o, hasR, 0);
    p.timers[T_ADAPTIVE] = p.ka.next();
  }

  /** Replaces a peer's AllowedIPs. Atomic: on error the old list is restored. */
  setAllowedIPs(id: number, cidrs: string[]): void {
    this.peerAt(id);
    const parsed = [];
    for (let i = 0; i < cidrs.length; i++) parsed.push(parseCidr(cidrs[i]));
    const old = this.allowedIPsOf(id);
    this.allowedIPs.removeByPeer(id);
    try {
      for (let i = 0; i < parsed.length; i++) {
        const a = parsed[i];
        this.allowedIPs.insert(a.ip, 0, a.family, a.cidr, id);
      }
    } catch (e) {
      this.allowedIPs.removeByPeer(id);
      for (let i = 0; i < old.length; i++) {
        const a = parseCidr(old[i]);
        this.allowedIPs.insert(a.ip, 0, a.family, a.cidr, id);
      }
      throw e;
    }
  }

  /** Adds one prefix to a peer (moving it from another peer if it was theirs, as `wg` does). */
  addAllowedIP(id: number, cidr: string): void {
    this.peerAt(id);
    const a = parseCidr(cidr);
    this.allowedIPs.insert(a.ip, 0, a.family, a.cidr, id);
  }

  /** Removes one prefix from a peer; returns whether it was there. */
  removeAllowedIP(id: number, cidr: string): boolean {
    this.peerAt(id);
    const a = parseCidr(cidr);
    return this.allowedIPs.remove(a.ip, 0, a.family, a.cidr, id);
  }

  /** The peer's AllowedIPs as CIDR strings. */
  allowedIPsOf(id: number): string[] {
    const out: string[] = [];
    this.allowedIPs.entriesForPeer(id, (ip, family, cidr) => {
      out.push(formatCidr(ip, 0, family, cidr));
    });
    return out;
  }

  /** Removes a peer: its sessions are wiped, its prefixes and staged packets dropped. */
  removePeer(id: number): void {
    const p = this.peerAt(id);
    this.clearPeerSessions(id);
    this.purgeStaged(id, -1);
    this.allowedIPs.removeByPeer(id);
    p.used = false;
    p.publicKey.fill(0);
    p.psk.fill(0);
    p.ss.fill(0);
    p.cookie.clear();
    this.resetPeerState(p);
  }

  /** Status snapshot of one peer. */
  peerStatus(id: number): PeerStatus {
    const p = this.peerAt(id);
    const pub = new Uint8Array(32);
    pub.set(p.publicKey);
    let pskSet = 0;
    for (let i = 0; i < 32; i++) pskSet |= p.psk[i];
    return {
      id: id,
      publicKey: pub,
      hasPresharedKey: pskSet !== 0,
      endpoint: p.endpoint,
      allowedIPs: this.allowedIPsOf(id),
      persistentKeepalive: p.persistentKeepalive,
      adaptive: p.ka === null ? null : p.ka.status(),
      asleep: p.asleep,
      rxBytes: p.rx[0],
      txBytes: p.tx[0],
      lastHandshakeWall: p.lastHandshakeWall,
      lastHandshakeTime: p.lastHandshakeTime,
      hasSession: p.current >= 0,
      handshakeAttempts: p.handshakeAttempts,
    };
  }

  /** The peer's preshared key (a copy), for UAPI/showconf. */
  presharedKeyOf(id: number): Uint8Array {
    const out = new Uint8Array(32);
    out.set(this.peerAt(id).psk);
    return out;
  }

  /** Our private key (a copy), for UAPI `get`. */
  privateKeyCopy(): Uint8Array {
    const out = new Uint8Array(32);
    out.set(this.privateKey);
    return out;
  }

  /** The last TAI64N timestamp we sent (12 bytes), to persist across reboots. */
  saveTimestamp(): Uint8Array {
    return this.tai.save();
  }

  /** Restores a persisted TAI64N timestamp; later initiations carry greater ones. */
  restoreTimestamp(saved: Uint8Array): void {
    this.tai.restore(saved);
  }

  /** Wipes all key material of every peer (for shutdown). */
  wipe(): void {
    for (let i = 0; i < this.maxPeers; i++) if (this.peers[i].used) this.clearPeerSessions(i);
    this.scratchHs.clear();
    this.privateKey.fill(0);
    this.k1.fill(0);
    this.k2.fill(0);
  }

  /**
   * Starts a handshake with a peer now (at start-up, or after a device woke up). Initiations are
   * limited to one per REKEY_TIMEOUT; `force` lifts that limit for this call — for when the driver
   * knows the path changed (a modem re-attached, a new local address) and waiting would only
   * lose time.
   */
  connect(now: number, id: number, force?: boolean): void {
    const p = this.peerAt(id);
    this.wake(p);
    if (force === true) p.lastSentHandshake = -Infinity;
    this.initiateHandshake(now, id, false);
  }

  /**
   * Does the X25519 work of the next initiation ahead of time: a fresh ephemeral key pair and
   * DH(ephemeral, peer static). Call it while idle on a slow device; the next initiation to this
   * peer then needs no scalar multiplication at all. Returns false if the peer's key is unusable.
   */
  precomputeHandshake(id: number): boolean {
    const p = this.peerAt(id);
    if (p.hasPre) return true;
    this.random(p.preEPriv, 0, 32);
    this.c.x25519Base(p.preEPub, p.preEPriv);
    if (!this.c.x25519(p.preEs, p.preEPriv, p.publicKey)) {
      this.clearPrecomputed(p);
      return false;
    }
    p.hasPre = true;
    return true;
  }

  /** True if the next initiation to this peer is precomputed. */
  hasPrecomputedHandshake(id: number): boolean {
    return this.peerAt(id).hasPre;
  }

  /**
   * Sends a probe: a transport packet with a 16-byte payload that is not an IP packet. A WireGuard
   * peer drops it after decryption but, as for any data, answers with its passive keepalive
   * within KEEPALIVE_TIMEOUT if it has nothing else to send — and our own "data sent, nothing
   * received" timer starts a new handshake if no answer comes. A keepalive draws no answer, so a
   * probe is how a NATed node learns that its path (or the peer's session) is gone.
   * Returns false if there is no usable session (a handshake is started instead).
   */
  probe(now: number, id: number): boolean {
    const p = this.peerAt(id);
    if (p.endpoint === null) return false;
    if (!this.sessionUsable(p.current, now)) {
      this.initiateHandshake(now, id, false);
      return false;
    }
    const tx = this.tx;
    for (let i = 16; i < 32; i++) tx[i] = 0;
    this.encryptAndSend(now, id, p.current, tx, 16, 16);
    this.keepKeyFreshSend(now, id);
    return true;
  }

  /**
   * Sleep-and-wake: puts a peer to sleep. Until it is woken (`report`, `sendToPeer`, `connect`)
   * no timer sends it anything — no keepalive, rekey or handshake retry — so a device that
   * reports and then powers its radio down spends nothing while asleep. A handshake in flight is
   * abandoned and packets waiting for it are dropped (counted as `asleep`).
   */
  sleepPeer(id: number): void {
    const p = this.peerAt(id);
    p.asleep = true;
    p.sleepAfterSend = false;
    this.stopTimers(p);
    p.needAnotherKeepalive = false;
    this.purgeStaged(id, Drop.ASLEEP);
    this.clearHandshake(p);
  }

  /** True while a peer sleeps (see `sleepPeer`). */
  isAsleep(id: number): boolean {
    return this.peerAt(id).asleep;
  }

  private wake(p: Peer): void {
    if (!p.asleep) return;
    p.asleep = false;
    // Timers armed by packets that arrived during sleep are stale: the wake decides what to send.
    this.stopTimers(p);
    if (p.ka !== null) p.timers[T_ADAPTIVE] = p.ka.next();
  }

  /** Stops every timer of a peer but the zeroing of its keys. */
  private stopTimers(p: Peer): void {
    const tm = p.timers;
    for (let j = 0; j < TIMER_COUNT; j++) if (j !== T_ZERO_KEY_MATERIAL) tm[j] = Infinity;
  }

  /**
   * Report-and-sleep: wakes the peer, sends one inner packet with the fewest datagrams and puts
   * the peer back to sleep once it has left — the packet alone if the session is young enough to
   * need no rekey, else one handshake with the packet as its confirmation (initiation, response,
   * packet: nothing else). Returns 0 if sent or staged, else the Drop reason. If the handshake
   * gets no answer it is retried as usual until the caller gives up with `sleepPeer`.
   */
  report(now: number, id: number, buf: Uint8Array, off: number, len: number): number {
    const p = this.peerAt(id);
    this.wake(p);
    const kp = p.current;
    if (this.sessionUsable(kp, now) && now - this.kpCreated[kp] < REKEY_AFTER_TIME - KEEPALIVE_TIMEOUT &&
        (this.stageCount === 0 || !this.hasStaged(id))) {
      const r = this.sendToPeer(now, id, buf, off, len);
      this.sleepPeer(id);
      return r;
    }
    if (len > this.mtu) return this.drop(Drop.TOO_LARGE);
    if (p.endpoint === null) return this.drop(Drop.NO_ENDPOINT);
    p.sleepAfterSend = true;
    this.stage(id, buf, off, len);
    p.lastSentHandshake = -Infinity;
    this.initiateHandshake(now, id, false);
    return 0;
  }

  private peerAt(id: number): Peer {
    if (!(id >= 0 && id < this.maxPeers) || !this.peers[id].used) {
      throw wgError('ENOENT', 'no peer with id ' + id);
    }
    return this.peers[id];
  }

  private resetPeerState(p: Peer): void {
    p.endpoint = null;
    p.hsState = HS_ZEROED;
    p.hsHasIndex = false;
    p.greatestTimestamp.fill(0);
    p.lastInitiationConsumed = -Infinity;
    p.current = -1;
    p.previous = -1;
    p.next = -1;
    p.timers.fill(Infinity);
    p.handshakeAttempts = 0;
    p.lastSentHandshake = -Infinity;
    p.needAnotherKeepalive = false;
    p.sentLastMinuteHandshake = false;
    p.persistentKeepalive = 0;
    p.rx[0] = 0;
    p.tx[0] = 0;
    p.lastHandshakeWall = 0;
    p.lastHandshakeTime = -Infinity;
    this.clearPrecomputed(p);
    p.lastInitiation.fill(0);
    p.lastRebindProbe = -Infinity;
    p.ka = null;
    p.kaPkt = p.kaSrc = p.kaDst = null;
    p.asleep = false;
    p.sleepAfterSend = false;
  }

  private clearPrecomputed(p: Peer): void {
    p.preEPriv.fill(0);
    p.preEPub.fill(0);
    p.preEs.fill(0);
    p.hasPre = false;
  }

  // ------------------------------------------------------------------ sessions

  private freeSession(kp: number): void {
    if (kp < 0 || this.kpUsed[kp] === 0) return;
    this.index.remove(this.kpLocalIndex[kp]);
    this.kpUsed[kp] = 0;
    this.kpSendKey[kp].fill(0);
    this.kpRecvKey[kp].fill(0);
    this.kpSendCounter[kp] = 0;
    this.kpPeer[kp] = -1;
  }

  private clearHandshake(p: Peer): void {
    if (p.hsHasIndex) this.index.remove(p.hsLocalIndex);
    p.hsHasIndex = false;
    p.hsState = HS_ZEROED;
    p.hs.clear();
  }

  /** Zeroes every session and the handshake of a peer (zero_key_material, removal). */
  private clearPeerSessions(id: number): void {
    const p = this.peers[id];
    this.freeSession(p.current);
    this.freeSession(p.previous);
    this.freeSession(p.next);
    p.current = -1;
    p.previous = -1;
    p.next = -1;
    this.clearHandshake(p);
  }

  /** A fresh random local index not in use; registers it with `val`. Returns -1 if full. */
  private newIndex(val: number): number {
    const r = this.rnd;
    for (let tries = 0; tries < 64; tries++) {
      this.random(r, 0, 4);
      const idx = readU32LE(r, 0);
      if (!this.index.has(idx)) {
        if (!this.index.insert(idx, val)) return -1;
        return idx;
      }
    }
    return -1;
  }

  /**
   * Turns the finished handshake into a session (noise.c wg_noise_handshake_begin_session and
   * add_new_keypair). The handshake's local index passes to the session.
   */
  private beginSession(now: number, id: number, initiator: boolean, remoteIndex: number): boolean {
    const p = this.peers[id];
    if (initiator) {
      if (p.next >= 0) {
        this.freeSession(p.previous);
        p.previous = p.next;
        p.next = -1;
        this.freeSession(p.current);
      } else {
        this.freeSession(p.previous);
        p.previous = p.current;
      }
      p.current = -1;
    } else {
      this.freeSession(p.next);
      this.freeSession(p.previous);
      p.next = -1;
      p.previous = -1;
    }
    let kp = -1;
    for (let i = 0; i < this.maxSessions; i++) {
      if (this.kpUsed[i] === 0) {
        kp = i;
        break;
      }
    }
    if (kp < 0) {
      this.drops[Drop.NO_SLOT]++;
      this.clearHandshake(p);
      return false;
    }
    if (initiator) this.noise.split(p.hs, this.kpSendKey[kp], this.kpRecvKey[kp]);
    else this.noise.split(p.hs, this.kpRecvKey[kp], this.kpSendKey[kp]);
    this.kpUsed[kp] = 1;
    this.kpPeer[kp] = id;
    this.kpSendCounter[kp] = 0;
    this.kpCreated[kp] = now;
    this.kpInitiator[kp] = initiator ? 1 : 0;
    this.kpLocalIndex[kp] = p.hsLocalIndex;
    this.kpRemoteIndex[kp] = remoteIndex;
    this.replay.reset(kp);
    this.index.replace(p.hsLocalIndex, kp);
    p.hsHasIndex = false;
    p.hsState = HS_ZEROED;
    p.hs.clear();
    if (initiator) p.current = kp;
    else p.next = kp;
    // timers_session_derived
    p.timers[T_ZERO_KEY_MATERIAL] = now + REJECT_AFTER_TIME * 3;
    return true;
  }

  private sessionUsable(kp: number, now: number): boolean {
    return kp >= 0 && now - this.kpCreated[kp] < REJECT_AFTER_TIME && this.kpSendCounter[kp] < REJECT_AFTER_MESSAGES;
  }

  // ------------------------------------------------------------------ timers

  private jitter(): number {
    this.random(this.rnd, 0, 2);
    return (this.rnd[0] | (this.rnd[1] << 8)) % REKEY_TIMEOUT_JITTER_MAX;
  }

  private timersAnyAuthenticatedPacketTraversal(p: Peer, now: number): void {
    if (p.persistentKeepalive > 0 && p.ka === null) p.timers[T_PERSISTENT_KEEPALIVE] = now + p.persistentKeepalive * 1000;
  }

  private timersHandshakeComplete(p: Peer, now: number): void {
    p.timers[T_RETRANSMIT_HANDSHAKE] = Infinity;
    p.handshakeAttempts = 0;
    p.sentLastMinuteHandshake = false;
    p.lastHandshakeWall = this.wallTime();
    p.lastHandshakeTime = now;
  }

  /** The earliest time (monotonic ms) at which `tick` has work to do; Infinity if none. */
  nextDeadline(): number {
    let t = Infinity;
    for (let i = 0; i < this.maxPeers; i++) {
      const p = this.peers[i];
      if (!p.used) continue;
      const tm = p.timers;
      for (let j = 0; j < TIMER_COUNT; j++) if (tm[j] < t) t = tm[j];
    }
    return t;
  }

  /** Runs every timer that is due at `now`. Call it at (or after) `nextDeadline()`. */
  tick(now: number): void {
    for (let i = 0; i < this.maxPeers; i++) {
      const p = this.peers[i];
      if (!p.used) continue;
      const tm = p.timers;
      if (p.asleep) {
        // Asleep: nothing is sent; keys are still zeroed on time. Timers a packet armed while
        // asleep are dropped when due (left due, nextDeadline would stay in the past).
        if (tm[T_ZERO_KEY_MATERIAL] <= now) {
          tm[T_ZERO_KEY_MATERIAL] = Infinity;
          this.clearPeerSessions(i);
        }
        for (let j = 0; j < TIMER_COUNT; j++) if (tm[j] <= now) tm[j] = Infinity;
        continue;
      }
      if (tm[T_RETRANSMIT_HANDSHAKE] <= now) {
        tm[T_RETRANSMIT_HANDSHAKE] = Infinity;
        this.expiredRetransmitHandshake(now, i);
      }
      if (tm[T_SEND_KEEPALIVE] <= now) {
        tm[T_SEND_KEEPALIVE] = Infinity;
        this.sendKeepalive(now, i);
        if (p.needAnotherKeepalive) {
          p.needAnotherKeepalive = false;
          tm[T_SEND_KEEPALIVE] = now + KEEPALIVE_TIMEOUT;
        }
      }
      if (tm[T_NEW_HANDSHAKE] <= now) {
        // We sent data and heard nothing back for KEEPALIVE_TIMEOUT + REKEY_TIMEOUT.
        tm[T_NEW_HANDSHAKE] = Infinity;
        this.initiateHandshake(now, i, false);
      }
      if (tm[T_ZERO_KEY_MATERIAL] <= now) {
        tm[T_ZERO_KEY_MATERIAL] = Infinity;
        this.clearPeerSessions(i);
      }
      if (tm[T_PERSISTENT_KEEPALIVE] <= now) {
        tm[T_PERSISTENT_KEEPALIVE] = Infinity;
        if (p.persistentKeepalive > 0 && p.ka === null) this.sendKeepalive(now, i);
      }
      if (tm[T_ADAPTIVE] <= now && p.ka !== null) {
        const kp = p.current;
        this.kaAct(now, i, p.ka.tick(now, kp >= 0 ? now - this.kpCreated[kp] : Infinity));
      }
    }
  }

  /** Executes an adaptive-keepalive action (keepalive.ts) and re-arms its timer. */
  private kaAct(now: number, id: number, act: number): void {
    const p = this.peers[id];
    const ka = p.ka as AdaptiveKeepalive;
    if (act === KA_HANDSHAKE || act === KA_REKEY) {
      if (act === KA_HANDSHAKE) p.lastSentHandshake = -Infinity;
      this.initiateHandshake(now, id, false);
    } else if (act !== KA_NONE && p.endpoint !== null) {
      const kp = p.current;
      if (!this.sessionUsable(kp, now)) {
        this.initiateHandshake(now, id, false);
      } else if (act === KA_KEEPALIVE && this.kpInitiator[kp] === 1 && now - this.kpCreated[kp] > REKEY_AFTER_TIME &&
          now - p.lastSentHandshake >= REKEY_TIMEOUT) {
        // A rekey is due: its initiation refreshes the mapping as well as a keepalive (which would
        // only trigger it) would.
        this.initiateHandshake(now, id, false);
      } else {
        const tx = this.tx;
        ka.ownSend = true;
        if (act === KA_PROBE) {
          for (let i = 16; i < 32; i++) tx[i] = 0;
          this.encryptAndSend(now, id, kp, tx, 16, 16);
        } else if (act === KA_ECHO) {
          const pkt = p.kaPkt as Uint8Array;
          const at = p.kaFamily === 4 ? 28 : 48;
          writeProbeRequest(pkt, at, ka.requestDelay, ka.nonce);
          const n = writeUdp(pkt, 0, p.kaFamily, p.kaSrc as Uint8Array, p.kaPort, p.kaDst as Uint8Array, p.kaPort, pkt, at, PROBE_SIZE);
          this.encryptAndSend(now, id, kp, pkt, 0, n);
        } else {
          this.encryptAndSend(now, id, kp, tx, 0, 0);
        }
        ka.ownSend = false;
        // An unanswered learning probe is the NAT's doing, not a reason to handshake.
        if (act === KA_REOPEN) p.timers[T_NEW_HANDSHAKE] = Infinity;
        this.keepKeyFreshSend(now, id);
      }
    }
    p.timers[T_ADAPTIVE] = ka.next();
  }

  /** True if the inner packet at buf[off] (len bytes) is an echo reply from p's probe responder. */
  private isEchoReply(p: Peer, buf: Uint8Array, off: number, len: number): boolean {
    if (parseUdp(buf, off, len, udpInfo) !== PROBE_SIZE || udpInfo.family !== p.kaFamily || udpInfo.srcPort !== p.kaPort) return false;
    const dst = p.kaDst as Uint8Array;
    const a = udpInfo.srcAddrOff;
    for (let i = 0; i < dst.length; i++) if (buf[a + i] !== dst[i]) return false;
    return parseProbe(buf, udpInfo.payloadOff, PROBE_SIZE) === PROBE_REPLY;
  }

  private expiredRetransmitHandshake(now: number, id: number): void {
    const p = this.peers[id];
    if (p.handshakeAttempts > MAX_TIMER_HANDSHAKES) {
      // REKEY_ATTEMPT_TIME is over: stop trying until there is new data to send.
      p.timers[T_SEND_KEEPALIVE] = Infinity;
      // A report's handshake gave up: a later ordinary send must not put the peer to sleep.
      p.sleepAfterSend = false;
      this.purgeStaged(id, Drop.HANDSHAKE_GAVE_UP);
      this.clearHandshake(p);
      if (p.timers[T_ZERO_KEY_MATERIAL] === Infinity) p.timers[T_ZERO_KEY_MATERIAL] = now + REJECT_AFTER_TIME * 3;
      if (this.sink.event) this.sink.event(EVENT_HANDSHAKE_GAVE_UP, id);
      return;
    }
    p.handshakeAttempts++;
    this.initiateHandshake(now, id, true);
  }

  // ------------------------------------------------------------------ sending

  /**
   * Sends an outgoing inner IP packet `buf[off, off+len)`: chooses the peer by destination
   * (cryptokey routing), encrypts and emits it, or stages it and starts a handshake.
   * Returns 0 if sent or staged, otherwise the `Drop` reason it was dropped for (also counted).
   */
  sendPacket(now: number, buf: Uint8Array, off: number, len: number): number {
    const peer = this.routeOf(buf, off, len);
    if (peer === -2) return this.drop(Drop.BAD_INNER_PACKET);
    if (peer < 0) return this.drop(Drop.NO_ROUTE);
    return this.sendToPeer(now, peer, buf, off, len);
  }

  /** The peer an inner packet would be sent to (cryptokey routing): -1 if none, -2 if not IP. */
  routeOf(buf: Uint8Array, off: number, len: number): number {
    if (len >= 20 && (buf[off] >> 4) === 4) return this.allowedIPs.lookup(buf, off + 16, 4);
    if (len >= 40 && (buf[off] >> 4) === 6) return this.allowedIPs.lookup(buf, off + 24, 6);
    return -2;
  }

  /** Sends an inner packet to a given peer, bypassing the routing lookup. Same result as sendPacket. */
  sendToPeer(now: number, id: number, buf: Uint8Array, off: number, len: number): number {
    const p = this.peers[id];
    if (!p || !p.used) return this.drop(Drop.NO_ROUTE);
    if (len > this.mtu) return this.drop(Drop.TOO_LARGE);
    if (p.asleep) this.wake(p);
    if (p.endpoint === null) return this.drop(Drop.NO_ENDPOINT);
    const kp = p.current;
    if ((this.stageCount === 0 || !this.hasStaged(id)) && this.sessionUsable(kp, now)) {
      this.encryptAndSend(now, id, kp, buf, off, len);
      this.keepKeyFreshSend(now, id);
      return 0;
    }
    this.stage(id, buf, off, len);
    this.sendStaged(now, id);
    return 0;
  }

  /** Sends a keepalive (or the staged packets, which serve as one). */
  private sendKeepalive(now: number, id: number): void {
    if (this.hasStaged(id)) {
      this.sendStaged(now, id);
      return;
    }
    const p = this.peers[id];
    if (p.endpoint === null) return;
    const kp = p.current;
    if (this.sessionUsable(kp, now)) {
      this.encryptAndSend(now, id, kp, this.tx, 0, 0);
      this.keepKeyFreshSend(now, id);
    } else {
      this.initiateHandshake(now, id, false);
    }
  }

  /** Encrypts an inner packet (len 0 = keepalive) with session kp and emits it. */
  private encryptAndSend(now: number, id: number, kp: number, src: Uint8Array, off: number, len: number): void {
    const p = this.peers[id];
    const tx = this.tx;
    // Pad to a multiple of 16 (not beyond the MTU) to hide exact lengths, as the whitepaper says.
    let padded = (len + 15) & ~15;
    if (padded > this.mtu) padded = len > this.mtu ? len : this.mtu;
    if (src !== tx) {
      for (let i = 0; i < len; i++) tx[16 + i] = src[off + i];
    }
    for (let i = len; i < padded; i++) tx[16 + i] = 0;
    const ctr = this.kpSendCounter[kp];
    this.kpSendCounter[kp] = ctr + 1;
    // 32-bit values cross calls as int32 (`| 0`): V8 boxes a uint32 >= 2^31 passed to a call it
    // does not inline into a heap number, which would allocate on every packet.
    const rest = ctr % 4294967296;
    const lo = rest | 0;
    const hi = ((ctr - rest) / 4294967296) | 0;
    tx[0] = MESSAGE_TRANSPORT;
    tx[1] = 0;
    tx[2] = 0;
    tx[3] = 0;
    writeU32LE(tx, 4, this.kpRemoteIndex[kp] | 0);
    writeU32LE(tx, 8, lo);
    writeU32LE(tx, 12, hi);
    this.c.seal(this.kpSendKey[kp], lo, hi, null, 0, 0, tx, 16, padded, tx, 16);
    const total = TRANSPORT_MIN_SIZE + padded;
    p.tx[0] += total;
    this.sink.send(tx, 0, total, p.endpoint as string, id);
    // timers: any_authenticated_packet_traversal, any_authenticated_packet_sent, data_sent
    this.timersAnyAuthenticatedPacketTraversal(p, now);
    if (p.ka !== null) this.kaSent(p, now);
    p.timers[T_SEND_KEEPALIVE] = Infinity;
    if (len > 0 && p.timers[T_NEW_HANDSHAKE] === Infinity) {
      p.timers[T_NEW_HANDSHAKE] = now + KEEPALIVE_TIMEOUT + REKEY_TIMEOUT + this.jitter();
    }
  }

  /** Our send refreshes the NAT mapping: the adaptive keepalive counts from here. */
  private kaSent(p: Peer, now: number): void {
    const ka = p.ka as AdaptiveKeepalive;
    ka.onSend(now);
    p.timers[T_ADAPTIVE] = ka.next();
  }

  /** send.c keep_key_fresh: the initiator rekeys after REKEY_AFTER_TIME, anyone after REKEY_AFTER_MESSAGES. */
  private keepKeyFreshSend(now: number, id: number): void {
    const kp = this.peers[id].current;
    if (kp < 0) return;
    if (this.kpSendCounter[kp] > REKEY_AFTER_MESSAGES ||
      (this.kpInitiator[kp] === 1 && now - this.kpCreated[kp] > REKEY_AFTER_TIME)) {
      this.initiateHandshake(now, id, false);
    }
  }

  /** receive.c keep_key_fresh: the initiator rekeys shortly before the session would be rejected. */
  private keepKeyFreshReceive(now: number, id: number): void {
    const p = this.peers[id];
    const kp = p.current;
    if (kp < 0 || this.kpInitiator[kp] !== 1 || p.sentLastMinuteHandshake) return;
    if (now - this.kpCreated[kp] > REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT - REKEY_TIMEOUT) {
      p.sentLastMinuteHandshake = true;
      this.initiateHandshake(now, id, false);
    }
  }

  // ------------------------------------------------------------------ staging

  private stage(id: number, buf: Uint8Array, off: number, len: number): void {
    if (this.stageCount === this.maxStaged) {
      // Full: the oldest packet gives way (it is the most likely to be stale anyway).
      this.stagePeer[this.stageHead] = -1;
      this.stageHead = (this.stageHead + 1) % this.maxStaged;
      this.stageCount--;
      this.drops[Drop.STAGED_OVERFLOW]++;
    }
    const slot = (this.stageHead + this.stageCount) % this.maxStaged;
    const base = slot * this.mtu;
    const sb = this.stageBuf;
    for (let i = 0; i < len; i++) sb[base + i] = buf[off + i];
    this.stageLen[slot] = len;
    this.stagePeer[slot] = id;
    this.stageCount++;
  }

  private hasStaged(id: number): boolean {
    for (let n = 0; n < this.stageCount; n++) {
      if (this.stagePeer[(this.stageHead + n) % this.maxStaged] === id) return true;
    }
    return false;
  }

  /** Drops a peer's staged packets, counting them under `reason` (-1 = not counted). */
  private purgeStaged(id: number, reason: number): void {
    for (let n = 0; n < this.stageCount; n++) {
      const slot = (this.stageHead + n) % this.maxStaged;
      if (this.stagePeer[slot] === id) {
        this.stagePeer[slot] = -1;
        if (reason >= 0) this.drops[reason]++;
      }
    }
    this.compactStaged();
  }

  /** Advances the ring's head past slots already sent or purged. */
  private compactStaged(): void {
    while (this.stageCount > 0 && this.stagePeer[this.stageHead] === -1) {
      this.stageHead = (this.stageHead + 1) % this.maxStaged;
      this.stageCount--;
    }
  }

  /** send.c wg_packet_send_staged_packets: send a peer's staged packets, or handshake first. */
  private sendStaged(now: number, id: number): void {
    const p = this.peers[id];
    const kp = p.current;
    if (!this.sessionUsable(kp, now) || p.endpoint === null) {
      this.initiateHandshake(now, id, false);
      return;
    }
    for (let n = 0; n < this.stageCount; n++) {
      const slot = (this.stageHead + n) % this.maxStaged;
      if (this.stagePeer[slot] !== id) continue;
      this.stagePeer[slot] = -1;
      this.encryptAndSend(now, id, kp, this.stageBuf, slot * this.mtu, this.stageLen[slot]);
    }
    this.compactStaged();
    if (p.sleepAfterSend) {
      this.sleepPeer(id);
      return;
    }
    this.keepKeyFreshSend(now, id);
  }

  // ------------------------------------------------------------------ handshake: sending

  /**
   * send.c wg_packet_send_handshake_initiation: at most one initiation per REKEY_TIMEOUT per peer.
   * `isRetry` keeps the attempt counter (retransmissions); otherwise a new attempt series starts.
   */
  private initiateHandshake(now: number, id: number, isRetry: boolean): void {
    const p = this.peers[id];
    if (!isRetry) p.handshakeAttempts = 0;
    if (now - p.lastSentHandshake < REKEY_TIMEOUT) return;
    if (p.endpoint === null) return;
    const m = this.hsBuf;
    this.clearHandshake(p);
    const idx = this.newIndex(HS_FLAG | id);
    if (idx < 0) {
      this.drops[Drop.NO_SLOT]++;
      return;
    }
    p.hsLocalIndex = idx;
    p.hsHasIndex = true;
    const hs = p.hs;
    const pre = p.hasPre;
    if (pre) {
      hs.ePriv.set(p.preEPriv);
      hs.ePub.set(p.preEPub);
    } else {
      this.random(hs.ePriv, 0, 32);
      this.c.x25519Base(hs.ePub, hs.ePriv);
    }
    m[0] = MESSAGE_INITIATION;
    m[1] = 0;
    m[2] = 0;
    m[3] = 0;
    writeU32LE(m, 4, idx);
    this.noise.start(hs, IDENTIFIER_BYTES, p.publicKey);
    this.tai.stamp(this.wallTime(), this.tsScratch, 0);
    const ok = this.noise.writeA(hs, this.privateKey, this.publicKey, p.publicKey, pre ? p.preEs : null, p.ss,
      this.tsScratch, 0, 12, m, 8);
    // A precomputed ephemeral is used once.
    if (pre) this.clearPrecomputed(p);
    if (!ok) {
      // The peer's public key is a low-order point: no handshake is possible.
      this.clearHandshake(p);
      this.drops[Drop.HANDSHAKE_FAILED]++;
      return;
    }
    p.hsState = HS_CREATED_INITIATION;
    p.cookie.addMacs(this.noise, now, m, INITIATION_SIZE);
    p.lastInitiation.set(m);
    p.lastSentHandshake = now;
    p.tx[0] += INITIATION_SIZE;
    this.sink.send(m, 0, INITIATION_SIZE, p.endpoint, id);
    // timers: traversal, any_authenticated_packet_sent, handshake_initiated
    this.timersAnyAuthenticatedPacketTraversal(p, now);
    if (p.ka !== null) this.kaSent(p, now);
    p.timers[T_SEND_KEEPALIVE] = Infinity;
    p.timers[T_RETRANSMIT_HANDSHAKE] = now + REKEY_TIMEOUT + this.jitter();
    if (this.sink.event) this.sink.event(EVENT_HANDSHAKE_INITIATED, id);
  }

  // ------------------------------------------------------------------ receiving

  private drop(reason: number): number {
    this.drops[reason]++;
    return reason;
  }

  /**
   * Processes one received UDP datagram `buf[off, off+len)` from `endpoint`. Never throws on
   * hostile input: every rejected datagram is counted in `drops`. Transport data is decrypted in
   * place (the buffer is modified) and delivered through the sink.
   * Returns 0 if the datagram was accepted, else the `Drop` reason.
   */
  receive(now: number, buf: Uint8Array, off: number, len: number, endpoint: string): number {
    if (len < 4) return this.drop(Drop.BAD_LENGTH);
    const type = buf[off];
    if (buf[off + 1] !== 0 || buf[off + 2] !== 0 || buf[off + 3] !== 0) return this.drop(Drop.UNKNOWN_TYPE);
    if (type === MESSAGE_TRANSPORT) return this.receiveTransport(now, buf, off, len, endpoint);
    if (type === MESSAGE_INITIATION) {
      if (len !== INITIATION_SIZE) return this.drop(Drop.BAD_LENGTH);
      return this.receiveInitiation(now, buf, off, endpoint);
    }
    if (type === MESSAGE_RESPONSE) {
      if (len !== RESPONSE_SIZE) return this.drop(Drop.BAD_LENGTH);
      return this.receiveResponse(now, buf, off, endpoint);
    }
    if (type === MESSAGE_COOKIE_REPLY) {
      if (len !== COOKIE_REPLY_SIZE) return this.drop(Drop.BAD_LENGTH);
      return this.receiveCookieReply(now, buf, off);
    }
    return this.drop(Drop.UNKNOWN_TYPE);
  }

  /** True while handshake traffic is heavy (or the driver says so): cookies are then required. */
  isUnderLoad(now: number): boolean {
    return this.forceUnderLoad || now - this.lastUnderLoad < UNDER_LOAD_AFTER_TIME;
  }

  /**
   * receive.c wg_receive_handshake_packet's gate: mac1 must be valid; under load a valid mac2
   * (cookie) is required too, else we answer with a cookie reply. Returns 0 to proceed, 1 if a
   * cookie reply was sent, or a Drop reason.
   */
  private handshakeGate(now: number, buf: Uint8Array, off: number, size: number, endpoint: string): number {
    if (now - this.loadWindowStart >= 1000) {
      this.loadWindowStart = now;
      this.loadCount = 0;
    }
    if (++this.loadCount > this.underLoadThreshold) this.lastUnderLoad = now;
    const mac1Off = off + size - 32;
    if (!this.checker.checkMac1(this.noise, buf, off, mac1Off)) return this.drop(Drop.BAD_MAC1);
    if (!this.isUnderLoad(now)) return 0;
    if (!this.checker.checkMac2(this.noise, this.random, now, endpoint, buf, off, mac1Off + 16)) {
      this.checker.writeReply(this.noise, this.random, now, endpoint, readU32LE(buf, off + 4), buf, mac1Off, this.hsBuf);
      this.cookieRepliesSent++;
      this.sink.send(this.hsBuf, 0, COOKIE_REPLY_SIZE, endpoint, -1);
      return 1;
    }
    if (!this.limiter.allow(hashEndpointAddress(endpoint), now)) return this.drop(Drop.RATE_LIMITED);
    return 0;
  }

  private receiveInitiation(now: number, buf: Uint8Array, off: number, endpoint: string): number {
    const gate = this.handshakeGate(now, buf, off, INITIATION_SIZE, endpoint);
    if (gate !== 0) return gate === 1 ? 0 : gate;
    const hs = this.scratchHs;
    const noise = this.noise;
    noise.start(hs, IDENTIFIER_BYTES, this.publicKey);
    if (!noise.readA1(hs, this.privateKey, buf, off + 8, this.rsScratch)) {
      hs.clear();
      return this.drop(Drop.HANDSHAKE_FAILED);
    }
    const id = this.findPeer(this.rsScratch);
    if (id < 0) {
      hs.clear();
      return this.drop(Drop.UNKNOWN_PEER);
    }
    const p = this.peers[id];
    if (!noise.readA2(hs, this.privateKey, this.rsScratch, p.ss, buf, off + 8, 12, this.tsScratch, 0)) {
      hs.clear();
      return this.drop(Drop.HANDSHAKE_FAILED);
    }
    // Replay protection: the timestamp must grow; flood protection: not faster than 50/s.
    if (compareBE(this.tsScratch, 0, p.greatestTimestamp, 0, 12) <= 0) {
      hs.clear();
      return this.drop(Drop.STALE_TIMESTAMP);
    }
    if (now - p.lastInitiationConsumed < 1000 / INITIATIONS_PER_SECOND) {
      hs.clear();
      return this.drop(Drop.INITIATION_FLOOD);
    }
    p.greatestTimestamp.set(this.tsScratch);
    p.lastInitiationConsumed = now;
    // Adopt the handshake: the scratch state becomes the peer's.
    this.clearHandshake(p);
    p.hs.ck.set(hs.ck);
    p.hs.h.set(hs.h);
    p.hs.re.set(hs.re);
    hs.clear();
    const remoteIndex = readU32LE(buf, off + 4);
    this.setEndpoint(id, endpoint);
    p.rx[0] += INITIATION_SIZE;
    // timers: any_authenticated_packet_received (new_handshake off), traversal
    p.timers[T_NEW_HANDSHAKE] = Infinity;
    this.timersAnyAuthenticatedPacketTraversal(p, now);
    this.sendResponse(now, id, remoteIndex);
    return 0;
  }

  private sendResponse(now: number, id: number, remoteIndex: number): void {
    const p = this.peers[id];
    const m = this.hsBuf;
    const idx = this.newIndex(HS_FLAG | id);
    if (idx < 0) {
      this.drops[Drop.NO_SLOT]++;
      this.clearHandshake(p);
      return;
    }
    p.hsLocalIndex = idx;
    p.hsHasIndex = true;
    const hs = p.hs;
    this.random(hs.ePriv, 0, 32);
    this.c.x25519Base(hs.ePub, hs.ePriv);
    m[0] = MESSAGE_RESPONSE;
    m[1] = 0;
    m[2] = 0;
    m[3] = 0;
    writeU32LE(m, 4, idx);
    writeU32LE(m, 8, remoteIndex);
    if (!this.noise.writeB(hs, p.publicKey, p.psk, null, 0, 0, m, 12)) {
      this.clearHandshake(p);
      this.drops[Drop.HANDSHAKE_FAILED]++;
      return;
    }
    p.cookie.addMacs(this.noise, now, m, RESPONSE_SIZE);
    if (!this.beginSession(now, id, false, remoteIndex)) return;
    p.tx[0] += RESPONSE_SIZE;
    // As the kernel does: a response counts as a handshake sent, so staged data waits for the
    // initiator's confirmation instead of starting a second handshake of our own.
    p.lastSentHandshake = now;
    this.sink.send(m, 0, RESPONSE_SIZE, p.endpoint as string, id);
    this.timersAnyAuthenticatedPacketTraversal(p, now);
    if (p.ka !== null) this.kaSent(p, now);
    p.timers[T_SEND_KEEPALIVE] = Infinity;
  }

  private receiveResponse(now: number, buf: Uint8Array, off: number, endpoint: string): number {
    const gate = this.handshakeGate(now, buf, off, RESPONSE_SIZE, endpoint);
    if (gate !== 0) return gate === 1 ? 0 : gate;
    const entry = this.index.get(readU32LE(buf, off + 8));
    if (entry < 0 || (entry & HS_FLAG) === 0) return this.drop(Drop.UNKNOWN_INDEX);
    const id = entry & ~HS_FLAG;
    const p = this.peers[id];
    if (p.hsState !== HS_CREATED_INITIATION) return this.drop(Drop.UNEXPECTED_RESPONSE);
    // Work on a copy so a forged response cannot spoil the handshake in flight.
    const hs = this.scratchHs;
    hs.ck.set(p.hs.ck);
    hs.h.set(p.hs.h);
    hs.ePriv.set(p.hs.ePriv);
    if (!this.noise.readB(hs, this.privateKey, p.psk, buf, off + 12, 0, this.tsScratch, 0)) {
      hs.clear();
      return this.drop(Drop.HANDSHAKE_FAILED);
    }
    p.hs.ck.set(hs.ck);
    p.hs.h.set(hs.h);
    hs.clear();
    const remoteIndex = readU32LE(buf, off + 4);
    this.setEndpoint(id, endpoint);
    p.rx[0] += RESPONSE_SIZE;
    p.timers[T_NEW_HANDSHAKE] = Infinity;
    this.timersAnyAuthenticatedPacketTraversal(p, now);
    if (!this.beginSession(now, id, true, remoteIndex)) return Drop.NO_SLOT;
    if (p.ka !== null) p.ka.onHandshake(now, now - p.lastSentHandshake);
    this.timersHandshakeComplete(p, now);
    if (this.sink.event) this.sink.event(EVENT_HANDSHAKE_COMPLETE, id);
    // Confirm the session at once: staged packets if any, else a keepalive.
    this.sendKeepalive(now, id);
    return 0;
  }

  private receiveCookieReply(now: number, buf: Uint8Array, off: number): number {
    const entry = this.index.get(readU32LE(buf, off + 4));
    if (entry < 0) return this.drop(Drop.UNKNOWN_INDEX);
    const id = (entry & HS_FLAG) !== 0 ? entry & ~HS_FLAG : this.kpPeer[entry];
    if (!this.peers[id].cookie.consumeReply(this.noise, now, buf, off)) return this.drop(Drop.BAD_COOKIE_REPLY);
    return 0;
  }

  /**
   * Transport data for a session we do not have. Usually noise; but when we are retrying
   * initiations to a peer that does not answer and this comes from the same host on another port,
   * the peer's NAT has most likely rebound (or we restarted and lost the session while the peer
   * keeps its own): a stock peer then waits minutes for its session to expire while we send
   * initiations to the stale port. Re-send our last initiation to the new source as well (not
   * switching the endpoint: the datagram is unauthenticated); an authenticated response moves the
   * endpoint. At most one copy per peer per REKEY_TIMEOUT, and only to the peer's own address, so
   * it cannot be used to aim traffic at third parties.
   */
  private unknownIndex(now: number, endpoint: string): number {
    if (now - this.lastRebindScan >= 100) {
      this.lastRebindScan = now;
      for (let i = 0; i < this.maxPeers; i++) {
        const p = this.peers[i];
        // An initiation of ours has gone unanswered for a while. (Not the retry count: while data
        // keeps coming to send, every new packet restarts it at 0, as in the kernel.)
        if (!p.used || p.hsState !== HS_CREATED_INITIATION || now - p.lastSentHandshake < REBIND_AFTER || p.endpoint === null) continue;
        if (p.endpoint === endpoint || now - p.lastRebindProbe < REKEY_TIMEOUT) continue;
        if (!sameHost(p.endpoint, endpoint)) continue;
        p.lastRebindProbe = now;
        this.rebindProbes++;
        this.sink.send(p.lastInitiation, 0, INITIATION_SIZE, endpoint, i);
      }
    }
    return this.drop(Drop.UNKNOWN_INDEX);
  }

  private setEndpoint(id: number, endpoint: string): void {
    const p = this.peers[id];
    if (p.endpoint !== endpoint) {
      p.endpoint = endpoint;
      if (this.sink.event) this.sink.event(EVENT_ENDPOINT_CHANGED, id);
    }
  }

  private receiveTransport(now: number, buf: Uint8Array, off: number, len: number, endpoint: string): number {
    if (len < TRANSPORT_MIN_SIZE) return this.drop(Drop.BAD_LENGTH);
    // Index and counter words are read as int32, not with readU32LE: a uint32 >= 2^31 returned
    // from or passed to a call V8 does not inline becomes a heap number (an allocation per packet).
    const kp = this.index.get(buf[off + 4] | (buf[off + 5] << 8) | (buf[off + 6] << 16) | (buf[off + 7] << 24));
    if (kp < 0 || (kp & HS_FLAG) !== 0) return this.unknownIndex(now, endpoint);
    const lo = buf[off + 8] | (buf[off + 9] << 8) | (buf[off + 10] << 16) | (buf[off + 11] << 24);
    const hi = buf[off + 12] | (buf[off + 13] << 8) | (buf[off + 14] << 16) | (buf[off + 15] << 24);
    if (hi < 0 || hi >= MAX_COUNTER_HI) return this.drop(Drop.REPLAY);
    if (now - this.kpCreated[kp] >= REJECT_AFTER_TIME) return this.drop(Drop.EXPIRED_SESSION);
    const ctLen = len - TRANSPORT_MIN_SIZE;
    if (!this.c.open(this.kpRecvKey[kp], lo, hi, null, 0, 0, buf, off + 16, ctLen, buf, off + 16)) {
      return this.drop(Drop.AUTH_FAILED);
    }
    if (!this.replay.check(kp, hi * 4294967296 + (lo >>> 0))) return this.drop(Drop.REPLAY);
    const id = this.kpPeer[kp];
    const p = this.peers[id];
    this.setEndpoint(id, endpoint);
    if (kp === p.next) {
      // First packet on the responder's new session confirms it (wg_noise_received_with_keypair).
      this.freeSession(p.previous);
      p.previous = p.current;
      p.current = kp;
      p.next = -1;
      this.timersHandshakeComplete(p, now);
      if (this.sink.event) this.sink.event(EVENT_HANDSHAKE_COMPLETE, id);
      if (this.hasStaged(id)) this.sendStaged(now, id);
    }
    this.keepKeyFreshReceive(now, id);
    p.timers[T_NEW_HANDSHAKE] = Infinity;
    this.timersAnyAuthenticatedPacketTraversal(p, now);
    p.rx[0] += len;
    const inner = off + 16;
    let act = KA_NONE;
    if (p.ka !== null) {
      if (p.kaDst !== null && ctLen >= PROBE_SIZE + 28 && this.isEchoReply(p, buf, inner, ctLen)) {
        // Our probe's answer: consumed here; the keepalive we answer with replaces the passive one.
        this.kaAct(now, id, p.ka.onEchoReply(now, probeNonce(buf, udpInfo.payloadOff)));
        return 0;
      }
      act = p.ka.onReceive(now);
    }
    if (ctLen !== 0) {
      // timers_data_received: answer within KEEPALIVE_TIMEOUT if we have nothing else to send.
      if (p.timers[T_SEND_KEEPALIVE] === Infinity) p.timers[T_SEND_KEEPALIVE] = now + KEEPALIVE_TIMEOUT;
      else p.needAnotherKeepalive = true;
    }
    if (p.ka !== null) this.kaAct(now, id, act);
    if (ctLen === 0) return 0; // keepalive
    let innerLen: number;
    let srcOk: boolean;
    const v = buf[inner] >> 4;
    if (v === 4 && ctLen >= 20) {
      innerLen = (buf[inner + 2] << 8) | buf[inner + 3];
      if (innerLen < 20 || innerLen > ctLen) return this.drop(Drop.BAD_INNER_PACKET);
      srcOk = this.allowedIPs.lookup(buf, inner + 12, 4) === id;
    } else if (v === 6 && ctLen >= 40) {
      innerLen = 40 + ((buf[inner + 4] << 8) | buf[inner + 5]);
      if (innerLen > ctLen) return this.drop(Drop.BAD_INNER_PACKET);
      srcOk = this.allowedIPs.lookup(buf, inner + 8, 6) === id;
    } else {
      // A probe of ours (see `probe`) from a wgjs peer: expected, not an error.
      if (ctLen === 16 && v === 0 && isZero(buf, inner, 16)) {
        this.probesReceived++;
        return 0;
      }
      return this.drop(Drop.BAD_INNER_PACKET);
    }
    if (!srcOk) return this.drop(Drop.SOURCE_NOT_ALLOWED);
    this.sink.deliver(buf, inner, innerLen, id);
    return 0;
  }
}
