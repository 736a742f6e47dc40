/**
 * TUN mode: a wgjs interface the kernel routes into, configured from a wg-quick file, with the
 * `wg` UAPI socket and a wgjs control socket. Used by `wgjs up`.
 *
 * Bringing an interface up: check the name and /dev/net/tun, run PreUp, open the TUN device (the
 * interface exists only while the fd is open, so a crash never leaves one behind), bind UDP,
 * configure peers, set MTU and addresses, add a route per AllowedIPs prefix, serve UAPI and the
 * control socket, run PostUp. Shutting down runs PreDown, removes what was added outside the
 * interface, closes everything, wipes keys and runs PostDown. Any failure on the way up undoes
 * the steps already done.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, unlinkSync, chmodSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { promisify } from 'node:util';
import { parseCidr, wgError } from '@wgjs/core';
import { WgDevice } from './device.js';
import { TunDevice } from './tun.js';
import type { ParsedConfig } from './config.js';
import { serveUapi } from './uapi-device.js';
import { createHostProvider } from './crypto-host.js';
import { createPortableProvider, type CryptoProvider } from '@wgjs/core';
import type { UapiServer } from './uapi.js';

const run = promisify(execFile);

/** Where the wgjs control sockets live (one per interface, mode 0600). */
export const CONTROL_DIR = '/var/run/wgjs';
/** What survives a restart: the adaptive keepalive's learned NAT lifetimes (`<iface>.json`). */
export const STATE_DIR = process.env.WGJS_STATE_DIR ?? '/var/lib/wgjs';

/** Learned NAT mapping lifetimes (ms) by peer public key, from the last run of `iface`. */
function readLearned(iface: string): Record<string, number> {
  try {
    const j = JSON.parse(readFileSync(`${STATE_DIR}/${iface}.json`, 'utf8')) as { keepalive?: Record<string, number> };
    return j && typeof j.keepalive === 'object' && j.keepalive !== null ? j.keepalive : {};
  } catch {
    return {};
  }
}

export function controlSocketPath(iface: string): string {
  return `${CONTROL_DIR}/${iface}.sock`;
}

/** Interface names as Linux accepts them (IFNAMSIZ 16, no '/' or whitespace). */
export function checkInterfaceName(name: string): void {
  if (!/^[a-zA-Z0-9_=+.-]{1,15}$/.test(name)) {
    throw wgError('EINVAL', `"${name}" is not a valid interface name (1-15 characters of a-z A-Z 0-9 _ = + . -)`);
  }
}

export interface HostOptions {
  /** Interface name. */
  name: string;
  config: ParsedConfig;
  /** Print progress (commands run). */
  log?: (line: string) => void;
  /** Run PreUp/PostUp/PreDown/PostDown hooks (default true). */
  hooks?: boolean;
}

async function ip(args: string[], log?: (l: string) => void): Promise<void> {
  log?.(`[#] ip ${args.join(' ')}`);
  try {
    await run('ip', args);
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw wgError('EIO', `ip ${args.join(' ')} failed: ${(err.stderr || err.message).trim()}`);
  }
}

async function hook(kind: string, cmds: string[], name: string, log?: (l: string) => void): Promise<void> {
  for (const c of cmds) {
    const cmd = c.replace(/%i/g, name);
    log?.(`[#] ${cmd}`);
    try {
      await run('bash', ['-c', cmd]);
    } catch (e) {
      const err = e as { stderr?: string; message: string };
      throw wgError('EIO', `${kind} command failed: ${cmd}: ${(err.stderr || err.message).trim()}`);
    }
  }
}

/**
 * The crypto for a host interface: WGJS_CRYPTO=host-portable-aead (default: node:crypto X25519,
 * the zero-allocation portable AEAD), host (node:crypto for the AEAD too) or portable. The
 * default is measured: under iperf3, creating an OpenSSL cipher per packet cost ~40 % of the
 * process and wgjs<->wgjs carried 210 Mbit/s against 281 with the portable AEAD (packages/bench).
 */
export function cryptoProvider(choice = process.env.WGJS_CRYPTO ?? 'host-portable-aead'): CryptoProvider {
  if (choice === 'portable') return createPortableProvider();
  if (choice === 'host-portable-aead') return createHostProvider({ aead: 'portable' });
  if (choice === 'host') return createHostProvider();
  throw wgError('EINVAL', `WGJS_CRYPTO=${choice}: expected host, host-portable-aead or portable`);
}

/** A running interface. */
export class HostInterface {
  readonly name: string;
  readonly device: WgDevice;
  private tun: TunDevice;
  private uapi: UapiServer | null = null;
  private control: net.Server | null = null;
  private extraRoutes: string[][] = [];
  private config: ParsedConfig;
  private log?: (l: string) => void;
  private hooks: boolean;
  private stopping: Promise<void> | null = null;
  readonly startedAt = Date.now();

  private constructor(name: string, device: WgDevice, tun: TunDevice, opts: HostOptions) {
    this.name = name;
    this.device = device;
    this.tun = tun;
    this.config = opts.config;
    this.log = opts.log;
    this.hooks = opts.hooks ?? true;
  }

  /** Brings the interface up; on any failure undoes what was done and rethrows. */
  static async up(opts: HostOptions): Promise<HostInterface> {
    const { name, config } = opts;
    const log = opts.log;
    checkInterfaceName(name);
    if (!existsSync('/dev/net/tun')) {
      throw wgError('ENODEV', '/dev/net/tun does not exist: load the tun module (modprobe tun), or give the container the device (--device /dev/net/tun)');
    }
    if (existsSync(`/sys/class/net/${name}`)) {
      throw wgError('EEXIST', `interface ${name} already exists: choose another name, or take it down first (wgjs down ${name})`);
    }
    if (!config.interface.privateKey) throw wgError('EINVAL', 'the configuration has no PrivateKey');
    const hooks = opts.hooks ?? true;
    if (hooks) await hook('PreUp', config.interface.preUp, name, log);
    const mtu = config.interface.mtu ?? 1420;
    let tun: TunDevice | null = null;
    let device: WgDevice | null = null;
    let host: HostInterface | null = null;
    try {
      tun = TunDevice.open(name, mtu);
      device = await WgDevice.create({
        crypto: cryptoProvider(),
        privateKey: config.interface.privateKey,
        listenPort: config.interface.listenPort ?? 0,
        mtu,
        maxPeers: Math.max(16, config.peers.length * 2),
        // The interface's addresses: the adaptive keepalive's probes are sent from them.
        address: config.interface.addresses,
        // For labs only: every protocol timer runs this many times faster (both peers must agree).
        timeScale: process.env.WGJS_TIME_SCALE ? Number(process.env.WGJS_TIME_SCALE) : undefined,
      });
      const learned = readLearned(name);
      for (const p of config.peers) {
        await device.addPeer({
          publicKey: p.publicKey,
          presharedKey: p.presharedKey ?? null,
          allowedIPs: p.allowedIPs,
          endpoint: p.endpoint ?? null,
          persistentKeepalive: p.persistentKeepalive,
          keepaliveResponder: p.keepaliveResponder,
          adaptive: learned[p.publicKey] > 0 ? { learned: learned[p.publicKey] } : undefined,
        });
      }
      device.attachTun(tun);
      host = new HostInterface(name, device, tun, opts);
      await ip(['link', 'set', 'mtu', String(mtu), 'up', 'dev', name], log);
      for (const a of config.interface.addresses) {
        const fam = parseCidr(a).family;
        await ip(fam === 6 ? ['-6', 'address', 'add', a, 'dev', name, 'nodad'] : ['-4', 'address', 'add', a, 'dev', name], log);
      }
      if (config.interface.table !== 'off') await host.addRoutes();
      host.uapi = await serveUapi(device, name);
      await host.serveControl();
      if (hooks) await hook('PostUp', config.interface.postUp, name, log);
      return host;
    } catch (e) {
      if (host) await host.down().catch(() => undefined);
      else {
        await device?.close();
        tun?.close();
      }
      throw e;
    }
  }

  /**
   * A route per AllowedIPs prefix into the interface. A default route (/0) is split into two /1
   * routes, and each peer endpoint gets a host route via the current path, so the tunnel's own
   * UDP packets do not loop into it.
   */
  private async addRoutes(): Promise<void> {
    const seen = new Set<string>();
    let hasDefault4 = false;
    let hasDefault6 = false;
    for (const p of this.config.peers) {
      for (const cidr of p.allowedIPs) {
        const c = parseCidr(cidr);
        const key = `${c.family}:${cidr}`;
        if (seen.has(key)) continue;
        seen.add(key);
        if (c.cidr === 0) {
          if (c.family === 4) hasDefault4 = true;
          else hasDefault6 = true;
          continue;
        }
        await ip([c.family === 6 ? '-6' : '-4', 'route', 'add', cidr, 'dev', this.name], this.log);
      }
    }
    if (hasDefault4 || hasDefault6) {
      for (const p of this.device.status().peers) {
        if (!p.endpoint) continue;
        const host = p.endpoint.startsWith('[') ? p.endpoint.slice(1, p.endpoint.indexOf(']')) : p.endpoint.slice(0, p.endpoint.lastIndexOf(':'));
        const fam = net.isIPv6(host) ? '-6' : '-4';
        try {
          const { stdout } = await run('ip', [fam, 'route', 'get', host]);
          const via = /\bvia (\S+)/.exec(stdout);
          const dev = /\bdev (\S+)/.exec(stdout);
          if (dev && dev[1] !== this.name) {
            const args = [fam, 'route', 'add', host + (fam === '-6' ? '/128' : '/32'), ...(via ? ['via', via[1]] : []), 'dev', dev[1]];
            await ip(args, this.log);
            this.extraRoutes.push(args);
          }
        } catch {
          // No route to the endpoint yet: nothing to pin.
        }
      }
      if (hasDefault4) for (const half of ['0.0.0.0/1', '128.0.0.0/1']) await ip(['-4', 'route', 'add', half, 'dev', this.name], this.log);
      if (hasDefault6) for (const half of ['::/1', '8000::/1']) await ip(['-6', 'route', 'add', half, 'dev', this.name], this.log);
    }
  }

  /** A JSON-lines control socket: {"cmd":"status"} and {"cmd":"down"}. */
  private async serveControl(): Promise<void> {
    mkdirSync(CONTROL_DIR, { recursive: true, mode: 0o755 });
    const path = controlSocketPath(this.name);
    if (existsSync(path)) {
      // A socket nobody answers on is left over from a killed process.
      const alive = await new Promise<boolean>((resolve) => {
        const c = net.connect(path, () => { c.destroy(); resolve(true); });
        c.on('error', () => resolve(false));
      });
      if (alive) throw wgError('EADDRINUSE', `another wgjs process already serves ${this.name} (${path})`);
      unlinkSync(path);
    }
    const server = net.createServer((conn) => {
      let buf = '';
      conn.on('data', (d) => {
        buf += d.toString();
        let i: number;
        while ((i = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          let cmd: { cmd?: string };
          try {
            cmd = JSON.parse(line);
          } catch {
            conn.end(JSON.stringify({ error: 'bad request' }) + '\n');
            return;
          }
          if (cmd.cmd === 'status') conn.write(JSON.stringify(this.status()) + '\n');
          else if (cmd.cmd === 'down') {
            conn.end(JSON.stringify({ ok: true }) + '\n');
            void this.down();
          } else conn.write(JSON.stringify({ error: `unknown command ${cmd.cmd}` }) + '\n');
        }
      });
      conn.on('error', () => undefined);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => resolve());
    });
    chmodSync(path, 0o600);
    this.control = server;
  }

  /** Everything `wgjs show` and `wgjs doctor` need. */
  status(): HostStatus {
    const s = this.device.status();
    return {
      name: this.name,
      pid: process.pid,
      startedAt: this.startedAt,
      transport: this.device.transport,
      addresses: this.config.interface.addresses,
      mtu: this.config.interface.mtu ?? 1420,
      tun: this.tun.stats(),
      ...s,
    };
  }

  /** Takes the interface down (idempotent): hooks, routes, sockets, TUN, keys. */
  /** Persists the adaptive keepalive's learned lifetimes, so the next `up` need not relearn them. */
  private saveLearned(): void {
    const keepalive: Record<string, number> = {};
    for (const p of this.device.status().peers) {
      if (p.adaptive && !p.adaptive.learning && p.adaptive.provenIdle > 0) keepalive[p.publicKey] = Math.round(p.adaptive.provenIdle);
    }
    if (Object.keys(keepalive).length === 0) return;
    try {
      mkdirSync(STATE_DIR, { recursive: true, mode: 0o755 });
      writeFileSync(`${STATE_DIR}/${this.name}.json`, JSON.stringify({ keepalive }) + '\n');
    } catch (e) {
      this.log?.(`[!] cannot save the learned keepalive to ${STATE_DIR}: ${(e as Error).message}`);
    }
  }

  down(): Promise<void> {
    if (this.stopping) return this.stopping;
    this.stopping = (async () => {
      if (this.hooks) await hook('PreDown', this.config.interface.preDown, this.name, this.log).catch((e) => this.log?.(`[!] ${(e as Error).message}`));
      for (const r of this.extraRoutes) {
        const del = [...r];
        del[del.indexOf('add')] = 'del';
        await ip(del, this.log).catch(() => undefined);
      }
      this.uapi?.close();
      this.saveLearned();
      if (this.control) {
        this.control.close();
        try {
          unlinkSync(controlSocketPath(this.name));
        } catch {
          // already gone
        }
      }
      await this.device.close(); // closes the TUN too: the interface and its routes disappear
      if (this.hooks) await hook('PostDown', this.config.interface.postDown, this.name, this.log).catch((e) => this.log?.(`[!] ${(e as Error).message}`));
    })();
    return this.stopping;
  }
}

export interface HostStatus {
  name: string;
  pid: number;
  startedAt: number;
  transport: 'native' | 'dgram';
  addresses: string[];
  mtu: number;
  tun: ReturnType<TunDevice['stats']>;
  publicKey: string;
  listenPort: number;
  peers: ReturnType<WgDevice['status']>['peers'];
  drops: Record<string, number>;
}

/** Asks a running interface for its status over the control socket. */
export function requestControl(iface: string, cmd: 'status' | 'down', timeoutMs = 5000): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const path = controlSocketPath(iface);
    const c = net.connect(path);
    let buf = '';
    const t = setTimeout(() => {
      c.destroy();
      reject(wgError('ETIMEDOUT', `no answer from ${path} within ${timeoutMs} ms`));
    }, timeoutMs);
    c.on('connect', () => c.write(JSON.stringify({ cmd }) + '\n'));
    c.on('data', (d) => {
      buf += d.toString();
      const i = buf.indexOf('\n');
      if (i >= 0) {
        clearTimeout(t);
        c.destroy();
        try {
          resolve(JSON.parse(buf.slice(0, i)));
        } catch {
          reject(wgError('EPROTO', `bad answer from ${path}`));
        }
      }
    });
    c.on('error', (e) => {
      clearTimeout(t);
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ECONNREFUSED') reject(wgError('ENOENT', `no wgjs interface named ${iface} is running`));
      else reject(e);
    });
  });
}

