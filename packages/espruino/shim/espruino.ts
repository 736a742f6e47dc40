// wgjs:host-only — Node test tooling, never bundled for the device.
/**
 * A Node shim of the Espruino APIs the device build uses, so `dist/wgjs.js` runs unmodified in a
 * `vm` context: `SerialN` (setup/write/on('data'), bridged to a modem emulator's serial port),
 * `require('Storage')` (read/readJSON/readArrayBuffer/write/erase/list/getFree over a Map of
 * binary strings), `E` (toUint8Array, toString, hwRand, CRC32, convolve, getSizeOf), `getTime`,
 * `Date.now` (the same clock, as on Espruino), timers, `console.log`/`print`, `process.memory()`/
 * `env`, `digitalWrite`/`digitalPulse`/`pinMode`, `global`, and extra modules for `require`.
 *
 * Time is a clock that can jump: `advance(ms)` moves it forward at once (timers then due fire as
 * soon as the running code returns), which is how tests simulate a slow CPU: a crypto module whose
 * X25519 "takes" seconds advances the clock instead of burning them. `getTime()` starts at
 * `bootTime` (default 0: no real-time clock, as on most boards after power-up).
 */
import { randomBytes } from 'node:crypto';
import vm from 'node:vm';

/** The backend of one UART: what a modem emulator's `serial()` returns. */
export interface ShimSerialBackend {
  write(data: string | Uint8Array): void;
  on(event: 'data', cb: (chunk: string) => void): void;
}

export interface ShimOptions {
  /** Storage contents (shared between shims to simulate a reboot). Values are binary strings. */
  storage?: Map<string, string>;
  /** UART backends by name, e.g. `{ Serial1: emu.serial() }`. */
  serial?: Record<string, ShimSerialBackend>;
  /** Extra modules for `require(name)`. */
  modules?: Record<string, unknown>;
  /** getTime() at start, seconds (default 0). */
  bootTime?: number;
  /** Console lines as they are printed (default: collected only). */
  log?: (line: string) => void;
  /** Provide E.convolve as Espruino does (default true). */
  convolve?: boolean;
}

interface Timer {
  id: number;
  due: number;
  fn: () => void;
  every: number;
}

/** Binary string (char code = byte) of a string, typed array, ArrayBuffer or number array. */
function binary(d: unknown): string {
  if (typeof d === 'string') return d;
  if (d instanceof ArrayBuffer) return Buffer.from(d).toString('latin1');
  if (ArrayBuffer.isView(d)) return Buffer.from(d.buffer, d.byteOffset, d.byteLength).toString('latin1');
  if (Array.isArray(d)) return Buffer.from(d.map((x) => Number(x) & 255)).toString('latin1');
  if (typeof d === 'number') return String.fromCharCode(d & 255);
  return String(d);
}

const CRC_TABLE = (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  return t;
})();

export class EspruinoShim {
  readonly context: vm.Context;
  readonly storage: Map<string, string>;
  /** Every console line printed by the code. */
  readonly lines: string[] = [];
  /** Parsed `WGJS {…}` events, in order. */
  readonly events: Array<Record<string, unknown>> = [];
  /** Exceptions thrown out of timer callbacks and serial handlers (Espruino prints and goes on). */
  readonly errors: unknown[] = [];
  /** Pin writes, in order: [pin, value]. */
  readonly pins: Array<[unknown, number]> = [];
  private timers: Timer[] = [];
  private seq = 0;
  private skew = 0;
  private readonly t0 = performance.now();
  private readonly boot: number;
  private real: NodeJS.Timeout | null = null;
  private realDue = Infinity;
  private closed = false;
  private waiters: Array<() => void> = [];
  private u8: Uint8ArrayConstructor | null = null;

  constructor(private readonly opts: ShimOptions = {}) {
    this.storage = opts.storage ?? new Map();
    this.boot = opts.bootTime ?? 0;
    const self = this;
    const storage = this.storage;
    const Storage = {
      read(name: string, offset?: number, length?: number): string | undefined {
        const v = storage.get(name);
        if (v === undefined) return undefined;
        const o = offset ?? 0;
        return length === undefined ? v.substring(o) : v.substring(o, o + length);
      },
      readJSON(name: string, noExceptions?: boolean): unknown {
        const v = storage.get(name);
        if (v === undefined) return undefined;
        try {
          return JSON.parse(Buffer.from(v, 'latin1').toString('utf8'));
        } catch (e) {
          if (noExceptions) return undefined;
          throw e;
        }
      },
      readArrayBuffer(name: string): ArrayBuffer | undefined {
        const v = storage.get(name);
        if (v === undefined) return undefined;
        const b = Buffer.from(v, 'latin1');
        return b.buffer.slice(b.byteOffset, b.byteOffset + b.length);
      },
      write(name: string, data: unknown, offset?: number, size?: number): boolean {
        const s = binary(data);
        if (offset === undefined) {
          storage.set(name, s);
          return true;
        }
        // Espruino's chunked write: the first call gives the total size, later ones fill it in.
        let cur = storage.get(name) ?? '';
        if (offset === 0 && size !== undefined) cur = '\xff'.repeat(size);
        storage.set(name, cur.substring(0, offset) + s + cur.substring(offset + s.length));
        return true;
      },
      erase(name: string): void {
        storage.delete(name);
      },
      list(): string[] {
        return [...storage.keys()];
      },
      getFree(): number {
        return 1 << 20;
      },
    };
    const E = {
      toUint8Array(...args: unknown[]): Uint8Array {
        return new self.U8(Buffer.from(args.map(binary).join(''), 'latin1'));
      },
      toString(...args: unknown[]): string {
        return args.map(binary).join('');
      },
      hwRand(): number {
        return randomBytes(4).readInt32LE(0);
      },
      CRC32(d: unknown): number {
        const b = Buffer.from(binary(d), 'latin1');
        let c = -1;
        for (const x of b) c = CRC_TABLE[(c ^ x) & 255]! ^ (c >>> 8);
        return (c ^ -1) >>> 0;
      },
      convolve: opts.convolve === false ? undefined : (a: ArrayLike<number>, b: ArrayLike<number>, offset: number): number => {
        // Espruino's semantics: sum(a[i] * b[(i + offset) % b.length]).
        const l = b.length;
        let o = offset % l;
        if (o < 0) o += l;
        let v = 0;
        for (let i = 0; i < a.length; i++) {
          v += a[i]! * b[o];
          if (++o === l) o = 0;
        }
        return v;
      },
      getSizeOf(): number {
        return 0;
      },
      getTemperature(): number {
        return 21.5;
      },
    };
    if (!E.convolve) delete (E as { convolve?: unknown }).convolve;
    const serials: Record<string, unknown> = {};
    for (const [name, backend] of Object.entries(opts.serial ?? {})) serials[name] = this.makeSerial(name, backend);
    const modules = opts.modules ?? {};
    const print = (...args: unknown[]): void => this.print(args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' '));
    const sandbox: Record<string, unknown> = {
      console: { log: print, warn: print, error: print, info: print },
      print,
      E,
      getTime: () => this.seconds(),
      setTimeout: (fn: () => void, ms?: number) => this.setTimer(fn, ms ?? 0, 0),
      setInterval: (fn: () => void, ms?: number) => this.setTimer(fn, ms ?? 0, Math.max(1, ms ?? 0)),
      clearTimeout: (id: unknown) => this.clearTimer(id),
      clearInterval: (id: unknown) => this.clearTimer(id),
      require: (name: string): unknown => {
        if (name === 'Storage') return Storage;
        if (name in modules) return modules[name];
        throw new Error(`Module ${name} not found`);
      },
      process: {
        env: { VERSION: '2v29-shim', BOARD: 'NODE_SHIM' },
        memory: () => ({ free: 4000, usage: 96, total: 4096, blocksize: 14 }),
      },
      digitalWrite: (pin: unknown, v: unknown) => { this.pins.push([pin, Number(v)]); },
      digitalPulse: (pin: unknown, v: unknown, ms: unknown) => { this.pins.push([pin, Number(v)]); void ms; },
      pinMode: () => {},
      digitalRead: () => 1,
      ...serials,
    };
    this.context = vm.createContext(sandbox);
    (this.context as Record<string, unknown>).global = this.context;
    // Espruino's Date.now() reads the same clock as getTime().
    vm.runInContext('(function (f) { Date.now = function () { return f() * 1000; }; })', this.context)(() => this.seconds());
  }

  /** The context's Uint8Array (typed arrays handed to the code come from its realm). */
  get U8(): Uint8ArrayConstructor {
    if (!this.u8) this.u8 = vm.runInContext('Uint8Array', this.context) as Uint8ArrayConstructor;
    return this.u8;
  }

  /** Runs source text in the context, like Espruino's eval of a Storage file. */
  run(code: string, filename = 'code.js'): unknown {
    return vm.runInContext(code, this.context, { filename });
  }

  /** The `wgjs` global defined by the build. */
  get wgjs(): Record<string, (...args: never[]) => unknown> & Record<string, unknown> {
    return (this.context as Record<string, unknown>).wgjs as never;
  }

  /** Monotonic milliseconds of the shim clock since the shim started. */
  now(): number {
    return performance.now() - this.t0 + this.skew;
  }

  /** getTime(): seconds. */
  seconds(): number {
    return this.boot + this.now() / 1000;
  }

  /** Moves the clock forward by `ms` at once (a slow CPU); due timers fire when control returns. */
  advance(ms: number): void {
    this.skew += ms;
    // The real timer was armed for the old distance: re-arm it for the new one.
    if (this.real) clearTimeout(this.real);
    this.real = null;
    this.realDue = Infinity;
    this.schedule();
  }

  /** Resolves with the first event (already printed or future) matching `pred`, bounded by timeoutMs (real time). */
  waitEvent(pred: (e: Record<string, unknown>) => boolean, timeoutMs = 10_000, from = 0): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        for (let i = from; i < this.events.length; i++) {
          if (pred(this.events[i]!)) {
            clearTimeout(t);
            resolve(this.events[i]!);
            return true;
          }
        }
        return false;
      };
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== poll);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for an event; last lines:\n${this.lines.slice(-15).join('\n')}`));
      }, timeoutMs);
      const poll = (): void => {
        if (check()) this.waiters = this.waiters.filter((w) => w !== poll);
      };
      if (!check()) this.waiters.push(poll);
    });
  }

  /** Stops every timer; later callbacks are ignored. */
  close(): void {
    this.closed = true;
    this.timers = [];
    if (this.real) clearTimeout(this.real);
    this.real = null;
  }

  private print(line: string): void {
    this.lines.push(line);
    this.opts.log?.(line);
    if (line.startsWith('WGJS ')) {
      try {
        this.events.push(JSON.parse(line.substring(5)) as Record<string, unknown>);
      } catch {
        this.events.push({ event: 'unparsable', line });
      }
      for (const w of [...this.waiters]) w();
    }
  }

  private makeSerial(name: string, backend: ShimSerialBackend): Record<string, unknown> {
    const self = this;
    const listeners: Array<(s: string) => void> = [];
    backend.on('data', (chunk) => {
      if (self.closed) return;
      for (const l of listeners) self.guard(() => l(chunk));
    });
    const write = (...data: unknown[]): void => {
      if (self.closed) return;
      backend.write(Buffer.from(data.map(binary).join(''), 'latin1'));
    };
    return {
      baud: 0,
      options: null as unknown,
      setup(baud: number, options?: unknown): void {
        this.baud = baud;
        this.options = options ?? null;
      },
      write,
      print(s: unknown): void {
        write(String(s));
      },
      on(event: string, cb: (s: string) => void): void {
        if (event === 'data') listeners.push(cb);
      },
      removeAllListeners(): void {
        listeners.length = 0;
      },
      toString(): string {
        return name;
      },
    };
  }

  private guard(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.errors.push(e);
      this.print(`Uncaught ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
    }
  }

  private setTimer(fn: () => void, ms: number, every: number): number {
    const id = ++this.seq;
    if (this.closed) return id;
    this.timers.push({ id, due: this.now() + Math.max(0, Number(ms) || 0), fn, every });
    this.schedule();
    return id;
  }

  private clearTimer(id: unknown): void {
    this.timers = this.timers.filter((t) => t.id !== id);
  }

  /** Arms one real timer at the earliest due time. */
  private schedule(): void {
    if (this.closed) return;
    let due = Infinity;
    for (const t of this.timers) if (t.due < due) due = t.due;
    if (due === Infinity) {
      if (this.real) clearTimeout(this.real);
      this.real = null;
      this.realDue = Infinity;
      return;
    }
    if (this.real && due >= this.realDue) return;
    if (this.real) clearTimeout(this.real);
    this.realDue = due;
    this.real = setTimeout(() => this.pump(), Math.max(0, due - this.now()));
  }

  /** Runs due timers in due order (each one's callback may add or remove timers). */
  private pump(): void {
    this.real = null;
    this.realDue = Infinity;
    // Only what is due now: timers added meanwhile wait for the next turn, so I/O interleaves.
    const now = this.now();
    for (let n = 0; n < 1000 && !this.closed; n++) {
      let best: Timer | null = null;
      for (const t of this.timers) if (t.due <= now && (!best || t.due < best.due)) best = t;
      if (!best) break;
      const t = best;
      if (t.every > 0) t.due = Math.max(t.due + t.every, now + 0.001);
      else this.timers = this.timers.filter((x) => x !== t);
      this.guard(t.fn);
    }
    this.schedule();
  }
}
