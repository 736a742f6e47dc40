// wgjs:host-only
/**
 * A conversation with the Espruino REPL over a Transport: sends framed queries and waits for their
 * answers with a timeout, splits the board's output into lines, notices the banner of a board that
 * restarted, and keeps the last `Uncaught ...` error line for messages.
 */
import { FlashError } from './errors.js';
import { CTRL_C, echoOff, framed, isBannerLine, parseFrame, syncExpr } from './protocol.js';
import type { Transport } from './transport.js';

/** The board restarted (its banner appeared) while a query was in flight. */
export class BoardResetError extends Error {
  constructor() {
    super('the board restarted');
    this.name = 'BoardResetError';
  }
}

/** A query got no valid answer in time. */
export class QueryTimeoutError extends Error {
  constructor(what: string, ms: number) {
    super(`no answer to ${what} within ${ms} ms`);
    this.name = 'QueryTimeoutError';
  }
}

/** Counters for tests and the summary. */
export interface SessionStats {
  /** Every byte written to the board. */
  bytesSent: number;
  /** Payload bytes of chunk writes (before base64). */
  chunkBytesSent: number;
  chunksSent: number;
  retries: number;
  resetsSeen: number;
}

/** Options for one query. */
export interface QueryOptions {
  timeoutMs: number;
  /** Extra attempts after the first (each with a fresh id). */
  retries: number;
  /** Human name for messages ("probe", "chunk 3 of wgjs.js"). */
  what: string;
  /** The line carries a secret: never show it in traffic logs. */
  secret?: boolean;
  /** Payload bytes carried (for stats). */
  chunkBytes?: number;
  /** Send Ctrl-C first: a damaged earlier line may have left brackets open, and Espruino then
   * waits for more input (src/jsinteractive.c, `jsiHandleNewLine`), swallowing the next command. */
  clearFirst?: boolean;
}

type Waiter = { id: number; resolve: (v: unknown) => void; reject: (e: Error) => void };

/** REPL session. `log` receives traffic when verbose (secrets already removed by the caller). */
export class ReplSession {
  readonly stats: SessionStats = { bytesSent: 0, chunkBytesSent: 0, chunksSent: 0, retries: 0, resetsSeen: 0 };
  /** Last `Uncaught ...` line the board printed. */
  lastUncaught: string | null = null;
  private nextId = 1;
  private rx = '';
  private waiter: Waiter | null = null;
  private lineListeners: ((line: string) => void)[] = [];
  private resetFlag = false;
  private closedErr: Error | null = null;

  constructor(
    private readonly t: Transport,
    private readonly trace?: (dir: 'tx' | 'rx', text: string) => void,
  ) {
    t.onData((chunk) => this.onData(chunk));
    t.onClose((err) => {
      this.closedErr = err ?? new Error('the serial port closed');
      this.waiter?.reject(new FlashError('E_NO_PORT', `lost the board: ${this.closedErr.message} (was it unplugged?)`));
    });
  }

  /** Calls `fn` with each complete output line (without CR/LF). Returns an unsubscribe function. */
  onLine(fn: (line: string) => void): () => void {
    this.lineListeners.push(fn);
    return () => {
      this.lineListeners = this.lineListeners.filter((f) => f !== fn);
    };
  }

  /** True once if a banner was seen since the last call. */
  takeReset(): boolean {
    const r = this.resetFlag;
    this.resetFlag = false;
    return r;
  }

  private onData(chunk: string): void {
    this.rx += chunk;
    let i: number;
    while ((i = this.rx.search(/[\r\n]/)) >= 0) {
      const line = this.rx.slice(0, i);
      this.rx = this.rx.slice(i + 1);
      if (line.length) this.onRxLine(line);
    }
    // A frame can end without a newline if the line ending was lost to noise: look in the rest too.
    if (this.rx.length > 65536) this.rx = this.rx.slice(-4096);
    if (this.waiter && this.rx.includes('>')) this.checkFrame(this.rx);
  }

  private onRxLine(line: string): void {
    this.trace?.('rx', line);
    if (/Uncaught /.test(line)) this.lastUncaught = line.slice(line.indexOf('Uncaught ')).trim();
    if (isBannerLine(line)) {
      this.resetFlag = true;
      this.stats.resetsSeen++;
      if (this.waiter) {
        const w = this.waiter;
        this.waiter = null;
        w.reject(new BoardResetError());
      }
    }
    this.checkFrame(line);
    for (const fn of this.lineListeners) fn(line);
  }

  private checkFrame(text: string): void {
    if (!this.waiter) return;
    const f = parseFrame(text);
    if (f && f.id === this.waiter.id) {
      const w = this.waiter;
      this.waiter = null;
      w.resolve(f.value);
    }
  }

  /** Writes raw bytes. */
  async send(data: string, secret = false): Promise<void> {
    if (this.closedErr) throw new FlashError('E_NO_PORT', `lost the board: ${this.closedErr.message}`);
    this.trace?.('tx', secret ? '<line with secrets not shown>' : data);
    this.stats.bytesSent += data.length;
    await this.t.write(data);
  }

  /** Evaluates `expr` on the board and returns its JSON value, retrying on timeout or noise. */
  async query<T>(expr: string, o: QueryOptions): Promise<T> {
    let lastErr: Error = new QueryTimeoutError(o.what, o.timeoutMs);
    for (let attempt = 0; attempt <= o.retries; attempt++) {
      if (attempt > 0) this.stats.retries++;
      const id = this.nextId++;
      const p = new Promise<unknown>((resolve, reject) => {
        this.waiter = { id, resolve, reject };
      });
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new QueryTimeoutError(o.what, o.timeoutMs)), o.timeoutMs);
      });
      try {
        if (o.chunkBytes !== undefined) {
          this.stats.chunkBytesSent += o.chunkBytes;
          this.stats.chunksSent++;
        }
        if (attempt > 0 || o.clearFirst) {
          await this.send(CTRL_C);
          await delay(50);
        }
        await this.send(framed(id, expr), o.secret);
        return (await Promise.race([p, timeout])) as T;
      } catch (e) {
        if (!(e instanceof QueryTimeoutError)) throw e;
        lastErr = e;
      } finally {
        clearTimeout(timer);
        if (this.waiter?.id === id) this.waiter = null;
      }
    }
    throw lastErr;
  }

  /**
   * Gets the REPL's attention: Ctrl-C clears any half-typed line, `echo(0)` stops echo and result
   * printing, then a no-op query proves that framed answers come back. Repeated with backoff.
   */
  async sync(o: { timeoutMs: number; attempts: number }): Promise<void> {
    let last: Error | null = null;
    for (let i = 0; i < o.attempts; i++) {
      await this.send(CTRL_C);
      await delay(100);
      await this.send(echoOff());
      try {
        const v = await this.query<number>(syncExpr(), { timeoutMs: o.timeoutMs, retries: 0, what: 'sync' });
        if (v === 1) {
          this.takeReset();
          return;
        }
      } catch (e) {
        if (e instanceof FlashError) throw e;
        last = e as Error;
      }
    }
    const why = this.lastUncaught ? ` The board said: ${this.lastUncaught}.` : '';
    throw new FlashError(
      'E_NO_REPL',
      `no Espruino REPL answered (${last?.message ?? 'no answer'}).${why} Check that the board runs Espruino firmware, the baud rate (--baud), and that no other program holds the port.`,
    );
  }
}

/** Promise-based sleep. */
export function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
