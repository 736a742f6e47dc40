/**
 * The UDP drivers against their modem emulators, end to end: device code (AtEngine + driver)
 * ⇄ emulated UART ⇄ emulated modem ⇄ a real UDP socket on 127.0.0.1 ⇄ a peer socket in the test.
 * Most tests pace the UART at 2 Mbit/s (quick); one runs at 115200; one goes through a real pty
 * pair made by socat.
 */
import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { AtEngine } from '../src/at.js';
import type { AtSerial } from '../src/at.js';
import { EspAtUdp } from '../src/modem/espat.js';
import { QuectelUdp } from '../src/modem/quectel.js';
import { SimcomUdp } from '../src/modem/simcom.js';
import { Sim7000Udp } from '../src/modem/sim7000.js';
import { Sim7600Udp } from '../src/modem/sim7600.js';
import type { ModemOptions, UdpModem } from '../src/modem/udp.js';
import {
  EspAtEmulator, QuectelEmulator, Sim7000Emulator, Sim7600Emulator, SimcomEmulator, TtySerial, findSocat, socatPair,
} from '../emulator/index.js';
import type { ModemEmulator, ModemEmulatorOptions } from '../emulator/index.js';

type Dialect = 'simcom' | 'sim7000' | 'sim7600' | 'quectel' | 'espat';

const DIALECTS: Dialect[] = ['simcom', 'sim7000', 'sim7600', 'quectel', 'espat'];
const SEND_CMD: Record<Dialect, string> = {
  simcom: 'AT+CASEND', sim7000: 'AT+CIPSEND', sim7600: 'AT+CIPSEND', quectel: 'AT+QISEND', espat: 'AT+CIPSEND',
};
/** A command whose response can carry an injected URC. */
const READ_CMD: Record<Dialect, string> = {
  simcom: 'AT+CARECV', sim7000: 'AT+CIPRXGET=2', sim7600: 'AT+CIPRXGET=2', quectel: 'AT+QIRD', espat: 'AT+CIPSEND',
};

function bytes(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, 'latin1'));
}
const ALL = new Uint8Array(256).map((_, i) => i);
/** Every byte value, then everything a parser might mistake for structure. */
const NASTY = new Uint8Array([
  ...ALL,
  ...bytes('\r\nOK\r\n\r\nERROR\r\n+IPD,5:hello\r\n> \r\n+QIRD: 3,"1.2.3.4",5\r\n+CARECV: 9,\r\n'),
  ...bytes('\r\nRDY\r\n\r\nready\r\n+QIURC: "pdpdeact",1\r\n+APP PDP: 0,DEACTIVE\r\nCLOSED\r\nSEND OK\r\n'),
  0, 0, 13, 13, 10, 10, 62, 32, 0,
  ...ALL.slice().reverse(),
]);
function random(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 255;
  }
  return out;
}

async function waitFor(what: string, pred: () => boolean, ms = 5000): Promise<void> {
  const t0 = Date.now();
  while (!pred()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

interface Rx {
  data: Buffer;
  host: string;
  port: number;
}

class Peer {
  readonly sock = dgram.createSocket('udp4');
  readonly got: Rx[] = [];
  port = 0;
  async start(): Promise<void> {
    this.sock.on('message', (m, r) => this.got.push({ data: m, host: r.address, port: r.port }));
    await new Promise<void>((res) => this.sock.bind(0, '127.0.0.1', () => res()));
    this.port = this.sock.address().port;
  }
  send(data: Uint8Array, port: number): void {
    this.sock.send(data, port, '127.0.0.1');
  }
  close(): void {
    this.sock.close();
  }
}

interface Rig {
  emu: ModemEmulator;
  at: AtEngine;
  modem: UdpModem;
  peer: Peer;
  rx: Rx[];
  events: string[];
  serial: AtSerial & { close(): void };
  close(): Promise<void>;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

function makeEmulator(d: Dialect, opts: ModemEmulatorOptions): ModemEmulator {
  if (d === 'simcom') return new SimcomEmulator(opts);
  if (d === 'sim7000') return new Sim7000Emulator(opts);
  if (d === 'sim7600') return new Sim7600Emulator(opts);
  return d === 'quectel' ? new QuectelEmulator(opts) : new EspAtEmulator(opts);
}

function makeDriver(d: Dialect, at: AtEngine, opts: ModemOptions): UdpModem {
  if (d === 'simcom') return new SimcomUdp(at, opts);
  if (d === 'sim7000') return new Sim7000Udp(at, opts);
  if (d === 'sim7600') return new Sim7600Udp(at, opts);
  return d === 'quectel' ? new QuectelUdp(at, opts) : new EspAtUdp(at, opts);
}

async function rig(
  d: Dialect,
  o: { baud?: number; emu?: ModemEmulator; serial?: AtSerial & { close(): void }; open?: boolean; noRemote?: boolean; bufSize?: number } = {},
): Promise<Rig> {
  const peer = new Peer();
  await peer.start();
  const emu = o.emu ?? makeEmulator(d, { baud: o.baud ?? 2_000_000 });
  const serial = o.serial ?? emu.serial();
  const at = new AtEngine(serial, { timeout: 400, retryDelay: 20, bufSize: o.bufSize });
  const modem = makeDriver(d, at, {
    host: o.noRemote ? undefined : '127.0.0.1',
    port: o.noRemote ? undefined : peer.port,
    timeout: 400,
    netTimeout: 2000,
    bootDelay: 50,
    retryMin: 50,
    retryMax: 200,
  });
  const rx: Rx[] = [];
  const events: string[] = [];
  modem.onReceive((buf, off, len, host, port) => rx.push({ data: Buffer.from(buf.subarray(off, off + len)), host, port }));
  modem.onEvent((t, info) => events.push(`${t}:${info}`));
  const r: Rig = {
    emu, at, modem, peer, rx, events, serial,
    close: async () => {
      modem.close();
      at.close();
      emu.close();
      serial.close();
      peer.close();
    },
  };
  cleanups.push(r.close);
  if (o.open !== false) {
    const err = await new Promise<string | null>((res) => modem.open(res));
    expect(err).toBeNull();
    expect(modem.isUp()).toBe(true);
  }
  return r;
}

/** Device → peer: sends and waits until the peer has it; returns what the peer saw. */
async function up(r: Rig, data: Uint8Array): Promise<Rx> {
  const n = r.peer.got.length;
  // Send from the middle of a larger buffer, then scribble over it: the driver must have copied.
  const big = new Uint8Array(data.length + 20).fill(0xaa);
  big.set(data, 7);
  const err = await new Promise<string | null>((res) => {
    r.modem.send(big, 7, data.length, '127.0.0.1', r.peer.port, res);
    big.fill(0x55);
  });
  expect(err).toBeNull();
  await waitFor('datagram at the peer', () => r.peer.got.length > n);
  const got = r.peer.got[n]!;
  expect(Buffer.compare(got.data, Buffer.from(data))).toBe(0);
  return got;
}

/** Peer → device, to the port the peer last saw the device on. */
async function down(r: Rig, data: Uint8Array, port: number): Promise<void> {
  const n = r.rx.length;
  r.peer.send(data, port);
  await waitFor('datagram at the device', () => r.rx.length > n);
  const got = r.rx[n]!;
  expect(got.data.length).toBe(data.length);
  expect(Buffer.compare(got.data, Buffer.from(data))).toBe(0);
  expect(got.host).toBe('127.0.0.1');
  expect(got.port).toBe(r.peer.port);
}

describe.each(DIALECTS)('%s driver through its emulator', (d) => {
  it('opens, then carries binary datagrams byte-exactly both ways (all byte values, NUL/CR/LF/>, lookalikes)', async () => {
    const r = await rig(d);
    expect(r.events).toEqual([`up:${r.modem.localIp()}`]);
    expect(r.modem.localIp()).toBe(r.emu.ip);
    const payloads = [ALL, NASTY, random(1400, 7), bytes('>'), bytes('\r\n'), new Uint8Array([0])];
    for (const p of payloads) {
      const seen = await up(r, p);
      expect(seen.port).toBe(r.emu.publicPort);
      await down(r, p, seen.port);
    }
    // A burst the other way: several datagrams before the device reads any.
    const port = r.emu.publicPort;
    const burst = [random(300, 1), random(1000, 2), NASTY, random(1, 3)];
    const n = r.rx.length;
    for (const b of burst) r.peer.send(b, port);
    await waitFor('burst', () => r.rx.length >= n + burst.length);
    expect(r.rx.slice(n).map((x) => Buffer.from(x.data).toString('hex'))).toEqual(burst.map((b) => Buffer.from(b).toString('hex')));
  });

  it('recovers from ERROR replies, unanswered commands, garbage and URCs injected mid-response', async () => {
    const r = await rig(d);
    const port = (await up(r, ALL)).port;
    r.emu.failNext(SEND_CMD[d], 'ERROR');
    await up(r, NASTY);
    r.emu.failNext(SEND_CMD[d], '+CME ERROR: 3');
    await up(r, random(500, 9));
    r.emu.dropNext(SEND_CMD[d]);
    await up(r, random(200, 10));
    r.emu.garbage(new Uint8Array([0xff, 0x00, 0x0d, 0x3e, 0x20, 0x2b, 0x49, 0x50, 0x44, 0x0a, 0x0d, 0x0a]));
    await up(r, ALL);
    await down(r, NASTY, port);
    r.emu.urcInResponse(READ_CMD[d], '+CEREG: 5');
    if (d === 'espat') await up(r, random(64, 11));
    else await down(r, random(700, 12), port);
    await down(r, ALL, port);
    if (d !== 'espat') {
      // A failed read: the modem will not announce this datagram again, so the driver must retry.
      r.emu.failNext(READ_CMD[d], 'ERROR');
      await down(r, random(100, 13), port);
    }
    await up(r, ALL);
    // Garbage without any line end while idle, then normal traffic.
    r.emu.garbage(new Uint8Array(300).fill(0x41));
    await up(r, NASTY);
    await down(r, NASTY, port);
    expect(r.modem.isUp()).toBe(true);
    expect(r.events.filter((e) => e.startsWith('down'))).toEqual([]);
  });

  it('network re-attach: down, then reattach with a new address; the next datagram leaves from a new port', async () => {
    const r = await rig(d);
    const before = await up(r, ALL);
    const ip0 = r.modem.localIp();
    r.emu.reattach();
    await waitFor('reattach event', () => r.events.some((e) => e.startsWith('reattach:')));
    const evs = r.events.filter((e) => !e.startsWith('error:'));
    expect(evs[0]).toBe(`up:${ip0}`);
    expect(evs[1]!.startsWith('down:')).toBe(true);
    expect(evs[2]).toBe(`reattach:${r.emu.ip}`);
    expect(r.modem.localIp()).toBe(r.emu.ip);
    expect(r.modem.localIp()).not.toBe(ip0);
    const after = await up(r, NASTY);
    expect(after.port).not.toBe(before.port);
    expect(after.port).toBe(r.emu.publicPort);
    await down(r, NASTY, after.port);
  });

  it('modem restart: boot messages → down, recovery → reattach, traffic flows again', async () => {
    const r = await rig(d);
    await up(r, ALL);
    r.emu.reboot();
    await waitFor('reattach after reboot', () => r.events.some((e) => e.startsWith('reattach:')));
    const evs = r.events.filter((e) => !e.startsWith('error:'));
    expect(evs.length).toBe(3);
    expect(evs[1]).toMatch(/^down:(RDY|ready|\+CPIN: READY)/);
    const seen = await up(r, NASTY);
    await down(r, NASTY, seen.port);
  });

  it('without a configured remote, the socket opens at the first send, once, even with sends racing', async () => {
    const r = await rig(d, { noRemote: true });
    const errs: (string | null)[] = [];
    await new Promise<void>((res) => {
      let n = 0;
      const done = (e: string | null): void => {
        errs.push(e);
        if (++n === 3) res();
      };
      for (let i = 0; i < 3; i++) r.modem.send(ALL, 0, 256, '127.0.0.1', r.peer.port, done);
    });
    // Sends racing the socket open are dropped ('busy'), never a second open.
    expect(errs).toContain(null);
    expect(errs.every((e) => e === null || e === 'busy')).toBe(true);
    await waitFor('first datagram', () => r.peer.got.length >= 1);
    const seen = await up(r, NASTY);
    await down(r, NASTY, seen.port);
    const opens = r.emu.commands.filter((c) => /^AT\+(CAOPEN|QIOPEN|CIPSTART|CIPOPEN)/.test(c));
    expect(opens.length).toBe(1);
    expect(new Set(r.peer.got.map((g) => g.port)).size).toBe(1);
  });

  it('refuses to send while down, and oversize datagrams', async () => {
    const r = await rig(d, { open: false });
    const e1 = await new Promise<string | null>((res) => r.modem.send(ALL, 0, 10, '127.0.0.1', r.peer.port, res));
    expect(e1).toBe('down');
    expect(await new Promise<string | null>((res) => r.modem.open(res))).toBeNull();
    const big = new Uint8Array(3000);
    const e2 = await new Promise<string | null>((res) => r.modem.send(big, 0, big.length, '127.0.0.1', r.peer.port, res));
    expect(e2).toBe('size');
  });
});

describe('dialect variants', () => {
  it('SIMCom firmware announcing data with +CAURC: "recv",0', async () => {
    const emu = new SimcomEmulator({ baud: 2_000_000, recvUrc: 'caurc' });
    const r = await rig('simcom', { emu });
    const seen = await up(r, NASTY);
    await down(r, NASTY, seen.port);
  });

  it('ESP8266 NonOS AT firmware: +IPD with the IP unquoted', async () => {
    const emu = new EspAtEmulator({ baud: 2_000_000, ipdQuoted: false });
    const r = await rig('espat', { emu });
    const seen = await up(r, NASTY);
    await down(r, NASTY, seen.port);
  });

  it.each(['sim7000', 'sim7600'] as const)('%s firmware without AT+CIPRXGET: pushed datagrams, byte-exact both ways, interleaved with sends', async (d) => {
    const emu = d === 'sim7000' ? new Sim7000Emulator({ baud: 2_000_000, rxget: false }) : new Sim7600Emulator({ baud: 2_000_000, rxget: false });
    const r = await rig(d, { emu });
    expect(r.emu.commands).toContain('AT+CIPHEAD=1');
    let seen = await up(r, ALL);
    for (const p of [ALL, NASTY, random(1400, 21), new Uint8Array([0])]) await down(r, p, seen.port);
    // Datagrams pushed while the device is in the middle of sending (prompt, data, result).
    const n = r.rx.length;
    const burst = [NASTY, random(900, 22), ALL];
    for (const b of burst) r.peer.send(b, seen.port);
    await up(r, random(1200, 23));
    await waitFor('burst', () => r.rx.length >= n + burst.length);
    expect(r.rx.slice(n).map((x) => Buffer.from(x.data).toString('hex'))).toEqual(burst.map((b) => Buffer.from(b).toString('hex')));
    r.emu.reattach();
    await waitFor('reattach', () => r.events.some((e) => e.startsWith('reattach:')));
    seen = await up(r, NASTY);
    await down(r, NASTY, seen.port);
  });

  it('SIM7600 in push mode reports each datagram\'s own sender (RECV FROM)', async () => {
    const emu = new Sim7600Emulator({ baud: 2_000_000, rxget: false });
    const r = await rig('sim7600', { emu });
    const seen = await up(r, ALL);
    const other = new Peer();
    await other.start();
    cleanups.push(() => other.close());
    const n = r.rx.length;
    other.send(NASTY, seen.port);
    await waitFor('datagram from the other peer', () => r.rx.length > n);
    expect(r.rx[n]!.port).toBe(other.port);
    expect(Buffer.compare(r.rx[n]!.data, Buffer.from(NASTY))).toBe(0);
    await down(r, ALL, seen.port);
  });

  it('SIM7000: a datagram to another remote reopens the socket without redoing the PDP context', async () => {
    const r = await rig('sim7000');
    const first = await up(r, ALL);
    const other = new Peer();
    await other.start();
    cleanups.push(() => other.close());
    const cmds = r.emu.commands.length;
    const e = await new Promise<string | null>((res) => r.modem.send(ALL, 0, 10, '127.0.0.1', other.port, res));
    expect(e).toBe('reopen');
    await waitFor('reattach', () => r.events.some((ev) => ev.startsWith('reattach:')));
    const later = r.emu.commands.slice(cmds);
    expect(later).toContain('AT+CIPSTATUS');
    expect(later.some((c) => c.startsWith('AT+CIPSTART="UDP","127.0.0.1",' + other.port))).toBe(true);
    expect(later).not.toContain('AT+CIICR');
    expect(r.events.filter((ev) => ev.startsWith('down'))).toEqual([]);
    const err = await new Promise<string | null>((res) => r.modem.send(NASTY, 0, NASTY.length, '127.0.0.1', other.port, res));
    expect(err).toBeNull();
    await waitFor('datagram at the other peer', () => other.got.length > 0);
    expect(Buffer.compare(other.got[0]!.data, Buffer.from(NASTY))).toBe(0);
    expect(other.got[0]!.port).not.toBe(first.port);
    // Replies from the new remote reach the device; the old remote is no longer connected.
    const n = r.rx.length;
    other.send(ALL, other.got[0]!.port);
    await waitFor('reply from the new remote', () => r.rx.length > n);
    expect(r.rx[n]!.port).toBe(other.port);
  });

  it.each(['sim7000', 'sim7600'] as const)('%s: a datagram too big for the engine buffer is dropped; the ones after it still come', async (d) => {
    const r = await rig(d, { bufSize: 600 });
    const seen = await up(r, ALL);
    const n = r.rx.length;
    const small = random(300, 42);
    r.peer.send(random(1000, 41), seen.port);
    r.peer.send(small, seen.port);
    r.peer.send(ALL, seen.port);
    await waitFor('the datagrams after the big one', () => r.rx.length >= n + 2);
    expect(r.rx.slice(n).map((x) => Buffer.from(x.data).toString('hex'))).toEqual([small, ALL].map((b) => Buffer.from(b).toString('hex')));
    await down(r, random(500, 43), seen.port);
  });

  it('SIM7600: after +CIPEVENT the driver releases the stack (AT+NETCLOSE) and opens it again', async () => {
    const r = await rig('sim7600');
    await up(r, ALL);
    const cmds = r.emu.commands.length;
    r.emu.reattach();
    await waitFor('reattach', () => r.events.some((e) => e.startsWith('reattach:')));
    const later = r.emu.commands.slice(cmds);
    expect(later.indexOf('AT+NETCLOSE')).toBeGreaterThanOrEqual(0);
    expect(later.indexOf('AT+NETOPEN')).toBeGreaterThan(later.indexOf('AT+NETCLOSE'));
    const seen = await up(r, NASTY);
    await down(r, NASTY, seen.port);
  });

  it('a failing open reports the error once (no retry loop), and a later open succeeds', async () => {
    const emu = new QuectelEmulator({ baud: 2_000_000 });
    const r = await rig('quectel', { emu, open: false });
    emu.failNext('AT+QIOPEN', 'ERROR');
    expect(await new Promise<string | null>((res) => r.modem.open(res))).toBe('ERROR');
    expect(r.modem.isUp()).toBe(false);
    expect(await new Promise<string | null>((res) => r.modem.open(res))).toBeNull();
    await up(r, ALL);
  });
});

describe('UART pacing', () => {
  it('115200 baud: a 1400-byte datagram takes at least its wire time each way and arrives intact', async () => {
    const r = await rig('quectel', { baud: 115200 });
    const p = random(1400, 5);
    const wire = (1400 * 10 * 1000) / 115200; // ms for the payload bytes alone
    let t0 = performance.now();
    const seen = await up(r, p);
    const tUp = performance.now() - t0;
    t0 = performance.now();
    await down(r, p, seen.port);
    const tDown = performance.now() - t0;
    expect(tUp).toBeGreaterThanOrEqual(wire * 0.95);
    expect(tDown).toBeGreaterThanOrEqual(wire * 0.95);
    expect(tUp).toBeLessThan(wire * 4 + 200);
    expect(tDown).toBeLessThan(wire * 4 + 200);
  });
});

describe('over a real pseudo-terminal (socat)', () => {
  const socat = findSocat();
  if (!socat) console.log('skipping the pty test: socat is not installed (apt-get install socat)');
  it.skipIf(!socat).each(['sim7000', 'sim7600'] as const)('%s driver and emulator on a socat pty pair at 460800 baud', async (d) => {
    const pair = await socatPair();
    cleanups.push(() => pair.close());
    const emu = d === 'sim7000' ? new Sim7000Emulator({ baud: 460800 }) : new Sim7600Emulator({ baud: 460800 });
    emu.attachTty(pair.modem);
    const serial = new TtySerial(pair.device);
    const r = await rig(d, { emu, serial });
    for (const p of [ALL, NASTY, random(1400, 31)]) {
      const seen = await up(r, p);
      await down(r, p, seen.port);
    }
  });

  it.skipIf(!socat)('Quectel driver and emulator on the two ends of a socat pty pair', async () => {
    const pair = await socatPair();
    cleanups.push(() => pair.close());
    const emu = new QuectelEmulator({ baud: 460800 });
    emu.attachTty(pair.modem);
    const serial = new TtySerial(pair.device);
    const r = await rig('quectel', { emu, serial });
    for (const p of [ALL, NASTY, random(1400, 3)]) {
      const seen = await up(r, p);
      await down(r, p, seen.port);
    }
    r.emu.reattach();
    await waitFor('reattach over the pty', () => r.events.some((e) => e.startsWith('reattach:')));
    await up(r, NASTY);
  });
});
