/** The keepalive probe responder on loopback: delays, nonce echo, limits, bad packets, close, CLI. */
import dgram from 'node:dgram';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { PROBE_REPLY, PROBE_SIZE, parseProbe, probeNonce, writeProbeRequest } from '@wgjs/core';
import { MAX_PENDING_PER_SOURCE, ProbeResponder, parseListenAddress } from '../src/probe-responder.js';

const bin = fileURLToPath(new URL('../bin/wgjs.js', import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function request(delayMs: number, nonce: number): Uint8Array {
  const b = new Uint8Array(PROBE_SIZE);
  writeProbeRequest(b, 0, delayMs, nonce);
  return b;
}

interface Client {
  sock: dgram.Socket;
  /** [arrival ms since `t0`, nonce] of every valid reply. */
  replies: Array<[number, number]>;
  other: number;
  t0: number;
  send(b: Uint8Array, port: number, host?: string): void;
}

async function client(type: 'udp4' | 'udp6' = 'udp4'): Promise<Client> {
  const sock = dgram.createSocket(type);
  await new Promise<void>((r) => sock.bind(0, type === 'udp4' ? '127.0.0.1' : '::1', r));
  const c: Client = {
    sock, replies: [], other: 0, t0: performance.now(),
    send(b, port, host = type === 'udp4' ? '127.0.0.1' : '::1') {
      sock.send(b, port, host);
    },
  };
  sock.on('message', (m) => {
    const u = new Uint8Array(m.buffer, m.byteOffset, m.byteLength);
    if (parseProbe(u, 0, u.length) === PROBE_REPLY) c.replies.push([performance.now() - c.t0, probeNonce(u, 0)]);
    else c.other++;
  });
  return c;
}

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

async function start(host = '127.0.0.1'): Promise<{ r: ProbeResponder; port: number }> {
  const r = await ProbeResponder.start({ host, port: 0 });
  cleanup.push(() => r.close());
  return { r, port: Number(r.address.slice(r.address.lastIndexOf(':') + 1)) };
}

async function until(cond: () => boolean, ms: number): Promise<void> {
  for (let t = 0; t < ms && !cond(); t += 10) await sleep(10);
}

describe('ProbeResponder', () => {
  it('answers after the requested delay with the nonce echoed', async () => {
    const { r, port } = await start();
    expect(r.address).toMatch(/^127\.0\.0\.1:\d+$/);
    const c = await client();
    cleanup.push(() => { c.sock.close(); });
    c.t0 = performance.now();
    c.send(request(400, 0xcafe0001), port);
    c.send(request(0, 7), port);
    c.send(request(150, 0xffffffff), port);
    await until(() => c.replies.length === 3, 3000);
    expect(c.replies.map((x) => x[1])).toEqual([7, 0xffffffff, 0xcafe0001]);
    const at = new Map(c.replies.map(([t, n]) => [n, t]));
    // timers never fire early; allow generous lateness on a loaded machine
    expect(at.get(7)!).toBeLessThan(150);
    expect(at.get(0xffffffff)!).toBeGreaterThanOrEqual(145);
    expect(at.get(0xffffffff)!).toBeLessThan(150 + 250);
    expect(at.get(0xcafe0001)!).toBeGreaterThanOrEqual(395);
    expect(at.get(0xcafe0001)!).toBeLessThan(400 + 250);
    expect(r.stats).toMatchObject({ received: 3, requests: 3, replies: 3 });
  });

  it('the reply is the request with type 2, from the same socket to the source port', async () => {
    const { port } = await start();
    const c = await client();
    cleanup.push(() => { c.sock.close(); });
    const got = new Promise<[Buffer, dgram.RemoteInfo]>((res) => c.sock.once('message', (m, ri) => res([m, ri])));
    const req = request(0, 0x01020304);
    c.send(req, port);
    const [m, ri] = await got;
    const expected = new Uint8Array(req);
    expected[5] = 2;
    expect(new Uint8Array(m)).toEqual(expected);
    expect(ri.port).toBe(port);
  });

  it('ignores bad packets and counts them by reason', async () => {
    const { r, port } = await start();
    const c = await client();
    cleanup.push(() => { c.sock.close(); });
    const good = request(0, 1);
    const edit = (f: (b: Uint8Array) => void) => {
      const b = new Uint8Array(good);
      f(b);
      return b;
    };
    c.send(new Uint8Array(15), port);
    c.send(new Uint8Array(17), port);
    c.send(edit((b) => (b[0] = 0)), port);
    c.send(edit((b) => (b[4] = 9)), port);
    c.send(edit((b) => (b[5] = 2)), port); // a reply is not a request
    c.send(edit((b) => (b[5] = 7)), port);
    c.send(edit((b) => (b[6] = 1)), port);
    c.send(edit((b) => (b[8] = 1)), port); // delay > 600000 ms
    c.send(good, port);
    await until(() => c.replies.length === 1 && r.stats.received === 9, 2000);
    await sleep(50);
    expect(c.replies.length).toBe(1);
    expect(c.other).toBe(0);
    expect(r.stats.dropped).toEqual({ size: 2, magic: 1, version: 1, type: 2, reserved: 1, delay: 1, perSource: 0, total: 0 });
    expect(r.stats.requests).toBe(1);
  });

  it('holds at most 8 pending replies per source address', async () => {
    const { r, port } = await start();
    const a = await client();
    const b = await client(); // another port, same address: shares the limit
    cleanup.push(() => { a.sock.close(); }, () => { b.sock.close(); });
    for (let i = 0; i < 10; i++) a.send(request(300, i), port);
    for (let i = 0; i < 2; i++) b.send(request(300, 100 + i), port);
    await until(() => r.stats.received === 12, 2000);
    expect(r.stats.requests).toBe(MAX_PENDING_PER_SOURCE);
    expect(r.stats.dropped.perSource).toBe(4);
    expect(r.pendingReplies).toBe(8);
    await until(() => a.replies.length === 8, 2000);
    // once the replies went out, the source may ask again
    b.send(request(0, 200), port);
    await until(() => b.replies.length === 1, 2000);
    expect(b.replies[0][1]).toBe(200);
    expect(r.stats.replies).toBe(9);
  });

  it('a different source address has its own allowance (IPv6 loopback)', async () => {
    const v6 = await ProbeResponder.start({ host: '::1', port: 0 }).catch(() => null);
    if (!v6) {
      console.warn('[probe-responder] no IPv6 loopback: IPv6 case skipped');
      return;
    }
    cleanup.push(() => v6.close());
    expect(v6.address).toMatch(/^\[::1\]:\d+$/);
    const port = Number(v6.address.slice(v6.address.lastIndexOf(':') + 1));
    const c = await client('udp6');
    cleanup.push(() => { c.sock.close(); });
    for (let i = 0; i < 9; i++) c.send(request(50, i), port);
    await until(() => c.replies.length === 8, 2000);
    expect(v6.stats.dropped.perSource).toBe(1);
  });

  it('close cancels pending replies', async () => {
    const { r, port } = await start();
    const c = await client();
    cleanup.push(() => { c.sock.close(); });
    c.send(request(200, 1), port);
    await until(() => r.pendingReplies === 1, 2000);
    await r.close();
    await r.close(); // twice is fine
    await sleep(350);
    expect(c.replies.length).toBe(0);
    expect(r.stats.replies).toBe(0);
  });

  it('refuses an address it cannot bind', async () => {
    const { r } = await start();
    const port = Number(r.address.slice(r.address.lastIndexOf(':') + 1));
    await expect(ProbeResponder.start({ host: '127.0.0.1', port })).rejects.toMatchObject({ code: 'EADDRINUSE' });
    await expect(ProbeResponder.start({ host: '192.0.2.77', port: 0 })).rejects.toMatchObject({ code: 'EADDRNOTAVAIL' });
    await expect(ProbeResponder.start({ host: 'localhost', port: 0 })).rejects.toMatchObject({ code: 'EINVAL' });
  });

  it('parses listen addresses', () => {
    expect(parseListenAddress('10.0.0.1:51821')).toEqual({ host: '10.0.0.1', port: 51821 });
    expect(parseListenAddress('[fd00::1]:7')).toEqual({ host: 'fd00::1', port: 7 });
    for (const bad of ['10.0.0.1', 'fd00::1:7', '[fd00::1]7', 'host.example:1', '10.0.0.1:70000', '10.0.0.1:x', '300.0.0.1:5']) {
      expect(typeof parseListenAddress(bad), bad).toBe('string');
    }
  });
});

describe('wgjs probe-responder', () => {
  it('listens, answers, and stops cleanly on SIGTERM', async () => {
    const child = spawn(process.execPath, [bin, 'probe-responder', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    cleanup.push(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    await until(() => out.includes('\n'), 20_000);
    const m = /^wgjs probe-responder: listening on 127\.0\.0\.1:(\d+) \(UDP\)\n$/.exec(out);
    expect(m, out + err).not.toBeNull();
    const c = await client();
    cleanup.push(() => { c.sock.close(); });
    c.send(request(10, 42), Number(m![1]));
    c.send(request(60_000, 43), Number(m![1])); // still pending at SIGTERM
    await until(() => c.replies.length === 1, 5000);
    expect(c.replies[0][1]).toBe(42);
    const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(err).toContain('1 pending cancelled');
  });

  it('reports a bind failure with exit 1 and usage errors with exit 2', () => {
    const run = (args: string[]) => spawnSync(process.execPath, [bin, 'probe-responder', ...args], { encoding: 'utf8', timeout: 30_000 });
    const notHere = run(['192.0.2.77:51821']);
    expect(notHere.status).toBe(1);
    expect(notHere.stderr).toMatch(/cannot listen on 192\.0\.2\.77:51821: no such address on this host/);
    for (const args of [[], ['a', 'b'], ['10.0.0.1'], ['[::1]x'], ['name.example:5']]) {
      const r = run(args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/^wgjs: /);
    }
  });
});
