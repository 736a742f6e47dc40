/**
 * What every modem UDP driver offers (SIMCom, Quectel, ESP-AT), and the life cycle they share:
 * open → up; a modem restart or a network loss → 'down', then automatic recovery with back-off →
 * 'reattach' (a new socket, so a new NAT mapping and usually a new public address/port: the
 * WireGuard device must re-handshake at once); close.
 *
 * Device code (Espruino). A dialect subclass provides `start` (bring the bearer and the socket
 * up, set `ip`), `stop` (tear down, errors ignored) and `tx` (send one datagram).
 */
import type { AtEngine } from '../at.js';

/** Called with null on success, else an error string ('timeout', 'ERROR', 'down', …). */
export type ModemCallback = (err: string | null) => void;

/** A received datagram; `buf` is valid only during the call. */
export type ModemReceive = (buf: Uint8Array, off: number, len: number, host: string, port: number) => void;

/**
 * Driver events: 'up' (first open done; info = local IP), 'down' (bearer/socket lost or modem
 * restarted; info = the line or reason), 'reattach' (recovered with a new socket; info = local
 * IP), 'error' (a recovery attempt failed; info = the error; recovery continues).
 */
export type ModemEvent = (type: string, info: string) => void;

/** The UDP socket a modem driver provides. */
export interface ModemUdp {
  /** Brings the bearer and the UDP socket up. Fails once without retrying (recovery retries forever). */
  open(cb: ModemCallback): void;
  /**
   * Sends one datagram. The bytes are copied at once, so the caller may reuse `buf`. Fails with
   * 'down' while not up, 'size' above the dialect's limit, 'busy' when the AT queue is full.
   */
  send(buf: Uint8Array, off: number, len: number, host: string, port: number, cb?: ModemCallback): void;
  /** Sets the receive callback. */
  onReceive(cb: ModemReceive): void;
  /** Sets the event callback. */
  onEvent(cb: ModemEvent): void;
  /** Closes the socket and stops recovery. */
  close(cb?: ModemCallback): void;
  /** True between 'up'/'reattach' and 'down'/close. */
  isUp(): boolean;
  /** Local (modem-side) IP address, '' before the first open. */
  localIp(): string;
}

/** Settings shared by the drivers. Every field is optional. */
export interface ModemOptions {
  /** APN for cellular modems (left to the modem's default when absent). */
  apn?: string;
  /** Remote peer: cellular "connected" sockets (SIMCom, ESP-AT) open to it; else to the first destination sent to. */
  host?: string;
  port?: number;
  /** Local UDP port where the dialect lets us choose (Quectel, ESP-AT); default 51820. */
  lport?: number;
  /** Timeout of ordinary commands, ms (engine default). */
  timeout?: number;
  /** Timeout of network operations (PDP activation, socket open), ms (60000). */
  netTimeout?: number;
  /** Pause after a boot line before talking to the modem again, ms (2000). */
  bootDelay?: number;
  /** First and largest pause between recovery attempts, ms (1000, 60000). */
  retryMin?: number;
  retryMax?: number;
  /** Send attempts per datagram: 1 + retries after ERROR/timeout (2). */
  sendTries?: number;
}

/** Strips one pair of double quotes. */
export function unquote(s: string): string {
  return s.charAt(0) === '"' && s.charAt(s.length - 1) === '"' ? s.substring(1, s.length - 1) : s;
}

/**
 * Life cycle shared by the drivers. States: 0 closed, 1 opening, 2 up, 3 recovering.
 * Subclasses implement start/stop/tx (abstract: no default methods in RAM on the device) and,
 * for dialects that fetch datagrams with a command, set `rcmd`/`rresp` (see `read`).
 */
export abstract class UdpModem implements ModemUdp {
  declare at: AtEngine;
  declare o: ModemOptions;
  /** Local IP, set by start. */
  declare ip: string;
  /** Current remote for connected-socket dialects (from options, or the first destination). */
  declare rh: string;
  declare rport: number;
  declare st: number;
  declare rx: ModemReceive | null;
  declare evcb: ModemEvent | null;
  declare gen: number;
  declare tmr: unknown;
  declare wait: number;
  declare fails: number;
  declare ever: boolean;
  /** A recovery attempt is in flight. */
  declare busy: boolean;
  /** Read loop (dialects that fetch datagrams with a command): running, asked again, last read got data, failures in a row. */
  declare reading: boolean;
  declare again: boolean;
  declare got: boolean;
  declare rfail: number;
  /** The read command and its response prefix (dialects that fetch datagrams; see `read`). */
  declare rcmd: string;
  declare rresp: string;

  constructor(at: AtEngine, opts?: ModemOptions) {
    const o = opts || {};
    this.at = at;
    this.o = o;
    this.ip = '';
    this.rh = o.host || '';
    this.rport = o.port || 0;
    this.st = 0;
    this.rx = null;
    this.evcb = null;
    this.gen = 0;
    this.tmr = null;
    this.wait = 0;
    this.fails = 0;
    this.ever = false;
    this.busy = false;
    this.reading = false;
    this.again = false;
    this.got = false;
    this.rfail = 0;
    this.rcmd = '';
    this.rresp = '';
    const self = this;
    at.onEvent(function (type: string, line: string): void {
      if (type === 'reset') self.lost(line, true);
      else if (type === 'down') self.lost(line, false);
      else if (type === 'up' && self.st === 3 && !self.busy) self.retry(0);
    });
  }

  open(cb: ModemCallback): void {
    const self = this;
    if (this.st !== 0) {
      cb('busy');
      return;
    }
    this.st = 1;
    const g = ++this.gen;
    this.start(function (err: string | null): void {
      if (g !== self.gen) return;
      if (err) {
        self.st = 0;
        cb(err);
        return;
      }
      self.up();
      cb(null);
    });
  }

  send(buf: Uint8Array, off: number, len: number, host: string, port: number, cb?: ModemCallback): void {
    const self = this;
    if (this.st !== 2) {
      if (cb) cb('down');
      return;
    }
    // A private copy: the caller's buffer is reused at once.
    const d = new Uint8Array(len);
    d.set(buf.subarray(off, off + len));
    this.tx(d, host, port, function (err: string | null): void {
      // Repeated send timeouts: the modem or the link is gone; probe it by recovering.
      if (err === 'timeout') {
        if (++self.fails >= 3) self.lost('timeout', false);
      } else if (!err) self.fails = 0;
      if (cb) cb(err);
    });
  }

  onReceive(cb: ModemReceive): void {
    this.rx = cb;
  }

  onEvent(cb: ModemEvent): void {
    this.evcb = cb;
  }

  close(cb?: ModemCallback): void {
    this.st = 0;
    this.gen++;
    this.busy = false;
    this.retry(-1);
    this.stop(function (): void {
      if (cb) cb(null);
    });
  }

  isUp(): boolean {
    return this.st === 2;
  }

  localIp(): string {
    return this.ip;
  }

  /** Brings the bearer and socket up; sets `ip`. */
  abstract start(cb: ModemCallback): void;

  /** Tears the socket (and, after a network loss, the bearer) down; never fails. */
  abstract stop(cb: ModemCallback): void;

  /** Sends one datagram (a private copy). */
  abstract tx(data: Uint8Array, host: string, port: number, cb: ModemCallback): void;

  /** Delivers a datagram to the receive callback. */
  deliver(buf: Uint8Array, len: number, host: string, port: number): void {
    if (this.rx && this.st === 2 && len > 0) this.rx(buf, 0, len, host, port);
  }

  /**
   * Fetches datagrams with the dialect's read command `rcmd` (one per call; `rresp` its response
   * prefix) until a read returns none. The modem announces new data only once until its buffer
   * is drained, so a failed or refused read is retried.
   */
  read(): void {
    const self = this;
    if (this.reading) {
      this.again = true;
      return;
    }
    this.reading = true;
    this.again = false;
    this.got = false;
    this.at.cmd(this.rcmd, { resp: this.rresp }, function (err: string | null): void {
      self.reading = false;
      if (self.st === 0 || err === 'closed' || err === 'reset') return;
      if (err) {
        if (++self.rfail < 5) setTimeout(function (): void { self.read(); }, 200);
        return;
      }
      self.rfail = 0;
      if (self.got || self.again) self.read();
    });
  }

  /**
   * Loss of the bearer/socket (`boot`: the modem restarted). While already recovering, only a
   * restart matters (our own teardown may cause 'closed' lines).
   */
  lost(why: string, boot: boolean): void {
    if (this.st === 2) {
      this.st = 3;
      this.wait = 0;
      this.fails = 0;
      if (this.evcb) this.evcb('down', why);
    } else if (this.st !== 3 || !boot) {
      return;
    }
    this.gen++;
    this.retry(boot ? (this.o.bootDelay === undefined ? 2000 : this.o.bootDelay) : 0);
  }

  /** Open or recovered: 'up' the first time, 'reattach' after. */
  private up(): void {
    this.st = 2;
    this.fails = 0;
    this.wait = 0;
    if (this.evcb) this.evcb(this.ever ? 'reattach' : 'up', this.ip);
    this.ever = true;
  }

  /** Schedules a recovery attempt (replacing any scheduled one); ms < 0 only cancels. */
  retry(ms: number): void {
    const self = this;
    if (this.tmr !== null) clearTimeout(this.tmr as Parameters<typeof clearTimeout>[0]);
    this.tmr = null;
    if (ms < 0) return;
    this.tmr = setTimeout(function (): void {
      self.tmr = null;
      self.attempt();
    }, ms);
  }

  private attempt(): void {
    const self = this;
    if (this.st !== 3) return;
    const g = ++this.gen;
    this.busy = true;
    this.stop(function (): void {
      if (g !== self.gen) return;
      self.start(function (err: string | null): void {
        if (g !== self.gen || self.st !== 3) return;
        self.busy = false;
        if (!err) {
          self.up();
          return;
        }
        const min = self.o.retryMin || 1000;
        const max = self.o.retryMax || 60000;
        self.wait = self.wait ? (self.wait * 2 > max ? max : self.wait * 2) : min;
        if (self.evcb) self.evcb('error', err);
        self.retry(self.wait);
      });
    });
  }
}
