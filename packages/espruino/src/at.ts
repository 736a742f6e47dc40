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

/**
 * Engine events: 'reset' (boot line seen), 'down'/'up' (network lines), 'lost' (payload timed
 * out); and the tags given to `urc` and `raw` instead of handler functions (see there), with
 * `buf`/`len` for a `raw` payload.
 */
export type AtEventCallback = (type: string, line: string, buf?: Uint8Array, len?: number) => void;

/** Kinds of watched lines, see `AtEngine.watch`. */
export type AtWatch = 'boot' | 'down' | 'up' | 'err';

/** A URC handler: a function, or a one-character tag emitted as an event (see `AtEngine.urc`). */
export type AtUrc = ((line: string) => void) | string;

/** Payload length of a `raw` header: a function, or the index of a comma-separated field (see `AtEngine.raw`). */
export type AtRawLen = ((header: string) => number) | number;

/** Payload handler of `raw`: a function, or a tag string emitted as an event (see `AtEngine.raw`). */
export type AtRawGot = ((buf: Uint8Array, len: number, header: string) => void) | string;

interface Cmd {
  t: string;
  o: AtCmdOptions;
  cb: AtCallback;
  /** Attempts made so far, minus one. */
  n: number;
  /** 1 once the data was written after the prompt in this attempt. */
  p: number;
  l: string[];
}

/** Espruino's `E` (absent under Node): E.toUint8Array copies a binary string natively, ~45x faster than a loop. */
declare const E: { toUint8Array(s: string): Uint8Array } | undefined;

/**
 * The AT engine. Create one per UART; drivers and applications share it.
 *
 * RAM on Espruino (every function object, parameter and field is a variable there): one private
 * dispatcher `k` instead of a method per step, no module-level helpers, options kept only when
 * given, flags in one number, and the handler tables flattened into two arrays. Drivers register
 * tags instead of closures: their URCs and payloads arrive through their one event listener.
 */
export class AtEngine {
  declare private s: AtSerial;
  // Options, present only when given (an absent field costs no RAM on Espruino).
  declare private tm?: AtTimers;
  declare private to?: number;
  declare private rd?: number;
  declare private rto?: number;
  declare private qm?: number;
  declare private q: Cmd[];
  declare private c: Cmd | null;
  /** Command timer (timeout, retry pause, pause after a timeout), raw-payload timer; 0: none. */
  declare private ct: unknown;
  declare private rtm: unknown;
  /** Flags: 1 closed, 2 holding (pause after a timeout), 4 dropping the payload being read. */
  declare private f: number;
  /** Partial line. */
  declare private ln: string;
  // Binary payload in progress: bytes left, bytes stored, index of its handler in `r`, header.
  declare private rl: number;
  declare private rn: number;
  declare private rh: number;
  declare private rhd: string;
  declare private buf: Uint8Array;
  /**
   * Watches and URC handlers in registration order: a watch or a tagged URC is one string, its
   * kind (char code 0 boot, 1 down, 2 up, 3 err) or tag, then the prefix; a URC function is [prefix, fn].
   */
  declare private u: (string | [string, (line: string) => void])[];
  /** Raw-payload handlers, quadruples: prefix, terminator, length, payload handler. */
  declare private r: (string | AtRawLen | AtRawGot)[];
  declare private ev: AtEventCallback[];

  /** Attaches to `serial` (takes over its 'data' events). */
  constructor(serial: AtSerial, opts?: AtOptions) {
    const o = opts || {};
    this.s = serial;
    if (o.timers) this.tm = o.timers;
    if (o.timeout) this.to = o.timeout;
    if (o.retryDelay !== undefined) this.rd = o.retryDelay;
    if (o.rawTimeout) this.rto = o.rawTimeout;
    if (o.queueMax) this.qm = o.queueMax;
    this.buf = new Uint8Array(o.bufSize || 1500);
    this.q = [];
    this.c = null;
    this.ct = 0;
    this.rtm = 0;
    this.f = 0;
    this.ln = '';
    this.rl = 0;
    this.rn = 0;
    this.rh = 0;
    this.rhd = '';
    this.u = [];
    this.r = [];
    this.ev = [];
    // A bound method, not a closure: a closure would keep this constructor's scope alive.
    serial.on('data', this.feed.bind(this));
  }

  /**
   * Queues `text` (without the trailing CR). Calls `cb` exactly once; synchronously with 'busy'
   * (and returns false) when the queue is full.
   */
  cmd(text: string, opts: AtCmdOptions | null, cb: AtCallback): boolean {
    if (this.f & 1 || this.q.length + (this.c ? 1 : 0) >= (this.qm || 8)) {
      cb(this.f & 1 ? 'closed' : 'busy', []);
      return false;
    }
    this.q.push({ t: text, o: opts || {}, cb: cb, n: 0, p: 0, l: [] });
    this.k(0, null);
    return true;
  }

  /**
   * Calls `fn(line)` for every unsolicited line starting with `prefix`. `fn` may instead be a
   * one-character tag (a letter): the line is then emitted as an event of that type (a driver's
   * one event listener takes all its URCs that way, with no function object per URC).
   */
  urc(prefix: string, fn: AtUrc): void {
    this.u.push(typeof fn === 'string' ? fn + prefix : [prefix, fn]);
  }

  /**
   * Binary payloads: when a line starts with `prefix` and `term` arrives (':' or ',' — or '\n',
   * the end of the header line), `len(header)` gives the payload length (header = the text before
   * `term`, CR stripped); -1 means "not a payload header" (for ':'/',' keep looking at later
   * occurrences; for '\n' the line is then handled as a normal line). The next `len` bytes are
   * read raw, whatever they contain, and handed to `got(buf, len, header)` once all have arrived;
   * `buf` belongs to the engine and is valid only during the call. A payload that does not
   * complete within the raw timeout is dropped.
   *
   * Compact forms for drivers: `len` a number N — the length is the Nth comma-separated field
   * after the prefix (not a header if that is not a number; a ':'/',' inside double quotes is not
   * a terminator); `got` a tag string — events of that type are emitted, `(tag, rest)` once the
   * header is complete and `(tag, rest, buf, len)` with the payload (not for a dropped one), where
   * `rest` is the header's fields after the length field (with a function `len`: the header).
   */
  raw(prefix: string, term: string, len: AtRawLen, got: AtRawGot): void {
    this.r.push(prefix, term, len, got);
  }

  /**
   * Watches unsolicited lines starting with `prefix`: 'boot' (the modem restarted: every queued
   * command fails with 'reset', event 'reset'), 'down' / 'up' (network lost / back: events of
   * that name), 'err' (an extra error final result, e.g. ESP-AT's `busy p...`).
   */
  watch(kind: AtWatch, prefix: string): void {
    this.u.push(String.fromCharCode(kind === 'boot' ? 0 : kind === 'down' ? 1 : kind === 'up' ? 2 : 3) + prefix);
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
    const q = this.q;
    this.q = [];
    if (this.c) this.k(4, err);
    for (let i = 0; i < q.length; i++) q[i]!.cb(err, q[i]!.l);
  }

  /** Stops the engine: pending commands fail with 'closed'; later input is ignored. */
  close(): void {
    this.f |= 1;
    this.flush('closed');
    const tm = this.tm;
    if (this.rtm) tm ? tm.clearTimeout(this.rtm) : clearTimeout(this.rtm as ReturnType<typeof setTimeout>);
    this.rtm = 0;
    this.rl = 0;
    this.ln = '';
  }

  /** Feeds received data (called from the serial 'data' event; public for tests and bridges). */
  feed(s: string): void {
    if (this.f & 1) return;
    const n = s.length;
    let i = 0;
    while (i < n) {
      if (this.rl > 0) {
        // Payload bytes: take what the chunk has, up to what is left; hand out when complete.
        let k = n - i;
        if (k > this.rl) k = this.rl;
        const end = i + k;
        if (!(this.f & 4)) {
          const b = this.buf;
          if (typeof E !== 'undefined') b.set(E.toUint8Array(s.substring(i, end)), this.rn);
          else for (let j = i, p = this.rn; j < end; j++) b[p++] = s.charCodeAt(j);
          this.rn += k;
        }
        this.rl -= k;
        i = end;
        if (this.rl === 0) {
          const tm = this.tm;
          if (this.rtm) tm ? tm.clearTimeout(this.rtm) : clearTimeout(this.rtm as ReturnType<typeof setTimeout>);
          this.rtm = 0;
          if (!(this.f & 4)) {
            const g = this.r[this.rh + 3] as AtRawGot;
            if (typeof g === 'string') for (let e = 0; e < this.ev.length; e++) this.ev[e]!(g, this.rhd, this.buf, this.rn);
            else g(this.buf, this.rn, this.rhd);
          }
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
      // A binary-payload header? (Only the first handler whose prefix matches is asked.)
      let at = -1;
      const r = this.r;
      for (let h = 0; h < r.length; h += 4) {
        const p = r[h] as string;
        if (line.substr(0, p.length) !== p) continue;
        const t = r[h + 1] as string;
        const f = r[h + 2] as AtRawLen;
        let hd = line;
        let m = -1;
        let x = -1;
        let fs: string[] | null = null;
        if (t === '\n') {
          if (j >= 0) {
            while (hd.charAt(hd.length - 1) === '\r') hd = hd.substring(0, hd.length - 1);
            if (typeof f === 'number') {
              fs = hd.substring(p.length).split(',');
              m = parseInt(fs[f]!, 10);
            } else m = f(hd);
            x = line.length;
          }
        } else {
          // Terminators before the old part's end were examined when they arrived, and inside the prefix they are not terminators.
          x = line.indexOf(t, old.length > p.length ? old.length : p.length);
          while (x >= 0) {
            hd = line.substring(0, x);
            if (typeof f !== 'number') m = f(hd);
            else if (hd.split('"').length & 1) {
              // An even number of quotes: the terminator is not inside a quoted field (an IPv6 address has ':').
              fs = hd.substring(p.length).split(',');
              m = parseInt(fs[f]!, 10);
            }
            if (m >= 0) break;
            x = line.indexOf(t, x + 1);
          }
        }
        if (m >= 0) {
          // Payload starts at index x + 1 of `line`, i.e. at i + x + 1 - old.length of the chunk.
          at = x + 1;
          const g = r[h + 3] as AtRawGot;
          this.rh = h;
          if (fs) fs.splice(0, (f as number) + 1);
          this.rhd = fs ? fs.join(',') : hd;
          this.rn = 0;
          this.f = m > this.buf.length ? this.f | 4 : this.f & ~4;
          if (typeof g === 'string') for (let e = 0; e < this.ev.length; e++) this.ev[e]!(g, this.rhd, undefined, m);
          if (m === 0) {
            if (typeof g === 'string') for (let e = 0; e < this.ev.length; e++) this.ev[e]!(g, this.rhd, this.buf, 0);
            else g(this.buf, 0, this.rhd);
          } else {
            const self = this;
            const tm = this.tm;
            const fn = function (): void {
              self.rtm = 0;
              if (self.rl > 0) {
                self.rl = 0;
                self.ln = '';
                for (let e = 0; e < self.ev.length; e++) self.ev[e]!('lost', self.rhd);
              }
            };
            this.rl = m;
            this.rtm = tm ? tm.setTimeout(fn, this.rto || 3000) : setTimeout(fn, this.rto || 3000);
          }
        }
        break;
      }
      if (at >= 0) {
        this.ln = '';
        i += at - old.length;
        continue;
      }
      if (j < 0) {
        // Keep the partial line; garbage without a newline is not allowed to grow forever.
        this.ln = line.length > 512 ? '' : line;
        break;
      }
      this.ln = '';
      i = j + 1;
      this.k(5, line);
    }
    const c = this.c;
    if (c && c.o.data != null && !c.p && this.ln.charAt(0) === '>') {
      this.ln = '';
      c.p = 1;
      this.s.write(c.o.data);
    }
  }

  /**
   * Everything else, one function object on Espruino instead of six. `op`:
   * 0 start the next queued command if none is in flight; 1 send the one in flight again (a
   * retry); 2 error result or timeout `s` of the one in flight: retry after a pause, or fail;
   * 3 end the one in flight with `s` (null: success); 4 the same without starting the next one
   * (flush); 5 a received line `s`.
   */
  private k(op: number, s: string | null): void {
    const self = this;
    const tm = this.tm;
    const rd = this.rd === undefined ? 100 : this.rd;
    let c = this.c;
    if (op === 5) {
      const l = s!.trim();
      if (!l) return;
      if (c) {
        const o = c.o;
        if (l === c.t) return;
        if (o.data != null && !c.p && l.charAt(0) === '>') {
          c.p = 1;
          this.s.write(o.data);
          return;
        }
        if (o.fin ? l.substr(0, o.fin.length) === o.fin : l === 'OK') {
          if (o.fin) c.l.push(l);
          this.k(3, null);
          return;
        }
      }
      // The first watch and the first URC handler whose prefixes match.
      const u = this.u;
      let w = -1;
      let h: AtUrc | null = null;
      for (let i = 0; i < u.length; i++) {
        const e = u[i]!;
        const p = typeof e === 'string' ? e.substring(1) : e[0];
        if (l.substr(0, p.length) !== p) continue;
        if (typeof e !== 'string') {
          if (h === null) h = e[1];
        } else if (e.charCodeAt(0) < 4) {
          if (w < 0) w = e.charCodeAt(0);
        } else if (h === null) h = e.charAt(0);
      }
      if (c) {
        const o = c.o;
        if (
          l === 'ERROR' || l.substr(0, 10) === '+CME ERROR' || l.substr(0, 10) === '+CMS ERROR' ||
          (o.fail && l.substr(0, o.fail.length) === o.fail) || w === 3
        ) {
          this.k(2, l);
          return;
        }
        if (o.resp && l.substr(0, o.resp.length) === o.resp) {
          c.l.push(l);
          return;
        }
      }
      if (w === 0) {
        this.flush('reset');
        if (this.rtm) tm ? tm.clearTimeout(this.rtm) : clearTimeout(this.rtm as ReturnType<typeof setTimeout>);
        this.rtm = 0;
        this.rl = 0;
      }
      // Watched lines are unsolicited by definition: never part of a response.
      if (w >= 0 && w < 3) for (let e = 0; e < this.ev.length; e++) this.ev[e]!(w === 0 ? 'reset' : w === 1 ? 'down' : 'up', l);
      if (w === 0) return;
      if (typeof h === 'string') for (let e = 0; e < this.ev.length; e++) this.ev[e]!(h, l);
      else if (h) h(l);
      else if (c && w < 0) c.l.push(l);
      return;
    }
    if (op >= 2) {
      c = c!;
      if (op === 2 && c.n < (c.o.retries || 0)) {
        c.n++;
        c.p = 0;
        c.l = [];
        if (this.ct) tm ? tm.clearTimeout(this.ct) : clearTimeout(this.ct as ReturnType<typeof setTimeout>);
        const fn = function (): void {
          self.ct = 0;
          if (self.c === c) self.k(1, null);
        };
        this.ct = tm ? tm.setTimeout(fn, rd) : setTimeout(fn, rd);
        return;
      }
      // The end of the command in flight. After a timeout the next command waits `retryDelay`
      // (stray late replies). The next command starts before the callback runs, so a callback
      // that throws cannot stall the queue.
      if (this.ct) tm ? tm.clearTimeout(this.ct) : clearTimeout(this.ct as ReturnType<typeof setTimeout>);
      this.ct = 0;
      this.c = null;
      if (s === 'timeout' && rd > 0) {
        this.f |= 2;
        const fn = function (): void {
          self.f &= ~2;
          self.k(0, null);
        };
        if (tm) tm.setTimeout(fn, rd);
        else setTimeout(fn, rd);
      }
      if (op !== 4) this.k(0, null);
      c.cb(s, c.l);
      return;
    }
    if (op === 0) {
      if (c || this.f & 3 || !this.q.length) return;
      c = this.c = this.q.shift()!;
    }
    const cc = c!;
    this.s.write(cc.t + '\r');
    const fn = function (): void {
      self.ct = 0;
      if (self.c === cc) self.k(2, 'timeout');
    };
    const ms = cc.o.timeout || this.to || 2000;
    this.ct = tm ? tm.setTimeout(fn, ms) : setTimeout(fn, ms);
  }
}
