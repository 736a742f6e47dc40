/**
 * What every modem UDP driver offers (SIMCom, Quectel, ESP-AT), and the life cycle they share:
 * open → up; a modem restart or a network loss → 'down', then automatic recovery with back-off →
 * 'reattach' (a new socket, so a new NAT mapping and usually a new public address/port: the
 * WireGuard device must re-handshake at once); close.
 *
 * Device code (Espruino). A dialect subclass provides `start` (bring the bearer and the socket
 * up and set `ip`; open only the socket; or tear down, errors ignored) and `tx` (send one
 * datagram), and registers its lines with the AT engine in its constructor — by tag, so that
 * every URC and payload reaches `UdpModem.ev` and no driver keeps closures (RAM on Espruino).
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

/**
 * Life cycle shared by the drivers. States: 0 closed, 1 opening, 2 up, 3 recovering.
 *
 * On Espruino every function object, parameter and field costs RAM, so the shared behaviour is
 * data-driven and lives in few functions: one event dispatcher `ev` (bound once as the engine's
 * listener) takes the engine's events, the drivers' tagged URCs and payloads (see `ev`), and
 * schedules recovery; a subclass adds only `start` (a state machine with three entry points) and
 * `tx`. Dialects whose socket is connected to one remote (`cx`) get their socket handling in `send`.
 */
export abstract class UdpModem implements ModemUdp {
  declare at: AtEngine;
  declare o: ModemOptions;
  /** Local IP, set by start. */
  declare ip: string;
  /** Current remote for connected-socket dialects (from options, or the first destination); the sender of datagrams whose reply names none. */
  declare rh: string;
  declare rport: number;
  declare st: number;
  declare rx?: ModemReceive;
  declare evcb?: ModemEvent;
  declare gen: number;
  /** Recovery timer (0: none), back-off, send timeouts in a row. */
  declare tmr: unknown;
  declare wait: number;
  declare fails: number;
  /** 1 after the first 'up'; 1 while a recovery attempt is in flight. */
  declare ever: number;
  declare busy: number;
  /** Read loop (dialects that fetch datagrams with a command): 1 running, 2 asked again, 4 the last read left data; failures in a row. */
  declare rs: number;
  declare rfail: number;
  /** Largest datagram the dialect sends. */
  declare mx: number;
  /**
   * The read command (dialects that fetch datagrams; see `ev` 'r'). Its reply lines are taken by
   * the dialect's `raw` header or match no URC prefix, so it needs no `resp` prefix.
   */
  declare rcmd?: string;
  /**
   * Connected-socket dialects only: 1 a socket connected to rh:rport (a datagram to another remote
   * reopens it), 2 a link opened to rh:rport that sends anywhere (ESP-AT); `so` its state: 0 closed, 1 opening, 2 open.
   */
  declare cx?: number;
  declare so?: number;
  /** Tag 'n': the network was closed under us, the driver releases it before opening it again. */
  declare nl?: number;
  /** Tag 'f': sender of the next pushed datagram whose header names none (SIM7600 `RECV FROM:`). */
  declare fh?: string;
  declare fp?: number;

  constructor(at: AtEngine, opts?: ModemOptions) {
    const o = opts || {};
    // Only the options given: a field set to undefined still costs RAM on Espruino (host/port are in rh/rport).
    const c: Record<string, unknown> = {};
    for (const k in o) if ((o as Record<string, unknown>)[k] !== undefined && k !== 'host' && k !== 'port') c[k] = (o as Record<string, unknown>)[k];
    this.at = at;
    this.o = c as ModemOptions;
    this.ip = '';
    this.rh = o.host || '';
    this.rport = o.port || 0;
    this.st = 0;
    this.gen = 0;
    this.tmr = 0;
    this.wait = 0;
    this.fails = 0;
    this.ever = 0;
    this.busy = 0;
    this.rs = 0;
    this.rfail = 0;
    this.mx = 1460;
    // A bound method, not a closure: a closure would keep this constructor's scope alive.
    at.onEvent(this.ev.bind(this));
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
      self.st = 2;
      self.fails = 0;
      self.wait = 0;
      if (self.evcb) self.evcb(self.ever ? 'reattach' : 'up', self.ip);
      self.ever = 1;
      cb(null);
    }, 0);
  }

  send(buf: Uint8Array, off: number, len: number, host: string, port: number, cb?: ModemCallback): void {
    const self = this;
    if (this.st !== 2) {
      if (cb) cb('down');
      return;
    }
    if (len > this.mx) {
      if (cb) cb('size');
      return;
    }
    // A private copy: the caller's buffer is reused at once.
    const d = new Uint8Array(len);
    d.set(buf.subarray(off, off + len));
    function fin(err: string | null): void {
      // Repeated send timeouts: the modem or the link is gone; probe it by recovering.
      if (err === 'timeout') {
        if (++self.fails >= 3) self.ev('down', 'timeout');
      } else if (!err) self.fails = 0;
      if (cb) cb(err);
    }
    const cx = this.cx;
    if (cx) {
      if ((cx === 1 || this.so !== 2) && (host !== this.rh || port !== this.rport)) {
        const first = !this.rh;
        this.rh = host;
        this.rport = port;
        if (!first && cx === 1) {
          // A connected socket: a new remote means a new socket (and a new NAT mapping).
          // Restart it on purpose: no 'down', but 'reattach' when back.
          this.st = 3;
          this.ev('t', '', undefined, 0);
          fin('reopen');
          return;
        }
      }
      if (this.so !== 2) {
        // One open at a time: a datagram sent meanwhile is dropped (WireGuard retransmits).
        if (this.so === 1) {
          fin('busy');
          return;
        }
        this.start(function (err: string | null): void {
          if (err) fin(err);
          else self.tx(d, host, port, fin);
        }, 1);
        return;
      }
    }
    this.tx(d, host, port, fin);
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
    this.busy = 0;
    this.ev('t', '', undefined, -1);
    this.start(function (): void {
      if (cb) cb(null);
    }, 2);
  }

  isUp(): boolean {
    return this.st === 2;
  }

  localIp(): string {
    return this.ip;
  }

  /**
   * The dialect's state machine. `mode` 0: bring the bearer and the socket up (the socket only
   * when the remote is known, for connected-socket dialects), set `ip`; 1: (re)open the socket
   * to rh:rport (connected-socket dialects; sets `so`); 2: tear the socket (and, after a network
   * loss, the bearer) down — never fails, and stops the read loop.
   */
  abstract start(cb: ModemCallback, mode: number): void;

  /** Sends one datagram (a private copy, within `mx`; for connected dialects the socket is open). */
  abstract tx(data: Uint8Array, host: string, port: number, cb: ModemCallback): void;

  /**
   * The one event dispatcher (bound as the AT engine's listener). Engine events: 'reset' (the
   * modem restarted) and 'down' (bearer/socket lost; also 'timeout' from `send`) start a
   * recovery — while already recovering, only a restart matters (our own teardown may cause
   * 'closed' lines); 'up' (network back) retries at once. Driver tags: 'r' (data announced:
   * fetch datagrams with `rcmd`), 'n' (network closed: see `nl`), 'f' (`RECV FROM:<ip>:<port>`),
   * 'd' (a `raw` payload: `line` = the header's fields after the length, `<ip>,<port>` when it
   * names the sender, `<left>` when it says how much the modem still holds). Internal: 't'
   * schedules a recovery attempt in `n` ms, replacing any scheduled one (n < 0 only cancels).
   */
  ev(t: string, line: string, buf?: Uint8Array, n?: number): void {
    const self = this;
    let ms = -1;
    switch (t) {
      case 'reset':
      case 'down':
        if (this.st === 2) {
          this.st = 3;
          this.wait = 0;
          this.fails = 0;
          if (this.evcb) this.evcb('down', line);
        } else if (this.st !== 3 || t !== 'reset') {
          return;
        }
        this.gen++;
        ms = t === 'reset' ? (this.o.bootDelay === undefined ? 2000 : this.o.bootDelay) : 0;
        break;
      case 'up':
        if (this.st !== 3 || this.busy) return;
        ms = 0;
        break;
      case 't':
        ms = n!;
        break;
      case 'r':
        // The modem announces new data only once until its buffer is drained, so reads repeat
        // until one returns none, and a failed or refused read is retried.
        if (this.rs & 1) {
          this.rs |= 2;
          return;
        }
        this.rs = 1;
        this.at.cmd(this.rcmd!, null, function (err: string | null): void {
          self.rs &= ~1;
          if (self.st === 0 || err === 'closed' || err === 'reset') return;
          if (err) {
            if (++self.rfail < 5) setTimeout(function (): void { self.ev('r', ''); }, 200);
            return;
          }
          self.rfail = 0;
          if (self.rs & 6) self.ev('r', '');
        });
        return;
      case 'n':
        this.nl = 1;
        return;
      case 'f': {
        const i = line.lastIndexOf(':');
        this.fh = line.substring(10, i);
        this.fp = parseInt(line.substring(i + 1), 10);
        return;
      }
      case 'd': {
        const f = line.split(',');
        if (!buf) {
          // The header: does the modem hold more? Taken from the header, so a payload the engine
          // drops (too big, or cut short) does not stop the reads while the modem still holds data
          // it will not announce again.
          if (f.length === 1 && f[0] !== '' ? parseInt(f[0]!, 10) > 0 : n! > 0) this.rs |= 4;
          return;
        }
        let h = this.rh;
        let p = this.rport;
        if (f.length > 1) {
          h = f[0]!.split('"').join('');
          p = parseInt(f[1]!, 10);
        } else if (this.fh) {
          h = this.fh;
          p = this.fp!;
          this.fh = '';
        }
        if (this.rx && this.st === 2 && n! > 0) this.rx(buf, 0, n!, h, p);
        return;
      }
      default:
        return;
    }
    if (this.tmr) clearTimeout(this.tmr as ReturnType<typeof setTimeout>);
    this.tmr = 0;
    if (ms < 0) return;
    this.tmr = setTimeout(function (): void {
      // A recovery attempt: tear down, start again; on failure back off and schedule the next.
      self.tmr = 0;
      if (self.st !== 3) return;
      const g = ++self.gen;
      self.busy = 1;
      self.start(function (): void {
        if (g !== self.gen) return;
        self.start(function (err: string | null): void {
          if (g !== self.gen || self.st !== 3) return;
          self.busy = 0;
          if (!err) {
            self.st = 2;
            self.fails = 0;
            self.wait = 0;
            if (self.evcb) self.evcb(self.ever ? 'reattach' : 'up', self.ip);
            self.ever = 1;
            return;
          }
          const min = self.o.retryMin || 1000;
          const max = self.o.retryMax || 60000;
          self.wait = self.wait ? (self.wait * 2 > max ? max : self.wait * 2) : min;
          if (self.evcb) self.evcb('error', err);
          self.ev('t', '', undefined, self.wait);
        }, 0);
      }, 2);
    }, ms);
  }
}
