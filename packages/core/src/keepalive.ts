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
 * This class is the pure decision logic; the engine executes the actions it returns. On Espruino
 * every function costs RAM (a function object, its parameters, its property name) even when its
 * text stays in flash, so the class has only its public methods and one internal dispatcher, and
 * it is defined by a factory: a device bundle that calls `adaptiveKeepalive()` only when adaptive
 * mode is turned on pays nothing for it until then.
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

/** Operations of the internal dispatcher (`_`): helpers needed by more than one method. */
const OP_INTERVAL = 0;
const OP_ABORT = 1;
const OP_SETTLE = 2;

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

/**
 * Defines and returns the adaptive keepalive class. Espruino creates the class and its methods only
 * when this runs, so a device build that calls it when adaptive mode is first turned on (and keeps
 * the result) spends no RAM on the class before. Host code uses `AdaptiveKeepalive`.
 */
export function adaptiveKeepalive() {
  // Not named after the exported class: Espruino must not see a class name itself in its own body.
  class K {
    private echo: boolean;
    private start: number;
    private max: number;
    private margin: number;
    private verifyEvery: number;
    private fallback: number;
    private lo: number;
    private hi: number;
    private learning: boolean;
    private state: number;
    /** (Echo) the delay asked of the responder, and the probe's nonce. */
    requestDelay: number;
    nonce: number;
    private probeStart: number;
    private refreshAt: number;
    private deadline: number;
    /** When the next probe may start (learning: now; steady: the next verification). */
    private probeAt: number;
    private lastOut: number;
    private lastAny: number;
    /** Round-trip time from the last handshake (ms). */
    private rtt: number;
    /** Set by the engine while it sends on our behalf, so those sends do not void the probe. */
    ownSend: boolean;
    private probes: number;
    private answered: number;
    private failed: number;
    /** Failures in a row; a proven idle time failed once (retest it before believing the NAT). */
    private streak: number;
    private suspect: boolean;
    /** Probes in the current learning run. */
    private runProbes: number;
    /** An echo reply with `nonce` arrived (the same method as `onReceive`, see below). */
    declare onEchoReply: (now: number, nonce: number) => number;

    constructor(o: AdaptiveKeepaliveOptions, echo: boolean, now: number) {
      this.echo = echo;
      this.start = o.start === undefined ? 2000 : o.start;
      this.max = o.max === undefined ? 150000 : o.max;
      this.margin = o.margin === undefined ? 0.9 : o.margin;
      this.verifyEvery = o.verifyEvery === undefined ? 1800000 : o.verifyEvery;
      this.fallback = o.fallback === undefined ? 25000 : o.fallback;
      this.rtt = 500;
      const l = o.learned === undefined ? 0 : o.learned;
      this.lo = l > 0 ? l : 0;
      this.hi = Infinity;
      this.learning = !(l > 0);
      this.state = ST_IDLE;
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

    /**
     * The helpers, in one function (OP_*): OP_INTERVAL returns the keepalive interval now (ms);
     * OP_ABORT voids the probe in flight (traffic we did not plan broke the silence) and retries
     * later; OP_SETTLE ends learning once it has converged and schedules the next probe.
     * The longest idle time a probe of ours can test (the ceiling) is, inline where needed,
     * `echo ? max : KEEPALIVE_TIMEOUT - GRACE - rtt`.
     */
    private _(op: number, now: number): number {
      if (op === OP_INTERVAL) {
        if (this.lo > 0) {
          // Passive probes stopped at their ceiling: nothing longer is proven, nor disproven.
          if (!this.echo && this.hi === Infinity && this.lo >= (KEEPALIVE_TIMEOUT - GRACE - this.rtt) * 0.95 && this.lo < KEEPALIVE_TIMEOUT) return this.fallback;
          return this.lo * this.margin;
        }
        return (this.hi === Infinity ? this.start : this.hi * 0.5) * this.margin;
      }
      if (op === OP_ABORT) {
        this.state = ST_IDLE;
        this.probes--;
        if (this.learning) this.runProbes--;
        const retry = now + this._(OP_INTERVAL, now);
        if (this.probeAt < retry) this.probeAt = retry;
        return KA_NONE;
      }
      // OP_SETTLE. Converged: the bracket [lo, hi) is narrow enough, or proven up to the ceiling,
      // or the run has used up its probes.
      if (this.learning && (this.hi <= MIN_TARGET || this.runProbes >= MAX_LEARN_PROBES || (this.lo !== 0 &&
          (this.hi === Infinity ? this.lo >= (this.echo ? this.max : KEEPALIVE_TIMEOUT - GRACE - this.rtt) * 0.95 : this.hi <= this.lo * PRECISION)))) {
        this.learning = false;
        this.runProbes = 0;
      }
      this.probeAt = this.learning ? now : now + this.verifyEvery;
      return KA_NONE;
    }

    /** When the engine must next call `tick`. */
    next(): number {
      const s = this.state;
      if (s !== ST_IDLE && s !== ST_WAIT_REFRESH) return this.deadline;
      const k = this.lastOut + this._(OP_INTERVAL, 0);
      if (s === ST_WAIT_REFRESH) return k < this.refreshAt ? k : this.refreshAt;
      return this.probeAt < k ? this.probeAt : k;
    }

    /** Called at `next()`. `sessionAge` is the age of the current session (Infinity if none). */
    tick(now: number, sessionAge: number): number {
      const s = this.state;
      if (s === ST_WAIT_REFRESH) {
        // Until the refresh that starts the silence under test, keep the mapping as usual: a passive
        // probe waits KEEPALIVE_TIMEOUT − T, longer than a short-lived mapping lasts.
        if (now < this.refreshAt) return now >= this.lastOut + this._(OP_INTERVAL, now) ? KA_KEEPALIVE : KA_NONE;
        this.state = ST_WAIT_ANSWER;
        this.deadline = this.probeStart + KEEPALIVE_TIMEOUT + this.rtt + GRACE;
        return KA_KEEPALIVE;
      }
      if (s !== ST_IDLE) {
        // ST_WAIT_PEER or ST_WAIT_ANSWER.
        if (now < this.deadline) return KA_NONE;
        // No answer by the deadline — in ST_WAIT_PEER not even the peer's passive keepalive, due
        // KEEPALIVE_TIMEOUT after our request: the mapping did not last the idle time expected.
        const idle = this.deadline - GRACE - this.lastAny;
        this.failed++;
        this.streak++;
        this.state = ST_IDLE;
        if (this.learning && !this.suspect && idle > this.lo) {
          // Learning: the NAT dropped the mapping within `idle`. Re-open it; a second failure in a
          // row may mean the path or the peer broke instead, so that one also handshakes.
          if (idle < this.hi) this.hi = idle;
          this._(OP_SETTLE, now);
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
      if (now < this.probeAt) return now >= this.lastOut + this._(OP_INTERVAL, now) ? KA_KEEPALIVE : KA_NONE;

      // Start a probe of idle time t.
      let t: number;
      if (this.suspect || !this.learning) t = this.lo;
      else if (this.lo === 0) t = this.hi === Infinity ? this.start : Math.min(this.start, this.hi * 0.5);
      else if (this.hi === Infinity) t = this.lo * 2;
      else t = Math.sqrt(this.lo * this.hi);
      const c = this.echo ? this.max : KEEPALIVE_TIMEOUT - GRACE - this.rtt;
      if (t > c) t = c;
      else if (t < MIN_TARGET) t = MIN_TARGET;
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

    /** Every authenticated message we send. */
    onSend(now: number): void {
      if (!this.ownSend && this.state !== ST_IDLE) this._(OP_ABORT, now);
      this.lastOut = now;
      this.lastAny = now;
    }

    /**
     * Every authenticated message received. Also `onEchoReply(now, nonce)`: an echo reply with
     * `nonce` (one that is not our probe's is handled like any other message).
     */
    onReceive(now: number, nonce?: number): number {
      const s = this.state;
      let act = KA_NONE;
      if (s !== ST_IDLE && (nonce === this.nonce || (s === ST_WAIT_ANSWER && !this.echo))) {
        // The probe's answer.
        const idle = now - this.lastAny;
        this.answered++;
        this.state = ST_IDLE;
        this.streak = 0;
        this.suspect = false;
        if (idle > this.lo) this.lo = idle;
        // A proven idle beyond a failed one means that failure was a lost packet, not the NAT.
        if (this.lo >= this.hi) this.hi = Infinity;
        this._(OP_SETTLE, now);
        // Answer at once: the peer sent data and expects traffic back within KEEPALIVE_TIMEOUT.
        act = KA_KEEPALIVE;
      } else if (s === ST_WAIT_REFRESH) {
        // The peer sent something, which cancels the passive keepalive we were waiting for.
        this._(OP_ABORT, now);
      } else if (s !== ST_IDLE) {
        // ST_WAIT_PEER or ST_WAIT_ANSWER: its passive keepalive (or other traffic): answer so the
        // silence under test starts now whether or not this NAT refreshes on inbound packets.
        this.state = ST_WAIT_ANSWER;
        this.deadline = this.probeStart + this.requestDelay + this.rtt + GRACE;
        act = KA_KEEPALIVE;
      }
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
        interval: this._(OP_INTERVAL, 0),
        provenIdle: this.lo,
        failedIdle: this.hi,
        estimate: this.lo === 0 ? 0 : this.hi === Infinity ? this.lo : Math.sqrt(this.lo * this.hi),
        learning: this.learning,
        echo: this.echo,
        probes: this.probes,
        answered: this.answered,
        failed: this.failed,
      };
    }
  }
  // One function for both: a function costs more RAM on Espruino than a second property name.
  K.prototype.onEchoReply = K.prototype.onReceive;
  return K;
}

/** An adaptive keepalive (the instance type of the class `adaptiveKeepalive()` returns). */
export type AdaptiveKeepalive = InstanceType<ReturnType<typeof adaptiveKeepalive>>;

/** The adaptive keepalive class; bundles that never use it drop it (and the factory). */
export const AdaptiveKeepalive = /* @__PURE__ */ adaptiveKeepalive();
