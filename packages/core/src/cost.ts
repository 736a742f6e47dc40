/**
 * Keepalive cost model (issue #5): how many bytes a WireGuard device behind a NAT sends and
 * receives per period for a keepalive policy, a NAT UDP timeout and a traffic pattern — for IoT
 * links billed per byte, where a 25 s keepalive alone can cost more than the data.
 *
 * It is a small discrete-event simulation of the engine's own timer rules (engine.ts, after the
 * kernel's timers.c/send.c/receive.c), not a formula: the device (always the initiator) and the
 * server each keep the timers that produce traffic (persistent keepalive, passive keepalive,
 * rekey on send and on receive, staging while a handshake is in flight), and messages cross a
 * path with a fixed one-way delay of rtt/2. It is checked byte for byte against two real engines
 * in packages/core/test/cost.test.ts.
 *
 * Not simulated, because they never fire without packet loss: handshake retransmission
 * (REKEY_TIMEOUT > rtt is required), the "data sent, nothing received" rehandshake (every data
 * packet here is answered within KEEPALIVE_TIMEOUT), zeroing of key material (no traffic), and
 * REKEY_AFTER_MESSAGES (2^60 messages).
 *
 * Device-safe: runs on Espruino (no Map, no Date, no default parameters).
 */
import {
  INITIATION_SIZE, KEEPALIVE_TIMEOUT, REJECT_AFTER_TIME, REKEY_AFTER_TIME, REKEY_TIMEOUT, RESPONSE_SIZE,
  TRANSPORT_MIN_SIZE,
} from './constants.js';
import { wgError } from './errors.js';

/** Extra traffic of adaptive keepalive verification probes (see probe.ts). */
export interface CostProbe {
  /** Seconds between probes (the first at t = every). */
  every: number;
  /** Wire bytes (UDP/IP headers included) one probe sends up. */
  upBytes: number;
  /** Wire bytes (UDP/IP headers included) one probe's answer brings down. */
  downBytes: number;
}

/** What `dailyCost` simulates. Times in seconds, sizes in bytes. */
export interface CostInput {
  /**
   * 'always-on' (default): the device stays connected, handshake at t = 0, keepalives as
   * configured. 'sleep': the device sleeps between reports and sends no keepalives (`keepalive`
   * is ignored); each report reuses the session if younger than REKEY_AFTER_TIME, else it does
   * a handshake first and the report confirms it.
   */
  mode?: 'always-on' | 'sleep';
  /** Keepalive interval in seconds (0 = off, else at least 1). */
  keepalive: number;
  /** The NAT's UDP mapping timeout in seconds (e.g. 30). */
  natTimeout: number;
  /** Seconds between application reports (0 = none, the default); the first at t = reportInterval. */
  reportInterval?: number;
  /** Inner (IP packet) size of a report, 1..1420; required when reportInterval > 0. */
  reportBytes?: number;
  /** If > 0, the server answers each report at once with an inner packet of this size (0..1420). */
  serverReplyBytes?: number;
  /** Outer headers of IPv6 (48 bytes) instead of IPv4 (28). */
  ipv6?: boolean;
  /** Length of the simulated period in seconds (default 86400, one day). */
  seconds?: number;
  /** Round-trip time in seconds, 0 <= rtt < 5 (default 0.1). */
  rtt?: number;
  /** Adaptive keepalive verification probes (always-on mode only). */
  probe?: CostProbe;
  /**
   * Whether received packets restart the keepalive timer too. true (default) is stock WireGuard:
   * the engine, like the kernel, restarts it on any authenticated packet sent or received.
   * false is the wgjs adaptive mode (keepalive.ts): only what the device sends keeps its NAT
   * mapping open, so only sends count; and when the keepalive falls due with a rekey due too, the
   * initiation is sent instead of the keepalive.
   */
  refreshOnReceive?: boolean;
}

/** What `dailyCost` predicts for the period. Bytes are wire bytes (UDP/IP headers included). */
export interface CostResult {
  /** The simulated period in seconds. */
  seconds: number;
  upBytes: number;
  downBytes: number;
  totalBytes: number;
  upPackets: number;
  downPackets: number;
  /** Keepalive messages (empty transport packets) in both directions, confirmations included. */
  keepalives: number;
  /** Handshakes (initiations sent by the device; each completes, there is no loss). */
  handshakes: number;
  /** Reports the device sent. */
  reports: number;
  /** Verification probes sent. */
  probes: number;
  /** True if the device never stayed silent for natTimeout: the server can reach it at any time. */
  reachable: boolean;
  /** Longest silence between device sends (and from the period's start/to its end), in seconds. */
  longestGap: number;
  /** Share of the period during which the device's NAT mapping has expired (0..1). */
  unreachableFraction: number;
}

/** Largest inner packet (the engine's default MTU); padding stops there as in encryptAndSend. */
const COST_MTU = 1420;
/** receive.c keep_key_fresh: the initiator rekeys on receipt when the session is this old (ms). */
const REKEY_ON_RECEIVE = REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT - REKEY_TIMEOUT;
/** The model refuses inputs whose estimated event count exceeds this (it would be slow). */
const MAX_EVENTS = 5000000;
/** Messages in flight at once; a handful at most, since every exchange is short. */
const QUEUE_SIZE = 64;

const M_INITIATION = 1;
const M_RESPONSE = 2;
const M_TRANSPORT = 4;

const K_OTHER = 0;
const K_KEEPALIVE = 1;
const K_REPORT = 2;

/** Size of a transport message carrying `inner` bytes: padded to 16, not beyond the MTU. */
function transportSize(inner: number): number {
  let padded = (inner + 15) & ~15;
  if (padded > COST_MTU) padded = COST_MTU;
  return TRANSPORT_MIN_SIZE + padded;
}

/** `v` if it is a number in [min, max] (and an integer if `integer`), else an EINVAL error. */
function checkNumber(v: unknown, name: string, min: number, max: number, integer: boolean, hint: string): number {
  if (typeof v !== 'number' || !(v >= min && v <= max) || (integer && v % 1 !== 0)) {
    throw wgError('EINVAL', name + ' must be ' + hint + ', got ' + v);
  }
  return v;
}

/** Byte, packet and silence accounting shared by both modes. Times in ms. */
class Tally {
  header: number;
  natMs: number;
  endMs: number;
  up: number;
  down: number;
  upPackets: number;
  downPackets: number;
  keepalives: number;
  handshakes: number;
  reports: number;
  probes: number;
  lastSend: number;
  longestGap: number;
  unreachable: number;

  constructor(header: number, natMs: number, endMs: number) {
    this.header = header;
    this.natMs = natMs;
    this.endMs = endMs;
    this.up = 0;
    this.down = 0;
    this.upPackets = 0;
    this.downPackets = 0;
    this.keepalives = 0;
    this.handshakes = 0;
    this.reports = 0;
    this.probes = 0;
    this.lastSend = 0;
    this.longestGap = 0;
    this.unreachable = 0;
  }

  /** A silence of the device ends at `now` (the period starts and ends with one). */
  gapUntil(now: number): void {
    const gap = now - this.lastSend;
    if (gap > this.longestGap) this.longestGap = gap;
    if (gap > this.natMs) this.unreachable += gap - this.natMs;
    this.lastSend = now;
  }

  count(kind: number): void {
    if (kind === K_KEEPALIVE) this.keepalives++;
    else if (kind === K_REPORT) this.reports++;
  }

  /** The device sends a WireGuard message of `len` bytes at `now` (ignored past the period). */
  sendUp(now: number, len: number, kind: number): void {
    if (now >= this.endMs) return;
    this.up += len + this.header;
    this.upPackets++;
    this.count(kind);
    this.gapUntil(now);
  }

  /** The server sends a WireGuard message of `len` bytes at `now` (ignored past the period). */
  sendDown(now: number, len: number, kind: number): void {
    if (now >= this.endMs) return;
    this.down += len + this.header;
    this.downPackets++;
    this.count(kind);
  }

  /** A probe and its answer: wire sizes as given, headers included. */
  probe(now: number, upBytes: number, downBytes: number): void {
    this.probes++;
    this.up += upBytes;
    this.upPackets++;
    if (downBytes > 0) {
      this.down += downBytes;
      this.downPackets++;
    }
    this.gapUntil(now);
  }

  result(seconds: number): CostResult {
    this.gapUntil(this.endMs);
    return {
      seconds: seconds,
      upBytes: this.up,
      downBytes: this.down,
      totalBytes: this.up + this.down,
      upPackets: this.upPackets,
      downPackets: this.downPackets,
      keepalives: this.keepalives,
      handshakes: this.handshakes,
      reports: this.reports,
      probes: this.probes,
      reachable: this.longestGap < this.natMs,
      longestGap: this.longestGap / 1000,
      unreachableFraction: this.unreachable / this.endMs,
    };
  }
}

/**
 * The always-on simulation: device and server timers as in engine.ts, with messages crossing a
 * path of one-way delay `oneWay`. Sessions and handshakes are numbered; a message carries the
 * number so that a receiver accepts it only on a session it still holds, as the engine does by
 * index. Field prefixes: d = device (initiator), s = server (responder), q = messages in flight.
 */
class AlwaysOn {
  t: Tally;
  endMs: number;
  oneWay: number;
  keepalive: number;
  refreshOnReceive: boolean;
  reportEvery: number;
  reportLen: number;
  replyLen: number;
  probeEvery: number;
  probeUp: number;
  probeDown: number;
  seq: number;

  dCur: number;
  dCurAt: number;
  dPrev: number;
  dPrevAt: number;
  /** The initiation awaiting its response (-1 = none). */
  dHs: number;
  dLastInit: number;
  dLastMinute: boolean;
  /** Reports held while the session is unusable (they all have reportLen bytes). */
  dStaged: number;
  /** T_PERSISTENT_KEEPALIVE and T_SEND_KEEPALIVE (+ need_another_keepalive) of engine.ts. */
  dPersist: number;
  dPassive: number;
  dNeedAnother: boolean;

  sCur: number;
  sCurAt: number;
  sPrev: number;
  sPrevAt: number;
  sNext: number;
  sNextAt: number;
  sPassive: number;
  sNeedAnother: boolean;

  qAt: Float64Array;
  qToServer: Uint8Array;
  qType: Uint8Array;
  qId: Int32Array;
  qLen: Int32Array;
  qHead: number;
  qCount: number;

  constructor(t: Tally, endMs: number, oneWay: number, keepalive: number, refreshOnReceive: boolean) {
    this.t = t;
    this.endMs = endMs;
    this.oneWay = oneWay;
    this.keepalive = keepalive;
    this.refreshOnReceive = refreshOnReceive;
    this.reportEvery = 0;
    this.reportLen = 0;
    this.replyLen = 0;
    this.probeEvery = 0;
    this.probeUp = 0;
    this.probeDown = 0;
    this.seq = 0;
    this.dCur = -1;
    this.dCurAt = 0;
    this.dPrev = -1;
    this.dPrevAt = 0;
    this.dHs = -1;
    this.dLastInit = -Infinity;
    this.dLastMinute = false;
    this.dStaged = 0;
    this.dPersist = Infinity;
    this.dPassive = Infinity;
    this.dNeedAnother = false;
    this.sCur = -1;
    this.sCurAt = 0;
    this.sPrev = -1;
    this.sPrevAt = 0;
    this.sNext = -1;
    this.sNextAt = 0;
    this.sPassive = Infinity;
    this.sNeedAnother = false;
    this.qAt = new Float64Array(QUEUE_SIZE);
    this.qToServer = new Uint8Array(QUEUE_SIZE);
    this.qType = new Uint8Array(QUEUE_SIZE);
    this.qId = new Int32Array(QUEUE_SIZE);
    this.qLen = new Int32Array(QUEUE_SIZE);
    this.qHead = 0;
    this.qCount = 0;
  }

  /** Puts a message on the path. The delay is constant, so arrival order is sending order. */
  push(now: number, toServer: boolean, type: number, id: number, len: number): void {
    if (this.qCount === QUEUE_SIZE) throw wgError('EFAULT', 'cost model: too many messages in flight');
    const i = (this.qHead + this.qCount) % QUEUE_SIZE;
    this.qAt[i] = now + this.oneWay;
    this.qToServer[i] = toServer ? 1 : 0;
    this.qType[i] = type;
    this.qId[i] = id;
    this.qLen[i] = len;
    this.qCount++;
  }

  // ---------------------------------------------------------------- device (initiator)

  usable(id: number, createdAt: number, now: number): boolean {
    return id >= 0 && now - createdAt < REJECT_AFTER_TIME;
  }

  /** any_authenticated_packet_sent + traversal: keepalive timer restarts, passive one stops. */
  devSent(now: number): void {
    if (this.keepalive > 0) this.dPersist = now + this.keepalive;
    this.dPassive = Infinity;
  }

  devTransport(now: number, inner: number): void {
    this.t.sendUp(now, transportSize(inner), inner === 0 ? K_KEEPALIVE : K_REPORT);
    this.devSent(now);
    this.push(now, true, M_TRANSPORT, this.dCur, inner);
  }

  /** initiateHandshake: at most one initiation per REKEY_TIMEOUT. */
  devInitiate(now: number): void {
    if (now - this.dLastInit < REKEY_TIMEOUT) return;
    this.dLastInit = now;
    this.seq++;
    this.dHs = this.seq;
    this.t.handshakes++;
    this.t.sendUp(now, INITIATION_SIZE, K_OTHER);
    this.devSent(now);
    this.push(now, true, M_INITIATION, this.seq, 0);
  }

  /** keepKeyFreshSend: the initiator rekeys after sending on a session older than REKEY_AFTER_TIME. */
  devKeepFreshSend(now: number): void {
    if (this.dCur >= 0 && now - this.dCurAt > REKEY_AFTER_TIME) this.devInitiate(now);
  }

  devSendStaged(now: number): void {
    if (!this.usable(this.dCur, this.dCurAt, now)) {
      this.devInitiate(now);
      return;
    }
    while (this.dStaged > 0) {
      this.dStaged--;
      this.devTransport(now, this.reportLen);
    }
    this.devKeepFreshSend(now);
  }

  devSendKeepalive(now: number): void {
    if (this.dStaged > 0) {
      this.devSendStaged(now);
    } else if (this.usable(this.dCur, this.dCurAt, now)) {
      this.devTransport(now, 0);
      this.devKeepFreshSend(now);
    } else {
      this.devInitiate(now);
    }
  }

  /** sendToPeer: send at once on a usable session, else hold the report and handshake first. */
  devReport(now: number): void {
    if (this.dStaged === 0 && this.usable(this.dCur, this.dCurAt, now)) {
      this.devTransport(now, this.reportLen);
      this.devKeepFreshSend(now);
      return;
    }
    this.dStaged++;
    this.devSendStaged(now);
  }

  devTick(now: number): void {
    if (this.dPassive <= now) {
      this.dPassive = Infinity;
      this.devSendKeepalive(now);
      if (this.dNeedAnother) {
        this.dNeedAnother = false;
        this.dPassive = now + KEEPALIVE_TIMEOUT;
      }
    }
    if (this.dPersist <= now) {
      this.dPersist = Infinity;
      if (this.keepalive > 0) {
        if (!this.refreshOnReceive && this.dStaged === 0 && this.usable(this.dCur, this.dCurAt, now) &&
            now - this.dCurAt > REKEY_AFTER_TIME && now - this.dLastInit >= REKEY_TIMEOUT) this.devInitiate(now);
        else this.devSendKeepalive(now);
      }
    }
  }

  devReceive(now: number, type: number, id: number, len: number): void {
    if (type === M_RESPONSE) {
      if (id !== this.dHs) return; // answers a superseded initiation: the engine drops it
      this.dHs = -1;
      this.dPrev = this.dCur;
      this.dPrevAt = this.dCurAt;
      this.dCur = id;
      this.dCurAt = now;
      this.dLastMinute = false;
      if (this.refreshOnReceive && this.keepalive > 0) this.dPersist = now + this.keepalive;
      // Confirm the new session: staged reports if any, else a keepalive.
      this.devSendKeepalive(now);
      return;
    }
    let at: number;
    if (id === this.dCur) at = this.dCurAt;
    else if (id === this.dPrev) at = this.dPrevAt;
    else return;
    if (now - at >= REJECT_AFTER_TIME) return;
    if (!this.dLastMinute && now - this.dCurAt > REKEY_ON_RECEIVE) {
      this.dLastMinute = true;
      this.devInitiate(now);
    }
    if (this.refreshOnReceive && this.keepalive > 0) this.dPersist = now + this.keepalive;
    if (len > 0) {
      if (this.dPassive === Infinity) this.dPassive = now + KEEPALIVE_TIMEOUT;
      else this.dNeedAnother = true;
    }
  }

  // ---------------------------------------------------------------- server (responder)

  srvTransport(now: number, inner: number): void {
    // The server's current session is always usable when it sends here: it sends only in answer
    // to a packet that arrived on a live session, at most KEEPALIVE_TIMEOUT later, and every
    // report on a session older than REKEY_AFTER_TIME brings a handshake with it. The engine
    // would otherwise start a handshake from the server, which this model does not simulate.
    if (!this.usable(this.sCur, this.sCurAt, now)) return;
    this.t.sendDown(now, transportSize(inner), inner === 0 ? K_KEEPALIVE : K_OTHER);
    this.sPassive = Infinity;
    this.push(now, false, M_TRANSPORT, this.sCur, inner);
  }

  srvTick(now: number): void {
    if (this.sPassive <= now) {
      this.sPassive = Infinity;
      this.srvTransport(now, 0);
      if (this.sNeedAnother) {
        this.sNeedAnother = false;
        this.sPassive = now + KEEPALIVE_TIMEOUT;
      }
    }
  }

  srvReceive(now: number, type: number, id: number, len: number): void {
    if (type === M_INITIATION) {
      // beginSession as responder: the new session waits in `next`; `previous` is dropped.
      this.sPrev = -1;
      this.sNext = id;
      this.sNextAt = now;
      this.t.sendDown(now, RESPONSE_SIZE, K_OTHER);
      this.sPassive = Infinity;
      this.push(now, false, M_RESPONSE, id, 0);
      return;
    }
    let at: number;
    if (id === this.sCur) at = this.sCurAt;
    else if (id === this.sPrev) at = this.sPrevAt;
    else if (id === this.sNext) at = this.sNextAt;
    else return;
    if (now - at >= REJECT_AFTER_TIME) return;
    if (id === this.sNext) {
      // The first packet on the new session confirms it.
      this.sPrev = this.sCur;
      this.sPrevAt = this.sCurAt;
      this.sCur = this.sNext;
      this.sCurAt = this.sNextAt;
      this.sNext = -1;
    }
    if (len === 0) return;
    // timers_data_received, then the application's answer (which cancels the passive keepalive).
    if (this.sPassive === Infinity) this.sPassive = now + KEEPALIVE_TIMEOUT;
    else this.sNeedAnother = true;
    if (this.replyLen > 0) this.srvTransport(now, this.replyLen);
  }

  // ---------------------------------------------------------------- event loop

  /** Delivers every message that has arrived by `now`, including those sent meanwhile. */
  pump(now: number): void {
    while (this.qCount > 0 && this.qAt[this.qHead] <= now) {
      const i = this.qHead;
      this.qHead = (this.qHead + 1) % QUEUE_SIZE;
      this.qCount--;
      if (this.qToServer[i] === 1) this.srvReceive(now, this.qType[i], this.qId[i], this.qLen[i]);
      else this.devReceive(now, this.qType[i], this.qId[i], this.qLen[i]);
    }
  }

  /**
   * Runs the period. At equal times the order is that of a driver (and of the test harness):
   * due timers of the device, then of the server, then arrivals; the application's report and
   * probe come last, after the timers of that instant.
   */
  run(maxSteps: number): void {
    this.devInitiate(0);
    let reportK = 1;
    let probeK = 1;
    let nextReport = this.reportEvery > 0 ? this.reportEvery : Infinity;
    let nextProbe = this.probeEvery > 0 ? this.probeEvery : Infinity;
    for (let step = 0; ; step++) {
      if (step > maxSteps) throw wgError('EFAULT', 'cost model did not finish within ' + maxSteps + ' steps');
      let timer = this.dPassive < this.dPersist ? this.dPassive : this.dPersist;
      if (this.sPassive < timer) timer = this.sPassive;
      const arrival = this.qCount > 0 ? this.qAt[this.qHead] : Infinity;
      let now = timer < arrival ? timer : arrival;
      if (nextReport < now) now = nextReport;
      if (nextProbe < now) now = nextProbe;
      if (now >= this.endMs) return;
      if (timer <= now) {
        if (this.dPassive <= now || this.dPersist <= now) this.devTick(now);
        if (this.sPassive <= now) this.srvTick(now);
        this.pump(now);
      } else if (arrival <= now) {
        this.pump(now);
      } else if (nextReport <= now) {
        this.devReport(now);
        reportK++;
        nextReport = reportK * this.reportEvery;
      } else {
        this.t.probe(now, this.probeUp, this.probeDown);
        this.devSent(now);
        probeK++;
        nextProbe = probeK * this.probeEvery;
      }
    }
  }
}

/**
 * Report-and-sleep: the device is off between reports, so there are no keepalives and each
 * wake-up costs either the report alone (session younger than REKEY_AFTER_TIME) or a handshake
 * with the report as its confirmation. The server answers each report with its passive keepalive
 * KEEPALIVE_TIMEOUT later (billed even if the device sleeps by then), or with `replyLen` bytes at
 * once, which the device must stay awake to answer with its own passive keepalive — otherwise
 * the server, having sent data that got no answer, would start handshakes towards it.
 */
function runSleep(t: Tally, endMs: number, oneWay: number, every: number, reportLen: number, replyLen: number): void {
  let created = -Infinity;
  for (let k = 1; k * every < endMs; k++) {
    const now = k * every;
    let atServer: number;
    if (now - created < REKEY_AFTER_TIME) {
      t.sendUp(now, transportSize(reportLen), K_REPORT);
      atServer = now + oneWay;
    } else {
      t.handshakes++;
      t.sendUp(now, INITIATION_SIZE, K_OTHER);
      t.sendDown(now + oneWay, RESPONSE_SIZE, K_OTHER);
      created = now + 2 * oneWay;
      t.sendUp(created, transportSize(reportLen), K_REPORT);
      atServer = now + 3 * oneWay;
    }
    if (replyLen > 0) {
      t.sendDown(atServer, transportSize(replyLen), K_OTHER);
      t.sendUp(atServer + oneWay + KEEPALIVE_TIMEOUT, TRANSPORT_MIN_SIZE, K_KEEPALIVE);
    } else {
      t.sendDown(atServer + KEEPALIVE_TIMEOUT, TRANSPORT_MIN_SIZE, K_KEEPALIVE);
    }
  }
}

/**
 * Predicts the traffic of a WireGuard device behind a NAT over `seconds` (default one day):
 * bytes and packets each way, keepalives, handshakes, and whether the server can reach the
 * device (its NAT mapping never expired) or for what share of the time it cannot.
 *
 * Events at times in [0, seconds) count; each datagram is counted when it is sent. Throws an
 * EINVAL WgError naming the offending field for invalid input.
 *
 * ```ts
 * dailyCost({ keepalive: 25, natTimeout: 30 });                       // stock keepalive
 * dailyCost({ keepalive: 27, natTimeout: 30, refreshOnReceive: false }); // adaptive target
 * dailyCost({ mode: 'sleep', keepalive: 0, natTimeout: 30, reportInterval: 900, reportBytes: 64 });
 * ```
 */
export function dailyCost(input: CostInput): CostResult {
  if (input === null || typeof input !== 'object') throw wgError('EINVAL', 'cost input must be an object');
  const mode = input.mode === undefined ? 'always-on' : input.mode;
  if (mode !== 'always-on' && mode !== 'sleep') {
    throw wgError('EINVAL', "mode must be 'always-on' or 'sleep', got " + mode);
  }
  const keepalive = checkNumber(input.keepalive, 'keepalive', 0, 86400, false, '0 (off) or a number of seconds from 1 to 86400');
  if (keepalive > 0 && keepalive < 1) throw wgError('EINVAL', 'keepalive must be 0 (off) or at least 1 second, got ' + keepalive);
  const nat = checkNumber(input.natTimeout, 'natTimeout', 0, 86400, false, 'a number of seconds above 0');
  if (nat === 0) throw wgError('EINVAL', 'natTimeout must be a number of seconds above 0, got 0');
  const seconds = input.seconds === undefined ? 86400
    : checkNumber(input.seconds, 'seconds', 1, 31622400, false, 'a period from 1 to 31622400 seconds (366 days)');
  const every = input.reportInterval === undefined ? 0
    : checkNumber(input.reportInterval, 'reportInterval', 0, 31622400, false, '0 (no reports) or a number of seconds of at least 1');
  if (every > 0 && every < 1) throw wgError('EINVAL', 'reportInterval must be 0 (no reports) or at least 1 second, got ' + every);
  let reportLen = 0;
  if (every > 0 || input.reportBytes !== undefined) {
    if (input.reportBytes === undefined) throw wgError('EINVAL', 'reportBytes (the inner size of a report) is required when reportInterval is set');
    reportLen = checkNumber(input.reportBytes, 'reportBytes', 1, COST_MTU, true, 'an integer from 1 to ' + COST_MTU + ' (inner IP packet bytes)');
  }
  const replyLen = input.serverReplyBytes === undefined ? 0
    : checkNumber(input.serverReplyBytes, 'serverReplyBytes', 0, COST_MTU, true, 'an integer from 0 (no reply) to ' + COST_MTU);
  const rtt = input.rtt === undefined ? 0.1
    : checkNumber(input.rtt, 'rtt', 0, REKEY_TIMEOUT / 1000, false, 'a number of seconds from 0 to below ' + REKEY_TIMEOUT / 1000 + ' (REKEY_TIMEOUT)');
  if (rtt >= REKEY_TIMEOUT / 1000) throw wgError('EINVAL', 'rtt must be below ' + REKEY_TIMEOUT / 1000 + ' s (REKEY_TIMEOUT): handshake retransmissions are not modelled');
  if (input.ipv6 !== undefined && typeof input.ipv6 !== 'boolean') throw wgError('EINVAL', 'ipv6 must be true or false');
  if (input.refreshOnReceive !== undefined && typeof input.refreshOnReceive !== 'boolean') {
    throw wgError('EINVAL', 'refreshOnReceive must be true or false');
  }
  let probeEvery = 0;
  let probeUp = 0;
  let probeDown = 0;
  if (input.probe !== undefined) {
    if (mode !== 'always-on') throw wgError('EINVAL', 'probe applies to always-on mode only (a sleeping device has no keepalive to verify)');
    if (input.probe === null || typeof input.probe !== 'object') throw wgError('EINVAL', 'probe must be { every, upBytes, downBytes }');
    probeEvery = checkNumber(input.probe.every, 'probe.every', 1, 31622400, false, 'a number of seconds of at least 1');
    probeUp = checkNumber(input.probe.upBytes, 'probe.upBytes', 1, 65535, true, 'an integer from 1 to 65535 (wire bytes)');
    probeDown = checkNumber(input.probe.downBytes, 'probe.downBytes', 0, 65535, true, 'an integer from 0 to 65535 (wire bytes)');
  }
  if (mode === 'sleep' && every > 0 && every < 20) {
    throw wgError('EINVAL', 'reportInterval must be at least 20 s in sleep mode (a device reporting more often gains nothing from sleeping: use always-on), got ' + every);
  }

  // A bound on the steps the simulation takes, to refuse inputs that would run for long.
  let rate = 1 / 20; // handshakes (at most one per REKEY_AFTER_TIME, a few steps each)
  if (mode === 'always-on' && keepalive > 0) rate += 2 / keepalive;
  if (every > 0) rate += 8 / every;
  if (probeEvery > 0) rate += 2 / probeEvery;
  const steps = seconds * rate + 100;
  if (steps > MAX_EVENTS) {
    throw wgError('EINVAL', 'too many events to simulate (about ' + Math.round(steps) + '): use a shorter period and scale the result');
  }

  const endMs = seconds * 1000;
  const t = new Tally(input.ipv6 === true ? 48 : 28, nat * 1000, endMs);
  if (mode === 'sleep') {
    if (every > 0) runSleep(t, endMs, rtt * 500, every * 1000, reportLen, replyLen);
  } else {
    const sim = new AlwaysOn(t, endMs, rtt * 500, keepalive * 1000, input.refreshOnReceive !== false);
    sim.reportEvery = every * 1000;
    sim.reportLen = reportLen;
    sim.replyLen = replyLen;
    sim.probeEvery = probeEvery * 1000;
    sim.probeUp = probeUp;
    sim.probeDown = probeDown;
    sim.run(steps * 4);
  }
  return t.result(seconds);
}
