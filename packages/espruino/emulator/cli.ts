// wgjs:host-only — Node test tooling, never bundled for the device.
/**
 * Runs a modem emulator on a pseudo-terminal, for device code running elsewhere (Espruino's Linux
 * build: `Serial1.setup(115200, {path: '<device tty>'})`, or a USB-serial adapter's tty).
 *
 *   npx tsx packages/espruino/emulator/cli.ts --dialect quectel [--baud 115200] [--tty PATH]
 *       [--echo] [--log]
 *
 * Without --tty it makes a socat pty pair and prints the tty to give the device. --echo starts a
 * UDP echo peer on 127.0.0.1 and prints its port. Then it reads fault commands on stdin:
 * `reattach`, `reboot`, `garbage`, `error <command prefix>`, `drop <command prefix>`,
 * `urc <command prefix> <urc text>`, `quit`.
 */
import dgram from 'node:dgram';
import readline from 'node:readline';
import { createEmulator, socatPair } from './index.js';
import type { PtyPair } from './index.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
}
const flag = (name: string): boolean => process.argv.includes(`--${name}`);

const dialect = arg('dialect') ?? 'quectel';
const baud = Number(arg('baud') ?? 115200);
const log = flag('log')
  ? (dir: 'rx' | 'tx', data: string) => console.log(`${dir === 'rx' ? '<<' : '>>'} ${JSON.stringify(data)}`)
  : undefined;
const emu = createEmulator(dialect, { baud, log });
let pair: PtyPair | null = null;
let tty = arg('tty');
if (!tty) {
  pair = await socatPair();
  tty = pair.device;
  emu.attachTty(pair.modem);
} else {
  emu.attachTty(tty);
}
console.log(`${dialect} emulator at ${baud} baud; device tty: ${tty}`);
emu.on('sent', (d: { data: Buffer; host: string; port: number }) =>
  console.log(`modem sent ${d.data.length} bytes to ${d.host}:${d.port} from public port ${emu.publicPort}`),
);
let peer: dgram.Socket | null = null;
if (flag('echo')) {
  const p = dgram.createSocket('udp4');
  peer = p;
  p.on('message', (m, r) => p.send(m, r.port, r.address));
  await new Promise<void>((res) => p.bind(0, '127.0.0.1', () => res()));
  console.log(`UDP echo peer at 127.0.0.1:${p.address().port}`);
}

let quitting = false;
async function quit(): Promise<void> {
  if (quitting) return;
  quitting = true;
  emu.close();
  peer?.close();
  await pair?.close();
  process.exit(0);
}
process.on('SIGINT', () => void quit());
const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const [cmd, a, ...rest] = line.trim().split(/\s+/);
  if (cmd === 'reattach') emu.reattach();
  else if (cmd === 'reboot') emu.reboot();
  else if (cmd === 'garbage') emu.garbage(new Uint8Array([0xff, 0x00, 0x0d, 0x3e, 0x2b, 0x49, 0x50, 0x44, 0x0a]));
  else if (cmd === 'error' && a) emu.failNext(a);
  else if (cmd === 'drop' && a) emu.dropNext(a);
  else if (cmd === 'urc' && a) emu.urcInResponse(a, rest.join(' '));
  else if (cmd === 'quit') void quit();
  else console.log('commands: reattach | reboot | garbage | error <cmd> | drop <cmd> | urc <cmd> <text> | quit');
});
rl.on('close', () => void quit());
