// wgjs:host-only — Node test tooling, never bundled for the device.
/**
 * Pseudo-terminal plumbing: a socat-made pair of linked ptys (one end for the modem emulator, the
 * other for the device code), and a Node serial port on a tty for device code run under Node.
 */
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tty from 'node:tty';
import type { AtSerial } from '../src/at.js';
import { toBuffer } from './modem.js';
import { FdWriter } from './pipe.js';

/** Path of socat, or null when it is not installed. */
export function findSocat(): string | null {
  try {
    return execFileSync('sh', ['-c', 'command -v socat'], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

export interface PtyPair {
  /** Tty for the modem emulator. */
  modem: string;
  /** Tty for the device (e.g. Espruino's `Serial1.setup(115200, {path})`). */
  device: string;
  /** Kills socat and removes the links. */
  close(): Promise<void>;
}

/** Starts `socat -d -d pty,raw,echo=0 pty,raw,echo=0` with stable symlinks in a temp dir. */
export async function socatPair(timeoutMs = 5000): Promise<PtyPair> {
  const socat = findSocat();
  if (!socat) throw new Error('socat is not installed');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wgjs-pty-'));
  const modem = path.join(dir, 'modem');
  const device = path.join(dir, 'device');
  const child: ChildProcess = spawn(
    socat,
    ['-d', '-d', `pty,raw,echo=0,link=${modem}`, `pty,raw,echo=0,link=${device}`],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  child.stderr!.on('data', (d: Buffer) => {
    log += d.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const close = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  const t0 = Date.now();
  while (!/starting data transfer loop/.test(log) || !fs.existsSync(modem) || !fs.existsSync(device)) {
    if (child.exitCode !== null || Date.now() - t0 > timeoutMs) {
      await close();
      throw new Error(`socat did not start: ${log}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return { modem, device, close };
}

/** A serial port on a tty, for device code running under Node (the engine's AtSerial). */
export class TtySerial implements AtSerial {
  private rs: tty.ReadStream;
  private w: FdWriter;

  constructor(ttyPath: string) {
    const fd = fs.openSync(ttyPath, fs.constants.O_RDWR | fs.constants.O_NOCTTY);
    this.rs = new tty.ReadStream(fd);
    this.rs.setRawMode(true);
    this.rs.on('error', () => {});
    this.w = new FdWriter(fd);
  }

  write(data: string | Uint8Array): void {
    // Copy: the caller may reuse its buffer before the asynchronous write runs.
    this.w.write(Buffer.from(toBuffer(data)));
  }

  on(_event: 'data', cb: (chunk: string) => void): void {
    this.rs.on('data', (d: Buffer) => cb(d.toString('latin1')));
  }

  close(): void {
    this.w.close();
    this.rs.destroy();
  }
}
