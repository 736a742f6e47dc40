// wgjs:host-only
/**
 * Byte transports under the REPL session: a serial port (the `serialport` package), or a recorder
 * used by `--dry-run`. Bytes are handled as Latin-1 strings so every value 0–255 survives.
 */
import { existsSync } from 'node:fs';
import { SerialPort } from 'serialport';
import { FlashError } from './errors.js';

/** What the session needs from a link to the board. */
export interface Transport {
  /** Sends bytes (a Latin-1 string); resolves once handed to the OS. */
  write(data: string): Promise<void>;
  /** Registers the receiver of incoming bytes (Latin-1). */
  onData(cb: (chunk: string) => void): void;
  /** Registers a handler for the link closing or failing. */
  onClose(cb: (err?: Error) => void): void;
  close(): Promise<void>;
}

/** Serial options. Software flow control (XON/XOFF) is what Espruino's own UART console uses. */
export interface SerialOptions {
  path: string;
  baudRate: number;
  flowControl: boolean;
}

/** Opens a serial port, turning the usual failures into messages that say what to do. */
export async function openSerial(opts: SerialOptions): Promise<Transport> {
  if (!existsSync(opts.path)) {
    let hint = '';
    try {
      const ports = await SerialPort.list();
      hint = ports.length
        ? ` Ports present: ${ports.map((p) => p.path + (p.manufacturer ? ` (${p.manufacturer})` : '')).join(', ')}.`
        : ' No serial ports are present: is the board plugged in, with a data (not charge-only) cable?';
    } catch {
      /* listing is only a hint */
    }
    throw new FlashError('E_NO_PORT', `no board at ${opts.path}: that port does not exist.${hint}`);
  }
  const port = new SerialPort({
    path: opts.path,
    baudRate: opts.baudRate,
    xon: opts.flowControl,
    xoff: opts.flowControl,
    autoOpen: false,
  });
  await new Promise<void>((resolve, reject) => {
    port.open((err) => {
      if (!err) return resolve();
      const msg = err.message;
      if (/permission denied|EACCES/i.test(msg)) {
        reject(new FlashError('E_NO_PORT', `cannot open ${opts.path}: permission denied. On Linux add yourself to the "dialout" group (sudo usermod -aG dialout $USER, then log in again).`));
      } else if (/lock|busy|EBUSY/i.test(msg)) {
        reject(new FlashError('E_NO_PORT', `cannot open ${opts.path}: it is in use by another program (the Espruino IDE, screen, minicom?). Close it and retry.`));
      } else {
        reject(new FlashError('E_NO_PORT', `cannot open ${opts.path}: ${msg}`));
      }
    });
  });
  const closeHandlers: ((err?: Error) => void)[] = [];
  port.on('close', (err?: Error) => closeHandlers.forEach((h) => h(err ?? undefined)));
  port.on('error', (err: Error) => closeHandlers.forEach((h) => h(err)));
  return {
    write(data: string): Promise<void> {
      return new Promise((resolve, reject) => {
        port.write(Buffer.from(data, 'latin1'), (err) => (err ? reject(err) : undefined));
        port.drain((err) => (err ? reject(err) : resolve()));
      });
    },
    onData(cb) {
      port.on('data', (b: Buffer) => cb(b.toString('latin1')));
    },
    onClose(cb) {
      closeHandlers.push(cb);
    },
    close(): Promise<void> {
      return new Promise((resolve) => {
        if (!port.isOpen) return resolve();
        port.close(() => resolve());
      });
    },
  };
}
