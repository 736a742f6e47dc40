/**
 * The `wgjs` command line. Key commands are byte-compatible with `wg genkey`, `wg pubkey` and
 * `wg genpsk`.
 */
import { randomFillSync } from 'node:crypto';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, openSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { createPortableProvider, formatKey, fromBase64, generatePrivateKey } from '@wgjs/core';
import { parseConfig } from './config.js';
import { HostInterface, CONTROL_DIR, checkInterfaceName, requestControl, type HostStatus } from './host.js';
import { diagnose, formatFindings, gatherFacts } from './doctor.js';
import { costMain } from './cost-cli.js';
import { probeResponderMain } from './probe-responder.js';

const USAGE = `Usage: wgjs <command> [arguments]

Commands:
  up <conf|iface> [--daemon]   bring up an interface from a wg-quick file (a path, or
                               /etc/wireguard/<iface>.conf); stays in the foreground unless --daemon
  down <conf|iface>            take a running interface down
  show [iface]                 status of one or all wgjs interfaces (wg show works too)
  doctor <iface> [--wait s]    check every layer of an interface and say what to fix
  genkey                       print a new private key (base64), as \`wg genkey\`
  pubkey                       read a private key on stdin, print its public key, as \`wg pubkey\`
  genpsk                       print a new preshared key, as \`wg genpsk\`
  cost [options]               bytes per day a keepalive policy costs behind a NAT (--help)
  probe-responder <addr:port>  answer keepalive probes on a tunnel address (UDP)
  help                         this text
`;

const random = (b: Uint8Array, o: number, n: number): void => {
  randomFillSync(b, o, n);
};

/** Reads all of stdin (fd 0) synchronously. */
function readStdin(): string {
  try {
    return readFileSync(0, 'utf8');
  } catch {
    return '';
  }
}

/** Runs the CLI; returns the exit code. Output goes to stdout/stderr. */
export async function main(argv: string[]): Promise<number> {
  const cmd = argv[0];
  switch (cmd) {
    case 'genkey':
      process.stdout.write(formatKey(generatePrivateKey(random)) + '\n');
      return 0;
    case 'genpsk': {
      const k = new Uint8Array(32);
      random(k, 0, 32);
      process.stdout.write(formatKey(k) + '\n');
      return 0;
    }
    case 'pubkey': {
      // `wg pubkey` accepts the key with surrounding whitespace (e.g. a trailing newline).
      const key = fromBase64(readStdin().trim());
      if (key === null || key.length !== 32) {
        process.stderr.write('wgjs: Key is not the correct length or format\n');
        return 1;
      }
      const pub = new Uint8Array(32);
      createPortableProvider().x25519Base(pub, key);
      process.stdout.write(formatKey(pub) + '\n');
      return 0;
    }
    case 'up':
      return up(argv.slice(1));
    case 'down':
      return down(argv.slice(1));
    case 'show':
      return show(argv.slice(1));
    case 'doctor':
      return doctor(argv.slice(1));
    case 'cost':
      return costMain(argv.slice(1));
    case 'probe-responder':
      return probeResponderMain(argv.slice(1));
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return cmd === undefined ? 1 : 0;
    default:
      process.stderr.write(`wgjs: unknown command "${cmd}"\n\n${USAGE}`);
      return 1;
  }
}

function fail(msg: string): number {
  process.stderr.write(`wgjs: ${msg}\n`);
  return 1;
}

/** wg-quick's rule: an argument with a '/' or ending in .conf is a file; else /etc/wireguard/<name>.conf. */
function resolveConfig(arg: string): { file: string; name: string } {
  const file = arg.includes('/') || arg.endsWith('.conf') ? arg : `/etc/wireguard/${arg}.conf`;
  const name = path.basename(file).replace(/\.conf$/, '');
  return { file, name };
}

async function up(args: string[]): Promise<number> {
  const daemon = args.includes('--daemon') || args.includes('-d');
  const rest = args.filter((a) => a !== '--daemon' && a !== '-d');
  if (rest.length !== 1) return fail('usage: wgjs up <conf|iface> [--daemon]');
  const { file, name } = resolveConfig(rest[0]);
  try {
    checkInterfaceName(name);
  } catch (e) {
    return fail(`${(e as Error).message} (the interface is named after the file: ${file})`);
  }
  if (!existsSync(file)) return fail(`${file}: no such file`);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    return fail(`${file}: ${(e as Error).message}`);
  }
  let cfg;
  try {
    cfg = parseConfig(text, file);
  } catch (e) {
    return fail((e as Error).message);
  }
  for (const w of cfg.warnings) process.stderr.write(`wgjs: warning: ${w}\n`);
  if (daemon) return startDaemon(file, name);
  const log = (l: string) => process.stderr.write(l + '\n');
  let host: HostInterface;
  try {
    host = await HostInterface.up({ name, config: cfg, log });
  } catch (e) {
    return fail(`cannot bring ${name} up: ${(e as Error).message}`);
  }
  log(`[+] ${name} is up: public key ${host.device.publicKey}, UDP port ${host.device.listenPort}, ${host.device.transport} transport`);
  await new Promise<void>((resolve) => {
    const stop = () => {
      log(`[-] taking ${name} down`);
      void host.down().then(resolve);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    process.once('SIGHUP', stop);
    host.device.on('error', (e: Error) => log(`[!] ${e.message}`));
    void waitDown(host).then(resolve);
  });
  return 0;
}

/** Resolves when the interface was taken down through the control socket. */
async function waitDown(host: HostInterface): Promise<void> {
  for (;;) {
    await new Promise((r) => setTimeout(r, 200));
    if (!existsSync(path.join(CONTROL_DIR, `${host.name}.sock`))) return;
  }
}

/** Runs `wgjs up FILE` detached, logging to /var/run/wgjs/<iface>.log, and waits until it answers. */
async function startDaemon(file: string, name: string): Promise<number> {
  mkdirSync(CONTROL_DIR, { recursive: true, mode: 0o755 });
  const logFile = path.join(CONTROL_DIR, `${name}.log`);
  const fd = openSync(logFile, 'w', 0o600);
  const bin = path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'bin', 'wgjs.js');
  const child = spawn(process.execPath, [bin, 'up', path.resolve(file)], { detached: true, stdio: ['ignore', fd, fd] });
  let exited: number | null = null;
  child.on('exit', (code) => { exited = code ?? 1; });
  child.unref();
  for (let i = 0; i < 150; i++) {
    await new Promise((r) => setTimeout(r, 100));
    if (exited !== null) {
      process.stderr.write(readFileSync(logFile, 'utf8'));
      return fail(`${name} did not come up (see above; log in ${logFile})`);
    }
    try {
      await requestControl(name, 'status', 500);
      process.stderr.write(readFileSync(logFile, 'utf8'));
      return 0;
    } catch {
      // not ready yet
    }
  }
  child.kill('SIGTERM');
  return fail(`${name} did not answer within 15 s (log in ${logFile})`);
}

async function down(args: string[]): Promise<number> {
  if (args.length !== 1) return fail('usage: wgjs down <conf|iface>');
  const { name } = resolveConfig(args[0]);
  try {
    await requestControl(name, 'down');
  } catch (e) {
    return fail((e as Error).message);
  }
  for (let i = 0; i < 100; i++) {
    if (!existsSync(path.join(CONTROL_DIR, `${name}.sock`)) && !existsSync(`/sys/class/net/${name}`)) return 0;
    await new Promise((r) => setTimeout(r, 100));
  }
  return fail(`${name} was asked to go down but is still there after 10 s`);
}

function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${n.toFixed(2)} ${units[i]}`;
}

function since(ms: number): string {
  let s = Math.max(0, Math.round(ms / 1000));
  const parts: string[] = [];
  for (const [unit, len] of [['day', 86400], ['hour', 3600], ['minute', 60], ['second', 1]] as const) {
    const v = Math.floor(s / len);
    s -= v * len;
    if (v > 0) parts.push(`${v} ${unit}${v === 1 ? '' : 's'}`);
  }
  return (parts.length ? parts.join(', ') : '0 seconds') + ' ago';
}

/** `wg show`-style text, plus the wgjs-only transport and drop counters. */
export function formatShow(s: HostStatus, now: number): string {
  let out = `interface: ${s.name}\n  public key: ${s.publicKey}\n  private key: (hidden)\n  listening port: ${s.listenPort}\n`;
  out += `  transport: ${s.transport === 'native' ? 'native UDP (recvmmsg/sendmmsg)' : 'node:dgram UDP'}, mtu ${s.mtu}\n`;
  for (const p of s.peers) {
    out += `\npeer: ${p.publicKey}\n`;
    if (p.hasPresharedKey) out += '  preshared key: (hidden)\n';
    if (p.endpoint) out += `  endpoint: ${p.endpoint}\n`;
    out += `  allowed ips: ${p.allowedIPs.length ? p.allowedIPs.join(', ') : '(none)'}\n`;
    if (p.lastHandshakeWall) out += `  latest handshake: ${since(now - p.lastHandshakeWall)}\n`;
    if (p.rxBytes || p.txBytes) out += `  transfer: ${bytes(p.rxBytes)} received, ${bytes(p.txBytes)} sent\n`;
    if (p.adaptive) {
      const a = p.adaptive;
      out += `  persistent keepalive: auto, every ${(a.interval / 1000).toFixed(1)} seconds (${a.learning ? 'learning' : 'NAT mapping lifetime'}`;
      out += a.estimate > 0 ? ` ≈ ${(a.estimate / 1000).toFixed(1)} s` : ' not known yet';
      out += `; ${a.probes} probes, ${a.failed} unanswered${a.echo ? '' : '; no responder: ≤ 10 s provable'})\n`;
    } else if (p.persistentKeepalive) out += `  persistent keepalive: every ${p.persistentKeepalive} seconds\n`;
  }
  const drops = Object.entries(s.drops);
  if (drops.length) out += `\ndropped: ${drops.map(([k, v]) => `${k} ${v}`).join(', ')}\n`;
  return out;
}

async function show(args: string[]): Promise<number> {
  let names = args;
  if (names.length === 0) {
    names = existsSync(CONTROL_DIR) ? readdirSync(CONTROL_DIR).filter((f) => f.endsWith('.sock')).map((f) => f.slice(0, -5)) : [];
  }
  let rc = 0;
  for (const [i, name] of names.entries()) {
    try {
      const s = (await requestControl(name, 'status')) as unknown as HostStatus;
      process.stdout.write((i > 0 ? '\n' : '') + formatShow(s, Date.now()));
    } catch (e) {
      rc = fail((e as Error).message);
    }
  }
  return rc;
}

async function doctor(args: string[]): Promise<number> {
  const wi = args.indexOf('--wait');
  const wait = wi >= 0 ? Number(args[wi + 1]) : 2;
  const rest = args.filter((_, i) => i !== wi && i !== wi + 1);
  if (rest.length !== 1 || !(wait >= 0 && wait <= 60)) return fail('usage: wgjs doctor <iface> [--wait seconds (0-60, default 2)]');
  const { name } = resolveConfig(rest[0]);
  let findings;
  try {
    findings = diagnose(await gatherFacts(name, wait * 1000));
  } catch (e) {
    return fail(`${(e as Error).message}: start it with wgjs up ${name}`);
  }
  process.stdout.write(formatFindings(findings));
  const problems = findings.filter((f) => f.severity === 'fail').length;
  process.stdout.write(problems ? `\n${problems} problem(s) found.\n` : '\nno problems found.\n');
  return problems ? 1 : 0;
}
