// wgjs:host-only
/**
 * An emulated Espruino board for testing the flasher over a real pseudo-terminal.
 *
 * It implements the parts of the Espruino REPL and Storage the flasher uses, following Espruino's
 * source (src/jsinteractive.c, src/jsflash.c, src/jswrap_storage.c, src/jswrap_espruino.c):
 *
 *  - console input: printable bytes build a line; CR or LF executes it once its brackets balance
 *    (otherwise the line continues, as `jsiHandleNewLine` does); Ctrl-C clears the line; DLE at
 *    the start of a line suppresses its echo; other control bytes are ignored; echo and the
 *    `=result` / `>` prompt output follow `echo(0|1)`;
 *  - not a JavaScript interpreter: a few regular expressions recognise exactly the command shapes
 *    the flasher sends (flasher/protocol.ts); anything else answers like a syntax error;
 *  - Storage with a byte capacity, files that start erased (0xFF), offset writes only into erased
 *    bytes ("File already written with different data"), recreate-on-offset-0;
 *  - `process.env.VERSION`/`BOARD`, `process.memory()`, `E.CRC32`, `reset()`, `load()`;
 *  - a scripted device: after `load()` or a hardware reset, if `.boot0` holds the wgjs boot line and
 *    `wgjs.cfg` is present, it prints `WGJS {"event":"handshake",...}`;
 *  - faults: dropped chunk lines, lost answers, line noise in both directions, a hardware reset or a
 *    hang mid-upload, a weak flash byte (verification failure), old firmware, small Storage.
 *
 * `openPtyPair()` creates the pseudo-terminal pair with socat.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { SerialPort } from 'serialport';

/** Faults to inject. Chunk lines are counted from 1 over the emulator's lifetime. */
export interface Faults {
  /** Chunk lines that never arrive (the board sees nothing). */
  dropChunks?: number[];
  /** Chunk lines executed whose answer is lost. */
  dropAnswers?: number[];
  /** Probability that a received line has one byte replaced by noise. */
  inputNoise?: number;
  /** Probability that an output line has one byte replaced by noise. */
  outputNoise?: number;
  /** On this chunk line the board resets (the line is lost; Storage keeps what was written). */
  resetAtChunk?: number;
  /** From this chunk line on, the board stops answering until `revive()`. */
  hangAtChunk?: number;
  /** A weak flash byte: after it is written, one of its set bits reads back as 0. */
  weakByte?: { file: string; offset: number; once?: boolean };
}

/** The scripted device started by the boot file. */
export interface DeviceScript {
  /** Report a handshake (else only errors). */
  handshake: boolean;
  /** Delay before the handshake report. */
  delayMs: number;
}

/** Emulator options. */
export interface EmulatorOptions {
  version?: string;
  board?: string;
  storageBytes?: number;
  jsVars?: number;
  /** JsVars in use after reset(). */
  usedVars?: number;
  faults?: Faults;
  device?: DeviceScript;
  /** Seed of the noise generator (deterministic tests). */
  seed?: number;
  /** Time the board ignores input while rebooting after a hardware reset. */
  bootMs?: number;
}

/** Counters for assertions. */
export interface EmulatorStats {
  linesExecuted: number;
  chunkLines: number;
  chunkWrites: number;
  /** Payload bytes actually written to Storage. */
  bytesWritten: number;
  noisyInputLines: number;
  resets: number;
  loads: number;
  syntaxErrors: number;
}

/** The contract's boot file content. */
export const WGJS_BOOT = "eval(require('Storage').read('wgjs.js'));wgjs.start(require('Storage').readJSON('wgjs.cfg',1));";

const HEADER_BYTES = 32;

function cost(size: number): number {
  return ((size + 3) & ~3) + HEADER_BYTES;
}

/** CRC-32 as Espruino's E.CRC32 (independent of the flasher's copy on purpose). */
function crc32(b: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < b.length; i++) {
    c ^= b[i];
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return (~c) >>> 0;
}

/** Storage as Espruino's jsflash.c behaves for the calls the flasher makes. */
export class EmulatedStorage {
  readonly files = new Map<string, Buffer>();
  weak: Faults['weakByte'];
  constructor(public capacity: number) {}

  used(): number {
    let u = 0;
    for (const f of this.files.values()) u += cost(f.length);
    return u;
  }

  getFree(): number {
    return this.capacity - this.used();
  }

  getStats(): Record<string, number> {
    let fileBytes = 0;
    for (const f of this.files.values()) fileBytes += cost(f.length);
    return { totalBytes: this.capacity, freeBytes: this.capacity - fileBytes, fileBytes, fileCount: this.files.size, trashBytes: 0, trashCount: 0 };
  }

  read(name: string, offset = 0, length = 0): Buffer | undefined {
    const f = this.files.get(name);
    if (!f) return undefined;
    const end = length > 0 ? Math.min(f.length, offset + length) : f.length;
    return f.subarray(Math.min(offset, f.length), end);
  }

  erase(name: string): void {
    this.files.delete(name);
  }

  private static erased(b: Buffer, off: number, len: number): boolean {
    for (let i = off; i < off + len; i++) if (b[i] !== 0xff) return false;
    return true;
  }

  /** `require("Storage").write(name, data, offset, size)`: jsfWriteFile's rules. Throws Error like Espruino. */
  write(name: string, data: Buffer, offset: number, size: number): boolean {
    if (offset < 0 || size < 0) return false;
    const total = size || data.length;
    if (!total) throw new Error("Can't create zero length file");
    let f = this.files.get(name);
    if (offset === 0 && (!f || f.length !== total || !EmulatedStorage.erased(f, 0, total))) {
      if (f && f.length === total && data.length === total && f.equals(data)) return true;
      const old = f ? cost(f.length) : 0;
      if (this.used() - old + cost(total) > this.capacity) throw new Error('Unable to find or create file');
      this.files.delete(name);
      f = Buffer.alloc(total, 0xff);
      this.files.set(name, f);
    }
    if (!f) throw new Error('Unable to find or create file');
    if (offset + data.length > f.length) throw new Error('Too much data for file size');
    if (!EmulatedStorage.erased(f, offset, data.length)) throw new Error('File already written with different data');
    data.copy(f, offset);
    const w = this.weak;
    if (w && w.file === name && w.offset >= offset && w.offset < offset + data.length) {
      const v = f[w.offset];
      f[w.offset] = v & (v - 1); // clears the lowest set bit: flash bits only fail towards 0
      if (w.once) this.weak = undefined;
    }
    return true;
  }
}

/** Deterministic noise source. */
function prng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}

/** Turns a template into an anchored regex: NAME = JSON string, INT = integer, B64 = base64. */
function shape(template: string): RegExp {
  const parts = template.split(/(@NAME@|@INT@|@B64@)/);
  const src = parts
    .map((p) => {
      if (p === '@NAME@') return '("(?:[^"\\\\]|\\\\.)*")';
      if (p === '@INT@') return '(\\d+)';
      if (p === '@B64@') return '([A-Za-z0-9+/=]*)';
      return p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('');
  return new RegExp(`^${src}$`);
}

// The command shapes of flasher/protocol.ts, written out independently.
const FRAME = /^\(function\(p\)\{print\("<wf(\d+) "\+p\+" "\+E\.CRC32\(p\)\+">"\)\}\)\(JSON\.stringify\((.*)\)\)$/s;
const SYNC = /^1$/;
const PROBE = shape(
  '(function(s,m){return{v:process.env.VERSION,b:process.env.BOARD,f:s.getFree(),t:s.getStats?s.getStats():null,m:{free:m.free,total:m.total},' +
    'e:["wgjs.js","wgjs.cfg",".boot0",".bootcde"].map(function(n){var f=s.read(n);return f===undefined?-1:f.length})}})(require("Storage"),process.memory())',
);
const CHUNK_STATE = shape(
  '(function(s,n,C){var f=s.read(n),r=[],o;if(f===undefined)return null;for(o=0;o<f.length;o+=C)r.push(E.CRC32(s.read(n,o,Math.min(C,f.length-o))));return{l:f.length,c:r}})(require("Storage"),@NAME@,@INT@)',
);
const FILE_CRC = shape('(function(s,n){var f=s.read(n);return f===undefined?null:{l:f.length,c:E.CRC32(f)}})(require("Storage"),@NAME@)');
const ERASE = shape('(require("Storage").erase(@NAME@),1)');
const CHUNK = shape(
  '(function(n,o,t,k,d){var s=require("Storage"),r;if(E.CRC32(n+o+","+t+d)!=k)r="bad";else if(o&&s.read(n,o,d.length)==d)r="same";' +
    'else try{r=s.write(n,d,o,t)?"ok":"fail"}catch(e){r="err "+e.message}return r})(@NAME@,@INT@,@INT@,@INT@,atob("@B64@"))',
);
/** Recognises a chunk line (before noise is applied, for fault counting only). */
const CHUNK_HINT = /^\(function\(n,o,t,k,d\)/;
const FRAME_HEAD = /^\(function\(p\)\{print\("<wf\d+ "\+p\+" "\+E\.CRC32\(p\)\+">"\)\}\)\(JSON\.stringify\(/;

/** Bracket depth outside string literals, as Espruino's lexer-based count. */
function bracketDepth(line: string): number {
  let depth = 0;
  let quote = '';
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = '';
      continue;
    }
    if (c === '"' || c === "'" || c === '`') quote = c;
    else if (c === '(' || c === '{' || c === '[') depth++;
    else if (c === ')' || c === '}' || c === ']') depth--;
  }
  return depth;
}

/** The emulated board. */
export class EmulatedEspruino {
  readonly storage: EmulatedStorage;
  readonly stats: EmulatorStats = { linesExecuted: 0, chunkLines: 0, chunkWrites: 0, bytesWritten: 0, noisyInputLines: 0, resets: 0, loads: 0, syntaxErrors: 0 };
  /** Everything the board printed (for assertions). */
  output = '';
  version: string;
  board: string;
  jsVars: number;
  usedVars: number;
  faults: Faults;
  device: DeviceScript;
  private port: SerialPort | null = null;
  private line = '';
  /** Where the segment typed since the last newline starts in `line`. */
  private segStart = 0;
  private echoOffForLine = false;
  /** The line being executed raised an error (no `=result` then). */
  private hadError = false;
  private echo = true;
  private hadCR = false;
  private dead = false;
  private bootingUntil = 0;
  private timers = new Set<NodeJS.Timeout>();
  private rand: () => number;
  private bootMs: number;

  constructor(opts: EmulatorOptions = {}) {
    this.version = opts.version ?? '2v25';
    this.board = opts.board ?? 'ESP32';
    this.storage = new EmulatedStorage(opts.storageBytes ?? 917504);
    this.jsVars = opts.jsVars ?? 16383;
    this.usedVars = opts.usedVars ?? 300;
    this.faults = opts.faults ?? {};
    this.storage.weak = this.faults.weakByte;
    this.device = opts.device ?? { handshake: true, delayMs: 200 };
    this.rand = prng(opts.seed ?? 12345);
    this.bootMs = opts.bootMs ?? 150;
  }

  /** Opens the board's end of the pseudo-terminal and prints the power-on banner. */
  async attach(path: string): Promise<void> {
    const port = new SerialPort({ path, baudRate: 115200, autoOpen: false });
    await new Promise<void>((res, rej) => port.open((e) => (e ? rej(e) : res())));
    port.on('data', (b: Buffer) => this.onInput(b));
    port.on('error', () => {});
    this.port = port;
  }

  /** Closes the port and cancels pending device output. */
  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const p = this.port;
    this.port = null;
    if (p?.isOpen) await new Promise<void>((res) => p.close(() => res()));
  }

  /** Ends a hang: the board comes back as after a power cycle. */
  revive(): void {
    this.dead = false;
    this.faults.hangAtChunk = undefined;
    this.hardReset();
  }

  /** Prints on the console (the device's own output). */
  print(text: string): void {
    let out = text.replace(/\r?\n/g, '\r\n');
    if (this.faults.outputNoise && out.length > 4 && this.rand() < this.faults.outputNoise) {
      const i = Math.floor(this.rand() * (out.length - 2));
      out = out.slice(0, i) + this.noiseByte() + out.slice(i + 1);
    }
    this.output += out;
    this.port?.write(Buffer.from(out, 'latin1'));
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  /** A noise byte: anything but the XON/XOFF flow-control characters (which would stall the host's
   * output on a link with software flow control, a different failure than noise). */
  private noiseByte(): string {
    for (;;) {
      const b = Math.floor(this.rand() * 256);
      if (b !== 0x11 && b !== 0x13) return String.fromCharCode(b);
    }
  }

  private onInput(buf: Buffer): void {
    if (this.dead || Date.now() < this.bootingUntil) return;
    for (const ch of buf.toString('latin1')) this.onChar(ch);
  }

  private onChar(ch: string): void {
    const c = ch.charCodeAt(0);
    if (c === 3) {
      this.line = '';
      this.segStart = 0;
      this.echoOffForLine = false;
      return;
    }
    if (c === 16) {
      if (this.line === '') this.echoOffForLine = true;
      return;
    }
    if (c === 10 && this.hadCR) {
      this.hadCR = false;
      return;
    }
    this.hadCR = c === 13;
    if (c === 13 || c === 10) {
      // Faults apply to the segment typed since the last newline (a line may continue a previous one).
      const prefix = this.line.slice(0, this.segStart);
      let seg = this.line.slice(this.segStart);
      const f = this.faults;
      let chunkNo = 0;
      if (CHUNK_HINT.test(seg.replace(/^[^(]*/, '').replace(FRAME_HEAD, ''))) {
        chunkNo = ++this.stats.chunkLines;
        if (f.resetAtChunk === chunkNo) return this.hardReset();
        if (f.hangAtChunk !== undefined && chunkNo >= f.hangAtChunk) {
          this.dead = true;
          return;
        }
        if (f.dropChunks?.includes(chunkNo)) {
          this.line = prefix;
          return;
        }
      }
      if (f.inputNoise && seg.length > 0 && this.rand() < f.inputNoise) {
        // One byte damaged: a control byte is dropped by the REPL, anything else replaces the original.
        this.stats.noisyInputLines++;
        const i = Math.floor(this.rand() * seg.length);
        const b = this.noiseByte();
        seg = seg.slice(0, i) + (b.charCodeAt(0) < 32 ? '' : b) + seg.slice(i + 1);
      }
      this.line = prefix + seg;
      if (bracketDepth(this.line) > 0) {
        this.line += '\n'; // brackets open: Espruino waits for the rest (jsiHandleNewLine)
        this.segStart = this.line.length;
        return;
      }
      const line = this.line.trim();
      const quiet = this.echoOffForLine || !this.echo;
      this.line = '';
      this.segStart = 0;
      this.echoOffForLine = false;
      if (!quiet) this.print('\n');
      this.hadError = false;
      this.execute(line, chunkNo);
      // Espruino prints the result (`=value`) only with echo on, no error and a non-empty line; the
      // command shapes here all evaluate to undefined.
      if (!quiet && this.echo && !this.hadError && line !== '' && !this.dead) this.print('=undefined\n');
      if (this.echo && !this.dead && Date.now() >= this.bootingUntil) this.print('>');
      return;
    }
    if (c === 8 || c === 0x7f) {
      this.line = this.line.slice(0, -1);
      return;
    }
    if (c < 32 && c !== 9) return;
    this.line += ch;
    if (!this.echoOffForLine && this.echo) this.print(ch);
  }

  private banner(): void {
    this.print(
      '\n ____                 _ \n|  __|___ ___ ___ _ _|_|___ ___ \n|  __|_ -| . |  _| | | |   | . |\n|____|___|  _|_| |___|_|_|_|___|\n' +
        `         |_| espruino.com\n ${this.version} (c) 2026 G.Williams\n\n`,
    );
  }

  /** `reset()` / `load()`: clear RAM, echo back on, banner; `load()` also runs the boot file. */
  private softReset(runBoot: boolean): void {
    this.echo = true;
    this.line = '';
    this.segStart = 0;
    this.banner();
    if (runBoot) this.runBoot();
  }

  /** A hardware reset: input is lost while booting; Storage survives; boot code runs. */
  hardReset(): void {
    this.stats.resets++;
    this.line = '';
    this.segStart = 0;
    this.echoOffForLine = false;
    this.echo = true;
    this.bootingUntil = Date.now() + this.bootMs;
    this.print('\x00\xff'); // glitch on the line as the USB-serial bridge sees the reset
    this.later(this.bootMs, () => {
      this.banner();
      this.runBoot();
      this.print('>');
    });
  }

  private runBoot(): void {
    const boot = this.storage.read('.boot0');
    if (!boot || boot.toString('latin1') !== WGJS_BOOT) return;
    const build = this.storage.read('wgjs.js');
    if (!build) {
      this.print('Uncaught Error: Function "start" not found!\n');
      return;
    }
    const cfgRaw = this.storage.read('wgjs.cfg');
    let cfg: { peer?: { publicKey?: string } } | null = null;
    try {
      cfg = cfgRaw ? (JSON.parse(cfgRaw.toString('utf8')) as { peer?: { publicKey?: string } }) : null;
    } catch {
      cfg = null;
    }
    if (!cfg?.peer?.publicKey) {
      this.print('WGJS {"event":"error","message":"no device config (wgjs.cfg)"}\n');
      return;
    }
    const peer = cfg.peer.publicKey;
    this.print('WGJS {"event":"status","state":"starting","modem":"init"}\n');
    this.later(this.device.delayMs, () => {
      if (this.device.handshake) this.print(`WGJS {"event":"handshake","peer":"${peer}","ms":${this.device.delayMs}}\n`);
      else this.print('WGJS {"event":"error","message":"modem: no answer to AT"}\n');
    });
  }

  private answer(id: string, value: unknown): void {
    const p = JSON.stringify(value);
    this.print(`<wf${id} ${p} ${p === undefined ? 'undefined' : crc32(Buffer.from(p, 'latin1'))}>\n`);
  }

  private syntaxError(): void {
    this.hadError = true;
    this.stats.syntaxErrors++;
    this.print('Uncaught SyntaxError: Got UNFINISHED STRING expected EOF\n at line 1 col 1\n');
  }

  private execute(line: string, chunkNo: number): void {
    if (line === '') return;
    this.stats.linesExecuted++;
    const f = this.faults;
    if (line.startsWith('//')) return;
    if (line === 'echo(0)' || line === 'echo(false)') return void (this.echo = false);
    if (line === 'echo(1)' || line === 'echo(true)') return void (this.echo = true);
    if (line === 'reset()') return this.later(20, () => this.softReset(false));
    if (line === 'load()') {
      this.stats.loads++;
      return this.later(20, () => this.softReset(true));
    }
    if (line === 'E.reboot()') return this.hardReset();
    const fr = FRAME.exec(line);
    if (!fr) return this.syntaxError();
    const id = fr[1];
    const expr = fr[2];
    let m: RegExpExecArray | null;
    if (SYNC.test(expr)) return this.answer(id, 1);
    if (PROBE.test(expr)) {
      const e = ['wgjs.js', 'wgjs.cfg', '.boot0', '.bootcde'].map((n) => this.storage.read(n)?.length ?? -1);
      return this.answer(id, {
        v: this.version,
        b: this.board,
        f: this.storage.getFree(),
        t: this.storage.getStats(),
        m: { free: this.jsVars - this.usedVars, total: this.jsVars },
        e,
      });
    }
    if ((m = CHUNK_STATE.exec(expr))) {
      const name = JSON.parse(m[1]) as string;
      const size = Number(m[2]);
      const file = this.storage.read(name);
      if (!file) return this.answer(id, null);
      const c: number[] = [];
      for (let o = 0; o < file.length; o += size) c.push(crc32(file.subarray(o, Math.min(file.length, o + size))));
      return this.answer(id, { l: file.length, c });
    }
    if ((m = FILE_CRC.exec(expr))) {
      const file = this.storage.read(JSON.parse(m[1]) as string);
      return this.answer(id, file ? { l: file.length, c: crc32(file) } : null);
    }
    if ((m = ERASE.exec(expr))) {
      this.storage.erase(JSON.parse(m[1]) as string);
      return this.answer(id, 1);
    }
    if ((m = CHUNK.exec(expr))) {
      const n = JSON.parse(m[1]) as string;
      const o = Number(m[2]);
      const t = Number(m[3]);
      const k = Number(m[4]);
      const d = Buffer.from(m[5], 'base64');
      let r: string;
      if (crc32(Buffer.concat([Buffer.from(`${n}${o},${t}`, 'latin1'), d])) !== k) r = 'bad';
      else if (o && this.storage.read(n, o, d.length)?.equals(d)) r = 'same';
      else {
        try {
          r = this.storage.write(n, d, o, t) ? 'ok' : 'fail';
          this.stats.chunkWrites++;
          this.stats.bytesWritten += d.length;
        } catch (e) {
          r = 'err ' + (e as Error).message;
        }
      }
      if (f.dropAnswers?.includes(chunkNo)) return;
      return this.answer(id, r);
    }
    return this.syntaxError();
  }
}

/** Two connected pseudo-terminals made by socat; `close()` stops socat. */
export interface PtyPair {
  /** Path for the board (emulator) side. */
  board: string;
  /** Path for the host (flasher) side. */
  host: string;
  close(): Promise<void>;
}

/** Starts `socat -d -d pty,raw,echo=0 pty,raw,echo=0` and reads the two /dev/pts paths it prints. */
export function openPtyPair(timeoutMs = 5000): Promise<PtyPair> {
  return new Promise((resolve, reject) => {
    let proc: ChildProcess;
    try {
      proc = spawn('socat', ['-d', '-d', 'pty,raw,echo=0', 'pty,raw,echo=0'], { stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (e) {
      reject(e as Error);
      return;
    }
    const paths: string[] = [];
    let err = '';
    let settled = false;
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    const close = async (): Promise<void> => {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 2000);
        await exited;
        clearTimeout(t);
      }
    };
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      void close();
      reject(new Error(`socat did not report two ptys within ${timeoutMs} ms: ${err}`));
    }, timeoutMs);
    proc.once('error', (e) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(e);
    });
    proc.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      for (const m of err.matchAll(/PTY is (\/dev\/\S+)/g)) if (!paths.includes(m[1])) paths.push(m[1]);
      if (!settled && paths.length === 2 && /starting data transfer loop/.test(err)) {
        settled = true;
        clearTimeout(timer);
        resolve({ board: paths[0], host: paths[1], close });
      }
    });
  });
}
