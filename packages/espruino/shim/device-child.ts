// wgjs:host-only — Node test tooling, never bundled for the device.
/**
 * The device build in a child process: a modem emulator (its UDP socket bound where the test says,
 * e.g. inside a network namespace) and the Espruino shim running `dist/wgjs.js` unmodified on the
 * emulator's serial port, started with a config.
 *
 *   node --import tsx packages/espruino/shim/device-child.ts '<json options>'
 *
 * Options: { dialect, cfg, bind?, baud?, bundle?, storage? (file: JSON name -> base64, read at
 * start, written on 'stop'), bootTime? }.
 * stdout, one JSON object a line: every `WGJS` event as printed, `{"event":"udp",…}` for each
 * datagram the application receives, `{"event":"ready"}` once started, `{"event":"log","line"}`
 * for other console lines. stdin, one JSON command a line: {cmd:'send', dst, port, data, sport?},
 * {cmd:'reattach'}, {cmd:'status'}, {cmd:'stop'} (writes Storage, exits).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createEmulator } from '../emulator/index.js';
import { EspruinoShim } from './espruino.js';

interface ChildOptions {
  dialect: string;
  cfg: Record<string, unknown>;
  bind?: string;
  baud?: number;
  bundle?: string;
  storage?: string;
  bootTime?: number;
}

const here = path.dirname(fileURLToPath(import.meta.url));
const opts = JSON.parse(process.argv[2] ?? '{}') as ChildOptions;
const out = (o: object): void => {
  process.stdout.write(JSON.stringify(o) + '\n');
};

const storage = new Map<string, string>();
if (opts.storage && existsSync(opts.storage)) {
  const saved = JSON.parse(readFileSync(opts.storage, 'utf8')) as Record<string, string>;
  for (const [k, v] of Object.entries(saved)) storage.set(k, Buffer.from(v, 'base64').toString('latin1'));
}
function saveStorage(): void {
  if (!opts.storage) return;
  const o: Record<string, string> = {};
  for (const [k, v] of storage) o[k] = Buffer.from(v, 'latin1').toString('base64');
  writeFileSync(opts.storage, JSON.stringify(o));
}

const emu = createEmulator(opts.dialect, { baud: opts.baud, bindAddress: opts.bind });
const shim = new EspruinoShim({
  storage,
  serial: { Serial1: emu.serial() },
  bootTime: opts.bootTime ?? 0,
  log: (line) => {
    if (line.startsWith('WGJS ')) process.stdout.write(line.substring(5) + '\n');
    else out({ event: 'log', line });
  },
});
const bundle = opts.bundle ?? path.join(here, '../dist/wgjs.js');
shim.run(readFileSync(bundle, 'utf8'), 'wgjs.js');
const api = shim.wgjs as unknown as {
  start(cfg: unknown): void;
  sendUdp(dst: string, port: number, data: string, sport?: number): boolean;
  onUdp(cb: (d: Uint8Array, ip: string, sport: number, dport: number) => void): void;
  status(printIt?: boolean): unknown;
  stop(): void;
};
api.start(opts.cfg);
api.onUdp((d, ip, sport, dport) => out({ event: 'udp', from: ip, sport, dport, data: Buffer.from(d).toString('latin1') }));
out({ event: 'ready', publicPort: emu.publicPort });

function stop(): void {
  api.stop();
  shim.close();
  emu.close();
  saveStorage();
  out({ event: 'stopped' });
  process.exit(0);
}

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  let c: { cmd: string; dst?: string; port?: number; data?: string; sport?: number };
  try {
    c = JSON.parse(line) as typeof c;
  } catch {
    return;
  }
  if (c.cmd === 'send') out({ event: 'sent', ok: api.sendUdp(c.dst!, c.port!, c.data ?? '', c.sport) });
  else if (c.cmd === 'reattach') {
    emu.reattach();
    out({ event: 'reattaching' });
  } else if (c.cmd === 'status') api.status(true);
  else if (c.cmd === 'port') out({ event: 'port', publicPort: emu.publicPort });
  else if (c.cmd === 'stop') stop();
});
process.on('SIGTERM', () => {
  saveStorage();
  process.exit(0);
});
