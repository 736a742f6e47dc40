// wgjs:host-only
/**
 * `wgjs-flash`: from a board on a USB cable to a WireGuard peer online in one command.
 *
 *   wgjs-flash --port /dev/ttyUSB0 --board hardware/esp32-sim7000 --config device.conf
 *   wgjs-flash --board hardware/esp32-sim7000 --config device.conf --dry-run out.txt
 *   wgjs-flash monitor --port /dev/ttyUSB0
 *
 * stdout carries only the device's public key and the server's [Peer] block; everything else
 * (progress, board facts, device events, errors) goes to stderr. Private keys are never printed.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  buildDeviceConfig,
  loadProfile,
  parseAppJson,
  pinValue,
  readConfigFile,
  readKeyFile,
  readText,
  resolveDeviceKey,
  serverPeerBlock,
  type BoardProfile,
  type ConfigInput,
  type DeviceConfigJson,
  type DeviceKey,
} from './config.js';
import { EXIT_CODES, FlashError } from './errors.js';
import {
  BOOT_CODE,
  BOOT_FILE,
  BUILD_FILE,
  CONFIG_FILE,
  DEFAULT_SETTINGS,
  renderDryRun,
  runFlash,
  storageCost,
  type FlashFile,
  type FlashResult,
  type FlashSettings,
} from './flash.js';
import { describeEvent, runMonitor } from './monitor.js';
import { ProgressBar } from './progress.js';
import { Redactor, Secret } from './redact.js';
import { ReplSession, type SessionStats } from './session.js';
import { openSerial, type Transport } from './transport.js';

/** Where `pnpm --filter @wgjs/espruino build` puts the builds. */
export const DIST_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../dist');

/**
 * The build flashed by default: the per-board build of the modem's dialect,
 * `dist/wgjs-<dialect>.js` (one driver, no bench or test hook: the least RAM), which
 * `pnpm --filter @wgjs/espruino build` produces for every dialect.
 */
export function defaultBuild(dialect: string): string {
  return path.join(DIST_DIR, `wgjs-${dialect}.js`);
}

/** Streams the CLI writes to (injectable for tests). */
export interface CliIo {
  stdout: { write(s: string): unknown; isTTY?: boolean };
  stderr: { write(s: string): unknown; isTTY?: boolean };
  stdin?: NodeJS.ReadStream;
  /** Overrides of the flash settings (tests shorten timeouts). */
  settings?: Partial<FlashSettings>;
  /** Receives the result and session counters (tests). */
  onResult?: (r: { result?: FlashResult; stats?: SessionStats; publicKey?: string }) => void;
  /** Aborts a run (tests simulate an interrupted upload). */
  signal?: AbortSignal;
}

const USAGE = `Usage:
  wgjs-flash --port <tty> --board <hardware/board> [--config <device.conf>] [options]
  wgjs-flash --board <hardware/board> --config <device.conf> --dry-run <out.txt>
  wgjs-flash monitor --port <tty> [--baud N] [--duration S] [--raw]

Device config (a wg-quick-style file with [Interface], [Peer] and optional [Modem], or flags):
  --config FILE              [Interface] PrivateKey/Address, [Peer] PublicKey/PresharedKey/Endpoint/
                             AllowedIPs/PersistentKeepalive, [Modem] Dialect/Serial/Baud/Tx/Rx/PwrKey/
                             Reset/APN/SSID/WifiPassword, [App] Json
  --key-file FILE            device private key (base64); created with a new key if missing
  --address CIDR             device tunnel address, e.g. 10.0.0.2/32
  --peer-public-key KEY      server public key
  --preshared-key-file FILE  preshared key (base64), read from a file so it stays out of ps/history
  --endpoint HOST:PORT       server endpoint
  --allowed-ips LIST         comma-separated prefixes routed to the server, e.g. 10.0.0.0/24
  --keepalive N|auto|off     persistent keepalive (default auto)
  --dialect simcom|sim7000|sim7600|quectel|espat  --serial SerialN  --modem-baud N  --tx PIN  --rx PIN
  --pwrkey PIN  --reset-pin PIN  --apn APN  --ssid SSID  --wifi-password-file FILE  --app-json FILE
                             override the board profile's [Modem] wiring and settings

Board and link:
  --port TTY                 serial port of the board (e.g. /dev/ttyUSB0, /dev/ttyACM0)
  --board DIR|FILE|NAME      board profile: hardware/<board> (or its profile.json)
  --build FILE               device build (default packages/espruino/dist/wgjs-<dialect>.js, the
                             per-board build of the modem's dialect)
  --baud N                   console baud rate (default 115200; ignored by USB CDC boards)
  --no-flow-control          disable XON/XOFF
  --chunk-size N             bytes per upload line (default 1024)
  --timeout MS               answer timeout per command (default 3000)
  --handshake-timeout S      wait for the first handshake (default 300)
  --no-wait                  restart the board but do not wait for the handshake
  --min-free-vars N          JsVars the build needs free after reset() (default 3000)
  --skip-board-check         accept a board whose BOARD differs from the profile
  --no-reset                 do not reset() the board before probing it
  --dry-run FILE             write the bytes that would be sent to FILE; needs no board
  --dry-run-secrets          include the config (with the private key) in the dry-run file
  --verbose                  log the serial traffic (secret lines are never shown)
  --quiet                    only errors and the [Peer] block
`;

type Values = Record<string, string | boolean | undefined>;

function parse(argv: string[]): { command: 'flash' | 'monitor' | 'help'; v: Values } {
  let command: 'flash' | 'monitor' | 'help' = 'flash';
  const args = [...argv];
  if (args[0] === 'monitor') {
    command = 'monitor';
    args.shift();
  } else if (args[0] === 'flash') args.shift();
  const str = { type: 'string' } as const;
  const bool = { type: 'boolean' } as const;
  let v: Values;
  try {
    v = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        port: str, board: str, config: str, 'key-file': str, build: str, baud: str,
        address: str, 'peer-public-key': str, 'preshared-key-file': str, endpoint: str, 'allowed-ips': str, keepalive: str,
        dialect: str, serial: str, 'modem-baud': str, tx: str, rx: str, pwrkey: str, 'reset-pin': str,
        apn: str, ssid: str, 'wifi-password-file': str, 'app-json': str,
        'no-flow-control': bool, 'chunk-size': str, timeout: str, 'handshake-timeout': str, 'no-wait': bool,
        'min-free-vars': str, 'skip-board-check': bool, 'no-reset': bool,
        'dry-run': str, 'dry-run-secrets': bool, verbose: bool, quiet: bool,
        duration: str, raw: bool, help: { type: 'boolean', short: 'h' },
      },
    }).values as Values;
  } catch (e) {
    throw new FlashError('E_USAGE', `${(e as Error).message} (wgjs-flash --help shows the usage)`);
  }
  if (v.help) command = 'help';
  return { command, v };
}

function num(v: Values, k: string, min: number, max: number): number | undefined {
  const s = v[k];
  if (s === undefined) return undefined;
  const n = Number(s);
  if (typeof s !== 'string' || !Number.isFinite(n) || n < min || n > max) throw new FlashError('E_USAGE', `--${k} must be a number between ${min} and ${max}`);
  return n;
}

/** Everything needed to flash, prepared without touching the board. */
export interface Prepared {
  profile: BoardProfile;
  /** Path of the device build. */
  build: string;
  key: DeviceKey;
  config: DeviceConfigJson;
  files: FlashFile[];
}

/** Reads the profile, config, key and build; validates them; builds the three Storage files. */
export function prepare(v: Values, warn: (m: string) => void): Prepared {
  if (typeof v.board !== 'string') throw new FlashError('E_USAGE', `--board is required (e.g. --board hardware/esp32-sim7000) (wgjs-flash --help shows the usage)`);
  const profile = loadProfile(v.board);
  const input: ConfigInput = typeof v.config === 'string' ? readConfigFile(v.config, warn) : { modem: {} };
  const s = (k: string): string | undefined => (typeof v[k] === 'string' ? (v[k] as string) : undefined);
  if (s('address')) input.address = s('address');
  if (s('peer-public-key')) input.peerPublicKey = s('peer-public-key');
  if (s('preshared-key-file')) input.presharedKey = readKeyFile(s('preshared-key-file')!, 'preshared key');
  if (s('endpoint')) input.endpoint = s('endpoint');
  if (s('allowed-ips')) input.allowedIPs = s('allowed-ips')!.split(',').map((x) => x.trim()).filter(Boolean);
  if (s('keepalive')) input.persistentKeepalive = s('keepalive');
  if (s('dialect')) input.modem.dialect = s('dialect');
  if (s('serial')) input.modem.serial = s('serial');
  if (s('modem-baud')) input.modem.baud = Number(s('modem-baud'));
  for (const [flag, key] of [['tx', 'tx'], ['rx', 'rx'], ['pwrkey', 'pwrkey'], ['reset-pin', 'reset']] as const) {
    if (s(flag)) input.modem[key] = pinValue(s(flag)!);
  }
  if (s('apn') !== undefined) input.apn = s('apn');
  if (s('ssid') !== undefined) input.ssid = s('ssid');
  if (s('wifi-password-file')) input.wifiPassword = new Secret(readText(s('wifi-password-file')!, 'Wi-Fi password file').replace(/\r?\n$/, ''));
  if (s('app-json')) input.app = parseAppJson(readText(s('app-json')!, 'application JSON file'), s('app-json')!);

  const key = resolveDeviceKey(input, s('key-file'));
  const config = buildDeviceConfig(input, profile, key, warn);

  const dialect = config.modem.dialect;
  const buildPath = s('build') ?? defaultBuild(dialect);
  if (!existsSync(buildPath)) {
    throw new FlashError(
      'E_BUILD',
      `device build for the ${dialect} modem not found at ${buildPath}: run \`pnpm --filter @wgjs/espruino build\` (every board build) ` +
        `or \`pnpm --filter @wgjs/espruino build -- --dialect ${dialect}\`, or pass --build FILE`,
    );
  }
  // A per-board build holds one driver: the device could not start with another dialect.
  const other = /^wgjs-([a-z0-9]+)(?:-bench)?\.js$/.exec(path.basename(buildPath));
  if (other && other[1] !== dialect) {
    throw new FlashError('E_BUILD', `${buildPath} is the build for the ${other[1]} modem, but the modem dialect is ${dialect}: pass --build ${defaultBuild(dialect)} (or leave --build out)`);
  }
  let build: Buffer;
  try {
    build = readFileSync(buildPath);
  } catch (e) {
    throw new FlashError('E_BUILD', `cannot read the device build ${buildPath}: ${(e as Error).message}`);
  }
  if (build.length === 0) throw new FlashError('E_BUILD', `device build ${buildPath} is empty`);
  const files: FlashFile[] = [
    { name: BUILD_FILE, data: build, secret: false },
    { name: CONFIG_FILE, data: Buffer.from(JSON.stringify(config), 'utf8'), secret: true },
    { name: BOOT_FILE, data: Buffer.from(BOOT_CODE, 'latin1'), secret: false },
  ];
  const need = files.reduce((a, f) => a + storageCost(f.data.length), 0);
  if (need > profile.storageBytes) {
    throw new FlashError(
      'E_STORAGE',
      `not enough Storage: the build and config need ${need} bytes but ${profile.name} has ${profile.storageBytes} bytes of Storage in total (see hardware/README.md for boards with more)`,
    );
  }
  return { profile, build: buildPath, key, config, files };
}

function settingsFrom(v: Values, base: Partial<FlashSettings> | undefined): FlashSettings {
  const s: FlashSettings = { ...DEFAULT_SETTINGS, ...base };
  const chunk = num(v, 'chunk-size', 64, 4096);
  if (chunk !== undefined) s.chunkSize = chunk;
  const t = num(v, 'timeout', 100, 600000);
  if (t !== undefined) s.queryTimeoutMs = t;
  const h = num(v, 'handshake-timeout', 1, 86400);
  if (h !== undefined) s.handshakeTimeoutMs = h * 1000;
  const mv = num(v, 'min-free-vars', 0, 1_000_000);
  if (mv !== undefined) s.minFreeVars = mv;
  if (v['no-wait']) s.waitHandshake = false;
  if (v['skip-board-check']) s.checkBoard = false;
  if (v['no-reset']) s.resetFirst = false;
  return s;
}

/** Shows control characters in traffic logs. */
function visible(s: string): string {
  return s.replace(/[\x00-\x1f\x7f-\xff]/g, (c) => (c === '\n' ? '\\n' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`));
}

/** Runs the CLI; returns the process exit status. */
export async function main(argv: string[], io: CliIo): Promise<number> {
  const redactor = new Redactor();
  let progress: ProgressBar | null = null;
  const err = (m: string): void => {
    progress?.clear();
    io.stderr.write(redactor.apply(m) + '\n');
  };
  let quiet = false;
  const info = (m: string): void => {
    if (!quiet) err(`wgjs-flash: ${m}`);
  };
  const warn = (m: string): void => err(`wgjs-flash: warning: ${m}`);
  try {
    const { command, v } = parse(argv);
    quiet = Boolean(v.quiet);
    if (command === 'help') {
      io.stdout.write(USAGE);
      return 0;
    }
    const baud = num(v, 'baud', 300, 4_000_000) ?? 115200;
    if (command === 'monitor') {
      if (typeof v.port !== 'string') throw new FlashError('E_USAGE', `--port is required (wgjs-flash --help shows the usage)`);
      const t = await openSerial({ path: v.port, baudRate: baud, flowControl: !v['no-flow-control'] });
      info(`monitoring ${v.port} at ${baud} baud${io.stdin?.isTTY ? ' (Ctrl-] quits)' : ''}`);
      const dur = num(v, 'duration', 0, 1e7);
      const sum = await runMonitor(t, io.stdout, { durationMs: (dur ?? 0) * 1000, raw: Boolean(v.raw), interactive: true }, io.stdin);
      await t.close();
      info(`${sum.lines} lines, ${sum.handshakes} handshake(s), ${sum.errors} error(s)${sum.lastStatus ? `; last status: ${describeEvent(sum.lastStatus)}` : ''}`);
      return 0;
    }

    const settings = settingsFrom(v, io.settings);
    const prep = prepare(v, warn);
    for (const s of [prep.key.privateKey, prep.config.peer.presharedKey, prep.config.modem.wifiPassword]) if (s) redactor.add(s);
    for (const f of prep.files) if (f.secret) redactor.add(f.data.toString('base64'));
    if (prep.key.source === 'generated') warn('generated a new device key; it exists only on the board. Pass --key-file FILE to keep a copy for re-flashing');
    if (prep.key.source === 'generated-saved') info(`generated a new device key, saved to ${String(v['key-file'])} (mode 600)`);
    const peerBlock = (): void => {
      progress?.clear();
      io.stdout.write(
        `Device public key: ${prep.key.publicKey}\n\n` +
          `Add this to the server's WireGuard config (e.g. /etc/wireguard/wg0.conf), then reload it (wg syncconf):\n\n` +
          serverPeerBlock(prep.config, prep.key.publicKey, prep.profile) +
          '\n',
      );
    };

    if (typeof v['dry-run'] === 'string') {
      const secrets = Boolean(v['dry-run-secrets']);
      const header = [
        `wgjs-flash dry run for ${prep.profile.name} (BOARD ${prep.profile.board}): the bytes sent to a fresh board, assuming every answer is positive.`,
        'Each line starts with DLE (0x10) so the board does not echo it; these comment lines are harmless if replayed.',
        secrets
          ? `WARNING: this file contains ${CONFIG_FILE} with the device PRIVATE KEY (base64 inside the atob() lines). Keep it secret.`
          : `${CONFIG_FILE} lines are left out because they contain the device private key (--dry-run-secrets includes them). Its content, keys redacted:`,
      ];
      if (!secrets) header.push(JSON.stringify({ ...prep.config, privateKey: '<redacted>', peer: { ...prep.config.peer, ...(prep.config.peer.presharedKey ? { presharedKey: '<redacted>' } : {}) }, modem: { ...prep.config.modem, ...(prep.config.modem.wifiPassword !== undefined ? { wifiPassword: '<redacted>' } : {}) } }));
      const text = renderDryRun(prep.files, settings, header, secrets);
      writeFileSync(v['dry-run'], Buffer.from(text, 'latin1'), { mode: secrets ? 0o600 : 0o644 });
      info(`dry run: ${text.length} bytes written to ${v['dry-run']} (${prep.files.map((f) => `${f.name} ${f.data.length} B`).join(', ')}; build ${prep.build})`);
      peerBlock();
      io.onResult?.({ publicKey: prep.key.publicKey });
      return 0;
    }

    if (typeof v.port !== 'string') throw new FlashError('E_USAGE', `--port is required (or --dry-run FILE) (wgjs-flash --help shows the usage)`);
    const t: Transport = await openSerial({ path: v.port, baudRate: baud, flowControl: !v['no-flow-control'] });
    progress = new ProgressBar(io.stderr, !quiet);
    const session = new ReplSession(
      t,
      v.verbose ? (dir, text) => err(`${dir === 'tx' ? '>>' : '<<'} ${visible(text)}`) : undefined,
    );
    const onAbort = (): void => void t.close();
    io.signal?.addEventListener('abort', onAbort);
    let result: FlashResult | undefined;
    try {
      info(`flashing ${prep.profile.name} on ${v.port}: ${prep.files.map((f) => `${f.name} ${f.data.length} B`).join(', ')} (build ${prep.build})`);
      result = await runFlash(session, prep.files, prep.profile, settings, {
        info,
        warn,
        progress: (d, total, file) => progress?.update(d, total, file),
        uploaded: () => {
          progress?.clear();
          peerBlock();
        },
        deviceEvent: (e) => info(`device: ${describeEvent(e)}`),
      });
      if (result.handshake) info(`online: first handshake with ${result.handshake.peer ?? 'the server'}${result.handshake.ms !== undefined ? ` after ${result.handshake.ms} ms` : ''}`);
      else info('board restarted; not waiting for the handshake (--no-wait)');
      return 0;
    } finally {
      io.signal?.removeEventListener('abort', onAbort);
      io.onResult?.({ result, stats: session.stats, publicKey: prep.key.publicKey });
      progress.clear();
      await t.close();
    }
  } catch (e) {
    if (io.signal?.aborted) {
      err('wgjs-flash: aborted');
      return EXIT_CODES.E_ABORTED;
    }
    if (e instanceof FlashError) {
      err(`wgjs-flash: error: ${e.message}`);
      return EXIT_CODES[e.code];
    }
    err(`wgjs-flash: unexpected error: ${(e as Error).stack ?? String(e)}`);
    return 1;
  }
}

/** Entry point when run as a program. */
export async function run(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === '--') argv.shift(); // `pnpm … flash -- <args>` passes the separator through
  const code = await main(argv, { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin });
  process.exitCode = code;
}
