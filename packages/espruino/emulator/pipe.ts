// wgjs:host-only — Node test tooling, never bundled for the device.
import fs from 'node:fs';
/**
 * A UART direction: bytes queued by one side reach the other at baud/10 bytes per second (8N1:
 * ten bit times per byte), in chunks of at most `chunk` bytes, each chunk in its own event-loop
 * turn. Without a baud rate the bytes are not paced but still chunked.
 */
export interface PipeOptions {
  /** Bits per second; 0 or undefined = as fast as the event loop goes. */
  baud?: number;
  /** Largest delivery, bytes (default 32, what Espruino's Linux build hands out). */
  chunk?: number;
}

export class PacedPipe {
  private q: Buffer[] = [];
  private qoff = 0;
  private queued = 0;
  private timer: NodeJS.Timeout | NodeJS.Immediate | null = null;
  /** Time (performance.now()) at which the line is free again. */
  private free = 0;
  private closed = false;
  baud: number;
  readonly chunk: number;
  /** Bytes delivered so far. */
  delivered = 0;

  constructor(private readonly sink: (chunk: Buffer) => void, opts: PipeOptions = {}) {
    this.baud = opts.baud ?? 0;
    this.chunk = opts.chunk ?? 32;
  }

  write(data: Buffer): void {
    if (this.closed || data.length === 0) return;
    this.q.push(Buffer.from(data));
    this.queued += data.length;
    this.kick();
  }

  /** Bytes not delivered yet. */
  get backlog(): number {
    return this.queued;
  }

  /** Drops everything queued (a UART FIFO lost in a reset). */
  clear(): void {
    this.q = [];
    this.qoff = 0;
    this.queued = 0;
  }

  close(): void {
    this.closed = true;
    this.clear();
    if (this.timer) {
      clearTimeout(this.timer as NodeJS.Timeout);
      clearImmediate(this.timer as NodeJS.Immediate);
    }
    this.timer = null;
  }

  private take(n: number): Buffer {
    const parts: Buffer[] = [];
    let left = n;
    while (left > 0 && this.q.length) {
      const head = this.q[0]!;
      const k = Math.min(left, head.length - this.qoff);
      parts.push(head.subarray(this.qoff, this.qoff + k));
      this.qoff += k;
      left -= k;
      if (this.qoff === head.length) {
        this.q.shift();
        this.qoff = 0;
      }
    }
    this.queued -= n - left;
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  private kick(): void {
    if (this.timer || this.closed || this.queued === 0) return;
    if (!this.baud) {
      this.timer = setImmediate(() => this.pump());
      return;
    }
    const now = performance.now();
    if (this.free < now) this.free = now;
    this.timer = setTimeout(() => this.pump(), 0);
  }

  private pump(): void {
    this.timer = null;
    if (this.closed) return;
    if (!this.baud) {
      const c = this.take(Math.min(this.chunk, this.queued));
      this.delivered += c.length;
      this.sink(c);
      this.kick();
      return;
    }
    const perByte = 10000 / this.baud; // ms per byte
    const now = performance.now();
    // The chunk that finishes by `now` has gone out; deliver it (a UART delivers bytes as they complete).
    let sent = 0;
    while (this.queued > 0 && sent < 64) {
      const n = Math.min(this.chunk, this.queued);
      if (this.free + n * perByte > now + 0.5) break;
      this.free += n * perByte;
      const c = this.take(n);
      this.delivered += n;
      sent++;
      this.sink(c);
      if (this.closed) return;
    }
    if (this.queued > 0) {
      const n = Math.min(this.chunk, this.queued);
      const wait = Math.max(0, this.free + n * perByte - performance.now());
      this.timer = setTimeout(() => this.pump(), wait);
    }
  }
}

/**
 * Ordered writes to a file descriptor (a tty). Plain `fs.write` calls run on the thread pool and
 * may complete out of order, which scrambles a byte stream; this writes one buffer at a time.
 */
export class FdWriter {
  private q: Buffer[] = [];
  private busy = false;

  constructor(private fd: number) {}

  write(b: Buffer): void {
    if (this.fd < 0 || b.length === 0) return;
    this.q.push(b);
    this.pump();
  }

  close(): void {
    this.fd = -1;
    this.q = [];
  }

  private pump(): void {
    if (this.busy || this.fd < 0 || !this.q.length) return;
    this.busy = true;
    const b = this.q[0]!;
    fs.write(this.fd, b, 0, b.length, null, (err, n) => {
      this.busy = false;
      if (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') setTimeout(() => this.pump(), 1);
        else this.close();
        return;
      }
      if (n < b.length) this.q[0] = b.subarray(n);
      else this.q.shift();
      this.pump();
    });
  }
}
