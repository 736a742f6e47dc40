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
export { Sim7000Emulator } from './sim7000.js';
export type { Sim7000EmulatorOptions } from './sim7000.js';
export { Sim7600Emulator } from './sim7600.js';
export type { Sim7600EmulatorOptions } from './sim7600.js';
export { TtySerial, findSocat, socatPair } from './pty.js';
export type { PtyPair } from './pty.js';

import type { ModemEmulator, ModemEmulatorOptions } from './modem.js';
import { SimcomEmulator } from './simcom.js';
import { QuectelEmulator } from './quectel.js';
import { EspAtEmulator } from './espat.js';
import { Sim7000Emulator } from './sim7000.js';
import { Sim7600Emulator } from './sim7600.js';

/** Makes the emulator of a dialect by name: 'simcom' | 'sim7000' | 'sim7600' | 'quectel' | 'espat'. */
export function createEmulator(dialect: string, opts: ModemEmulatorOptions = {}): ModemEmulator {
  if (dialect === 'simcom') return new SimcomEmulator(opts);
  if (dialect === 'sim7000') return new Sim7000Emulator(opts);
  if (dialect === 'sim7600') return new Sim7600Emulator(opts);
  if (dialect === 'quectel') return new QuectelEmulator(opts);
  if (dialect === 'espat') return new EspAtEmulator(opts);
  throw new Error(`unknown dialect ${dialect}`);
}
