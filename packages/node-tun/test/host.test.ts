/**
 * The host peer for real, as root in network namespaces: `wgjs up` on a TUN device against
 * wireguard-go (ping and iperf3 both ways, IPv4 and IPv6, both roles, PSK on and off), `wg show`
 * and `wg set` on the wgjs interface, a wgjs ↔ wgjs tunnel carrying iperf3, and the failure
 * cases (bad files, bad keys, occupied ports, no /dev/net/tun) that must fail clearly and leave
 * nothing behind.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { exec, genKeyPair, genPresharedKey, Lab, parseWgDump, requireTools, waitUntil, which } from './lab/netns.js';

const skip = requireTools('wireguard-go', 'wg', 'ping', 'iperf3');
if (skip) console.warn(`[host.test] skipping TUN tests: ${skip}`);

const bin = fileURLToPath(new URL('../bin/wgjs.js', import.meta.url));
const lab = new Lab();
afterAll(() => lab.cleanup());

let ifCounter = 0;
/** Unique interface names: UAPI and control sockets are shared by all namespaces. */
const ifname = () => `wj${process.pid % 10000}x${ifCounter++}`;

interface WgjsUp { proc: ChildProcess; name: string; ns: string; output: () => string }

async function wgjsUp(ns: string, name: string, conf: string): Promise<WgjsUp> {
  const file = lab.writeTemp(`${name}.conf`, conf);
  const proc = lab.spawnIn(ns, process.execPath, [bin, 'up', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  let exited = false;
  proc.on('exit', () => (exited = true));
  await waitUntil(`wgjs up ${name}`, 15_000, () => {
    if (exited) throw new Error(`wgjs up exited early:\n${out}`);
    return out.includes(`[+] ${name} is up`) ? true : undefined;
  });
  return { proc, name, ns, output: () => out };
}

async function wgjsDown(u: WgjsUp): Promise<void> {
  const r = await exec(u.ns, process.execPath, [bin, 'down', u.name]);
  void r;
  await waitUntil(`${u.name} gone`, 10_000, () => (u.proc.exitCode !== null ? true : undefined));
  expect(u.proc.exitCode).toBe(0);
  expect(existsSync(`/var/run/wireguard/${u.name}.sock`)).toBe(false);
  expect(existsSync(`/var/run/wgjs/${u.name}.sock`)).toBe(false);
}

function ifaceConf(o: { priv: string; port: number; addr4: string; addr6: string }): string {
  return `[Interface]\nPrivateKey = ${o.priv}\nListenPort = ${o.port}\nAddress = ${o.addr4}, ${o.addr6}\n`;
}

function peerConf(o: { pub: string; psk?: string; allowed: string; endpoint?: string }): string {
  return `\n[Peer]\nPublicKey = ${o.pub}\n${o.psk ? `PresharedKey = ${o.psk}\n` : ''}AllowedIPs = ${o.allowed}\n${o.endpoint ? `Endpoint = ${o.endpoint}\n` : ''}`;
}

async function iperf(client: string, server: string, addr: string, udp: boolean): Promise<number> {
  const srv = lab.spawnIn(server, 'iperf3', ['-s', '-1', '-p', '5202'], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 300));
  try {
    const { stdout } = await exec(client, 'iperf3', ['-c', addr, '-p', '5202', '-t', '2', '-J', ...(udp ? ['-u', '-b', '50M'] : [])], { timeoutMs: 30_000 });
    const j = JSON.parse(stdout);
    return udp ? j.end.sum.bits_per_second * (1 - j.end.sum.lost_percent / 100) : j.end.sum_received.bits_per_second;
  } finally {
    srv.kill();
  }
}

const wgBin = which('wg');

describe.skipIf(skip !== null)('wgjs up (TUN) ↔ wireguard-go', () => {
  const cases = [
    { initiator: 'wgjs', psk: false, outer: 4 },
    { initiator: 'wireguard-go', psk: true, outer: 4 },
    { initiator: 'wgjs', psk: true, outer: 6 },
  ] as const;
  for (const c of cases) {
    it(`${c.initiator} initiates, PSK ${c.psk ? 'on' : 'off'}, outer IPv${c.outer}: ping and iperf3 both ways`, async () => {
      const { a, b, link } = await lab.pair();
      const host = (e: { v4: string; v6: string }) => (c.outer === 4 ? e.v4 : `[${e.v6}]`);
      const kj = await genKeyPair();
      const kg = await genKeyPair();
      const psk = c.psk ? await genPresharedKey() : undefined;
      const name = ifname();
      await lab.startWireguardGo(b, {
        privateKey: kg.privateKey, listenPort: 51821, address4: '10.99.0.2/24', address6: 'fd99::2/64',
        peers: [{ publicKey: kj.publicKey, presharedKey: psk, allowedIps: ['10.99.0.1/32', 'fd99::1/128'], endpoint: c.initiator === 'wireguard-go' ? `${host(link.a)}:51820` : undefined }],
      });
      const up = await wgjsUp(a, name, ifaceConf({ priv: kj.privateKey, port: 51820, addr4: '10.99.0.1/24', addr6: 'fd99::1/64' }) +
        peerConf({ pub: kg.publicKey, psk, allowed: '10.99.0.2/32, fd99::2/128', endpoint: c.initiator === 'wgjs' ? `${host(link.b)}:51821` : undefined }));
      const [first, second] = c.initiator === 'wgjs' ? [a, b] : [b, a];
      expect(await lab.ping(first, first === a ? '10.99.0.2' : '10.99.0.1', { count: 3 })).toBeGreaterThanOrEqual(2);
      expect(await lab.ping(second, second === a ? '10.99.0.2' : '10.99.0.1', { count: 3 })).toBeGreaterThanOrEqual(2);
      expect(await lab.ping(a, 'fd99::2', { count: 3 })).toBeGreaterThanOrEqual(2);
      expect(await lab.ping(b, 'fd99::1', { count: 3 })).toBeGreaterThanOrEqual(2);
      expect(await iperf(a, b, '10.99.0.2', false)).toBeGreaterThan(1e6);
      expect(await iperf(b, a, 'fd99::1', false)).toBeGreaterThan(1e6);
      expect(await iperf(a, b, 'fd99::2', true)).toBeGreaterThan(1e6);
      expect(await iperf(b, a, '10.99.0.1', true)).toBeGreaterThan(1e6);

      // `wg show` works on the wgjs interface: recent handshake, growing counters.
      const d1 = parseWgDump((await exec(a, wgBin!, ['show', name, 'dump'])).stdout);
      expect(d1.peers[0].latestHandshake).toBeGreaterThan(Date.now() / 1000 - 180);
      await lab.ping(a, '10.99.0.2', { count: 2 });
      const d2 = parseWgDump((await exec(a, wgBin!, ['show', name, 'dump'])).stdout);
      expect(d2.peers[0].rxBytes).toBeGreaterThan(d1.peers[0].rxBytes);
      expect(d2.peers[0].txBytes).toBeGreaterThan(d1.peers[0].txBytes);
      await wgjsDown(up);
      expect(spawnSync('ip', ['netns', 'exec', a, 'ip', 'link', 'show', name]).status).not.toBe(0);
    });
  }

  it('wg set removes and re-adds a peer live, and traffic follows', async () => {
    const { a, b, link } = await lab.pair();
    const kj = await genKeyPair();
    const kg = await genKeyPair();
    const name = ifname();
    await lab.startWireguardGo(b, {
      privateKey: kg.privateKey, listenPort: 51821, address4: '10.99.0.2/24', address6: 'fd99::2/64',
      peers: [{ publicKey: kj.publicKey, allowedIps: ['10.99.0.1/32'], endpoint: `${link.a.v4}:51820` }],
    });
    const up = await wgjsUp(a, name, ifaceConf({ priv: kj.privateKey, port: 51820, addr4: '10.99.0.1/24', addr6: 'fd99::1/64' }) +
      peerConf({ pub: kg.publicKey, allowed: '10.99.0.2/32', endpoint: `${link.b.v4}:51821` }));
    expect(await lab.ping(a, '10.99.0.2', { count: 2 })).toBeGreaterThanOrEqual(1);
    await exec(a, wgBin!, ['set', name, 'peer', kg.publicKey, 'remove']);
    expect(parseWgDump((await exec(a, wgBin!, ['show', name, 'dump'])).stdout).peers).toHaveLength(0);
    expect(await lab.ping(a, '10.99.0.2', { count: 2, timeoutSec: 2 })).toBe(0);
    await exec(a, wgBin!, ['set', name, 'peer', kg.publicKey, 'allowed-ips', '10.99.0.2/32', 'endpoint', `${link.b.v4}:51821`]);
    expect(await lab.ping(a, '10.99.0.2', { count: 3 })).toBeGreaterThanOrEqual(2);
    await wgjsDown(up);
  });
});

describe.skipIf(skip !== null)('clean shutdown', () => {
  it('SIGTERM removes the interface and both sockets and exits 0', async () => {
    const ns = await lab.addNamespace();
    const k = await genKeyPair();
    const name = ifname();
    const up = await wgjsUp(ns, name, ifaceConf({ priv: k.privateKey, port: 51825, addr4: '10.96.0.1/24', addr6: 'fd96::1/64' }));
    expect(existsSync(`/var/run/wireguard/${name}.sock`)).toBe(true);
    expect(existsSync(`/var/run/wgjs/${name}.sock`)).toBe(true);
    up.proc.kill('SIGTERM');
    await waitUntil(`${name} exit`, 10_000, () => (up.proc.exitCode !== null ? true : undefined));
    expect(up.proc.exitCode).toBe(0);
    expect(existsSync(`/var/run/wireguard/${name}.sock`)).toBe(false);
    expect(existsSync(`/var/run/wgjs/${name}.sock`)).toBe(false);
    expect(spawnSync('ip', ['netns', 'exec', ns, 'ip', 'link', 'show', name]).status).not.toBe(0);
    expect(up.output()).toContain(`taking ${name} down`);
  });
});

describe.skipIf(skip !== null)('wgjs ↔ wgjs in namespaces', () => {
  it('carries iperf3 TCP both ways', async () => {
    const { a, b, link } = await lab.pair();
    const ka = await genKeyPair();
    const kb = await genKeyPair();
    const na = ifname();
    const nb = ifname();
    const ua = await wgjsUp(a, na, ifaceConf({ priv: ka.privateKey, port: 51820, addr4: '10.98.0.1/24', addr6: 'fd98::1/64' }) +
      peerConf({ pub: kb.publicKey, allowed: '10.98.0.2/32, fd98::2/128', endpoint: `${link.b.v4}:51821` }));
    const ub = await wgjsUp(b, nb, ifaceConf({ priv: kb.privateKey, port: 51821, addr4: '10.98.0.2/24', addr6: 'fd98::2/64' }) +
      peerConf({ pub: ka.publicKey, allowed: '10.98.0.1/32, fd98::1/128' }));
    expect(await lab.ping(a, '10.98.0.2', { count: 3 })).toBeGreaterThanOrEqual(2);
    expect(await iperf(a, b, '10.98.0.2', false)).toBeGreaterThan(1e6);
    expect(await iperf(b, a, 'fd98::1', false)).toBeGreaterThan(1e6);
    await wgjsDown(ua);
    await wgjsDown(ub);
  });
});

describe.skipIf(skip !== null)('PersistentKeepalive = auto on a TUN interface', () => {
  it('starts from the NAT lifetime learned by the last run (state file), shows it, and saves it again at down', async () => {
    const ns = await lab.addNamespace();
    const name = ifname();
    const [me, peer] = await Promise.all([genKeyPair(), genKeyPair()]);
    const stateDir = `${lab.tmpDir}/state`;
    mkdirSync(stateDir, { recursive: true });
    writeFileSync(`${stateDir}/${name}.json`, JSON.stringify({ keepalive: { [peer.publicKey]: 20_000 } }));
    const conf = `[Interface]\nPrivateKey = ${me.privateKey}\nListenPort = 51831\nAddress = 10.96.0.1/24\n` +
      `\n[Peer]\nPublicKey = ${peer.publicKey}\nAllowedIPs = 10.96.0.2/32\nEndpoint = 127.0.0.1:9\nPersistentKeepalive = auto\n`;
    const file = lab.writeTemp(`${name}.conf`, conf);
    const proc = lab.spawnIn(ns, process.execPath, [bin, 'up', file], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, WGJS_STATE_DIR: stateDir } });
    let out = '';
    proc.stdout!.on('data', (d) => (out += d));
    proc.stderr!.on('data', (d) => (out += d));
    await waitUntil(`wgjs up ${name}`, 15_000, () => (out.includes(`[+] ${name} is up`) ? true : proc.exitCode !== null ? (() => { throw new Error(out); })() : undefined));
    const shown = (await exec(ns, process.execPath, [bin, 'show', name])).stdout;
    expect(shown).toContain('persistent keepalive: auto, every 18.0 seconds (NAT mapping lifetime ≈ 20.0 s');
    const dump = parseWgDump((await exec(ns, 'wg', ['show', name, 'dump'])).stdout);
    expect(dump.peers[0]!.persistentKeepalive).toBe(18);
    rmSync(`${stateDir}/${name}.json`);
    await exec(ns, process.execPath, [bin, 'down', name]);
    await waitUntil(`${name} gone`, 10_000, () => (proc.exitCode !== null ? true : undefined));
    expect(JSON.parse(readFileSync(`${stateDir}/${name}.json`, 'utf8'))).toEqual({ keepalive: { [peer.publicKey]: 20_000 } });
  });
});

describe.skipIf(skip !== null)('wgjs up fails clearly and leaves nothing behind', () => {
  const key = 'yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=';
  const bad: Array<[string, string, RegExp]> = [
    ['a syntax error', '[Interface]\nPrivateKey = ' + key + '\nListenPort = banana\n', /:3: .*ListenPort/i],
    ['a bad private key', '[Interface]\nPrivateKey = notakey\n', /:2: .*(PrivateKey|key)/i],
    ['a bad peer key', `[Interface]\nPrivateKey = ${key}\n\n[Peer]\nPublicKey = abc\nAllowedIPs = 10.0.0.0/24\n`, /:5: .*key/i],
    ['a bad CIDR', `[Interface]\nPrivateKey = ${key}\n\n[Peer]\nPublicKey = ${key}\nAllowedIPs = 10.0.0.0/33\n`, /:6: .*10\.0\.0\.0\/33/],
    ['no private key', '[Interface]\nListenPort = 1000\n', /PrivateKey/],
  ];
  for (const [what, conf, msg] of bad) {
    it(`rejects ${what} naming the file and line`, async () => {
      const ns = await lab.addNamespace();
      const name = ifname();
      const file = lab.writeTemp(`${name}.conf`, conf);
      const r = spawnSync('ip', ['netns', 'exec', ns, process.execPath, bin, 'up', file], { encoding: 'utf8', timeout: 20_000 });
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(msg);
      expect(r.stderr).toContain(file);
      expect(spawnSync('ip', ['netns', 'exec', ns, 'ip', 'link', 'show', name]).status).not.toBe(0);
    });
  }

  it('reports an occupied UDP port and removes the half-made interface', async () => {
    const ns = await lab.addNamespace();
    const holder = lab.spawnIn(ns, 'socat', ['-u', 'UDP-RECV:51830', '/dev/null'], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 300));
    const name = ifname();
    const file = lab.writeTemp(`${name}.conf`, `[Interface]\nPrivateKey = ${key}\nListenPort = 51830\nAddress = 10.97.0.1/24\n`);
    const r = spawnSync('ip', ['netns', 'exec', ns, process.execPath, bin, 'up', file], { encoding: 'utf8', timeout: 20_000 });
    holder.kill();
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/51830.*already in use/);
    expect(spawnSync('ip', ['netns', 'exec', ns, 'ip', 'link', 'show', name]).status).not.toBe(0);
    expect(existsSync(`/var/run/wgjs/${name}.sock`)).toBe(false);
    expect(existsSync(`/var/run/wireguard/${name}.sock`)).toBe(false);
  });

  it('reports a missing /dev/net/tun', async () => {
    const ns = await lab.addNamespace();
    const name = ifname();
    const file = lab.writeTemp(`${name}.conf`, `[Interface]\nPrivateKey = ${key}\n`);
    // A private mount namespace where /dev/net is an empty directory.
    const r = spawnSync('ip', ['netns', 'exec', ns, 'unshare', '-m', 'sh', '-c', `mount -t tmpfs none /dev/net && exec "${process.execPath}" "${bin}" up "${file}"`], { encoding: 'utf8', timeout: 20_000 });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/\/dev\/net\/tun does not exist/);
  });

  it('refuses an interface name that is already taken', async () => {
    const ns = await lab.addNamespace();
    const name = ifname();
    await exec(ns, 'ip', ['tuntap', 'add', 'dev', name, 'mode', 'tun']);
    const file = lab.writeTemp(`${name}.conf`, `[Interface]\nPrivateKey = ${key}\n`);
    const r = spawnSync('ip', ['netns', 'exec', ns, process.execPath, bin, 'up', file], { encoding: 'utf8', timeout: 20_000 });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/already exists/);
  });
});
