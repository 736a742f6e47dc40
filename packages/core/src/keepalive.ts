/**
 * Adaptive keepalive (`PersistentKeepalive = auto`): learns how long the NAT in front of us keeps
 * an idle UDP mapping, then keeps the tunnel reachable with one keepalive just under that time.
 *
 * A keepalive draws no answer, so the lifetime is measured with probes that do, each testing one
 * idle time T ("does the mapping survive T seconds without a packet?"):
 * - passive (any stock peer): a data packet, which the peer answers with its passive keepalive
 *   exactly KEEPALIVE_TIMEOUT later; we refresh the mapping with an empty keepalive T before that
 *   answer is due, so the answer arrives after T of silence. Only T < KEEPALIVE_TIMEOUT can be
 *   tested this way.
 * - echo (a probe responder inside the tunnel, `wgjs probe-responder`): a request asking for a
 *   reply after a delay. For T >= KEEPALIVE_TIMEOUT the peer's passive keepalive comes first; we
 *   answer it at once so the silence before the reply starts there whether or not the NAT
 *   refreshes mappings on inbound packets.
 * The idle time each answer proves is measured (arrival minus the last packet either way), not
 * assumed. Learning doubles T until a probe goes unanswered, then bisects (geometrically) until
 * the bracket is within 20 %: two probe cycles; a third, periodic one re-verifies the result and
 * doubles as a liveness check. Only our own sends count as refreshes (a NAT may ignore inbound
 * ones), so real traffic and rekeys postpone the keepalive.
 *
 * This class is the pure decision logic; the engine executes the actions it returns.
 */
import { KEEPALIVE_TIMEOUT, REJECT_AFTER_TIME, REKEY_AFTER_TIME, REKEY_TIMEOUT } from './constants.js';

/** Actions for the engine. */
export const KA_NONE = 0;
/** Send an empty keepalive. */
export const KA_KEEPALIVE = 1;
/** Send a data probe (answered by the peer's passive keepalive). */
export const KA_PROBE = 2;
/** Send an echo request for a reply after `requestDelay` ms with `nonce`. */
export const KA_ECHO = 3;
/** A probe that should have been answered was not: handshake now, whatever the rate limit. */
export const KA_HANDSHAKE = 4;
/** A learning probe went unanswered: re-open the mapping with a keepalive (no handshake). */
export const KA_REOPEN = 5;
/** The session is too old to hold the next probe: rekey first. */
export const KA_REKEY = 6;

const ST_IDLE = 0;
/** Passive probe sent; the refreshing keepalive is due at `refreshAt`. */
const ST_WAIT_REFRESH = 1;
/** Long echo probe sent; waiting for the peer's passive keepalive (or `deadline`). */
const ST_WAIT_PEER = 2;
/** Silence under test; the answer is due before `deadline`. */
const ST_WAIT_ANSWER = 3;

/** Learning stops when the bracket [lo, hi) is this narrow: the estimate is then within ±10 %. */
const PRECISION = 1.2;
/** Shortest idle time ever tested (ms). */
const MIN_TARGET = 250;
/** Slack for an answer beyond its expected arrival. */
const GRACE = 1000;
/** An echo reply must leave the peer this long before its passive keepalive would (ms). */
const SHORT_ECHO_MARGIN = 200;
/** Probes one learning run may take before it settles for what it has proven. */
const MAX_LEARN_PROBES = 14;

export interface AdaptiveKeepaliveOptions {
  /**
   * Echo probing: the probe responder's address inside the tunnel ("10.0.0.1:51821",
   * "[fd00::1]:51821") and our own tunnel address as the source. Without them probes rely on the
   * peer's passive keepalive and can only learn lifetimes below KEEPALIVE_TIMEOUT (10 s).
   */
  responder?: string | null;
  source?: string | null;
  /** First idle time tested, ms (default 2000). */
  start?: number;
  /** Longest idle time tested, ms (default 150 000: a probe must fit in one session's life). */
  max?: number;
  /** Keepalive interval as a fraction of the longest proven idle time (default 0.9). */
  margin?: number;
  /** Re-verify the learned lifetime this often, ms (default 1 800 000: 30 minutes). */
  verifyEvery?: number;
  /**
   * Interval used when a stock peer lets us prove no more than KEEPALIVE_TIMEOUT − 1 s: the
   * standard 25 000 ms by default (adaptive mode then does no worse than a stock keepalive).
   */
  fallback?: number;
  /** A lifetime proven earlier (ms: `AdaptiveStatus.provenIdle` once learning is over), to skip learning. */
  learned?: number;
}

/** Status of the adaptive keepalive of a peer. */
export interface AdaptiveStatus {
  /** Current keepalive interval (ms). */
  interval: number;
  /** Longest idle time proven to keep the mapping (ms; 0 = none yet). */
  provenIdle: number;
  /** Shortest idle time that lost it (ms; Infinity = none). */
  failedIdle: number;
  /** Estimated mapping lifetime (ms; 0 = unknown). */
  estimate: number;
  learning: boolean;
  echo: boolean;
  probes: number;
  answered: number;
  failed: number;
}

function num(v: number | undefined, dflt: number): number {
  return v === undefined ? dflt : v;
}

export class AdaptiveKeepalive {
  echo: boolean;
  start: number;
  max: number;
  margin: number;
  verifyEvery: number;
  fallback: number;
  lo: number;
  hi: number;
  learning: boolean;
  state: number;
  /** Idle time under test, and (echo) the delay asked of the responder. */
  target: number;
  requestDelay: number;
  nonce: number;
  probeStart: number;
  refreshAt: number;
  deadline: number;
  /** When the next probe may start (learning: now; steady: the next verification). */
  probeAt: number;
  lastOut: number;
  lastAny: number;
  /** Round-trip time from the last handshake (ms). */
  rtt: number;
  /** Set by the engine while it sends on our behalf, so those sends do not void the probe. */
  ownSend: boolean;
  probes: number;
  answered: number;
  failed: number;
  /** Failures in a row; a proven idle time failed once (retest it before believing the NAT). */
  streak: number;
  suspect: boolean;
  /** Probes in the current learning run. */
  runProbes: number;

  constructor(o: AdaptiveKeepaliveOptions, echo: boolean, now: number) {
    this.echo = echo;
    this.start = num(o.start, 2000);
    this.max = num(o.max, 150000);
    this.margin = num(o.margin, 0.9);
    this.verifyEvery = num(o.verifyEvery, 1800000);
    this.fallback = num(o.fallback, 25000);
    this.rtt = 500;
    const l = num(o.learned, 0);
    this.lo = l > 0 ? l : 0;
    this.hi = Infinity;
    this.learning = !(l > 0);
    this.state = ST_IDLE;
    this.target = 0;
    this.requestDelay = 0;
    this.nonce = 0;
    this.probeStart = 0;
    this.refreshAt = Infinity;
    this.deadline = Infinity;
    this.probeAt = this.learning ? now : now + this.verifyEvery;
    this.lastOut = now;
    this.lastAny = now;
    this.ownSend = false;
    this.probes = 0;
    this.answered = 0;
    this.failed = 0;
    this.streak = 0;
    this.suspect = false;
    this.runProbes = 0;
  }

  /** Longest idle time a probe of ours can test. */
  ceiling(): number {
    return this.echo ? this.max : KEEPALIVE_TIMEOUT - GRACE - this.rtt;
  }

  /** The keepalive interval now (ms). */
  interval(): number {
    if (this.lo > 0) {
      // Passive probes stopped at their ceiling: nothing longer is proven, nor disproven.
      if (!this.echo && this.hi === Infinity && this.lo >= this.ceiling() * 0.95 && this.lo < KEEPALIVE_TIMEOUT) return this.fallback;
      return this.lo * this.margin;
    }
    return (this.hi === Infinity ? this.start : this.hi * 0.5) * this.margin;
  }

  /** The estimated mapping lifetime (ms), 0 if nothing is proven yet. */
  estimate(): number {
    if (this.lo === 0) return 0;
    return this.hi === Infinity ? this.lo : Math.sqrt(this.lo * this.hi);
  }

  /** When the engine must next call `tick`. */
  next(): number {
    const s = this.state;
    if (s === ST_WAIT_REFRESH) {
      const k = this.lastOut + this.interval();
      return k < this.refreshAt ? k : this.refreshAt;
    }
    if (s !== ST_IDLE) return this.deadline;
    const k = this.lastOut + this.interval();
    return this.probeAt < k ? this.probeAt : k;
  }

  private nextTarget(): number {
    let t: number;
    if (this.suspect || !this.learning) t = this.lo;
    else if (this.lo === 0) t = this.hi === Infinity ? this.start : Math.min(this.start, this.hi * 0.5);
    else if (this.hi === Infinity) t = this.lo * 2;
    else t = Math.sqrt(this.lo * this.hi);
    const c = this.ceiling();
    return t > c ? c : t < MIN_TARGET ? MIN_TARGET : t;
  }

  private converged(): boolean {
    if (this.hi <= MIN_TARGET || this.runProbes >= MAX_LEARN_PROBES) return true;
    if (this.lo === 0) return false;
    if (this.hi === Infinity) return this.lo >= this.ceiling() * 0.95;
    return this.hi <= this.lo * PRECISION;
  }

  /** Called at `next()`. `sessionAge` is the age of the current session (Infinity if none). */
  tick(now: number, sessionAge: number): number {
    const s = this.state;
    if (s === ST_WAIT_REFRESH) {
      // Until the refresh that starts the silence under test, keep the mapping as usual: a passive
      // probe waits KEEPALIVE_TIMEOUT − T, longer than a short-lived mapping lasts.
      if (now < this.refreshAt) return now >= this.lastOut + this.interval() ? KA_KEEPALIVE : KA_NONE;
      this.state = ST_WAIT_ANSWER;
      this.deadline = this.probeStart + KEEPALIVE_TIMEOUT + this.rtt + GRACE;
      return KA_KEEPALIVE;
    }
    if (s === ST_WAIT_PEER || s === ST_WAIT_ANSWER) {
      if (now < this.deadline) return KA_NONE;
      // No answer by the deadline — in ST_WAIT_PEER not even the peer's passive keepalive, due
      // KEEPALIVE_TIMEOUT after our request: the mapping did not last the idle time expected.
      return this.fail(now, this.deadline - GRACE - this.lastAny);
    }
    if (now >= this.probeAt) return this.startProbe(now, sessionAge);
    if (now >= this.lastOut + this.interval()) return KA_KEEPALIVE;
    return KA_NONE;
  }

  private startProbe(now: number, sessionAge: number): number {
    const t = this.nextTarget();
    // A reply before the peer's passive keepalive cancels it (the peer sent something), so only
    // longer idle times need to wait for that keepalive and start the silence there.
    const longEcho = this.echo && t > KEEPALIVE_TIMEOUT - SHORT_ECHO_MARGIN - this.rtt;
    const delay = longEcho ? KEEPALIVE_TIMEOUT + this.rtt + t : t;
    const span = (this.echo ? delay : KEEPALIVE_TIMEOUT) + this.rtt + GRACE;
    // The probe needs one session from start to answer, without a rekey in the middle (ours at
    // REKEY_AFTER_TIME on a send, the peer's limit at REJECT_AFTER_TIME for the reply).
    if (!(sessionAge + KEEPALIVE_TIMEOUT + this.rtt + GRACE < REKEY_AFTER_TIME &&
        sessionAge + span < REJECT_AFTER_TIME - REKEY_TIMEOUT)) {
      this.probeAt = now + REKEY_TIMEOUT;
      return KA_REKEY;
    }
    this.target = t;
    this.probeStart = now;
    this.probes++;
    if (this.learning) this.runProbes++;
    if (!this.echo) {
      this.state = ST_WAIT_REFRESH;
      this.refreshAt = now + KEEPALIVE_TIMEOUT + this.rtt - t;
      return KA_PROBE;
    }
    this.nonce = (this.nonce + 1) & 0x7fffffff;
    this.requestDelay = Math.round(delay);
    if (longEcho) {
      this.state = ST_WAIT_PEER;
      this.deadline = now + KEEPALIVE_TIMEOUT + this.rtt + GRACE;
    } else {
      this.state = ST_WAIT_ANSWER;
      this.deadline = now + delay + this.rtt + GRACE;
    }
    return KA_ECHO;
  }

  private ok(now: number): number {
    const idle = now - this.lastAny;
    this.answered++;
    this.state = ST_IDLE;
    this.streak = 0;
    this.suspect = false;
    if (idle > this.lo) this.lo = idle;
    // A proven idle beyond a failed one means that failure was a lost packet, not the NAT.
    if (this.lo >= this.hi) this.hi = Infinity;
    this.settle(now);
    // Answer at once: the peer sent data and expects traffic back within KEEPALIVE_TIMEOUT.
    return KA_KEEPALIVE;
  }

  private fail(now: number, idle: number): number {
    this.failed++;
    this.streak++;
    this.state = ST_IDLE;
    if (this.learning && !this.suspect && idle > this.lo) {
      // Learning: the NAT dropped the mapping within `idle`. Re-open it; a second failure in a
      // row may mean the path or the peer broke instead, so that one also handshakes.
      if (idle < this.hi) this.hi = idle;
      this.settle(now);
      return this.streak > 1 ? KA_HANDSHAKE : KA_REOPEN;
    }
    if (!this.suspect) {
      // A proven idle time failed: the peer may have restarted or our endpoint there gone stale
      // (handshake at once), or the NAT shortened its timeout (retest after the handshake).
      this.suspect = true;
      this.probeAt = now + REKEY_TIMEOUT;
      return KA_HANDSHAKE;
    }
    // It failed again with a fresh session: the NAT now forgets sooner. Learn again from below.
    this.suspect = false;
    this.hi = idle > MIN_TARGET ? idle : MIN_TARGET;
    this.lo = 0;
    this.learning = true;
    this.probeAt = now;
    return KA_REOPEN;
  }

  private settle(now: number): void {
    if (this.learning && this.converged()) {
      this.learning = false;
      this.runProbes = 0;
    }
    this.probeAt = this.learning ? now : now + this.verifyEvery;
  }

  /** Voids the probe in flight (traffic we did not plan broke the silence); retry later. */
  private abort(now: number): void {
    this.state = ST_IDLE;
    this.probes--;
    if (this.learning) this.runProbes--;
    const retry = now + this.interval();
    if (this.probeAt < retry) this.probeAt = retry;
  }

  /** Every authenticated message we send. */
  onSend(now: number): void {
    if (!this.ownSend && this.state !== ST_IDLE) this.abort(now);
    this.lastOut = now;
    this.lastAny = now;
  }

  /** Every authenticated message received, except an echo reply. */
  onReceive(now: number): number {
    const s = this.state;
    let act = KA_NONE;
    if (s === ST_WAIT_ANSWER && !this.echo) {
      act = this.ok(now);
    } else if (s === ST_WAIT_REFRESH) {
      // The peer sent something, which cancels the passive keepalive we were waiting for.
      this.abort(now);
    } else if (s === ST_WAIT_PEER || s === ST_WAIT_ANSWER) {
      // Its passive keepalive (or other traffic): answer so the silence under test starts now
      // whether or not this NAT refreshes on inbound packets.
      this.state = ST_WAIT_ANSWER;
      this.deadline = this.probeStart + this.requestDelay + this.rtt + GRACE;
      act = KA_KEEPALIVE;
    }
    this.lastAny = now;
    return act;
  }

  /** An echo reply with `nonce` arrived. */
  onEchoReply(now: number, nonce: number): number {
    if (this.state === ST_IDLE || nonce !== this.nonce) return this.onReceive(now);
    const act = this.ok(now);
    this.lastAny = now;
    return act;
  }

  /** A handshake completed: a probe deferred for a fresh session may start. */
  onHandshake(now: number, rtt: number): void {
    if (rtt >= 0 && rtt < 10000) this.rtt = rtt;
    if (this.state === ST_IDLE && (this.learning || this.suspect) && this.probeAt > now) this.probeAt = now;
  }

  status(): AdaptiveStatus {
    return {
      interval: this.interval(),
      provenIdle: this.lo,
      failedIdle: this.hi,
      estimate: this.estimate(),
      learning: this.learning,
      echo: this.echo,
      probes: this.probes,
      answered: this.answered,
      failed: this.failed,
    };
  }
}
