// wgjs:host-only — Node test tooling, never bundled for the device.
/** Modem emulators for the device-side AT drivers (see ../README.md, "Modem drivers"). */
export { ModemEmulator, toBuffer } from './modem.js';
export type { Datagram, ModemEmulatorOptions } from './modem.js';
export { PacedPipe } from './pipe.js';
export type { PipeOptions } from './pipe.js';
export { SimcomEmulator } from './simcom.js';
export type { SimcomEmulatorOptions } from './simcom.js';
export { QuectelEmulator } from './quectel.js';
export { EspAtEmulator } from './espat.js';
export type { EspAtEmulatorOptions } from './espat.js';
export { TtySerial, findSocat, socatPair } from './pty.js';
export type { PtyPair } from './pty.js';

import type { ModemEmulatorOptions } from './modem.js';
import { SimcomEmulator } from './simcom.js';
import { QuectelEmulator } from './quectel.js';
import { EspAtEmulator } from './espat.js';

/** Makes the emulator of a dialect by name: 'simcom' | 'quectel' | 'espat'. */
export function createEmulator(dialect: string, opts: ModemEmulatorOptions = {}): SimcomEmulator | QuectelEmulator | EspAtEmulator {
  if (dialect === 'simcom') return new SimcomEmulator(opts);
  if (dialect === 'quectel') return new QuectelEmulator(opts);
  if (dialect === 'espat') return new EspAtEmulator(opts);
  throw new Error(`unknown dialect ${dialect}`);
}
