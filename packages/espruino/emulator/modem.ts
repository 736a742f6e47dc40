// wgjs:host-only — Node test tooling, never bundled for the device.
/**
 * Base of the modem emulators: the UART side (command-line parser, echo, fixed-length data mode
 * after a `>` prompt, paced output), the emulated modem's "internet" (a real node:dgram socket,
 * bound on the host: datagrams the device sends leave from it, datagrams sent to it reach the
 * device), and fault injection. Dialects (simcom.ts, quectel.ts, espat.ts) implement the commands.
 *
 * Transports: `serial()` gives an in-memory serial port for the device code (the engine's
 * AtSerial); `attachTty(path)` serves a tty instead (one end of a socat pty pair), for the device
 * code running elsewhere (another process, or Espruino itself).
 */
import dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import tty from 'node:tty';
import type { AtSerial } from '../src/at.js';
import { FdWriter, PacedPipe } from './pipe.js';

export interface ModemEmulatorOptions {
  /** UART rate, both directions (bits/s); 0 or absent = unpaced (fast tests). */
  baud?: number;
  /** Largest chunk handed to the device at once (32). */
  chunk?: number;
  /** Command echo at power-up (true, as real modems: the driver sends ATE0). */
  echo?: boolean;
  /** Address the emulated modem's UDP socket binds to (127.0.0.1). */
  bindAddress?: string;
  /** Trace of the UART: 'rx' = from the device, 'tx' = to the device. */
  log?: (dir: 'rx' | 'tx', data: string) => void;
}

type Match = string | RegExp;

interface Fault {
  match: Match;
  kind: 'error' | 'silent' | 'urc';
  text: string;
  times: number;
}

/** Datagram queued inside the modem until the host reads it. */
export interface Datagram {
  data: Buffer;
  host: string;
  port: number;
}

function matches(m: Match, line: string): boolean {
  return typeof m === 'string' ? line.startsWith(m) : m.test(line);
}

/** Binary string (char code = byte) or bytes → Buffer. */
export function toBuffer(d: string | Uint8Array): Buffer {
  return typeof d === 'string' ? Buffer.from(d, 'latin1') : Buffer.from(d.buffer, d.byteOffset, d.byteLength);
}

/**
 * Events: 'command' (line) for every command line received, 'sent' (Datagram) for every datagram
 * the modem sent out, 'datagram' (Datagram) for every one it received.
 */
export abstract class ModemEmulator extends EventEmitter {
  abstract readonly dialect: string;
  protected echo: boolean;
  /** The modem-side address (what the carrier/AP assigned); changes on re-attach. */
  ip = '';
  /** Every command line received, in order. */
  readonly commands: string[] = [];
  protected udp: dgram.Socket | null = null;
  /** Filter for a connected socket (SIMCom): only datagrams from here are taken. */
  protected udpPeer: { host: string; port: number } | null = null;
  private readonly toDev: PacedPipe;
  private readonly toModem: PacedPipe;
  private devSink: ((b: Buffer) => void) | null = null;
  private ttyIn: tty.ReadStream | null = null;
  private ttyOut: FdWriter | null = null;
  private line = '';
  private dataLeft = 0;
  private dataParts: Buffer[] = [];
  private dataCb: ((data: Buffer) => void) | null = null;
  private busy = false;
  private waiting: string[] = [];
  private faults: Fault[] = [];
  private inject: string | null = null;
  private ipSeq = 0;
  private closed = false;
  protected timers = new Set<NodeJS.Timeout>();
  protected readonly opts: ModemEmulatorOptions;

  constructor(opts: ModemEmulatorOptions = {}) {
    super();
    this.opts = opts;
    this.echo = opts.echo ?? true;
    this.toDev = new PacedPipe((b) => this.devSink?.(b), { baud: opts.baud, chunk: opts.chunk });
    this.toModem = new PacedPipe((b) => this.input(b), { baud: opts.baud, chunk: 64 });
    this.ip = this.nextIp();
  }

  // ---------------------------------------------------------------------------------------------
  // Transports

  /** An in-memory serial port for the device side (one per emulator). */
  serial(): AtSerial & { close(): void } {
    const listeners: ((s: string) => void)[] = [];
    this.devSink = (b) => {
      const s = b.toString('latin1');
      for (const l of listeners) l(s);
    };
    return {
      write: (d: string | Uint8Array) => this.fromDevice(toBuffer(d)),
      on: (_ev: 'data', cb: (s: string) => void) => {
        listeners.push(cb);
      },
      close: () => {
        listeners.length = 0;
      },
    };
  }

  /** Serves the tty at `path` (e.g. one end of `socat pty,raw,echo=0 pty,raw,echo=0`). */
  attachTty(path: string): void {
    const fd = fs.openSync(path, fs.constants.O_RDWR | fs.constants.O_NOCTTY);
    const rs = new tty.ReadStream(fd);
    rs.setRawMode(true);
    rs.on('data', (d: Buffer) => this.fromDevice(d));
    rs.on('error', () => {});
    const w = new FdWriter(fd);
    this.ttyIn = rs;
    this.ttyOut = w;
    this.devSink = (b) => w.write(b);
  }

  /** Changes the UART rate (both directions). */
  setBaud(baud: number): void {
    (this.toDev as { baud: number }).baud = baud;
    (this.toModem as { baud: number }).baud = baud;
  }

  /** Bytes still queued towards the device. */
  get txBacklog(): number {
    return this.toDev.backlog;
  }

  private fromDevice(b: Buffer): void {
    if (this.closed) return;
    this.opts.log?.('rx', b.toString('latin1'));
    this.toModem.write(b);
  }

  /** Writes raw bytes to the device (through the paced UART). */
  protected out(data: string | Buffer): void {
    if (this.closed) return;
    const b = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
    this.opts.log?.('tx', b.toString('latin1'));
    this.toDev.write(b);
  }

  // ---------------------------------------------------------------------------------------------
  // Responses

  /** Writes information/result lines, each framed as <CR><LF>text<CR><LF>; a pending injected URC goes after the first. */
  protected respond(...lines: string[]): void {
    let s = '';
    lines.forEach((l, i) => {
      s += `\r\n${l}\r\n`;
      if (i === 0 && lines.length > 1) s += this.takeInjected();
    });
    if (lines.length === 1) s = this.takeInjected() + s;
    this.out(s);
  }

  /** The URC queued by `urcInResponse`, framed, or ''. */
  protected takeInjected(): string {
    const u = this.inject;
    this.inject = null;
    return u ? `\r\n${u}\r\n` : '';
  }

  /** An unsolicited result code. */
  urc(line: string): void {
    this.out(`\r\n${line}\r\n`);
  }

  protected ok(): void {
    this.respond('OK');
  }

  protected error(): void {
    this.respond('ERROR');
  }

  /** Sends the prompt and takes the next `n` bytes from the device as data. */
  protected expectData(prompt: string, n: number, cb: (data: Buffer) => void): void {
    this.dataLeft = n;
    this.dataParts = [];
    this.dataCb = cb;
    this.out(prompt);
  }

  // ---------------------------------------------------------------------------------------------
  // Command input

  private input(b: Buffer): void {
    let i = 0;
    while (i < b.length && !this.closed) {
      if (this.dataLeft > 0) {
        const k = Math.min(this.dataLeft, b.length - i);
        this.dataParts.push(b.subarray(i, i + k));
        this.dataLeft -= k;
        i += k;
        if (this.dataLeft === 0) {
          const cb = this.dataCb!;
          this.dataCb = null;
          cb(Buffer.concat(this.dataParts));
        }
        continue;
      }
      const c = b[i++]!;
      if (c === 0x0d) {
        const line = this.line;
        this.line = '';
        if (this.echo) this.out(line + '\r');
        if (line.length) this.queueLine(line);
      } else if (c !== 0x0a) {
        this.line = this.line.length > 1024 ? '' : this.line + String.fromCharCode(c);
      }
    }
  }

  private queueLine(line: string): void {
    if (this.busy) {
      this.waiting.push(line);
      return;
    }
    this.runLine(line);
  }

  private runLine(raw: string): void {
    // Tolerate garbage before "AT" on the line, as modems do.
    const at = raw.toUpperCase().indexOf('AT');
    if (at < 0) return;
    const line = raw.substring(at);
    this.commands.push(line);
    this.emit('command', line);
    const f = this.faults.find((x) => x.times > 0 && matches(x.match, line));
    if (f) {
      f.times--;
      if (f.kind === 'silent') return;
      if (f.kind === 'error') {
        this.respond(f.text);
        return;
      }
      this.inject = f.text;
    }
    if (this.common(line)) return;
    if (!this.handle(line)) this.error();
  }

  /** Marks the command being handled as asynchronous; call `done()` when it has answered. */
  protected hold(): void {
    this.busy = true;
  }

  protected done(): void {
    this.busy = false;
    while (!this.busy && this.waiting.length) this.runLine(this.waiting.shift()!);
  }

  private common(line: string): boolean {
    const u = line.toUpperCase();
    if (u === 'AT') this.ok();
    else if (u === 'ATE0' || u === 'ATE1') {
      this.echo = u === 'ATE1';
      this.ok();
    } else if (u.startsWith('AT+CMEE=') || u === 'ATI' || u === 'AT&W') this.ok();
    else return false;
    return true;
  }

  /** Handles one command line (already echoed); returns false for an unknown command (ERROR). */
  protected abstract handle(line: string): boolean;

  // ---------------------------------------------------------------------------------------------
  // Network

  /** Next modem-side address: 10.64.0.2, 10.64.0.3, … */
  protected nextIp(): string {
    this.ipSeq++;
    return `10.64.${this.ipSeq >> 8}.${(this.ipSeq & 255) + 1}`;
  }

  /** The public UDP port (what the peer sees as source port), 0 when no socket is open. */
  get publicPort(): number {
    return this.udp ? (this.udp.address() as { port: number }).port : 0;
  }

  /** Opens the emulated modem's socket on a fresh port. */
  protected openUdp(cb: (err: Error | null) => void): void {
    this.closeUdp();
    const s = dgram.createSocket('udp4');
    this.udp = s;
    s.on('message', (msg, rinfo) => {
      if (this.udp !== s || this.closed) return;
      if (this.udpPeer && (rinfo.address !== this.udpPeer.host || rinfo.port !== this.udpPeer.port)) return;
      const d: Datagram = { data: msg, host: rinfo.address, port: rinfo.port };
      this.emit('datagram', d);
      this.received(d);
    });
    s.on('error', (e) => cb(e));
    s.bind(0, this.opts.bindAddress ?? '127.0.0.1', () => cb(null));
  }

  protected closeUdp(): void {
    const s = this.udp;
    this.udp = null;
    this.udpPeer = null;
    if (s) {
      try {
        s.close();
      } catch {
        /* already closed */
      }
    }
  }

  protected sendUdp(data: Buffer, host: string, port: number): void {
    const d: Datagram = { data: Buffer.from(data), host, port };
    this.emit('sent', d);
    this.udp?.send(d.data, port, host);
  }

  /** A datagram arrived from the network. */
  protected abstract received(d: Datagram): void;

  /** Runs `fn` after `ms` unless the emulator is closed. */
  protected later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.closed) fn();
    }, ms);
    this.timers.add(t);
  }

  // ---------------------------------------------------------------------------------------------
  // Fault injection

  /** The next `times` commands starting with (or matching) `match` get `reply` (ERROR) instead of running. */
  failNext(match: Match, reply = 'ERROR', times = 1): void {
    this.faults.push({ match, kind: 'error', text: reply, times });
  }

  /** The next `times` matching commands get no answer at all (the host times out). */
  dropNext(match: Match, times = 1): void {
    this.faults.push({ match, kind: 'silent', text: '', times });
  }

  /** The next matching command runs, with `urc` written in the middle of its response. */
  urcInResponse(match: Match, urc: string): void {
    this.faults.push({ match, kind: 'urc', text: urc, times: 1 });
  }

  /** Writes `bytes` of line noise to the device now. */
  garbage(bytes: string | Uint8Array): void {
    this.out(toBuffer(bytes));
  }

  /**
   * Network re-attach: the bearer drops (dialect URCs), the socket closes, and once the driver
   * brings things back the modem has a new address and its UDP socket a new public port.
   */
  abstract reattach(): void;

  /** Modem restart: all state lost, echo back on, boot messages after `ms`. */
  reboot(ms = 20): void {
    this.closeUdp();
    this.toDev.clear();
    this.line = '';
    this.dataLeft = 0;
    this.dataCb = null;
    this.busy = false;
    this.waiting = [];
    this.echo = true;
    this.resetState();
    this.later(ms, () => this.bootMessages());
  }

  protected abstract resetState(): void;
  protected abstract bootMessages(): void;

  /** Stops everything (socket, pipes, tty). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.closeUdp();
    this.toDev.close();
    this.toModem.close();
    if (this.ttyIn) {
      this.ttyOut!.close();
      this.ttyIn.destroy();
      this.ttyIn = null;
      this.ttyOut = null;
    }
    this.removeAllListeners();
  }
}
