/**
 * The native data path (packages/node-tun/native): batched UDP (NativeUdp vs DgramUdp, byte
 * exact on loopback, both families, dual stack, endpoint formatting, EADDRINUSE) and the TUN
 * device, exercised inside a test namespace by a child process (a process can only create a
 * TUN in its own namespace): kernel → TUN (ping, UDP v4/v6, a burst read in batches),
 * TUN → kernel (ping replies, a UDP datagram delivered to a socket), error messages.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { ADDR_SIZE, loadNative, nativeLoadError, NATIVE_PATH } from '../src/native.js';
import { DgramUdp, NativeUdp, openUdp, type UdpTransport } from '../src/udp.js';
import { exec, Lab, processOutput, requireTools, waitUntil, which } from './lab/netns.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '../../..');

const addon = loadNative();
const addonSkip = addon ? null : nativeLoadError();
if (addonSkip) console.warn(`[native.test] skipping addon tests: ${addonSkip}`);
const tunSkip = addonSkip ?? requireTools('ip', 'ping');
if (tunSkip && !addonSkip) console.warn(`[native.test] skipping TUN tests: ${tunSkip}`);
const setprivSkip = tunSkip ?? (which('setpriv') ? null : '`setpriv` (util-linux) not found');
if (setprivSkip && !tunSkip) console.warn(`[native.test] skipping the EPERM test: ${setprivSkip}`);
const unshareSkip = tunSkip ?? (which('unshare') ? null : '`unshare` (util-linux) not found');
if (unshareSkip && !tunSkip) console.warn(`[native.test] skipping the missing-/dev/net/tun test: ${unshareSkip}`);

// ---------------------------------------------------------------------------------------------
// UDP

const N = 10_000;
const BIG = [0, 1, 8192, 16_000, 65_000, 1472, 1473, 9000];

/** Size of datagram i: mostly 0..1500, every 50th one from BIG (up to 65,000 bytes). */
function sizeOf(i: number): number {
  return i % 50 === 0 ? BIG[(i / 50) % BIG.length]! : (i * 7919) % 1501;
}

function fill(buf: Uint8Array, off: number, i: number, len: number): void {
  for (let j = 0; j < len; j++) buf[off + j] = (i * 131 + j * 7 + (j >> 8)) & 255;
}

function matches(buf: Uint8Array, off: number, i: number, len: number): boolean {
  if (len !== sizeOf(i)) return false;
  for (let j = 0; j < len; j++) if (buf[off + j] !== ((i * 131 + j * 7 + (j >> 8)) & 255)) return false;
  return true;
}

/**
 * Sends N datagrams from `a` to `dest` in windows of 32 (waiting for each window, so no
 * socket buffer overflows), alternately corked, from an offset inside a larger buffer; `b`
 * checks each one byte by byte, in order, and its source endpoint.
 */
async function stream(a: UdpTransport, b: UdpTransport, dest: string, expectedSrc: string): Promise<void> {
  let received = 0;
  let failure: string | null = null;
  b.onDatagram((buf, off, len, ep) => {
    if (failure) return;
    if (ep !== expectedSrc) failure = `datagram ${received}: endpoint ${ep}, expected ${expectedSrc}`;
    else if (!matches(buf, off, received, len)) failure = `datagram ${received}: ${len} bytes differ (expected ${sizeOf(received)})`;
    received++;
  });
  const out = new Uint8Array(70_000);
  for (let w = 0; w < N; w += 32) {
    const end = Math.min(N, w + 32);
    if ((w >> 5) & 1) a.cork();
    for (let i = w; i < end; i++) {
      const len = sizeOf(i);
      fill(out, 5, i, len);
      a.send(out, 5, len, dest);
      out.fill(0xee, 5, 5 + len); // the transport must have copied or sent it already
    }
    if ((w >> 5) & 1) a.uncork();
    await waitUntil(`datagram ${end} of ${N} at ${dest} (have ${received})`, 5000, () =>
      failure !== null || received >= end ? true : undefined, 1);
    if (failure) break;
  }
  expect(failure).toBeNull();
  expect(received).toBe(N);
}

type Impl = 'native' | 'dgram';

async function open(impl: Impl, family: 4 | 6, bindAddress: string): Promise<UdpTransport> {
  const opts = { family, bindAddress, recvBufferSize: 4 << 20, sendBufferSize: 4 << 20 };
  return impl === 'native' ? NativeUdp.open(opts) : DgramUdp.open(opts);
}

describe.skipIf(addonSkip !== null)('native UDP transport vs node:dgram', () => {
  const cases: Array<{ a: Impl; b: Impl; family: 4 | 6 }> = [
    { a: 'native', b: 'native', family: 4 },
    { a: 'native', b: 'native', family: 6 },
    { a: 'dgram', b: 'dgram', family: 4 },
    { a: 'dgram', b: 'dgram', family: 6 },
    { a: 'native', b: 'dgram', family: 6 },
    { a: 'dgram', b: 'native', family: 4 },
  ];
  for (const c of cases) {
    it(`${c.a} → ${c.b} and back, IPv${c.family}: ${N} datagrams each way, byte-exact`, async () => {
      const host = c.family === 4 ? '127.0.0.1' : '::1';
      const fmt = (port: number): string => (c.family === 4 ? `${host}:${port}` : `[${host}]:${port}`);
      const a = await open(c.a, c.family, host);
      const b = await open(c.b, c.family, host);
      try {
        await stream(a, b, fmt(b.port), fmt(a.port));
        await stream(b, a, fmt(a.port), fmt(b.port));
        const sa = a.stats();
        const sb = b.stats();
        expect(sa.txPackets).toBe(N);
        expect(sb.rxPackets).toBe(N);
        expect(sa.txDropped + sa.txErrors + sb.rxTruncated).toBe(0);
        // One source: its endpoint string is formatted once, then served from the cache.
        if (c.b === 'native') expect(sb.endpointMisses).toBe(1);
      } finally {
        a.close();
        b.close();
      }
    });
  }

  for (const impl of ['native', 'dgram'] as const) {
    it(`${impl}: a dual-stack socket sees IPv4 peers as "a.b.c.d:port" and answers them`, async () => {
      const d = await open(impl, 6, '::');
      const v4 = await open(impl === 'native' ? 'dgram' : 'native', 4, '127.0.0.1');
      try {
        let seen = '';
        d.onDatagram((buf, off, len, ep) => {
          seen = ep;
          d.send(buf, off, len, ep); // echo
        });
        let echoed = '';
        v4.onDatagram((buf, off, len, ep) => {
          echoed = `${ep} ${Buffer.from(buf.subarray(off, off + len)).toString()}`;
        });
        v4.send(Buffer.from('ping4'), 0, 5, `127.0.0.1:${d.port}`);
        await waitUntil('the echo on the IPv4 socket', 5000, () => (echoed ? true : undefined));
        expect(seen).toBe(`127.0.0.1:${v4.port}`);
        expect(echoed).toBe(`127.0.0.1:${d.port} ping4`);
      } finally {
        d.close();
        v4.close();
      }
    });

    it(`${impl}: EADDRINUSE has a clear message`, async () => {
      const a = await open(impl, 4, '127.0.0.1');
      try {
        const err = await open(impl, 4, '127.0.0.1').then(
          () => null,
          (e: Error & { code?: string }) => e,
        );
        // Binding the same port explicitly:
        const again = await (impl === 'native'
          ? Promise.resolve().then(() => NativeUdp.open({ family: 4, bindAddress: '127.0.0.1', port: a.port }))
          : DgramUdp.open({ family: 4, bindAddress: '127.0.0.1', port: a.port })
        ).then(
          (s) => {
            s.close();
            return null;
          },
          (e: Error & { code?: string }) => e,
        );
        expect(err).toBeNull(); // port 0 picks another port
        expect(again).not.toBeNull();
        expect(again!.code).toBe('EADDRINUSE');
        expect(again!.message).toContain(`127.0.0.1:${a.port}`);
        expect(again!.message).toContain('address already in use');
      } finally {
        a.close();
      }
    });
  }

  it('native: malformed endpoints throw; an IPv6 destination on an IPv4 socket is counted', () => {
    const a = NativeUdp.open({ family: 4, bindAddress: '127.0.0.1' });
    try {
      const p = new Uint8Array(4);
      for (const bad of ['', '1.2.3.4', '1.2.3.4:', '1.2.3.4:65536', '[::1:80', 'host:80', '[::1]80', '1.2.3.400:1']) {
        expect(() => a.send(p, 0, 4, bad), bad).toThrow(TypeError);
      }
      a.send(p, 0, 4, '[2001:db8::1]:80');
      expect(a.stats().txErrors).toBe(1);
      expect(a.stats().lastTxError).toBe('EAFNOSUPPORT');
    } finally {
      a.close();
    }
  });

  it('native: endpoint strings are formatted exactly as node:dgram (libuv) formats addresses', () => {
    const rec = new Uint8Array(ADDR_SIZE);
    const fixed = ['::', '::1', '::2', '::102:304', '1::', '1:0:0:1::', '2001:db8::1:0:0:1', '2001:db8:0:1:1:1:1:1', 'fe80::1', '::ffff:0:1'];
    const addrs = [...fixed];
    for (let i = 0; i < 300; i++) {
      const b = randomBytes(16);
      // Runs of zero groups, so that "::" placement is exercised.
      for (let g = 0; g < 8; g++) if (b[g]! & 1) b.writeUInt16BE(0, g * 2);
      addrs.push(b.toString('hex').match(/.{4}/g)!.join(':'));
    }
    for (const a of addrs) {
      const expected = new net.SocketAddress({ address: a, family: 'ipv6' }).address;
      expect(addon!.encodeEndpoint(`[${a}]:443`, 6, rec, 0)).toBe(0);
      expect(addon!.formatEndpoint(rec, 0)).toBe(`[${expected}]:443`);
    }
    expect(addon!.encodeEndpoint('10.1.2.3:9', 4, rec, 0)).toBe(0);
    expect(addon!.formatEndpoint(rec, 0)).toBe('10.1.2.3:9');
    // A dual-stack socket sends to IPv4 through the mapped address.
    expect(addon!.encodeEndpoint('10.1.2.3:9', 6, rec, 0)).toBe(0);
    expect([rec[0], ...rec.subarray(14, 20)]).toEqual([6, 0xff, 0xff, 10, 1, 2, 3]);
  });

  it('native: a reading socket keeps the process alive until unref() or close()', async () => {
    const src = path.join(here, '../src/udp.ts');
    const js = `import { NativeUdp } from ${JSON.stringify(src)};
      const u = NativeUdp.open({ family: 4, bindAddress: '127.0.0.1' });
      u.unref();
      u.onDatagram(() => {});
      const v = NativeUdp.open({ family: 4, bindAddress: '127.0.0.1' });
      v.onDatagram(() => {});
      setTimeout(() => v.close(), 200);`;
    const t0 = Date.now();
    const r = await exec(null, process.execPath, ['--import', 'tsx', '--input-type=module', '-e', js], { timeoutMs: 10_000 });
    expect(r.stderr).toBe('');
    expect(Date.now() - t0).toBeLessThan(9000);
  });

  it('openUdp picks the native transport when the addon loads, dgram when asked', async () => {
    const a = await openUdp({ family: 4, bindAddress: '127.0.0.1' });
    const b = await openUdp({ family: 4, bindAddress: '127.0.0.1', impl: 'dgram' });
    expect(a.kind).toBe('native');
    expect(b.kind).toBe('dgram');
    a.close();
    b.close();
  });
});

describe('native addon missing', () => {
  it('without the addon: UDP falls back to node:dgram with a printed reason, TUN says why it cannot', async () => {
    const js = `import { openUdp } from ${JSON.stringify(path.join(here, '../src/udp.ts'))};
      import { TunDevice } from ${JSON.stringify(path.join(here, '../src/tun.ts'))};
      const u = await openUdp({ family: 4, bindAddress: '127.0.0.1' });
      console.log(u.kind);
      u.close();
      try { TunDevice.open('wgjstun7'); } catch (e) { console.log(e.code + ' ' + e.message); }`;
    const r = await exec(null, process.execPath, ['--import', 'tsx', '--input-type=module', '-e', js], {
      timeoutMs: 10_000,
      env: { WGJS_NATIVE_PATH: '/nonexistent/wgjs_native.node' },
    });
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe('dgram');
    expect(r.stderr).toContain('UDP: using node:dgram');
    expect(r.stderr).toContain('/nonexistent/wgjs_native.node');
    expect(lines[1]).toMatch(/^ENOTSUP TUN unavailable: the native addon .* did not load: cannot load \/nonexistent/);
  });
});

// ---------------------------------------------------------------------------------------------
// TUN

interface ChildEvent {
  event: string;
  [k: string]: unknown;
}

/** The TUN child (native-tun-child.ts) in a namespace, with its JSON-line events. */
class TunChild {
  events: ChildEvent[] = [];
  private buf = '';
  constructor(readonly proc: ChildProcess) {
    proc.stdout!.setEncoding('utf8');
    proc.stdout!.on('data', (d: string) => {
      this.buf += d;
      let nl: number;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        try {
          this.events.push(JSON.parse(line) as ChildEvent);
        } catch {
          this.events.push({ event: 'log', line });
        }
      }
    });
  }

  send(cmd: object): void {
    this.proc.stdin!.write(JSON.stringify(cmd) + '\n');
  }

  /** The first event matching `pred` after index `from` (bounded wait). */
  waitFor(what: string, pred: (e: ChildEvent) => boolean, from = 0, timeoutMs = 10_000): Promise<ChildEvent> {
    return waitUntil(`TUN child: ${what}`, timeoutMs, () => {
      const e = this.events.slice(from).find(pred);
      if (e === undefined && this.proc.exitCode !== null) {
        throw new Error(`TUN child exited (${this.proc.exitCode}): ${processOutput(this.proc)}`);
      }
      return e;
    });
  }

  /** Sends a command and waits for the reply event. */
  async ask(cmd: { cmd: string; [k: string]: unknown }, reply: string): Promise<ChildEvent> {
    const from = this.events.length;
    this.send(cmd);
    return this.waitFor(reply, (e) => e.event === reply, from);
  }
}

/** An IPv4/UDP packet (UDP checksum 0 = none, allowed for IPv4). */
function udp4Packet(src: string, sport: number, dst: string, dport: number, payload: Buffer): Buffer {
  const p = Buffer.alloc(28 + payload.length);
  p[0] = 0x45;
  p.writeUInt16BE(p.length, 2);
  p[8] = 64;
  p[9] = 17;
  Buffer.from(src.split('.').map(Number)).copy(p, 12);
  Buffer.from(dst.split('.').map(Number)).copy(p, 16);
  let s = 0;
  for (let i = 0; i < 20; i += 2) s += p.readUInt16BE(i);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  p.writeUInt16BE(~s & 0xffff, 10);
  p.writeUInt16BE(sport, 20);
  p.writeUInt16BE(dport, 22);
  p.writeUInt16BE(8 + payload.length, 24);
  payload.copy(p, 28);
  return p;
}

// Sends `count` datagrams to host:port from inside a namespace, in bursts of 100.
const FLOOD_JS = `
const s = require('node:dgram').createSocket('udp4');
const [host, port, count] = process.argv.slice(1);
const msg = Buffer.alloc(1000, 7);
let sent = 0;
function burst() {
  for (let i = 0; i < 100 && sent < Number(count); i++, sent++) s.send(msg, Number(port), host);
  if (sent < Number(count)) setTimeout(burst, 2); else setTimeout(() => s.close(), 100);
}
burst();
`;

describe.skipIf(tunSkip !== null)('TUN device (in a namespace)', () => {
  const lab = new Lab();
  afterAll(() => lab.cleanup());
  const childScript = path.join(here, 'native-tun-child.ts');
  const ifname = 'wgjstun0';

  it('reads what the kernel routes into it and writes what the kernel delivers', async () => {
    const ns = await lab.addNamespace();
    const proc = lab.spawnIn(ns, process.execPath, ['--import', 'tsx', childScript, ifname, '1400'], {
      cwd: repoRoot,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const child = new TunChild(proc);
    const ready = await child.waitFor('ready', (e) => e.event === 'ready' || e.event === 'error', 0, 20_000);
    expect(ready, JSON.stringify(ready)).toMatchObject({ event: 'ready', name: ifname });

    // Addresses come from `ip`, not from the addon.
    await lab.exec(ns, 'ip', ['addr', 'add', '10.201.0.1/24', 'dev', ifname]);
    await lab.exec(ns, 'ip', ['-6', 'addr', 'add', 'fd77:201::1/64', 'dev', ifname, 'nodad']);
    await lab.exec(ns, 'ip', ['link', 'set', ifname, 'up']);
    const link = await lab.exec(ns, 'ip', ['-o', 'link', 'show', ifname]);
    expect(link.stdout).toContain('mtu 1400');

    // kernel → TUN → (child answers) → TUN → kernel: ping through the device.
    expect(await lab.ping(ns, '10.201.0.2', { count: 3, timeoutSec: 5 })).toBe(3);

    // kernel → TUN: UDP over IPv4 and IPv6.
    let from = child.events.length;
    await lab.udpSend(ns, '10.201.0.2', 9999, 'hello tun', 4444);
    const p4 = await child.waitFor('the IPv4 UDP packet', (e) => e.event === 'packet' && e.dport === 9999, from);
    expect(p4).toMatchObject({ v: 4, proto: 17, src: '10.201.0.1', dst: '10.201.0.2', sport: 4444, len: 28 + 9 });
    expect(Buffer.from(p4.data as string, 'base64').toString()).toBe('hello tun');
    from = child.events.length;
    await lab.udpSend(ns, 'fd77:201::2', 9999, 'hello tun6');
    const p6 = await child.waitFor('the IPv6 UDP packet', (e) => e.event === 'packet' && e.v === 6 && e.dport === 9999, from);
    expect(p6).toMatchObject({ proto: 17, src: 'fd77:201:0:0:0:0:0:1', dst: 'fd77:201:0:0:0:0:0:2', len: 48 + 10 });
    expect(Buffer.from(p6.data as string, 'base64').toString()).toBe('hello tun6');

    // TUN → kernel: a datagram "from" 10.201.0.2 is delivered to a socket in the namespace.
    const rx = await lab.udpReceiver(ns, 9997, { host: '10.201.0.1' });
    const w = await child.ask(
      { cmd: 'write', hex: udp4Packet('10.201.0.2', 7777, '10.201.0.1', 9997, Buffer.from('from tun')).toString('hex') },
      'written',
    );
    expect(w.ok).toBe(true);
    await rx.waitFor(1);
    expect(rx.messages[0]).toMatchObject({ from: '10.201.0.2', port: 7777 });
    expect(rx.messages[0]!.data.toString()).toBe('from tun');
    await rx.close();

    // A burst is read in batches, nothing lost.
    await lab.exec(ns, process.execPath, ['-e', FLOOD_JS, '10.201.0.2', '9998', '2000']);
    await waitUntil('2000 flood packets read', 10_000, async () => {
      const s = await child.ask({ cmd: 'stats' }, 'stats');
      return (s.floodCount as number) >= 2000 ? s : undefined;
    }, 50);
    const stats = await child.ask({ cmd: 'stats' }, 'stats');
    expect(stats.floodCount).toBe(2000);
    expect(stats.maxBatch as number).toBeGreaterThan(1);
    expect(stats.batches as number).toBeLessThan(stats.rxPackets as number);
    expect(stats.echoReplies).toBe(3);
    expect(stats.rxTruncated).toBe(0);

    // Errors: the name is taken (by our TUN; by a non-TUN device), too long.
    const busy = await child.ask({ cmd: 'open2', name: ifname }, 'open2');
    expect(busy).toMatchObject({ ok: false, code: 'EBUSY' });
    expect(busy.message).toContain(`"${ifname}" is in use`);
    const lo = await child.ask({ cmd: 'open2', name: 'lo' }, 'open2');
    expect(lo).toMatchObject({ ok: false, code: 'EBUSY' });
    const long = await child.ask({ cmd: 'open2', name: 'a-name-far-too-long' }, 'open2');
    expect(long).toMatchObject({ ok: false, code: 'EINVAL' });

    // Close: the (non-persistent) device disappears.
    await child.ask({ cmd: 'close' }, 'closed');
    await waitUntil(`${ifname} gone`, 5000, async () =>
      (await lab.exec(ns, 'ip', ['-o', 'link', 'show']).then((r) => r.stdout)).includes(ifname) ? undefined : true,
    );
  });

  it('drops and counts a packet longer than its slot, keeps one that fits exactly', async () => {
    const ns = await lab.addNamespace();
    const proc = lab.spawnIn(ns, process.execPath, ['--import', 'tsx', childScript, 'wgjstun1', '1400', '1000'], {
      cwd: repoRoot,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const child = new TunChild(proc);
    const ready = await child.waitFor('ready', (e) => e.event === 'ready' || e.event === 'error', 0, 20_000);
    expect(ready.event, JSON.stringify(ready)).toBe('ready');
    await lab.exec(ns, 'ip', ['addr', 'add', '10.201.1.1/24', 'dev', 'wgjstun1']);
    await lab.exec(ns, 'ip', ['link', 'set', 'wgjstun1', 'up']);
    for (const n of [500, 1300, 972]) await lab.udpSend(ns, '10.201.1.2', 9999, Buffer.alloc(n, 0x5a));
    const fit = await child.waitFor('the 1000-byte packet', (e) => e.event === 'packet' && e.len === 1000);
    expect(Buffer.from(fit.data as string, 'base64')).toEqual(Buffer.alloc(972, 0x5a));
    const stats = await child.ask({ cmd: 'stats' }, 'stats');
    expect(stats.rxTruncated).toBe(1);
    const lens = child.events.filter((e) => e.event === 'packet' && e.dport === 9999).map((e) => e.len);
    expect(lens).toEqual([528, 1000]);
    await child.ask({ cmd: 'close' }, 'closed');
  });

  it.skipIf(unshareSkip !== null)('says ENOENT with a hint when /dev/net/tun is missing', async () => {
    // A private mount namespace where /dev/net is an empty tmpfs: the host is not affected.
    const js = `try { require(${JSON.stringify(NATIVE_PATH)}).tunOpen('wgjstun8'); console.log('opened'); } ` +
      `catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }`;
    const r = await lab.exec(null, 'unshare', ['-m', 'sh', '-c', `mount -t tmpfs none /dev/net && exec "$0" -e "$1"`, process.execPath, js]);
    const e = JSON.parse(r.stdout) as { code: string; message: string };
    expect(e.code).toBe('ENOENT');
    expect(e.message).toContain('/dev/net/tun');
    expect(e.message).toContain('modprobe tun');
  });

  it.skipIf(setprivSkip !== null)('says EPERM (root or CAP_NET_ADMIN) to an unprivileged process', async () => {
    const ns = await lab.addNamespace();
    const js = `try { require(${JSON.stringify(NATIVE_PATH)}).tunOpen('wgjstun9'); console.log('opened'); } ` +
      `catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }`;
    const r = await lab.exec(ns, 'setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', js]);
    const e = JSON.parse(r.stdout) as { code: string; message: string };
    expect(e.code).toBe('EPERM');
    expect(e.message).toContain('CAP_NET_ADMIN');
  });
});
