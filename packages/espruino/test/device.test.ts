/**
 * The device build (`dist/wgjs.js`, built here) run unmodified in the Espruino shim:
 *  (a) against a modem emulator (in-memory UART, real UDP on 127.0.0.1) and an in-process wgjs
 *      engine as the server: handshake, UDP both ways, ping, re-attach, TAI64N persistence across a
 *      reboot, the slow-CPU guards (simulated with a crypto module whose X25519 advances the shim's
 *      clock), the bench;
 *  (b) for each modem dialect: the bundle in a child process (shim + emulator) in one network
 *      namespace, wireguard-go in another: handshake, a datagram each way inside the tunnel, ping
 *      from the wireguard-go side, re-attach with a new source port;
 *  (c) TAI64N persistence across a simulated reboot against wireguard-go.
 * Namespace tests are skipped with a printed reason when not root or wireguard-go/wg are missing.
 */
import { createCipheriv, createDecipheriv, randomFillSync } from 'node:crypto';
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  Drop, ECHO_REPLY, ECHO_REQUEST, Engine, createPortableProvider, generatePrivateKey, parseIcmpEcho, parseUdp, toBase64,
  udpInfo, writeIcmpEcho, writeUdp, type CryptoProvider,
} from '@wgjs/core';
import { buildDevice } from '../scripts/build.js';
import { EspruinoShim } from '../shim/espruino.js';
import { createEmulator } from '../emulator/index.js';
import type { ModemEmulator } from '../emulator/index.js';
import { Lab, requireTools, type WgHandle } from '../../node-tun/test/lab/netns.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(here, '../../..');
const random = (b: Uint8Array, o: number, n: number): void => { randomFillSync(b, o, n); };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

let bundle = '';
beforeAll(async () => {
  bundle = (await buildDevice()).code;
});

async function waitFor<T>(what: string, ms: number, fn: () => T | undefined | false): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(20);
  }
}

// ------------------------------------------------------------------------------------------------
// (a) in-process: shim + emulator + a wgjs engine as the server

/** The server: a wgjs engine on a UDP socket on 127.0.0.1, tunnel address 10.0.0.1. */
class Server {
  sock = dgram.createSocket('udp4');
  engine!: Engine;
  key = generatePrivateKey(random);
  delivered: Uint8Array[] = [];
  initiations: string[] = [];
  port = 0;
  private timer: NodeJS.Timeout | null = null;

  async start(devicePublic: Uint8Array): Promise<void> {
    await new Promise<void>((r) => this.sock.bind(0, '127.0.0.1', () => r()));
    this.port = this.sock.address().port;
    this.engine = new Engine({ privateKey: this.key, crypto: createPortableProvider(), random, wallTime: Date.now, maxPeers: 2 }, {
      send: (buf, off, len, ep) => {
        const i = ep.lastIndexOf(':');
        this.sock.send(Buffer.from(buf.subarray(off, off + len)), +ep.slice(i + 1), ep.slice(0, i));
      },
      deliver: (buf, off, len) => { this.delivered.push(buf.slice(off, off + len)); },
    });
    this.engine.addPeer({ publicKey: devicePublic, allowedIPs: ['10.0.0.2/32'] });
    this.sock.on('message', (m, r) => {
      if (m[0] === 1) this.initiations.push(`${r.address}:${r.port}`);
      this.engine.receive(performance.now(), m, 0, m.length, `${r.address}:${r.port}`);
    });
    this.timer = setInterval(() => this.engine.tick(performance.now()), 50);
  }

  get endpoint(): string | null {
    return this.engine.peerStatus(0).endpoint;
  }

  /** A UDP datagram from 10.0.0.1:sport to the device. */
  sendUdp(payload: string, sport: number, dport: number): void {
    const p = new Uint8Array(28 + payload.length);
    const n = writeUdp(p, 0, 4, new Uint8Array([10, 0, 0, 1]), sport, new Uint8Array([10, 0, 0, 2]), dport, Buffer.from(payload, 'latin1'), 0, payload.length);
    this.engine.sendPacket(performance.now(), p, 0, n);
  }

  ping(seq: number): void {
    const p = new Uint8Array(64);
    const n = writeIcmpEcho(p, 0, 4, new Uint8Array([10, 0, 0, 1]), new Uint8Array([10, 0, 0, 2]), ECHO_REQUEST, 0x4242, seq, Buffer.from('wgjs ping'), 0, 9);
    this.engine.sendPacket(performance.now(), p, 0, n);
  }

  udpPayloads(): string[] {
    const out: string[] = [];
    for (const d of this.delivered) if (parseUdp(d, 0, d.length) >= 0) out.push(Buffer.from(d.subarray(udpInfo.payloadOff, udpInfo.payloadOff + udpInfo.payloadLen)).toString('latin1'));
    return out;
  }

  echoReplies(): number[] {
    const out: number[] = [];
    for (const d of this.delivered) {
      const e = { family: 0, kind: 0, ipLength: 0, srcAddrOff: 0, dstAddrOff: 0, icmpOff: 0, id: 0, seq: 0, payloadOff: 0, payloadLen: 0 };
      if (parseIcmpEcho(d, 0, d.length, e) === ECHO_REPLY && e.id === 0x4242) out.push(e.seq);
    }
    return out;
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    try { this.sock.close(); } catch { /* closed already (shared by several rigs) */ }
  }
}

/** Storage that counts writes per file. */
class CountingStorage extends Map<string, string> {
  writes = new Map<string, number>();
  override set(k: string, v: string): this {
    this.writes.set(k, (this.writes.get(k) ?? 0) + 1);
    return super.set(k, v);
  }
}

interface Rig {
  shim: EspruinoShim;
  emu: ModemEmulator;
  server: Server;
  deviceKey: Uint8Array;
  api: {
    start(cfg: unknown): void;
    sendUdp(dst: string, port: number, data: string | Uint8Array, sport?: number): boolean;
    onUdp(cb: ((d: Uint8Array, ip: string, sport: number, dport: number) => void) | null): void;
    status(printIt?: boolean): Record<string, unknown>;
    connect(force?: boolean): void;
    report(dst: string, port: number, data: string | Uint8Array, sport?: number): boolean;
    sleep(): void;
    stop(): void;
    bench(o?: unknown): Record<string, unknown>;
  };
  received: Array<{ data: string; from: string; sport: number; dport: number }>;
  cfg: Record<string, unknown>;
}

const rigs: Rig[] = [];
afterEach(() => {
  for (const r of rigs.splice(0)) {
    try { r.api.stop(); } catch { /* already */ }
    r.shim.close();
    r.emu.close();
    r.server.close();
  }
});

/** The bundle in a shim with an emulator, started against a fresh in-process server. */
async function rig(opts: {
  dialect?: string; storage?: Map<string, string>; modules?: Record<string, unknown>; server?: Server; deviceKey?: Uint8Array;
  keepalive?: number | string; start?: boolean; code?: string;
} = {}): Promise<Rig> {
  const dialect = opts.dialect ?? 'quectel';
  const deviceKey = opts.deviceKey ?? generatePrivateKey(random);
  const pub = new Uint8Array(32);
  createPortableProvider().x25519Base(pub, deviceKey);
  const server = opts.server ?? new Server();
  if (!opts.server) await server.start(pub);
  const emu = createEmulator(dialect, {});
  const shim = new EspruinoShim({ storage: opts.storage, serial: { Serial1: emu.serial() }, modules: opts.modules });
  shim.run(opts.code ?? bundle, 'wgjs.js');
  const api = shim.wgjs as unknown as Rig['api'];
  const cfg = {
    privateKey: toBase64(deviceKey),
    address: '10.0.0.2/32',
    peer: { publicKey: toBase64(server.engine.publicKey), endpoint: `127.0.0.1:${server.port}`, allowedIPs: ['10.0.0.0/24'], persistentKeepalive: opts.keepalive ?? 'auto' },
    modem: { dialect, serial: 'Serial1', baud: 115200, tx: 'D1', rx: 'D2', apn: 'iot.test', pwrkey: 'D3' },
  };
  const r: Rig = { shim, emu, server, deviceKey, api, received: [], cfg };
  rigs.push(r);
  if (opts.start !== false) {
    api.start(cfg);
    api.onUdp((d, from, sport, dport) => { r.received.push({ data: Buffer.from(d).toString('latin1'), from, sport, dport }); });
  }
  return r;
}

const isHandshake = (e: Record<string, unknown>): boolean => e.event === 'handshake';

describe('device build in the shim, in-process server', () => {
  it('handshakes, carries UDP both ways and answers ping', async () => {
    const r = await rig();
    const hs = await r.shim.waitEvent(isHandshake, 15_000);
    expect(hs.peer).toBe(toBase64(r.server.engine.publicKey));
    expect(typeof hs.ms).toBe('number');
    expect(r.api.sendUdp('10.0.0.1', 5555, 'reading 21.5C', 4000)).toBe(true);
    await waitFor('the datagram at the server', 5000, () => r.server.udpPayloads().includes('reading 21.5C'));
    r.server.sendUdp('set interval 60\x00\xff', 5555, 4000);
    const got = await waitFor('the datagram at the device', 5000, () => r.received[0]);
    expect(got).toEqual({ data: 'set interval 60\x00\xff', from: '10.0.0.1', sport: 5555, dport: 4000 });
    r.server.ping(1);
    r.server.ping(2);
    await waitFor('two echo replies', 5000, () => r.server.echoReplies().length === 2);
    const st = r.api.status();
    expect(st).toMatchObject({ event: 'status', state: 'connected', modem: 'up', handshakes: 1, initiations: 1, udpIn: 1, udpOut: 1, pings: 2, tooSlow: 0, crypto: 'portable' });
    expect(st.handshakeAge).toBeGreaterThanOrEqual(0);
    expect(r.shim.errors).toEqual([]);
  });

  it('reports and sleeps: one datagram on a young session, asleep before and after; adaptive keepalive on', async () => {
    const r = await rig();
    await r.shim.waitEvent(isHandshake, 15_000);
    await waitFor('the adaptive keepalive', 5000, () => r.api.status().keepalive === 'auto');
    r.api.sleep();
    expect(r.api.status().asleep).toBe(true);
    expect(r.api.report('10.0.0.1', 5555, 'report 1', 4000)).toBe(true);
    await waitFor('the report at the server', 5000, () => r.server.udpPayloads().includes('report 1'));
    const st = r.api.status();
    expect(st.asleep).toBe(true);
    expect(st.adaptive).toMatchObject({ echo: false });
    expect(r.server.initiations.length).toBe(1);
    // A plain send wakes the tunnel.
    expect(r.api.sendUdp('10.0.0.1', 5555, 'awake', 4000)).toBe(true);
    expect(r.api.status().asleep).toBe(false);
  });

  it('stages a datagram sent before the first handshake and delivers it after', async () => {
    const r = await rig();
    await waitFor('modem up', 10_000, () => r.shim.events.some((e) => e.state === 'up'));
    // Sent right away: the handshake is not done yet (its response is processed asynchronously).
    expect(r.api.sendUdp('10.0.0.1', 5555, 'early')).toBe(true);
    await waitFor('the staged datagram', 10_000, () => r.server.udpPayloads().includes('early'));
    expect(r.server.initiations.length).toBe(1);
  });

  for (const dialect of ['simcom', 'sim7000', 'sim7600', 'espat']) {
    it(`works over the ${dialect} driver`, async () => {
      const r = await rig({ dialect });
      await r.shim.waitEvent(isHandshake, 15_000);
      expect(r.api.sendUdp('10.0.0.1', 5555, `hi ${dialect}`)).toBe(true);
      await waitFor('the datagram', 5000, () => r.server.udpPayloads().includes(`hi ${dialect}`));
      r.server.ping(7);
      await waitFor('the echo reply', 5000, () => r.server.echoReplies().includes(7));
    });
  }

  it('re-handshakes at once after a re-attach, and the server follows the new port', async () => {
    const r = await rig();
    await r.shim.waitEvent(isHandshake, 15_000);
    const before = r.server.endpoint;
    const n = r.shim.events.length;
    r.emu.reattach();
    await r.shim.waitEvent((e) => e.state === 'reattach', 15_000, n);
    const hs = await r.shim.waitEvent(isHandshake, 15_000, n);
    expect(hs).toBeTruthy();
    expect(r.server.endpoint).not.toBe(before);
    expect(r.server.endpoint).toBe(`127.0.0.1:${r.emu.publicPort}`);
    expect(r.api.sendUdp('10.0.0.1', 5555, 'after reattach')).toBe(true);
    await waitFor('traffic after the re-attach', 5000, () => r.server.udpPayloads().includes('after reattach'));
    r.server.ping(9);
    await waitFor('ping after the re-attach', 5000, () => r.server.echoReplies().includes(9));
  });

  it('persists the TAI64N: after a reboot with the clock back at 0 the server accepts the new handshake', async () => {
    const storage = new CountingStorage();
    const a = await rig({ storage });
    await a.shim.waitEvent(isHandshake, 15_000);
    // A few more handshakes in this boot: the reservation covers them, Storage is written once.
    for (let i = 0; i < 3; i++) {
      const n = a.shim.events.length;
      a.api.connect(true);
      await a.shim.waitEvent(isHandshake, 10_000, n);
    }
    expect(storage.writes.get('wgjs.ts')).toBe(1);
    const stampBefore = storage.get('wgjs.ts');
    a.api.stop();
    a.shim.close();
    a.emu.close();
    // Reboot: same Storage, a new interpreter whose clock starts at 0 again.
    const b = await rig({ storage, server: a.server, deviceKey: a.deviceKey });
    await b.shim.waitEvent(isHandshake, 15_000);
    expect(storage.get('wgjs.ts')).not.toBe(stampBefore);
    expect(storage.writes.get('wgjs.ts')).toBe(2);
    // Control: without the persisted value the server refuses the replayed (smaller) timestamp.
    b.api.stop();
    b.shim.close();
    b.emu.close();
    storage.delete('wgjs.ts');
    const stale = a.server.engine.drops[Drop.STALE_TIMESTAMP]!;
    const c = await rig({ storage, server: a.server, deviceKey: a.deviceKey });
    await waitFor('the stale initiation to be dropped', 10_000, () => a.server.engine.drops[Drop.STALE_TIMESTAMP]! > stale);
    expect(c.shim.events.some(isHandshake)).toBe(false);
  });

  it('answers a peer\'s initiation by initiating itself (never as responder)', async () => {
    const r = await rig();
    await r.shim.waitEvent(isHandshake, 15_000);
    const n = r.shim.events.length;
    const inits = r.server.initiations.length;
    // Later (past REKEY_TIMEOUT on the device's clock) the server initiates, as a peer that lost
    // its session does when it has data for the device.
    r.shim.advance(6000);
    r.server.engine.connect(performance.now(), 0, true);
    await r.shim.waitEvent(isHandshake, 10_000, n);
    expect(r.server.initiations.length).toBe(inits + 1);
    expect(r.api.status().handshakes).toBe(2);
  });

  it('runs the example sensor application', async () => {
    const storage = new Map<string, string>();
    const r = await rig({ storage, start: false });
    storage.set('wgjs.cfg', JSON.stringify({ ...r.cfg, app: { host: '10.0.0.1', port: 5555, interval: 2, srcPort: 4000 } }));
    r.shim.run("wgjs.start(require('Storage').readJSON('wgjs.cfg', 1));", '.boot0');
    r.shim.run(readFileSync(path.join(here, '../examples/sensor.js'), 'utf8'), '.boot1');
    await waitFor('the first reading', 10_000, () => r.server.udpPayloads().length >= 1);
    expect(JSON.parse(r.server.udpPayloads()[0]!)).toMatchObject({ n: 1, t: 21.5 });
    r.shim.advance(2000);
    await waitFor('the second reading', 5000, () => r.server.udpPayloads().length >= 2);
    expect(JSON.parse(r.server.udpPayloads()[1]!).n).toBe(2);
    r.server.sendUdp('interval 1', 5555, 4000);
    await waitFor('the command reply', 5000, () => r.server.udpPayloads().includes('ok 1'));
    r.shim.advance(1000);
    await waitFor('a reading at the new interval', 5000, () => r.server.udpPayloads().filter((p) => p.startsWith('{')).length >= 3);
    expect(r.shim.errors).toEqual([]);
  });

  it('uses a native wgcrypto module for everything it provides (README interface)', async () => {
    const js = createPortableProvider();
    const calls: Record<string, number> = {};
    const count = (k: string): void => { calls[k] = (calls[k] ?? 0) + 1; };
    // node:crypto's ChaCha20-Poly1305 and the host build's BLAKE2s/X25519 play the firmware.
    const mod = {
      x25519(out: Uint8Array, scalar: Uint8Array, point: Uint8Array): boolean { count('x25519'); return js.x25519(out, scalar, point); },
      seal(key: Uint8Array, nonce: Uint8Array, ad: Uint8Array | undefined, data: Uint8Array, tag: Uint8Array): void {
        count('seal');
        const c = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
        if (ad) c.setAAD(ad, { plaintextLength: data.length });
        data.set(Buffer.concat([c.update(data), c.final()]));
        tag.set(c.getAuthTag());
      },
      open(key: Uint8Array, nonce: Uint8Array, ad: Uint8Array | undefined, data: Uint8Array, tag: Uint8Array): boolean {
        count('open');
        const d = createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
        if (ad) d.setAAD(ad, { plaintextLength: data.length });
        d.setAuthTag(tag);
        try {
          const pt = Buffer.concat([d.update(data), d.final()]);
          data.set(pt);
          return true;
        } catch {
          return false;
        }
      },
      blake2sInit(outLen: number, key: Uint8Array | undefined): void { count('blake2s'); js.hashInit(outLen, key ?? null, key ? key.length : 0); },
      blake2sUpdate(data: Uint8Array): void { js.hashUpdate(data, 0, data.length); },
      blake2sFinal(out: Uint8Array): void { js.hashFinal(out, 0); },
      random(out: Uint8Array): void { count('random'); randomFillSync(out); },
    };
    const r = await rig({ modules: { wgcrypto: mod } });
    await r.shim.waitEvent(isHandshake, 15_000);
    expect(r.api.sendUdp('10.0.0.1', 5555, 'native')).toBe(true);
    await waitFor('the datagram', 5000, () => r.server.udpPayloads().includes('native'));
    r.server.sendUdp('back', 5555, 4000);
    await waitFor('the reply', 5000, () => r.received.some((x) => x.data === 'back'));
    r.server.ping(3);
    await waitFor('the echo reply', 5000, () => r.server.echoReplies().includes(3));
    expect(r.api.status().crypto).toBe('native');
    for (const k of ['x25519', 'seal', 'open', 'blake2s', 'random']) expect(calls[k], k).toBeGreaterThan(0);
    expect(r.shim.errors).toEqual([]);
  });

  it('pulses PWRKEY when the modem does not answer at all, then opens', async () => {
    const r = await rig({ start: false });
    r.emu.dropNext('AT', 11); // the driver's first AT and its ten retries go unanswered: "off"
    r.api.start(r.cfg);
    await waitFor('the failed open', 5000, () => {
      r.shim.advance(600);
      return r.shim.events.some((e) => e.event === 'error' && String(e.message).includes('modem open: timeout'));
    });
    expect(r.shim.pins).toContainEqual(['D3', 0]);
    for (let i = 0; i < 10; i++) {
      r.shim.advance(1000);
      await sleep(20);
    }
    await r.shim.waitEvent(isHandshake, 15_000);
    const pw = r.shim.pins.filter((p) => p[0] === 'D3').map((p) => p[1]);
    expect(pw.slice(0, 3)).toEqual([1, 0, 1]); // idle high at start, one low pulse
  });

  it('prints a bench result', async () => {
    const r = await rig({ start: false });
    const b = r.api.bench();
    expect(b).toMatchObject({ event: 'bench', crypto: 'portable', handshakeOk: true });
    for (const k of ['x25519Ms', 'aead64KBs', 'aead1420KBs', 'blake2s64Ms', 'precomputeMs', 'responseMs', 'handshakeMs']) expect(typeof b[k]).toBe('number');
    expect(r.shim.events.at(-1)).toEqual(JSON.parse(JSON.stringify(b)));
  });

  it('reports a bad config instead of throwing', async () => {
    const r = await rig({ start: false });
    r.api.start({ ...r.cfg, privateKey: 'nope' });
    expect(r.shim.events.at(-1)).toMatchObject({ event: 'error' });
    r.api.start(undefined);
    expect(String(r.shim.events.at(-1)!.message)).toContain('no config');
  });
});

// ------------------------------------------------------------------------------------------------
// Slow CPU: a `wgcrypto` module whose X25519 "takes" `ms` (it advances the shim clock).

function slowCrypto(shim: () => EspruinoShim, ms: number): { mod: Record<string, unknown>; calls: number } {
  const js: CryptoProvider = createPortableProvider();
  const o = { calls: 0, mod: {} as Record<string, unknown> };
  o.mod = {
    x25519(out: Uint8Array, scalar: Uint8Array, point: Uint8Array): boolean {
      o.calls++;
      shim().advance(ms);
      return js.x25519(out, scalar, point);
    },
  };
  return o;
}

describe('per-board builds (one driver, no bench or test hook, uncalled methods removed)', () => {
  for (const dialect of ['simcom', 'sim7000', 'sim7600', 'quectel', 'espat']) {
    it(`${dialect}: handshake, UDP both ways, ping, status`, async () => {
      const b = await buildDevice({ dialect, write: false });
      expect(b.pruned.length).toBeGreaterThan(0);
      const r = await rig({ dialect, code: b.code });
      const w = r.shim.wgjs as Record<string, unknown>;
      expect(w.bench).toBeUndefined();
      expect(w._core).toBeUndefined();
      await r.shim.waitEvent(isHandshake, 15_000);
      expect(r.api.sendUdp('10.0.0.1', 5555, `board ${dialect}`, 4000)).toBe(true);
      await waitFor('the datagram at the server', 5000, () => r.server.udpPayloads().includes(`board ${dialect}`));
      r.server.sendUdp('to the board\x00', 5555, 4000);
      await waitFor('the datagram at the device', 5000, () => r.received[0]);
      expect(r.received[0]).toEqual({ data: 'to the board\x00', from: '10.0.0.1', sport: 5555, dport: 4000 });
      r.server.ping(7);
      await waitFor('the echo reply', 5000, () => r.server.echoReplies().includes(7));
      expect(r.api.status()).toMatchObject({ event: 'status', state: 'connected', handshakes: 1, udpIn: 1, udpOut: 1, pings: 1, crypto: 'portable' });
      // Another dialect is not in this build: start reports it instead of throwing.
      const other = dialect === 'quectel' ? 'espat' : 'quectel';
      r.api.start({ ...r.cfg, modem: { ...(r.cfg.modem as object), dialect: other } });
      expect(r.shim.events.some((e) => e.event === 'error' && String(e.message).includes(`modem dialect ${other} not in this build`))).toBe(true);
      expect(r.shim.errors).toEqual([]);
    });
  }
});

describe('slow CPU guards', () => {
  it('with X25519 at 4 s (an initiation computed inline would outlast REKEY_TIMEOUT) no handshake is abandoned', async () => {
    let s: EspruinoShim | null = null;
    const slow = slowCrypto(() => s!, 4000);
    const r = await rig({ modules: { wgcrypto: slow.mod }, start: false });
    s = r.shim;
    r.api.start(r.cfg);
    const hs = await r.shim.waitEvent(isHandshake, 20_000);
    expect(hs.cpu).toBeGreaterThanOrEqual(8000);
    expect(r.api.status().crypto).toBe('native');
    // One initiation, answered; the device did not retransmit over its own slowness.
    expect(r.server.initiations.length).toBe(1);
    expect(r.api.status()).toMatchObject({ initiations: 1, handshakes: 1, tooSlow: 0 });
    // Rekeying later also costs one initiation per handshake (the next one was precomputed idle).
    await waitFor('the idle precompute', 5000, () => (r.api.status().precomputeMs as number) >= 8000);
    r.shim.advance(125_000);
    expect(r.api.sendUdp('10.0.0.1', 5555, 'x')).toBe(true);
    await r.shim.waitEvent(isHandshake, 20_000, r.shim.events.indexOf(hs) + 1);
    expect(r.server.initiations.length).toBe(2);
    // 'auto' keepalive: a handshake costs over 10 % of two minutes here, so none.
    expect(r.api.status().keepalive).toBe(0);
  });

  it('with an unanswered peer, retransmissions are paced by the precompute, not looped', async () => {
    let s: EspruinoShim | null = null;
    const slow = slowCrypto(() => s!, 4000);
    const r = await rig({ modules: { wgcrypto: slow.mod }, start: false });
    s = r.shim;
    r.server.sock.removeAllListeners('message'); // the server is gone
    r.api.start(r.cfg);
    await waitFor('the first initiation', 10_000, () => (r.api.status().initiations as number) >= 1);
    for (let i = 0; i < 20; i++) {
      r.shim.advance(5000);
      await sleep(30);
    }
    // 100 s of virtual time: each retry needs a fresh ephemeral (8 s) plus REKEY_TIMEOUT (5 s).
    const n = r.api.status().initiations as number;
    expect(n).toBeGreaterThanOrEqual(3);
    expect(n).toBeLessThanOrEqual(9);
    // Every retransmission was sent with a precomputed key: 2 X25519 per initiation, no more.
    expect(slow.calls).toBeLessThanOrEqual(2 * n + 4);
  });

  it('with X25519 at 60 s (response processing over 100 s) it reports the board as too slow and backs off', async () => {
    let s: EspruinoShim | null = null;
    const slow = slowCrypto(() => s!, 60_000);
    const r = await rig({ modules: { wgcrypto: slow.mod }, start: false });
    s = r.shim;
    r.api.start(r.cfg);
    const err = await r.shim.waitEvent((e) => e.event === 'error' && String(e.message).includes('native crypto'), 20_000);
    expect(err.message).toMatch(/took 12\d s/);
    const n0 = r.api.status().initiations as number;
    for (let i = 0; i < 30; i++) {
      r.shim.advance(20_000);
      await sleep(20);
    }
    // 10 minutes of virtual time: at most one more attempt after the 600 s back-off.
    expect((r.api.status().initiations as number) - n0).toBeLessThanOrEqual(1);
    expect(r.api.status().tooSlow).toBeGreaterThanOrEqual(1);
  });
});

// ------------------------------------------------------------------------------------------------
// (b), (c): each dialect against wireguard-go in network namespaces

const skipNs = requireTools('ip', 'wireguard-go', 'wg', 'ping');
if (skipNs) console.warn(`skipping the wireguard-go namespace tests of the device build: ${skipNs}`);

interface Child {
  events: Array<Record<string, unknown>>;
  send(cmd: object): void;
  wait(pred: (e: Record<string, unknown>) => boolean, ms: number, from?: number): Promise<Record<string, unknown>>;
  exited: Promise<void>;
}

function startChild(lab: Lab, ns: string, opts: object): Child {
  const proc = lab.spawnIn(ns, process.execPath, ['--import', 'tsx', path.join(here, '../shim/device-child.ts'), JSON.stringify(opts)], {
    cwd: REPO,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const events: Array<Record<string, unknown>> = [];
  let buf = '';
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  proc.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try { events.push(JSON.parse(line) as Record<string, unknown>); } catch { events.push({ event: 'raw', line }); }
    }
  });
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  return {
    events,
    send: (cmd) => proc.stdin!.write(JSON.stringify(cmd) + '\n'),
    wait: async (pred, ms, from = 0) => {
      const end = Date.now() + ms;
      for (;;) {
        for (let i = from; i < events.length; i++) if (pred(events[i]!)) return events[i]!;
        if (Date.now() > end) throw new Error(`timed out waiting for a device event; events: ${JSON.stringify(events.slice(-12))}; stderr: ${stderr.slice(-2000)}`);
        await sleep(25);
      }
    },
    exited,
  };
}

describe.skipIf(skipNs !== null)('device build in the shim against wireguard-go (network namespaces)', () => {
  const lab = new Lab();
  afterAll(async () => { await lab.cleanup(); }, 30_000);

  async function setup(): Promise<{ a: string; b: string; wg: WgHandle; dev: { privateKey: string; publicKey: string }; cfg: (d: string) => Record<string, unknown>; bind: string }> {
    const { a, b, link } = await lab.pair();
    const devKey = generatePrivateKey(random);
    const devPub = new Uint8Array(32);
    createPortableProvider().x25519Base(devPub, devKey);
    const srvKey = generatePrivateKey(random);
    const wg = await lab.startWireguardGo(b, {
      privateKey: toBase64(srvKey),
      listenPort: 51820,
      address4: '10.99.0.1/24',
      peers: [{ publicKey: toBase64(devPub), allowedIps: ['10.99.0.2/32'] }],
    });
    const cfg = (dialect: string): Record<string, unknown> => ({
      privateKey: toBase64(devKey),
      address: '10.99.0.2/32',
      peer: { publicKey: wg.publicKey, endpoint: `${link.b.v4}:51820`, allowedIPs: ['10.99.0.0/24'], persistentKeepalive: 'auto' },
      modem: { dialect, serial: 'Serial1', baud: 115200, tx: 'D1', rx: 'D2', apn: 'iot.test' },
    });
    return { a, b, wg, dev: { privateKey: toBase64(devKey), publicKey: toBase64(devPub) }, cfg, bind: link.a.v4 };
  }

  for (const dialect of ['simcom', 'sim7000', 'sim7600', 'quectel', 'espat']) {
    it(`${dialect}: handshake, UDP both ways, ping from the wireguard-go side, re-attach`, async () => {
      const { a, b, wg, cfg, bind } = await setup();
      const rx = await lab.udpReceiver(b, 5555, { host: '10.99.0.1' });
      const child = startChild(lab, a, { dialect, cfg: cfg(dialect), bind, baud: 115200 });
      await child.wait((e) => e.event === 'handshake', 20_000);
      const peer = await wg.waitForHandshake({ timeoutMs: 10_000 });
      const port1 = Number(peer.endpoint!.split(':')[1]);
      child.send({ cmd: 'send', dst: '10.99.0.1', port: 5555, data: `hello from ${dialect}`, sport: 4000 });
      await rx.waitFor(1, 5000);
      expect(rx.messages[0]!.data.toString()).toBe(`hello from ${dialect}`);
      expect(rx.messages[0]!.from).toBe('10.99.0.2');
      expect(rx.messages[0]!.port).toBe(4000);
      await lab.udpSend(b, '10.99.0.2', 4000, 'back at you', 5556);
      const got = await child.wait((e) => e.event === 'udp', 5000);
      expect(got).toMatchObject({ from: '10.99.0.1', sport: 5556, dport: 4000, data: 'back at you' });
      expect(await lab.ping(b, '10.99.0.2', { count: 3, timeoutSec: 8, intervalSec: 0.3 })).toBeGreaterThanOrEqual(2);
      // Re-attach: a new modem socket, so a new source port; the device re-handshakes at once.
      const n = child.events.length;
      child.send({ cmd: 'reattach' });
      await child.wait((e) => e.event === 'status' && e.state === 'reattach', 20_000, n);
      await child.wait((e) => e.event === 'handshake', 20_000, n);
      const moved = await waitForAsync('wireguard-go to follow the new port', 10_000, async () => {
        const p = (await wg.show()).peers[0]!;
        return p.endpoint && Number(p.endpoint.split(':')[1]) !== port1 ? p : undefined;
      });
      expect(moved.endpoint).toBeTruthy();
      child.send({ cmd: 'send', dst: '10.99.0.1', port: 5555, data: 'after reattach', sport: 4000 });
      await rx.waitFor(2, 5000);
      expect(rx.messages[1]!.data.toString()).toBe('after reattach');
      expect(await lab.ping(b, '10.99.0.2', { count: 3, timeoutSec: 8, intervalSec: 0.3 })).toBeGreaterThanOrEqual(2);
      child.send({ cmd: 'stop' });
      await child.exited;
      await rx.close();
      await wg.stop();
    }, 90_000);
  }

  it('TAI64N persists across a reboot (clock back at 0): wireguard-go accepts the new handshake', async () => {
    const { a, wg, cfg, bind } = await setup();
    const storage = path.join(lab.tmpDir, 'storage.json');
    const first = startChild(lab, a, { dialect: 'quectel', cfg: cfg('quectel'), bind, storage });
    await first.wait((e) => e.event === 'handshake', 20_000);
    const hs1 = await wg.waitForHandshake({ timeoutMs: 10_000 });
    first.send({ cmd: 'stop' });
    await first.exited;
    expect(JSON.parse(readFileSync(storage, 'utf8'))['wgjs.ts']).toBeTruthy();
    // wireguard-go's latest-handshake has 1 s resolution: let it tick.
    await sleep(1100);
    const second = startChild(lab, a, { dialect: 'quectel', cfg: cfg('quectel'), bind, storage, bootTime: 0 });
    await second.wait((e) => e.event === 'handshake', 20_000);
    const hs2 = await wg.waitForHandshake({ timeoutMs: 10_000, after: hs1.latestHandshake });
    expect(hs2.latestHandshake).toBeGreaterThan(hs1.latestHandshake);
    second.send({ cmd: 'stop' });
    await second.exited;
    await wg.stop();
  }, 90_000);
});

async function waitForAsync<T>(what: string, ms: number, fn: () => Promise<T | undefined>): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(100);
  }
}
