/**
 * AT command engine for a modem on a UART: one command in flight at a time, a queue behind it,
 * each command with its own final result, timeout and retries; a line parser that copes with
 * partial lines and with URCs interleaved anywhere; a binary mode that takes exactly N bytes after
 * a header (`+IPD,5:`, `+QIRD: 5,…\r\n`, `+CARECV: 5,`) and never hands out a half-received
 * payload; the `>` data prompt; and detection of a modem restart and of network loss/return.
 *
 * Device code (Espruino): small, no tables of strings, typed arrays for binary data. The serial
 * port delivers binary-safe strings (one char per byte, char codes 0-255) in arbitrary chunks —
 * Espruino's Serial, or any object with the same two methods.
 *
 * Line classification, in order, while a command is in flight: its own echo (ignored), the data
 * prompt, its final result (OK / ERROR / +CME ERROR / +CMS ERROR / its custom `fin` or `fail`
 * prefix / a registered error prefix), its information lines (`resp` prefix). Then, for any line:
 * boot lines (restart), down/up lines (network events), URC handlers by prefix; any other line
 * is added to the in-flight command's lines, or dropped (garbage) when none is in flight.
 */

/** The serial port: Espruino's `Serial` satisfies it (`Serial1`, …). */
export interface AtSerial {
  /** Writes a binary string (char code = byte) or bytes. */
  write(data: string | Uint8Array): void;
  /** Data arrives as binary strings, in chunks of any size. */
  on(event: 'data', cb: (chunk: string) => void): void;
}

/** Timer functions; Espruino's and Node's globals by default. */
export interface AtTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Engine settings. Every field is optional. */
export interface AtOptions {
  /** Timer functions (default: the global setTimeout/clearTimeout). */
  timers?: AtTimers;
  /** Default command timeout, ms (2000). */
  timeout?: number;
  /** Pause before a retry, and after a command that timed out before the next one, ms (100). */
  retryDelay?: number;
  /** Longest wait for the bytes of one binary payload, ms (3000); a partial payload is dropped. */
  rawTimeout?: number;
  /** Largest binary payload kept, bytes (1500: AT+QIRD's maximum; SIMCom's is 1460); larger ones are read and discarded. */
  bufSize?: number;
  /** Most commands queued, including the one in flight (8); more are refused with 'busy'. */
  queueMax?: number;
}

/** Per-command settings. Every field is optional. */
export interface AtCmdOptions {
  /** Timeout of one attempt, ms (engine default). */
  timeout?: number;
  /** Extra attempts after a timeout or an error result (0). */
  retries?: number;
  /** Prefix of the line that ends the command successfully; `OK` is then an intermediate line. */
  fin?: string;
  /** Prefix of a line that ends the command with an error (besides ERROR/+CME/+CMS ERROR). */
  fail?: string;
  /** Prefix of the command's information lines: taken as response even if a URC handler matches. */
  resp?: string;
  /** Payload written after the `>` prompt (binary string or bytes, written as given). */
  data?: string | Uint8Array;
}

/**
 * Completion callback. `err` is null on success, else the final line ('ERROR', '+CME ERROR: 50',
 * 'SEND FAIL', …) or 'timeout', 'reset' (the modem restarted), 'closed' (engine closed),
 * 'busy' (queue full). `lines`: the information lines received (trimmed), final `fin` line last.
 */
export type AtCallback = (err: string | null, lines: string[]) => void;

/** Engine events: 'reset' (boot line seen), 'down'/'up' (network lines), 'lost' (payload timed out). */
export type AtEventCallback = (type: string, line: string) => void;

/** Kinds of watched lines, see `AtEngine.watch`. */
export type AtWatch = 'boot' | 'down' | 'up' | 'err';

interface Cmd {
  t: string;
  o: AtCmdOptions;
  cb: AtCallback;
  /** Attempts made so far, minus one. */
  n: number;
  /** Data written after the prompt in this attempt. */
  p: boolean;
  l: string[];
}

/** Espruino's `E` (absent under Node): E.toUint8Array copies a binary string natively, ~45x faster than a loop. */
declare const E: { toUint8Array(s: string): Uint8Array } | undefined;

const NO_OPTS: AtCmdOptions = {};
const MAX_LINE = 512;

function starts(s: string, p: string): boolean {
  return s.substr(0, p.length) === p;
}

/** Index of the first entry of `list` that `line` starts with, or -1. */
function matchAny(list: string[], line: string): number {
  for (let i = 0; i < list.length; i++) if (starts(line, list[i]!)) return i;
  return -1;
}

/** The AT engine. Create one per UART; drivers and applications share it. */
export class AtEngine {
  declare private s: AtSerial;
  declare private tm: AtTimers;
  declare private to: number;
  declare private rd: number;
  declare private rto: number;
  declare private qmax: number;
  declare private q: Cmd[];
  declare private c: Cmd | null;
  declare private ct: unknown;
  declare private hold: boolean;
  declare private dead: boolean;
  /** Partial line. */
  declare private ln: string;
  // Binary payload in progress: bytes left, bytes stored, handler index, header, drop flag.
  declare private rl: number;
  declare private rn: number;
  declare private rh: number;
  declare private rhd: string;
  declare private rdrop: boolean;
  declare private rtm: unknown;
  declare private buf: Uint8Array;
  // URC handlers, raw-payload handlers (prefix, terminator, length function, payload function).
  declare private up: string[];
  declare private uf: ((line: string) => void)[];
  declare private rp: string[];
  declare private rt: string[];
  declare private rf: ((header: string) => number)[];
  declare private rg: ((buf: Uint8Array, len: number, header: string) => void)[];
  // Watched line prefixes and their kinds, one char each: b(oot) d(own) u(p) e(rror).
  declare private wp: string[];
  declare private wk: string;
  declare private ev: AtEventCallback[];

  /** Attaches to `serial` (takes over its 'data' events). */
  constructor(serial: AtSerial, opts?: AtOptions) {
    const o = opts || {};
    this.s = serial;
    // The global functions themselves, not wrappers: they ignore `this`, and closures cost RAM.
    this.tm = o.timers || { setTimeout: setTimeout as AtTimers['setTimeout'], clearTimeout: clearTimeout as AtTimers['clearTimeout'] };
    this.to = o.timeout || 2000;
    this.rd = o.retryDelay === undefined ? 100 : o.retryDelay;
    this.rto = o.rawTimeout || 3000;
    this.qmax = o.queueMax || 8;
    this.buf = new Uint8Array(o.bufSize || 1500);
    this.q = [];
    this.c = null;
    this.ct = null;
    this.rtm = null;
    this.hold = false;
    this.dead = false;
    this.ln = '';
    this.rl = 0;
    this.rn = 0;
    this.rh = 0;
    this.rhd = '';
    this.rdrop = false;
    this.up = [];
    this.uf = [];
    this.rp = [];
    this.rt = [];
    this.rf = [];
    this.rg = [];
    this.wp = [];
    this.wk = '';
    this.ev = [];
    const self = this;
    serial.on('data', function (d: string): void { self.feed(d); });
  }

  /**
   * Queues `text` (without the trailing CR). Calls `cb` exactly once; synchronously with 'busy'
   * (and returns false) when the queue is full.
   */
  cmd(text: string, opts: AtCmdOptions | null, cb: AtCallback): boolean {
    if (this.dead || this.q.length + (this.c ? 1 : 0) >= this.qmax) {
      cb(this.dead ? 'closed' : 'busy', []);
      return false;
    }
    this.q.push({ t: text, o: opts || NO_OPTS, cb: cb, n: 0, p: false, l: [] });
    this.next();
    return true;
  }

  /** Calls `fn(line)` for every unsolicited line starting with `prefix`. */
  urc(prefix: string, fn: (line: string) => void): void {
    this.up.push(prefix);
    this.uf.push(fn);
  }

  /**
   * Binary payloads: when a line starts with `prefix` and `term` arrives (':' or ',' — or '\n',
   * the end of the header line), `len(header)` gives the payload length (header = the text before
   * `term`, CR stripped); -1 means "not a payload header" (for ':'/',' keep looking at later
   * occurrences; for '\n' the line is then handled as a normal line). The next `len` bytes are
   * read raw, whatever they contain, and handed to `got(buf, len, header)` once all have arrived;
   * `buf` belongs to the engine and is valid only during the call. A payload that does not
   * complete within the raw timeout is dropped.
   */
  raw(
    prefix: string,
    term: string,
    len: (header: string) => number,
    got: (buf: Uint8Array, len: number, header: string) => void,
  ): void {
    this.rp.push(prefix);
    this.rt.push(term);
    this.rf.push(len);
    this.rg.push(got);
  }

  /**
   * Watches unsolicited lines starting with `prefix`: 'boot' (the modem restarted: every queued
   * command fails with 'reset', event 'reset'), 'down' / 'up' (network lost / back: events of
   * that name), 'err' (an extra error final result, e.g. ESP-AT's `busy p...`).
   */
  watch(kind: AtWatch, prefix: string): void {
    this.wp.push(prefix);
    this.wk += kind.charAt(0);
  }

  /** Adds an event listener (see AtEventCallback). */
  onEvent(cb: AtEventCallback): void {
    this.ev.push(cb);
  }

  /** Commands queued or in flight. */
  pending(): number {
    return this.q.length + (this.c ? 1 : 0);
  }

  /** Fails the command in flight and every queued one with `err`. */
  flush(err: string): void {
    const c = this.c;
    const q = this.q;
    this.q = [];
    if (c) this.done(err, true);
    for (let i = 0; i < q.length; i++) q[i]!.cb(err, q[i]!.l);
  }

  /** Stops the engine: pending commands fail with 'closed'; later input is ignored. */
  close(): void {
    this.dead = true;
    this.flush('closed');
    this.rawEnd();
    this.ln = '';
  }

  /** Feeds received data (called from the serial 'data' event; public for tests and bridges). */
  feed(s: string): void {
    if (this.dead) return;
    const n = s.length;
    let i = 0;
    while (i < n) {
      if (this.rl > 0) {
        // Payload bytes: take what the chunk has, up to what is left; hand out when complete.
        let k = n - i;
        if (k > this.rl) k = this.rl;
        const end = i + k;
        if (!this.rdrop) {
          const b = this.buf;
          if (typeof E !== 'undefined') b.set(E.toUint8Array(s.substring(i, end)), this.rn);
          else for (let j = i, p = this.rn; j < end; j++) b[p++] = s.charCodeAt(j);
          this.rn += k;
        }
        this.rl -= k;
        i = end;
        if (this.rl === 0) {
          this.rawEnd();
          if (!this.rdrop) this.rg[this.rh]!(this.buf, this.rn, this.rhd);
        }
        continue;
      }
      const j = s.indexOf('\n', i);
      const old = this.ln;
      // The blank line halves of "\r\n...\r\n" framing: nothing to look at.
      if (j >= 0 && !old && j - i < 2 && (j === i || s.charAt(i) === '\r')) {
        i = j + 1;
        continue;
      }
      const line = old + s.substring(i, j < 0 ? n : j);
      const k = this.rawHead(line, old.length, j >= 0);
      if (k >= 0) {
        // Payload starts at index k of `line`, i.e. at i + k - old.length of the chunk.
        this.ln = '';
        i += k - old.length;
        continue;
      }
      if (j < 0) {
        // Keep the partial line; garbage without a newline is not allowed to grow forever.
        this.ln = line.length > MAX_LINE ? '' : line;
        break;
      }
      this.ln = '';
      i = j + 1;
      this.onLine(line);
    }
    const c = this.c;
    if (c && c.o.data != null && !c.p && this.ln.charAt(0) === '>') {
      this.ln = '';
      c.p = true;
      this.s.write(c.o.data);
    }
  }

  private emit(type: string, line: string): void {
    for (let i = 0; i < this.ev.length; i++) this.ev[i]!(type, line);
  }

  /**
   * Starts the next queued command if none is in flight; with `again`, sends the one in flight
   * once more (a retry).
   */
  private next(again?: boolean): void {
    const self = this;
    if (!again) {
      if (this.c || this.hold || this.dead || !this.q.length) return;
      this.c = this.q.shift()!;
    }
    const c = this.c!;
    this.s.write(c.t + '\r');
    this.ct = this.tm.setTimeout(function (): void {
      self.ct = null;
      if (self.c === c) self.fault(c, 'timeout');
    }, c.o.timeout || this.to);
  }

  /** Error result or timeout of `c`: retry after a pause, or fail. */
  private fault(c: Cmd, err: string): void {
    if (c.n < (c.o.retries || 0)) {
      const self = this;
      c.n++;
      c.p = false;
      c.l = [];
      if (this.ct !== null) this.tm.clearTimeout(this.ct);
      this.ct = this.tm.setTimeout(function (): void {
        self.ct = null;
        if (self.c === c) self.next(true);
      }, this.rd);
      return;
    }
    this.done(err, false);
  }

  /**
   * Ends the command in flight. After a timeout the next command waits `retryDelay` (stray late
   * replies). The next command starts before the callback runs, so a callback that throws cannot
   * stall the queue.
   */
  private done(err: string | null, quiet: boolean): void {
    const c = this.c!;
    if (this.ct !== null) this.tm.clearTimeout(this.ct);
    this.ct = null;
    this.c = null;
    if (err === 'timeout' && this.rd > 0) {
      const self = this;
      this.hold = true;
      this.tm.setTimeout(function (): void {
        self.hold = false;
        self.next();
      }, this.rd);
    }
    if (!quiet) this.next();
    c.cb(err, c.l);
  }

  private onLine(raw: string): void {
    const l = raw.trim();
    if (!l) return;
    const c = this.c;
    if (c) {
      const o = c.o;
      if (l === c.t) return;
      if (o.data != null && !c.p && l.charAt(0) === '>') {
        c.p = true;
        this.s.write(o.data);
        return;
      }
      if (o.fin ? starts(l, o.fin) : l === 'OK') {
        if (o.fin) c.l.push(l);
        this.done(null, false);
        return;
      }
    }
    const wi = matchAny(this.wp, l);
    const w = wi < 0 ? '' : this.wk.charAt(wi);
    if (c) {
      const o = c.o;
      if (
        l === 'ERROR' || starts(l, '+CME ERROR') || starts(l, '+CMS ERROR') ||
        (o.fail && starts(l, o.fail)) || w === 'e'
      ) {
        this.fault(c, l);
        return;
      }
      if (o.resp && starts(l, o.resp)) {
        c.l.push(l);
        return;
      }
    }
    if (w === 'b') {
      this.flush('reset');
      this.rawEnd();
      this.emit('reset', l);
      return;
    }
    // Watched lines are unsolicited by definition: never part of a response.
    if (w === 'd') this.emit('down', l);
    else if (w === 'u') this.emit('up', l);
    const h = matchAny(this.up, l);
    if (h >= 0) this.uf[h]!(l);
    else if (c && !w) c.l.push(l);
  }

  /**
   * Checks whether `line` is a complete binary-payload header; if so starts reading the payload
   * and returns where it starts in `line`, else -1.
   */
  private rawHead(line: string, from: number, complete: boolean): number {
    const self = this;
    const h = matchAny(this.rp, line);
    if (h < 0) return -1;
    const t = this.rt[h]!;
    const f = this.rf[h]!;
    let n = -1;
    let hd = line;
    let at = -1;
    if (t === '\n') {
      if (!complete) return -1;
      while (hd.charAt(hd.length - 1) === '\r') hd = hd.substring(0, hd.length - 1);
      n = f(hd);
      at = line.length + 1;
    } else {
      // Terminators before `from` were examined when they arrived, and inside the prefix they are not terminators.
      const pl = this.rp[h]!.length;
      let x = line.indexOf(t, from > pl ? from : pl);
      while (x >= 0) {
        hd = line.substring(0, x);
        n = f(hd);
        if (n >= 0) break;
        x = line.indexOf(t, x + 1);
      }
      at = x + 1;
    }
    if (!(n >= 0)) return -1;
    this.rh = h;
    this.rhd = hd;
    this.rn = 0;
    this.rdrop = n > this.buf.length;
    if (n === 0) {
      this.rg[h]!(this.buf, 0, hd);
      return at;
    }
    this.rl = n;
    this.rtm = this.tm.setTimeout(function (): void {
      self.rtm = null;
      if (self.rl > 0) {
        self.rl = 0;
        self.ln = '';
        self.emit('lost', self.rhd);
      }
    }, this.rto);
    return at;
  }

  private rawEnd(): void {
    if (this.rtm !== null) this.tm.clearTimeout(this.rtm);
    this.rtm = null;
    this.rl = 0;
  }
}
