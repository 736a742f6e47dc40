/**
 * `Initiator` (the one-peer, initiator-only device engine) against `Engine` as the responder, on a
 * virtual clock with in-memory datagram delivery and seeded randomness. Each test is named after
 * the whitepaper / kernel rule it checks; the differential tests run the same scenario with an
 * `Engine` configured like the device and compare what goes on the wire.
 */
import { describe, expect, it } from 'vitest';
import {
  Initiator, EVENT_COMPLETE, EVENT_GAVE_UP, EVENT_INITIATED, INITIATOR_DROPS, type InitiatorConfig,
} from '../src/initiator.js';
import { Engine } from '../src/engine.js';
import { createPortableProvider } from '../src/crypto/portable.js';
import { writeUdp } from '../src/ip.js';
import { Drop, DROP_COUNT } from '../src/drops.js';
import {
  COOKIE_SECRET_LATENCY, COOKIE_SECRET_MAX_AGE, INITIATION_SIZE, KEEPALIVE_TIMEOUT, LABEL_MAC1, MAX_TIMER_HANDSHAKES,
  REJECT_AFTER_TIME, REKEY_AFTER_TIME, REKEY_ATTEMPT_TIME, REKEY_TIMEOUT, REKEY_TIMEOUT_JITTER_MAX,
} from '../src/constants.js';
import { seededRandom, type Datagram } from './support/harness.js';
import { NatSim, ResponderSim, runSim, type Timed } from './support/natsim.js';

// ------------------------------------------------------------------------------------------------
// The virtual world: the device (an Initiator, or an Engine configured like one) at DEV, the server
// (an Engine) at SRV.

type Rnd = (buf: Uint8Array, off: number, len: number) => void;
interface Sent extends Datagram { at: number }
interface Box extends Timed {
  receive(now: number, buf: Uint8Array, off: number, len: number, endpoint: string): number;
}

const DEV = '192.0.2.1:51820';
const SRV = '192.0.2.2:51820';
const WALL0 = 1_700_000_000_000;
const crypto0 = createPortableProvider();
const DEV_PRIV = new Uint8Array(32).map((_, i) => (i * 7 + 1) & 255);
const SRV_PRIV = new Uint8Array(32).map((_, i) => (i * 13 + 5) & 255);
const DEV_PUB = new Uint8Array(32);
const SRV_PUB = new Uint8Array(32);
crypto0.x25519Base(DEV_PUB, DEV_PRIV);
crypto0.x25519Base(SRV_PUB, SRV_PRIV);
const PSK = new Uint8Array(32).fill(0x42);

/** B's layout (initiator.ts): where the session keys are, the scratch area. */
const B_KEYS = 544;

function ip4(s: string): Uint8Array {
  return new Uint8Array(s.split('.').map((x) => +x));
}

/** An IPv4/UDP packet built with ip.ts writeUdp. */
function udp(src: string, dst: string, payload: Uint8Array, sport = 40001, dport = 40002): Uint8Array {
  const buf = new Uint8Array(28 + payload.length);
  const n = writeUdp(buf, 0, 4, ip4(src), sport, ip4(dst), dport, payload, 0, payload.length);
  expect(n).toBe(buf.length);
  return buf;
}

/** Device (10.1.0.1) to server (10.1.0.2), 33 bytes; and back, 32 bytes. */
const up = (n: number) => udp('10.1.0.1', '10.1.0.2', new Uint8Array([n & 255, n >> 8, 1, 2, 3]));
const down = (n: number) => udp('10.1.0.2', '10.1.0.1', new Uint8Array([n & 255, n >> 8, 9, 9]));

/** Jitter (the only 2-byte random draws) from its own stream, so two implementations draw the same jitter. */
function splitRandom(seed: number): Rnd {
  const jitter = seededRandom(seed);
  const other = seededRandom(seed + 1000);
  return (buf, off, len) => (len === 2 ? jitter : other)(buf, off, len);
}

const total = (d: ArrayLike<number>) => Array.from(d).reduce((a, b) => a + b, 0);
const types = (s: Sent[], from = 0) => s.slice(from).map((d) => d.data[0]);
const lens = (s: Sent[], from = 0) => s.slice(from).map((d) => d.data.length);
const count = (s: Sent[], type: number, from = 0) => s.slice(from).filter((d) => d.data[0] === type).length;

interface WorldOpts {
  psk?: Uint8Array | null;
  /** The server's idea of the preshared key (default: the device's). */
  srvPsk?: Uint8Array | null;
  allowed?: string[];
  keepalive?: number;
  /** The device is an Engine (maxPeers 1, the peer's endpoint set) instead of an Initiator. */
  engineDevice?: boolean;
  random?: Rnd;
  mtu?: number;
}

class World {
  now = 0;
  queue: Sent[] = [];
  nodes = new Map<string, Box>();
  filter: (d: Datagram) => boolean = () => true;
  nat: (d: Datagram) => string = (d) => d.from;
  srv: Engine;
  dev!: Initiator;
  eng!: Engine;
  device: Box;
  devSent: Sent[] = [];
  srvSent: Sent[] = [];
  devGot: Uint8Array[] = [];
  srvGot: Uint8Array[] = [];
  devEvents: number[] = [];
  /** Results of the device's receive, in order. */
  devRx: number[] = [];

  constructor(o: WorldOpts = {}) {
    const self = this;
    const psk = o.psk ?? null;
    this.srv = new Engine({ privateKey: SRV_PRIV, crypto: createPortableProvider(), random: seededRandom(2), wallTime: () => WALL0 + self.now }, {
      send(buf, off, len, endpoint) { self.emit(self.srvSent, SRV, endpoint, buf, off, len); },
      deliver(buf, off, len) { self.srvGot.push(buf.slice(off, off + len)); },
    });
    this.srv.addPeer({ publicKey: DEV_PUB, presharedKey: o.srvPsk === undefined ? psk : o.srvPsk, allowedIPs: ['10.1.0.1/32'], endpoint: null });
    const random = o.random ?? seededRandom(1);
    const sink = {
      send(buf: Uint8Array, off: number, len: number, endpoint: string) { self.emit(self.devSent, DEV, endpoint, buf, off, len); },
      deliver(buf: Uint8Array, off: number, len: number) { self.devGot.push(buf.slice(off, off + len)); },
      event(type: number) { self.devEvents.push(type); },
    };
    if (o.engineDevice) {
      this.eng = new Engine({ privateKey: DEV_PRIV, crypto: createPortableProvider(), random, wallTime: () => WALL0 + self.now, maxPeers: 1, maxStaged: 2 }, sink);
      this.eng.addPeer({ publicKey: SRV_PUB, presharedKey: psk, allowedIPs: o.allowed ?? ['10.1.0.2/32'], endpoint: SRV, persistentKeepalive: o.keepalive ?? 0 });
      this.device = this.eng;
    } else {
      this.dev = new Initiator({ privateKey: DEV_PRIV, peerPublicKey: SRV_PUB, presharedKey: psk, allowedIPs: o.allowed ?? ['10.1.0.2/32'], random, wallTime: () => WALL0 + self.now, mtu: o.mtu }, sink);
      this.dev.endpoint = SRV;
      if (o.keepalive) this.dev.setKeepalive(o.keepalive);
      this.device = this.dev;
    }
    this.nodes.set(DEV, this.device);
    this.nodes.set(SRV, this.srv);
  }

  private emit(list: Sent[], from: string, to: string, buf: Uint8Array, off: number, len: number): void {
    const d = { from, to, at: this.now, data: buf.slice(off, off + len) };
    list.push(d);
    // The receiver decrypts in place: it gets its own copy, the record stays as sent.
    this.queue.push({ ...d, data: d.data.slice() });
  }

  /** Device operations, whichever implementation the device is. */
  send(pkt: Uint8Array, report = false): number {
    if (this.dev) return this.dev.send(this.now, pkt, 0, pkt.length, report);
    return report ? this.eng.report(this.now, 0, pkt, 0, pkt.length) : this.eng.sendPacket(this.now, pkt, 0, pkt.length);
  }
  connect(force = false): void {
    if (this.dev) this.dev.connect(this.now, force);
    else this.eng.connect(this.now, 0, force);
  }
  sleep(): void {
    if (this.dev) this.dev.sleep();
    else this.eng.sleepPeer(0);
  }
  srvSend(pkt: Uint8Array): number {
    return this.srv.sendPacket(this.now, pkt, 0, pkt.length);
  }
  get drops(): Float64Array | Uint32Array {
    return this.dev ? this.dev.drops : this.eng.drops;
  }

  /** Delivers queued datagrams until the network is quiet (bounded). */
  pump(max = 10_000): number {
    let n = 0;
    while (this.queue.length > 0) {
      if (++n > max) throw new Error('network did not quiesce');
      const d = this.queue.shift()!;
      if (!this.filter(d)) continue;
      const dst = this.nodes.get(d.to);
      if (!dst) continue;
      const r = dst.receive(this.now, d.data, 0, d.data.length, this.nat(d));
      if (dst === this.device) this.devRx.push(r);
    }
    return n;
  }

  /** Takes the datagrams in flight off the network (to deliver later, tampered, or never). */
  hold(): Sent[] {
    const q = this.queue;
    this.queue = [];
    return q;
  }

  /** Delivers a copy of one datagram to the device now, from `from`; returns its result. */
  toDevice(d: Datagram | Uint8Array, from = SRV): number {
    const data = (d instanceof Uint8Array ? d : d.data).slice();
    return this.device.receive(this.now, data, 0, data.length, from);
  }

  /** Advances the clock to `t`, firing both sides' timers in order and pumping the network. */
  advanceTo(t: number): void {
    this.pump();
    let same = 0;
    for (;;) {
      let next = Math.min(this.device.nextDeadline(), this.srv.nextDeadline());
      if (next > t) break;
      if (next < this.now) next = this.now;
      // A deadline that ticking does not move is a busy loop on a device.
      if (next === this.now && ++same > 100) throw new Error(`a timer stays due at ${this.now} after tick`);
      if (next > this.now) same = 0;
      this.now = next;
      if (this.device.nextDeadline() <= this.now) this.device.tick(this.now);
      if (this.srv.nextDeadline() <= this.now) this.srv.tick(this.now);
      this.pump();
    }
    this.now = t;
    this.pump();
  }

  advance(ms: number): void {
    this.advanceTo(this.now + ms);
  }
}

/** A connected world: handshake done at t = 0 (initiation, response, keepalive). */
function connected(o: WorldOpts = {}): World {
  const w = new World(o);
  w.connect();
  w.pump();
  expect(types(w.devSent)).toEqual([1, 4]);
  return w;
}

/** mac1 of a message to `receiverPub` (whitepaper 5.4.4), rewritten after tampering. */
function remac1(m: Uint8Array, receiverPub: Uint8Array): void {
  const label = new Uint8Array(LABEL_MAC1.split('').map((c) => c.charCodeAt(0)));
  const key = new Uint8Array(32);
  crypto0.hashInit(32, null, 0);
  crypto0.hashUpdate(label, 0, label.length);
  crypto0.hashUpdate(receiverPub, 0, 32);
  crypto0.hashFinal(key, 0);
  crypto0.hashInit(16, key, 32);
  crypto0.hashUpdate(m, 0, m.length - 32);
  crypto0.hashFinal(m, m.length - 32);
}

const isZero = (b: Uint8Array) => b.every((x) => x === 0);

// ------------------------------------------------------------------------------------------------

describe('Initiator: handshake and transport (whitepaper 5.4)', () => {
  for (const psk of [null, PSK]) {
    it(`Noise_IKpsk2 handshake with Engine as responder, data both ways (psk ${psk ? 'on' : 'off'})`, () => {
      const w = new World({ psk });
      expect(w.send(up(1))).toBe(0);
      w.pump();
      // Initiation, response, then the staged packet (33 bytes padded to 48) confirms the session.
      expect(lens(w.devSent)).toEqual([148, 80]);
      expect(lens(w.srvSent)).toEqual([92]);
      expect(w.srvGot).toEqual([up(1)]);
      expect(w.srvSend(down(2))).toBe(0);
      w.pump();
      expect(w.devGot).toEqual([down(2)]);
      expect(w.dev.status(w.now).hasSession).toBe(true);
      expect(w.srv.peerStatus(0).hasSession).toBe(true);
      expect(w.srv.peerStatus(0).endpoint).toBe(DEV);
      expect(w.devEvents).toEqual([EVENT_INITIATED, EVENT_COMPLETE]);
      expect(total(w.dev.drops)).toBe(0);
      expect(total(w.srv.drops)).toBe(0);
      expect(w.devRx).toEqual([0, 0]);
    });
  }

  it('mismatched preshared keys never complete a handshake (HANDSHAKE_FAILED)', () => {
    for (const [psk, srvPsk] of [[PSK, new Uint8Array(32).fill(7)], [PSK, null], [null, PSK]] as const) {
      const w = new World({ psk, srvPsk });
      w.send(up(1));
      w.pump();
      expect(w.dev.drops[Drop.HANDSHAKE_FAILED]).toBe(1);
      expect(w.dev.status(w.now).hasSession).toBe(false);
      expect(w.srvGot.length).toBe(0);
    }
  });

  it('the initiator confirms the session with a keepalive when nothing is staged', () => {
    const w = new World();
    w.connect();
    w.pump();
    expect(lens(w.devSent)).toEqual([148, 32]);
    expect(w.srv.peerStatus(0).hasSession).toBe(true);
    expect(w.srvGot.length).toBe(0);
  });

  it('packets sent before a session are staged and go out after the handshake, in order', () => {
    const w = new World();
    expect(w.send(up(1))).toBe(0);
    expect(w.send(up(2))).toBe(0);
    expect(count(w.devSent, 1)).toBe(1);
    w.pump();
    expect(lens(w.devSent)).toEqual([148, 80, 80]);
    expect(w.srvGot).toEqual([up(1), up(2)]);
    expect(w.dev.drops[Drop.STAGED_OVERFLOW]).toBe(0);
  });

  it('the staging buffer exists only while packets wait (RAM at rest on a device)', () => {
    const w = new World();
    expect(w.dev.stage).toBe(null);
    w.send(up(1));
    expect(w.dev.stage).not.toBe(null);
    w.pump();
    expect(w.dev.stage).toBe(null);
    w.send(up(2));
    expect(w.dev.stage).toBe(null); // sent at once on the session
    w.dev.sleep();
    w.now += 200_000;
    w.send(up(3)); // old session: staged for the handshake
    expect(w.dev.stage).not.toBe(null);
    w.dev.sleep(); // abandoned: dropped, buffer freed
    expect(w.dev.stage).toBe(null);
    expect(w.dev.drops[Drop.ASLEEP]).toBe(1);
  });

  it('stage overflow drops the oldest staged packet (STAGED_OVERFLOW)', () => {
    const w = new World();
    for (let i = 1; i <= 5; i++) expect(w.send(up(i))).toBe(0);
    expect(w.dev.drops[Drop.STAGED_OVERFLOW]).toBe(3);
    w.pump();
    expect(w.srvGot).toEqual([up(4), up(5)]);
    expect(total(w.dev.drops)).toBe(3);
  });

  it('pads the payload to a multiple of 16 and counts the transport counter up', () => {
    const w = connected();
    for (const n of [0, 1, 15, 16, 17, 100]) {
      const p = udp('10.1.0.1', '10.1.0.2', new Uint8Array(n));
      w.send(p);
      expect(w.devSent.at(-1)!.data.length).toBe(32 + Math.ceil((28 + n) / 16) * 16);
    }
    const ctr = w.devSent.slice(1).map((d) => d.data[8] | (d.data[9] << 8));
    expect(ctr).toEqual([0, 1, 2, 3, 4, 5, 6]);
    w.pump();
    expect(w.srvGot.length).toBe(6);
    expect(total(w.srv.drops)).toBe(0);
  });

  it('buffers at an offset: send(buf, off, len) and receive(buf, off, len) touch only their range', () => {
    const w = connected();
    const big = new Uint8Array(200).fill(0xee);
    big.set(up(7), 13);
    expect(w.dev.send(w.now, big, 13, up(7).length, false)).toBe(0);
    w.pump();
    expect(w.srvGot).toEqual([up(7)]);
    w.srvSend(down(8));
    const [d] = w.hold();
    const rx = new Uint8Array(d.data.length + 40).fill(0xaa);
    rx.set(d.data, 21);
    expect(w.dev.receive(w.now, rx, 21, d.data.length, SRV)).toBe(0);
    expect(w.devGot).toEqual([down(8)]);
    expect(rx.subarray(0, 21).every((x) => x === 0xaa) && rx.subarray(21 + d.data.length).every((x) => x === 0xaa)).toBe(true);
  });

  it('precompute() does the next initiation\'s X25519 work: its ephemeral is the one sent', () => {
    const w = new World();
    expect(w.dev.status(0).precomputed).toBe(false);
    w.dev.precompute();
    expect(w.dev.status(0).precomputed).toBe(true);
    const pub = w.dev.B.slice(352, 384);
    w.dev.precompute(); // idempotent
    expect(w.dev.B.slice(352, 384)).toEqual(pub);
    w.connect();
    expect(w.devSent[0].data.slice(8, 40)).toEqual(pub);
    expect(w.dev.status(0).precomputed).toBe(false);
    w.pump();
    expect(w.dev.status(0).hasSession).toBe(true);
  });

  it('initiation timestamps (TAI64N) keep growing when the wall clock steps back', () => {
    let wall = WALL0;
    const w = new World();
    w.dev.wallTime = () => wall;
    w.connect();
    w.pump();
    wall -= 3_600_000;
    w.advance(REKEY_TIMEOUT);
    w.connect(true);
    w.pump();
    expect(count(w.devSent, 1)).toBe(2);
    expect(w.srv.drops[Drop.STALE_TIMESTAMP]).toBe(0);
    expect(w.dev.status(w.now).lastHandshake).toBe(w.now);
    // The guard can be saved and restored across a reboot (the device persists it).
    const saved = w.dev.tai.save();
    const w2 = new World();
    w2.dev.tai.restore(saved);
    w2.dev.wallTime = () => wall;
    w2.srv = w.srv;
    w2.nodes.set(SRV, w.srv);
    w2.now = w.now + 1000;
    w2.connect();
    const init = w2.hold()[0].data;
    expect(w.srv.receive(w2.now, init, 0, init.length, DEV)).toBe(0);
  });
});

describe('Initiator: retransmission (whitepaper 6.4)', () => {
  it('retransmits every REKEY_TIMEOUT + jitter (< 334 ms) and gives up after REKEY_ATTEMPT_TIME', () => {
    const w = new World();
    w.filter = () => false;
    w.send(up(1));
    w.advance(REKEY_ATTEMPT_TIME);
    expect(count(w.devSent, 1)).toBeGreaterThanOrEqual(REKEY_ATTEMPT_TIME / (REKEY_TIMEOUT + REKEY_TIMEOUT_JITTER_MAX));
    w.advance(20_000);
    const at = w.devSent.filter((d) => d.data[0] === 1).map((d) => d.at);
    // The first and MAX_TIMER_HANDSHAKES + 1 retries, as the kernel does.
    expect(at.length).toBe(MAX_TIMER_HANDSHAKES + 2);
    const gaps = at.slice(1).map((t, i) => t - at[i]);
    for (const g of gaps) {
      expect(g).toBeGreaterThanOrEqual(REKEY_TIMEOUT);
      expect(g).toBeLessThan(REKEY_TIMEOUT + REKEY_TIMEOUT_JITTER_MAX);
    }
    expect(new Set(gaps).size).toBeGreaterThan(5); // jittered, not fixed
    // Every retry is a fresh initiation: new ephemeral, new index.
    const eph = new Set(w.devSent.map((d) => Array.from(d.data.slice(8, 40)).join()));
    expect(eph.size).toBe(at.length);
    expect(w.devEvents.filter((e) => e === EVENT_INITIATED).length).toBe(at.length);
    expect(w.devEvents.filter((e) => e === EVENT_GAVE_UP).length).toBe(1);
    expect(w.dev.drops[Drop.HANDSHAKE_GAVE_UP]).toBe(1);
    expect(w.dev.nextDeadline()).toBeGreaterThan(w.now + REJECT_AFTER_TIME); // only the key zeroing is left
    w.advance(REJECT_AFTER_TIME);
    expect(count(w.devSent, 1)).toBe(at.length); // quiet until there is new data
    w.send(up(2));
    expect(count(w.devSent, 1)).toBe(at.length + 1);
    expect(w.dev.status(w.now).hasSession).toBe(false);
  });

  it('a handshake answered on a retry still delivers the staged packet', () => {
    const w = new World();
    let lost = 0;
    w.filter = (d) => !(d.data[0] === 1 && ++lost <= 3);
    w.send(up(1));
    w.advance(4 * (REKEY_TIMEOUT + REKEY_TIMEOUT_JITTER_MAX));
    expect(count(w.devSent, 1)).toBe(4);
    expect(w.srvGot).toEqual([up(1)]);
    w.advance(60_000);
    expect(count(w.devSent, 1)).toBe(4);
  });

  it('at most one initiation per REKEY_TIMEOUT; connect(now, true) overrides', () => {
    const w = new World();
    w.filter = () => false;
    w.connect();
    w.connect();
    w.send(up(1));
    w.send(up(2));
    expect(count(w.devSent, 1)).toBe(1);
    w.advanceTo(REKEY_TIMEOUT - 1);
    w.connect();
    w.send(up(3));
    expect(count(w.devSent, 1)).toBe(1);
    w.connect(true);
    expect(count(w.devSent, 1)).toBe(2);
    w.connect(true);
    expect(count(w.devSent, 1)).toBe(3);
    // The forced initiation restarted the retransmission timer.
    const last = w.now;
    w.advanceTo(last + REKEY_TIMEOUT - 1);
    expect(count(w.devSent, 1)).toBe(3);
    w.advanceTo(last + REKEY_TIMEOUT + REKEY_TIMEOUT_JITTER_MAX);
    expect(count(w.devSent, 1)).toBe(4);
  });
});

describe('Initiator: rekeying and key lifetimes (whitepaper 6.2, 6.3)', () => {
  it('rekeys on send after REKEY_AFTER_TIME', () => {
    const w = connected();
    w.advance(REKEY_AFTER_TIME - 1000);
    const start = w.devSent.length;
    w.send(up(1));
    w.pump();
    expect(count(w.devSent, 1, start)).toBe(0);
    w.advance(2000);
    w.send(up(2));
    w.pump();
    // The packet goes out on the old session, then the initiation.
    expect(types(w.devSent, start)).toEqual([4, 4, 1, 4]);
    expect(w.srvGot).toEqual([up(1), up(2)]);
    expect(w.dev.status(w.now).sessionAge).toBe(0);
  });

  it('rekeys on receive after REJECT_AFTER_TIME − KEEPALIVE_TIMEOUT − REKEY_TIMEOUT, once', () => {
    const w = connected();
    const limit = REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT - REKEY_TIMEOUT;
    w.advanceTo(limit - 1000);
    w.srvSend(down(1));
    w.pump();
    expect(count(w.devSent, 1)).toBe(1);
    w.advanceTo(limit + 1000);
    w.srvSend(down(2));
    w.filter = (d) => d.data[0] !== 1; // the rekey's initiation is lost
    w.pump();
    expect(count(w.devSent, 1)).toBe(2);
    // Later packets on the same session do not start another (retries are the timer's job):
    // delivered without running timers, past REKEY_TIMEOUT.
    w.now += REKEY_TIMEOUT + 1000;
    w.srvSend(down(3));
    w.pump();
    expect(w.devGot.length).toBe(3);
    expect(count(w.devSent, 1)).toBe(2);
    // Whereas a send does (keep_key_fresh on send has no such latch).
    w.send(up(1));
    expect(count(w.devSent, 1)).toBe(3);
  });

  it('transport on a session older than REJECT_AFTER_TIME is dropped (EXPIRED_SESSION); sends handshake first', () => {
    const w = connected();
    w.filter = () => false;
    w.advance(REJECT_AFTER_TIME - 1);
    w.srvSend(down(1));
    const late = w.srvSent.at(-1)!;
    expect(late.data[0]).toBe(4);
    w.advance(2);
    expect(w.toDevice(late)).toBe(Drop.EXPIRED_SESSION);
    expect(w.devGot.length).toBe(0);
    expect(w.dev.status(w.now).hasSession).toBe(false);
    const start = w.devSent.length;
    w.send(up(1));
    expect(types(w.devSent, start)).toEqual([1]);
  });

  it('a session is not used for more than REJECT_AFTER_MESSAGES (kept as 2^53) messages', () => {
    const w = connected();
    const ctr = 7 + 4 * w.dev.cur; // N[S_COUNTER + 4k]
    w.dev.N[ctr] = 2 ** 53 - 2;
    w.now = REKEY_TIMEOUT; // (no timer is due before)
    w.send(up(1));
    w.send(up(2));
    expect(types(w.devSent, 2)).toEqual([4, 4]);
    const hdr = w.devSent.at(-1)!.data;
    expect(Array.from(hdr.slice(8, 16))).toEqual([255, 255, 255, 255, 255, 255, 31, 0]);
    w.pump();
    expect(w.srvGot).toEqual([up(1), up(2)]);
    expect(w.dev.status(w.now).hasSession).toBe(false);
    w.send(up(3));
    expect(types(w.devSent, 4)).toEqual([1]);
    w.pump();
    expect(w.srvGot.at(-1)).toEqual(up(3));
  });

  it('zeroes key material after 3 × REJECT_AFTER_TIME without a new handshake', () => {
    const w = connected();
    const keys = () => w.dev.B.subarray(B_KEYS, B_KEYS + 128);
    w.advance(REJECT_AFTER_TIME * 3 - 10);
    expect(isZero(keys())).toBe(false);
    expect(w.dev.status(w.now).sessionAge).toBe(REJECT_AFTER_TIME * 3 - 10);
    w.advance(20);
    expect(isZero(keys())).toBe(true);
    expect(w.dev.status(w.now).sessionAge).toBe(-1);
    expect(w.dev.cur).toBe(-1);
    expect(w.dev.prev).toBe(-1);
    expect(w.srv.peerStatus(0).hasSession).toBe(false);
  });

  it('after zeroing, nothing derived from a handshake is left in B (only public values and the cookie)', () => {
    const w = new World();
    w.srv.forceUnderLoad = true; // a cookie, too
    w.connect();
    w.pump();
    w.advance(REKEY_TIMEOUT + REKEY_TIMEOUT_JITTER_MAX);
    expect(w.dev.status(w.now).hasSession).toBe(true);
    w.send(up(1));
    w.srvSend(down(1));
    w.pump();
    w.advance(REJECT_AFTER_TIME * 3 + 1000);
    const fresh = new Initiator({ privateKey: DEV_PRIV, peerPublicKey: SRV_PUB, allowedIPs: [], random: seededRandom(9), wallTime: () => 0 }, { send() {}, deliver() {} });
    const differ: number[] = [];
    for (let i = 0; i < w.dev.B.length; i++) if (w.dev.B[i] !== fresh.B[i]) differ.push(i);
    // Allowed: the last initiation's mac1 (public) and the cookie (512..544).
    const unexpected = differ.filter((i) => !(i >= 512 && i < 544));
    expect(unexpected).toEqual([]);
  });

  it('the previous session still decrypts late packets after a rekey; the one before is gone', () => {
    const w = connected();
    w.srvSend(down(1));
    const oldest = w.hold();
    w.advance(REKEY_AFTER_TIME + 1000);
    w.srvSend(down(2));
    const late = w.hold();
    w.send(up(1));
    w.pump();
    expect(count(w.devSent, 1)).toBe(2);
    expect(w.dev.prev).toBeGreaterThanOrEqual(0);
    expect(w.toDevice(late[0])).toBe(0);
    expect(w.devGot).toEqual([down(2)]);
    expect(w.toDevice(late[0])).toBe(Drop.REPLAY);
    // One more handshake: the first session is freed, its packets name no session of ours.
    w.advance(REKEY_TIMEOUT);
    w.connect(true);
    w.pump();
    expect(w.toDevice(oldest[0])).toBe(Drop.UNKNOWN_INDEX);
    expect(w.devGot.length).toBe(1);
  });

  it('a steady stream through ≥ 5 rekeys loses nothing', () => {
    const w = connected();
    let nUp = 0;
    let nDown = 0;
    const end = REKEY_AFTER_TIME * 5 + 5000;
    while (w.now < end) {
      expect(w.send(up(nUp++))).toBe(0);
      expect(w.srvSend(down(nDown++))).toBe(0);
      w.advance(250);
    }
    w.advance(1000);
    expect(count(w.devSent, 1)).toBeGreaterThanOrEqual(6);
    expect(count(w.srvSent, 1)).toBe(0);
    expect(w.srvGot.length).toBe(nUp);
    expect(w.devGot.length).toBe(nDown);
    for (let i = 0; i < nUp; i += 97) expect(w.srvGot[i]).toEqual(up(i));
    for (let i = 0; i < nDown; i += 89) expect(w.devGot[i]).toEqual(down(i));
    expect(total(w.dev.drops)).toBe(0);
    expect(total(w.srv.drops)).toBe(0);
  });
});

describe('Initiator: keepalive timers (whitepaper 6.5)', () => {
  it('passive keepalive KEEPALIVE_TIMEOUT after receiving data with nothing to send', () => {
    const w = connected();
    w.srvSend(down(1));
    w.pump();
    const before = w.devSent.length;
    w.advance(KEEPALIVE_TIMEOUT - 1);
    expect(w.devSent.length).toBe(before);
    w.advance(1);
    expect(lens(w.devSent, before)).toEqual([32]);
    w.advance(100_000);
    expect(w.devSent.length).toBe(before + 1);
  });

  it('no passive keepalive when data went back in time; another one when data kept coming', () => {
    const w = connected();
    w.srvSend(down(1));
    w.pump();
    w.advance(3000);
    w.send(up(1));
    const before = w.devSent.length;
    w.advance(KEEPALIVE_TIMEOUT + 1000);
    expect(w.devSent.length).toBe(before);
    // Data while the keepalive is pending asks for another one after it (need_another_keepalive).
    const t0 = w.now;
    w.srvSend(down(2));
    w.advance(4000);
    w.srvSend(down(3));
    w.advance(30_000);
    expect(w.devSent.slice(before).map((d) => [d.at - t0, d.data.length])).toEqual([[KEEPALIVE_TIMEOUT, 32], [2 * KEEPALIVE_TIMEOUT, 32]]);
  });

  it('new handshake after sending data with no answer for KEEPALIVE_TIMEOUT + REKEY_TIMEOUT', () => {
    const w = connected();
    w.filter = (d) => d.from !== SRV;
    const start = w.devSent.length;
    w.send(up(1));
    w.advance(KEEPALIVE_TIMEOUT + REKEY_TIMEOUT - 1);
    expect(count(w.devSent, 1, start)).toBe(0);
    w.advance(REKEY_TIMEOUT_JITTER_MAX);
    expect(count(w.devSent, 1, start)).toBe(1);
  });

  it('persistent keepalive every interval while idle, via setKeepalive(n); 0 turns it off; bad values throw', () => {
    const w = new World({ keepalive: 25 });
    w.connect();
    w.pump();
    const start = w.devSent.length;
    w.advance(100_000);
    expect(w.devSent.slice(start).map((d) => [d.at, d.data.length])).toEqual([[25_000, 32], [50_000, 32], [75_000, 32], [100_000, 32]]);
    expect(total(w.srv.drops)).toBe(0);
    // Received traffic postpones it (any authenticated packet traversal): at 105 s data arrives,
    // at 115 s the passive keepalive answers it, the next persistent one is due at 140 s.
    w.advance(5000);
    w.srvSend(down(1));
    w.advance(34_000);
    expect(w.devSent.slice(start + 4).map((d) => [d.at, d.data.length])).toEqual([[115_000, 32]]);
    w.dev.setKeepalive(0);
    const n = w.devSent.length;
    w.advance(100_000);
    expect(w.devSent.length).toBe(n);
    for (const bad of [-1, 1.5, 65536, NaN]) expect(() => w.dev.setKeepalive(bad)).toThrow(/persistent keepalive/);
    expect(() => w.dev.setKeepalive({ responder: '10.1.0.2', source: '10.1.0.1' })).toThrow(/adaptive keepalive/);
    expect(() => w.dev.setKeepalive({ responder: '10.1.0.2:51821' })).toThrow(/adaptive keepalive/);
    expect(() => w.dev.setKeepalive({ responder: '10.1.0.2:0', source: '10.1.0.1' })).toThrow(/adaptive keepalive/);
    expect(() => w.dev.setKeepalive({ responder: '10.1.0.2:51821', source: '10.1.0.256' })).toThrow(/adaptive keepalive/);
  });
});

describe('Initiator: cookies under load (whitepaper 5.4.7)', () => {
  it('accepts the cookie reply of a responder under load; the next initiation carries mac2 and completes', () => {
    const w = new World();
    w.srv.forceUnderLoad = true;
    w.connect();
    w.pump();
    expect(w.srv.cookieRepliesSent).toBe(1);
    expect(lens(w.srvSent)).toEqual([64]);
    expect(w.devRx).toEqual([0]);
    expect(total(w.dev.drops)).toBe(0);
    expect(w.dev.status(w.now).hasSession).toBe(false);
    expect(isZero(w.devSent[0].data.subarray(132, 148))).toBe(true);
    w.advance(REKEY_TIMEOUT + REKEY_TIMEOUT_JITTER_MAX);
    expect(w.dev.status(w.now).hasSession).toBe(true);
    expect(w.srv.cookieRepliesSent).toBe(1);
    expect(isZero(w.devSent[1].data.subarray(132, 148))).toBe(false);
    expect(total(w.dev.drops)).toBe(0);
    expect(total(w.srv.drops)).toBe(0);
    // The cookie is used for COOKIE_SECRET_MAX_AGE − COOKIE_SECRET_LATENCY, then not any more.
    const cookieAt = w.srvSent[0].at;
    w.advanceTo(cookieAt + COOKIE_SECRET_MAX_AGE - COOKIE_SECRET_LATENCY - 1000);
    w.connect(true);
    w.pump();
    expect(isZero(w.devSent.filter((d) => d.data[0] === 1).at(-1)!.data.subarray(132, 148))).toBe(false);
    w.advanceTo(cookieAt + COOKIE_SECRET_MAX_AGE - COOKIE_SECRET_LATENCY + 1000);
    w.connect(true);
    const last = w.hold().filter((d) => d.data[0] === 1).at(-1)!;
    expect(isZero(last.data.subarray(132, 148))).toBe(true);
  });

  it('a cookie reply with a wrong index (UNKNOWN_INDEX), tampered (BAD_COOKIE_REPLY) or of a bad length is dropped', () => {
    const w = new World();
    w.srv.forceUnderLoad = true;
    w.connect();
    for (const d of w.hold()) w.srv.receive(w.now, d.data, 0, d.data.length, DEV);
    const [reply] = w.hold();
    expect(reply.data.length).toBe(64);
    const tamper = (f: (c: Uint8Array) => void) => { const c = reply.data.slice(); f(c); return c; };
    expect(w.toDevice(tamper((c) => (c[4] ^= 1)))).toBe(Drop.UNKNOWN_INDEX);
    for (const at of [8, 23, 24, 31, 32, 47, 48, 63]) expect(w.toDevice(tamper((c) => (c[at] ^= 0x10)))).toBe(Drop.BAD_COOKIE_REPLY);
    expect(w.toDevice(reply.data.slice(0, 63))).toBe(Drop.BAD_LENGTH);
    const longer = new Uint8Array(65);
    longer.set(reply.data);
    expect(w.toDevice(longer)).toBe(Drop.BAD_LENGTH);
    expect(w.dev.drops[Drop.UNKNOWN_INDEX]).toBe(1);
    expect(w.dev.drops[Drop.BAD_COOKIE_REPLY]).toBe(8);
    expect(w.dev.drops[Drop.BAD_LENGTH]).toBe(2);
    // None of it spoiled the genuine reply.
    expect(w.toDevice(reply)).toBe(0);
    w.advance(REKEY_TIMEOUT + REKEY_TIMEOUT_JITTER_MAX);
    expect(w.dev.status(w.now).hasSession).toBe(true);
    expect(w.srv.cookieRepliesSent).toBe(1);
    // With no handshake in flight a cookie reply names nothing of ours.
    expect(w.toDevice(reply)).toBe(Drop.UNKNOWN_INDEX);
  });
});

describe('Initiator: authentication and replay (whitepaper 5.4.6)', () => {
  it('a duplicated or replayed transport datagram is dropped (REPLAY); a forged one AUTH_FAILED', () => {
    const w = connected();
    w.srvSend(down(1));
    const [d] = w.hold();
    expect(w.toDevice(d)).toBe(0);
    expect(w.toDevice(d)).toBe(Drop.REPLAY);
    w.advance(60_000);
    expect(w.toDevice(d)).toBe(Drop.REPLAY);
    for (const at of [8, 16, 40, d.data.length - 1]) {
      const f = d.data.slice();
      f[at] ^= 4;
      expect(w.toDevice(f)).toBe(Drop.AUTH_FAILED);
    }
    expect(w.toDevice(d.data.slice(0, 31))).toBe(Drop.BAD_LENGTH);
    // A counter beyond 2^53 cannot be represented: rejected before decryption.
    const big = d.data.slice();
    big[15] = 0x80;
    expect(w.toDevice(big)).toBe(Drop.REPLAY);
    expect(w.devGot.length).toBe(1);
    expect(w.dev.drops[Drop.REPLAY]).toBe(3);
    expect(w.dev.drops[Drop.AUTH_FAILED]).toBe(4);
    // Out of order within the window is fine; behind the window (224 counters here) is not.
    for (let i = 2; i <= 5; i++) w.srvSend(down(i));
    const q = w.hold();
    for (const i of [3, 0, 2, 1]) expect(w.toDevice(q[i])).toBe(0);
    expect(w.devGot.length).toBe(5);
    for (let i = 0; i < 300; i++) w.srvSend(down(i));
    const r = w.hold();
    expect(w.toDevice(r[299])).toBe(0);
    expect(w.toDevice(r[299 - 200])).toBe(0);
    expect(w.toDevice(r[0])).toBe(Drop.REPLAY);
    expect(w.dev.drops[Drop.REPLAY]).toBe(4);
  });

  it('bad responses (mac1, receiver index, ephemeral, tag, length) are dropped and do not spoil the handshake in flight', () => {
    const w = new World();
    w.connect();
    for (const d of w.hold()) w.srv.receive(w.now, d.data, 0, d.data.length, DEV);
    const [resp] = w.hold();
    expect(resp.data[0]).toBe(2);
    const tamper = (f: (c: Uint8Array) => void, mac = true) => { const c = resp.data.slice(); f(c); if (mac) remac1(c, DEV_PUB); return c; };
    expect(w.toDevice(tamper((c) => (c[70] ^= 1), false))).toBe(Drop.BAD_MAC1);
    expect(w.toDevice(tamper((c) => (c[20] ^= 1), false))).toBe(Drop.BAD_MAC1);
    expect(w.toDevice(tamper((c) => (c[8] ^= 1)))).toBe(Drop.UNEXPECTED_RESPONSE);
    expect(w.toDevice(tamper((c) => (c[12] ^= 1)))).toBe(Drop.HANDSHAKE_FAILED);
    expect(w.toDevice(tamper((c) => c.fill(0, 12, 44)))).toBe(Drop.HANDSHAKE_FAILED); // low-order e_r
    expect(w.toDevice(tamper((c) => (c[50] ^= 1)))).toBe(Drop.HANDSHAKE_FAILED); // empty AEAD's tag
    expect(w.toDevice(resp.data.slice(0, 91))).toBe(Drop.BAD_LENGTH);
    expect(w.dev.status(w.now).hasSession).toBe(false);
    expect(w.devSent.length).toBe(1);
    expect(w.dev.drops[Drop.BAD_MAC1]).toBe(2);
    expect(w.dev.drops[Drop.UNEXPECTED_RESPONSE]).toBe(1);
    expect(w.dev.drops[Drop.HANDSHAKE_FAILED]).toBe(3);
    expect(w.dev.drops[Drop.BAD_LENGTH]).toBe(1);
    // The genuine response afterwards still completes.
    expect(w.toDevice(resp)).toBe(0);
    w.pump();
    expect(w.dev.status(w.now).hasSession).toBe(true);
    expect(w.srv.peerStatus(0).hasSession).toBe(true);
    w.send(up(1));
    w.pump();
    expect(w.srvGot).toEqual([up(1)]);
    // Delivered twice: no handshake in flight any more.
    expect(w.toDevice(resp)).toBe(Drop.UNEXPECTED_RESPONSE);
  });

  it('a response to an initiation that was superseded by a retry is UNEXPECTED_RESPONSE', () => {
    const w = new World();
    w.connect();
    for (const d of w.hold()) w.srv.receive(w.now, d.data, 0, d.data.length, DEV);
    const [stale] = w.hold();
    w.now += REKEY_TIMEOUT;
    w.connect();
    w.pump();
    expect(count(w.devSent, 1)).toBe(2);
    expect(w.dev.status(w.now).hasSession).toBe(true);
    expect(w.toDevice(stale)).toBe(Drop.UNEXPECTED_RESPONSE);
  });

  it('a handshake initiation sent to the device is not processed (UNKNOWN_TYPE, not counted)', () => {
    const w = connected();
    const init = w.devSent[0].data;
    expect(w.toDevice(init)).toBe(Drop.UNKNOWN_TYPE);
    expect(total(w.dev.drops)).toBe(0);
  });
});

describe('Initiator: roaming (whitepaper 6.5, endpoint)', () => {
  it('an authenticated packet from a new endpoint moves `endpoint`; an unauthenticated one does not', () => {
    const w = connected();
    expect(w.dev.endpoint).toBe(SRV);
    const MOVED = '203.0.113.9:4444';
    w.nat = (d) => (d.from === SRV ? MOVED : d.from);
    w.nodes.set(MOVED, w.srv);
    w.srvSend(down(1));
    const [d] = w.hold();
    // Unauthenticated: a forgery, a replay, junk, a bad response, all from elsewhere.
    const f = d.data.slice();
    f[20] ^= 1;
    expect(w.toDevice(f, '198.51.100.1:1')).toBe(Drop.AUTH_FAILED);
    expect(w.toDevice(w.devSent[0].data, '198.51.100.1:2')).toBe(Drop.UNKNOWN_TYPE);
    expect(w.toDevice(new Uint8Array(92).fill(2, 0, 1), '198.51.100.1:3')).toBe(Drop.BAD_MAC1);
    expect(w.dev.endpoint).toBe(SRV);
    expect(w.toDevice(d, MOVED)).toBe(0);
    expect(w.dev.endpoint).toBe(MOVED);
    expect(w.toDevice(d, '198.51.100.1:4')).toBe(Drop.REPLAY);
    expect(w.dev.endpoint).toBe(MOVED);
    w.send(up(1));
    expect(w.devSent.at(-1)!.to).toBe(MOVED);
    w.pump();
    expect(w.srvGot).toEqual([up(1)]);
    // A response from a new endpoint moves it too.
    w.advance(REKEY_TIMEOUT);
    w.nat = (d2) => (d2.from === SRV ? SRV : d2.from);
    w.connect(true);
    w.pump();
    expect(w.dev.endpoint).toBe(SRV);
  });
});

describe('Initiator: AllowedIPs (whitepaper 2, cryptokey routing)', () => {
  it('an inner source outside AllowedIPs is SOURCE_NOT_ALLOWED and not delivered', () => {
    const w = connected();
    // The server routes by destination; the source is the device's to check.
    w.srvSend(udp('10.9.9.9', '10.1.0.1', new Uint8Array(4)));
    w.pump();
    expect(w.dev.drops[Drop.SOURCE_NOT_ALLOWED]).toBe(1);
    expect(w.devGot.length).toBe(0);
    // Not an IPv4 packet, or a length beyond what was sent: BAD_INNER_PACKET.
    const v6 = new Uint8Array(48);
    v6[0] = 0x60;
    w.srv.sendToPeer(w.now, 0, v6, 0, v6.length);
    const bad = down(1);
    bad[3] = 200;
    w.srv.sendToPeer(w.now, 0, bad, 0, bad.length);
    w.pump();
    expect(w.dev.drops[Drop.BAD_INNER_PACKET]).toBe(2);
    // A probe (16 zero bytes) from a wgjs peer is accepted silently.
    expect(w.srv.probe(w.now, 0)).toBe(true);
    w.pump();
    expect(w.devRx.at(-1)).toBe(0);
    expect(total(w.dev.drops)).toBe(3);
  });

  it('a send to a destination outside AllowedIPs is NO_ROUTE; bad or oversized packets are refused', () => {
    const w = connected();
    expect(w.send(udp('10.1.0.1', '10.7.7.7', new Uint8Array(4)))).toBe(Drop.NO_ROUTE);
    expect(w.send(new Uint8Array(19).fill(0x45))).toBe(Drop.BAD_INNER_PACKET);
    const v6 = new Uint8Array(60);
    v6[0] = 0x60;
    expect(w.send(v6)).toBe(Drop.BAD_INNER_PACKET);
    expect(w.send(udp('10.1.0.1', '10.1.0.2', new Uint8Array(1420 - 28)))).toBe(0);
    expect(w.send(udp('10.1.0.1', '10.1.0.2', new Uint8Array(1421 - 28)))).toBe(Drop.TOO_LARGE);
    expect(w.dev.drops[Drop.NO_ROUTE]).toBe(1);
    expect(w.dev.drops[Drop.BAD_INNER_PACKET]).toBe(2);
    expect(w.dev.drops[Drop.TOO_LARGE]).toBe(1);
    w.pump();
    expect(w.srvGot.length).toBe(1);
    expect(w.devSent.at(-1)!.data.length).toBe(32 + 1420);
  });

  it('a small MTU: packets up to it go out (padding capped at the MTU), larger ones are TOO_LARGE', () => {
    const w = new World({ mtu: 576 });
    w.connect();
    w.pump();
    for (const [n, wire] of [[576, 576], [575, 576], [560, 560], [561, 576]]) {
      expect(w.send(udp('10.1.0.1', '10.1.0.2', new Uint8Array(n - 28)))).toBe(0);
      expect(w.devSent.at(-1)!.data.length).toBe(32 + wire);
    }
    expect(w.send(udp('10.1.0.1', '10.1.0.2', new Uint8Array(577 - 28)))).toBe(Drop.TOO_LARGE);
    w.pump();
    expect(w.srvGot.length).toBe(4);
    expect(total(w.srv.drops)).toBe(0);
  });

  it('prefixes /0, /8, /24, /32 and /20 match exactly their addresses', () => {
    const mk = (allowed: string[]) => {
      const d = new Initiator({ privateKey: DEV_PRIV, peerPublicKey: SRV_PUB, allowedIPs: allowed, random: seededRandom(3), wallTime: () => 0 }, { send() {}, deliver() {} });
      // No endpoint: an allowed destination gets as far as NO_ENDPOINT, another stops at NO_ROUTE.
      return (dst: string) => {
        const r = d.send(0, udp('10.1.0.1', dst, new Uint8Array(1)), 0, 29, false);
        expect([Drop.NO_ENDPOINT, Drop.NO_ROUTE]).toContain(r);
        return r === Drop.NO_ENDPOINT;
      };
    };
    const cases: Array<[string, string[], string[]]> = [
      ['0.0.0.0/0', ['0.0.0.0', '10.1.0.2', '255.255.255.255', '128.0.0.0'], []],
      ['10.0.0.0/8', ['10.0.0.0', '10.255.255.255', '10.1.2.3'], ['11.0.0.0', '9.255.255.255', '138.0.0.0']],
      ['192.168.1.0/24', ['192.168.1.0', '192.168.1.255'], ['192.168.0.255', '192.168.2.0', '192.169.1.1']],
      ['172.16.5.4/32', ['172.16.5.4'], ['172.16.5.5', '172.16.5.0', '172.16.4.4']],
      ['172.16.5.4', ['172.16.5.4'], ['172.16.5.5']],
      ['100.64.16.0/20', ['100.64.16.0', '100.64.31.255', '100.64.20.7'], ['100.64.15.255', '100.64.32.0', '100.65.16.0']],
      ['100.64.16.0/17', ['100.64.0.0', '100.64.127.255'], ['100.64.128.0', '100.63.255.255']],
      ['100.64.16.0/1', ['0.0.0.0', '127.255.255.255'], ['128.0.0.0', '255.0.0.0']],
      ['100.64.16.3/31', ['100.64.16.2', '100.64.16.3'], ['100.64.16.4', '100.64.16.1']],
    ];
    for (const [prefix, inside, outside] of cases) {
      const ok = mk([prefix]);
      for (const a of inside) expect(ok(a), `${a} in ${prefix}`).toBe(true);
      for (const a of outside) expect(ok(a), `${a} not in ${prefix}`).toBe(false);
    }
    // Against a reference over random addresses and several prefixes at once.
    const list = ['10.0.0.0/8', '192.168.1.0/24', '172.16.5.4/32', '100.64.16.0/20', '203.0.113.128/25'];
    const ok = mk(list);
    const pre = list.map((p) => { const [a, b] = p.split('/'); return [ip4(a).reduce((x, y) => x * 256 + y, 0), +b] as const; });
    const ref = (x: number) => pre.some(([a, b]) => Math.floor(x / 2 ** (32 - b)) === Math.floor(a / 2 ** (32 - b)));
    const rnd = seededRandom(5);
    const r4 = new Uint8Array(4);
    for (let i = 0; i < 3000; i++) {
      rnd(r4, 0, 4);
      // Half near a configured prefix.
      if (i & 1) { const base = pre[i % pre.length][0]; r4[0] = base >>> 24; if (i & 2) r4[1] = (base >>> 16) & 255; }
      const x = r4.reduce((a, b) => a * 256 + b, 0);
      expect(ok(Array.from(r4).join('.'))).toBe(ref(x));
    }
  });

  it('bad AllowedIPs strings throw with a message; IPv6 entries are ignored', () => {
    const mk = (allowed: string[]) => new Initiator({ privateKey: DEV_PRIV, peerPublicKey: SRV_PUB, allowedIPs: allowed, random: seededRandom(3), wallTime: () => 0 }, { send() {}, deliver() {} });
    for (const bad of ['10.0.0.0/33', '10.0.0/8', '256.1.1.1/32', '10.0.0.1/-1', 'abc', '10.0.0.01/32', '10.0.0.0/8/9',
      '10.0.0.0/', '1.2.3.4.5', '10.0.0.0/8x', '', '10.0.0.0/ 8', '10.0.0.0/+8', '10.0.0.0/0x8', '1e1.0.0.0/8']) {
      expect(() => mk([bad]), JSON.stringify(bad)).toThrow(/AllowedIPs/);
    }
    expect(() => mk(Array.from({ length: 9 }, (_, i) => `10.0.${i}.0/24`))).toThrow(/at most 8/);
    expect(() => mk(Array.from({ length: 8 }, (_, i) => `10.0.${i}.0/24`))).not.toThrow();
    const d = mk(['fd00::/64', '::/0', '10.1.0.2/32', '2001:db8::1']);
    expect(d.nAllow).toBe(1);
    d.endpoint = SRV;
    expect(d.send(0, udp('10.1.0.1', '10.1.0.3', new Uint8Array(1)), 0, 29, false)).toBe(Drop.NO_ROUTE);
    expect(d.send(0, udp('10.1.0.1', '10.1.0.2', new Uint8Array(1)), 0, 29, false)).toBe(0);
  });
});

describe('Initiator: report and sleep (as Engine.report / sleepPeer)', () => {
  it('report on a young session: exactly one transport datagram, then silence', () => {
    const w = connected();
    w.dev.sleep();
    w.advance(30_000);
    const from = w.devSent.length;
    expect(w.send(up(1), true)).toBe(0);
    w.pump();
    expect(types(w.devSent, from)).toEqual([4]);
    expect(w.dev.status(w.now).asleep).toBe(true);
    // The server's passive keepalive arrives; data too; the device answers nothing.
    w.advance(20_000);
    w.srvSend(down(1));
    w.advance(3_600_000);
    expect(w.devSent.length - from).toBe(1);
    expect(w.srvGot).toEqual([up(1)]);
    expect(w.devGot).toEqual([down(1)]);
    expect(w.dev.nextDeadline()).toBe(Infinity);
  });

  it('report on an old session: initiation, response, the data as the confirmation, nothing else; asleep after', () => {
    for (const idle of [REKEY_AFTER_TIME - KEEPALIVE_TIMEOUT + 1000, REJECT_AFTER_TIME + 1000, 900_000]) {
      const w = connected({ keepalive: 25 });
      w.dev.sleep();
      w.advance(idle);
      const from = w.devSent.length;
      const srvFrom = w.srvSent.length;
      expect(w.send(up(1), true)).toBe(0);
      w.pump();
      expect(types(w.devSent, from)).toEqual([1, 4]);
      expect(lens(w.devSent, from)).toEqual([148, 80]);
      expect(types(w.srvSent, srvFrom)).toEqual([2]);
      expect(w.srvGot).toEqual([up(1)]);
      expect(w.dev.status(w.now).asleep).toBe(true);
      w.advance(3_600_000);
      expect(w.devSent.length - from).toBe(2);
    }
  });

  it('sleep(): no keepalive, rekey or retry while asleep; the waiting packet is dropped (ASLEEP); send() wakes', () => {
    const w = connected({ keepalive: 25 });
    w.srvSend(down(1));
    w.pump();
    w.send(up(1)); // arms the new-handshake timer too
    w.dev.sleep();
    const from = w.devSent.length;
    w.advance(REKEY_AFTER_TIME + 60_000);
    expect(w.devSent.length).toBe(from);
    // Mid-handshake: the staged packet is dropped, counted.
    w.filter = () => false;
    w.send(up(2), true);
    expect(types(w.devSent, from)).toEqual([1]);
    w.dev.sleep();
    expect(w.dev.drops[Drop.ASLEEP]).toBe(1);
    w.advance(600_000);
    expect(w.devSent.length).toBe(from + 1);
    // send() wakes: a handshake, then the usual timers (persistent keepalive) again.
    w.filter = () => true;
    w.advance(REKEY_TIMEOUT);
    expect(w.send(up(3))).toBe(0);
    expect(w.dev.status(w.now).asleep).toBe(false);
    w.pump();
    expect(w.srvGot.at(-1)).toEqual(up(3));
    const awake = w.devSent.length;
    w.advance(60_000);
    expect(count(w.devSent, 4, awake)).toBeGreaterThanOrEqual(2);
  });

  it('a report whose handshake gave up is gone: a later ordinary send does not put the device to sleep', () => {
    const w = connected({ keepalive: 25 });
    w.dev.sleep();
    w.advance(REJECT_AFTER_TIME);
    w.filter = () => false;
    expect(w.send(up(1), true)).toBe(0);
    w.advance(REKEY_ATTEMPT_TIME + 20_000);
    expect(w.devEvents.at(-1)).toBe(EVENT_GAVE_UP);
    expect(w.dev.drops[Drop.HANDSHAKE_GAVE_UP]).toBe(1);
    w.filter = () => true;
    expect(w.send(up(2))).toBe(0);
    w.pump();
    expect(w.srvGot).toEqual([up(2)]);
    expect(w.dev.status(w.now).asleep).toBe(false);
    const from = w.devSent.length;
    w.advance(60_000);
    expect(count(w.devSent, 4, from)).toBeGreaterThanOrEqual(2); // persistent keepalives
  });

  it('connect() wakes too; a report that never gets an answer is retried until sleep()', () => {
    const w = new World();
    w.sleep();
    w.connect();
    w.pump();
    expect(w.dev.status(w.now).asleep).toBe(false);
    expect(w.dev.status(w.now).hasSession).toBe(true);
    w.sleep();
    w.advance(REKEY_AFTER_TIME);
    w.filter = () => false;
    w.send(up(1), true);
    w.advance(3 * (REKEY_TIMEOUT + REKEY_TIMEOUT_JITTER_MAX));
    expect(count(w.devSent, 1)).toBe(1 + 4);
    w.sleep();
    w.advance(600_000);
    expect(count(w.devSent, 1)).toBe(1 + 4);
  });
});

// ------------------------------------------------------------------------------------------------
// Adaptive keepalive with the Initiator as the device, behind a simulated NAT (keepalive.test.ts
// runs the same against Engine).

function natWorld(tau: number, opts: { echo?: boolean; inboundRefresh?: boolean; learned?: number } = {}) {
  const w = new World();
  const nat = new NatSim<Box>(w, DEV, w.device, tau * 1000, opts.inboundRefresh ?? true);
  const r = opts.echo === false ? undefined : new ResponderSim(() => w.srvGot, (now, pkt) => { w.srv.sendPacket(now, pkt, 0, pkt.length); });
  w.dev.setKeepalive({
    ...(r ? { responder: '10.1.0.2:51821', source: '10.1.0.1' } : {}),
    verifyEvery: 1_800_000,
    ...(opts.learned ? { learned: opts.learned } : {}),
  });
  const run = (until: number, hook?: (now: number) => boolean | void) => runSim(w, () => [w.device, w.srv], until, r, hook);
  return { w, nat, r, run };
}

function learn(s: ReturnType<typeof natWorld>, limit = 3_600_000): number {
  const t0 = s.w.now;
  let done = -1;
  s.run(t0 + limit, (now) => {
    if (s.w.dev.status(now).adaptive!.learning === false) done = now;
    return done >= 0;
  });
  if (done < 0) throw new Error('did not finish learning');
  return done - t0;
}

describe('Initiator: adaptive keepalive behind a NAT that forgets idle mappings', () => {
  for (const [tau, inboundRefresh] of [[5, true], [20, false], [60, true]] as const) {
    it(`echo probes (probe responder) learn a ${tau} s NAT timeout within ±10 % (${inboundRefresh ? 'inbound refreshes' : 'outbound-only refresh'})`, () => {
      const s = natWorld(tau, { inboundRefresh });
      const took = learn(s);
      const st = s.w.dev.status(s.w.now).adaptive!;
      expect(st.echo).toBe(true);
      expect(Math.abs(st.estimate / 1000 - tau) / tau).toBeLessThanOrEqual(0.1);
      expect(st.interval).toBeLessThan(tau * 1000);
      expect(st.interval).toBeGreaterThan(tau * 1000 * 0.7);
      expect(took).toBeLessThan(12 * tau * 1000 + 60_000);
      expect(s.r!.answered).toBeGreaterThan(0);
    });
  }

  for (const tau of [2, 5, 8]) {
    it(`passive probes (no responder) learn a ${tau} s NAT timeout within ±10 %`, () => {
      const s = natWorld(tau, { echo: false });
      learn(s);
      const st = s.w.dev.status(s.w.now).adaptive!;
      expect(st.echo).toBe(false);
      expect(Math.abs(st.estimate / 1000 - tau) / tau).toBeLessThanOrEqual(0.1);
      expect(st.interval).toBeLessThan(tau * 1000);
    });
  }

  it('after learning, the server reaches the device at any time for an hour without the NAT rebinding', () => {
    const s = natWorld(30);
    learn(s);
    const rebinds = s.nat.rebinds;
    const got = s.w.devGot.length;
    const t0 = s.w.now;
    for (let k = 1; k <= 9; k++) {
      s.run(t0 + k * 397_000);
      expect(s.w.srvSend(down(k))).toBe(0);
      s.w.pump();
    }
    expect(s.w.devGot.length - got).toBe(9);
    expect(s.nat.rebinds).toBe(rebinds);
    expect(total(s.w.dev.drops)).toBe(0);
  });

  it('a learned value given back at start skips learning and keeps the mapping from the first minute', () => {
    const s = natWorld(30, { learned: 29_000 });
    s.run(600_000);
    const st = s.w.dev.status(s.w.now).adaptive!;
    expect(st.learning).toBe(false);
    expect(st.probes).toBe(0);
    expect(st.interval).toBe(29_000 * 0.9);
    expect(s.nat.rebinds).toBe(0);
  });
});

// ------------------------------------------------------------------------------------------------

/** The device's datagrams as (time, type, length). */
const trace = (w: World) => w.devSent.map((d) => [d.at, d.data[0], d.data.length]);

/** Handshake, data both ways, idle 200 s, data, rekeys, a lost response, idle; reports if `report`. */
function scenario(w: World, report: boolean): void {
  expect(w.send(up(0))).toBe(0);
  w.pump();
  for (let i = 1; i <= 5; i++) {
    w.send(up(i));
    w.srvSend(down(i));
    w.advance(1000);
  }
  w.advance(200_000);
  w.send(up(10));
  w.pump();
  w.srvSend(down(10));
  w.advance(3000);
  let n = 100;
  const rekeys = w.now + 3 * REKEY_AFTER_TIME + 10_000;
  while (w.now < rekeys) {
    w.send(up(n));
    if (n % 3 === 0) w.srvSend(down(n));
    n++;
    w.advance(1700);
  }
  // The next handshake's response is lost; the retry completes it.
  let lose = true;
  w.filter = (d) => {
    if (lose && d.from === SRV && d.data[0] === 2) { lose = false; return false; }
    return true;
  };
  const lost = w.now + REKEY_AFTER_TIME + 20_000;
  while (w.now < lost) {
    w.send(up(n++));
    w.advance(2300);
  }
  expect(lose).toBe(false);
  w.advance(60_000);
  if (!report) return;
  // And a report on a young and on an old session.
  w.sleep();
  w.advance(5000);
  w.send(up(n++), true);
  w.advance(600_000);
  w.send(up(n++), true);
  w.advance(600_000);
}

describe('Initiator: differential against Engine as the device', () => {
  it('rekey on receive looks at the current session\'s age, whichever session the packet used (receive.c keep_key_fresh)', () => {
    const limit = REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT - REKEY_TIMEOUT;
    for (const engineDevice of [true, false]) {
      const w = new World({ engineDevice });
      w.connect();
      w.pump();
      w.srvSend(down(1));
      const onFirst = w.hold(); // sent on the first session, delivered late
      w.now = 10_000;
      w.connect();
      w.pump();
      expect(count(w.devSent, 1)).toBe(2);
      // The first session is 176 s old (still accepted), the current one 166 s (past the limit).
      w.now = limit + 11_000;
      expect(w.toDevice(onFirst[0])).toBe(0);
      expect(w.devGot).toEqual([down(1)]);
      expect(count(w.devSent, 1), engineDevice ? 'Engine' : 'Initiator').toBe(3);
    }
  });

  for (const keepalive of [0, 25]) {
    it(`the same scenario sends the same (time, type, length) sequence (persistent keepalive ${keepalive})`, () => {
      const a = new World({ engineDevice: true, keepalive, random: splitRandom(11) });
      const b = new World({ keepalive, random: splitRandom(11) });
      scenario(a, true);
      scenario(b, true);
      const ta = trace(a);
      const tb = trace(b);
      expect(ta.filter((x) => x[1] === 1).length).toBeGreaterThanOrEqual(6);
      expect(tb).toEqual(ta);
      expect(trace({ devSent: b.srvSent } as World)).toEqual(trace({ devSent: a.srvSent } as World));
      expect(b.srvGot).toEqual(a.srvGot);
      expect(b.devGot).toEqual(a.devGot);
      expect(Array.from(b.drops)).toEqual(Array.from(a.drops));
    });
  }
});

// ------------------------------------------------------------------------------------------------

describe('Initiator: robustness', () => {
  it('100k random and mutated datagrams never throw, every rejection is counted, the session survives', () => {
    const w = new World();
    w.srv.forceUnderLoad = true;
    w.connect();
    w.pump();
    const cookie = w.srvSent[0].data.slice();
    w.srv.forceUnderLoad = false;
    w.advance(REKEY_TIMEOUT + REKEY_TIMEOUT_JITTER_MAX);
    expect(w.dev.status(w.now).hasSession).toBe(true);
    const resp = w.srvSent.find((d) => d.data[0] === 2)!.data.slice();
    for (let i = 0; i < 5; i++) w.srvSend(down(i));
    w.srv.probe(w.now, 0);
    w.advance(KEEPALIVE_TIMEOUT + 10); // the server's keepalive too
    const genuine = [cookie, resp, w.devSent[0].data, ...w.srvSent.filter((d) => d.data[0] === 4).map((d) => d.data)];
    expect(genuine.length).toBeGreaterThanOrEqual(8);
    const got = w.devGot.length;
    const dropsBefore = total(w.dev.drops);

    const rnd = seededRandom(77);
    const b = new Uint8Array(8);
    const next = (n: number) => { rnd(b, 0, 4); return ((b[0] | (b[1] << 8) | (b[2] << 16)) >>> 0) % n; };
    const FROM = '203.0.113.66:666';
    let accepted = 0;
    let uncounted = 0;
    let count = 0;
    const check = (m: Uint8Array) => {
      const before = total(w.dev.drops);
      const type = m.length >= 4 && m[1] === 0 && m[2] === 0 && m[3] === 0 ? m[0] : -1;
      const r = w.dev.receive(w.now, m, 0, m.length, FROM);
      count++;
      if (r === 0) {
        accepted++;
        expect(total(w.dev.drops)).toBe(before);
      } else if (type === 1) {
        expect(r).toBe(Drop.UNKNOWN_TYPE);
        expect(total(w.dev.drops)).toBe(before);
        uncounted++;
      } else {
        expect(r).toBeGreaterThan(0);
        expect(r).toBeLessThan(DROP_COUNT);
        expect(total(w.dev.drops)).toBe(before + 1);
      }
    };
    // Every type byte at every interesting length, reserved bytes zero.
    for (let t = 0; t < 256; t++) {
      for (const len of [0, 1, 3, 4, 5, 31, 32, 33, 47, 48, 63, 64, 65, 91, 92, 93, 147, 148, 149, 200]) {
        const m = new Uint8Array(len);
        rnd(m, 0, len);
        if (len > 0) m[0] = t;
        if (len > 3) m[1] = m[2] = m[3] = 0;
        check(m);
      }
    }
    // Every truncation and one extension of each genuine datagram.
    for (const g of genuine) {
      for (let len = 0; len < g.length; len++) check(g.slice(0, len));
      const ext = new Uint8Array(g.length + 1 + next(40));
      ext.set(g);
      check(ext);
    }
    // Bit flips of genuine datagrams, genuine headers with random bodies, and random bytes.
    while (count < 100_000) {
      const kind = next(4);
      const g = genuine[next(genuine.length)];
      let m: Uint8Array;
      if (kind <= 1) {
        m = g.slice();
        for (let f = 1 + next(3); f > 0; f--) m[next(m.length)] ^= 1 << next(8);
      } else if (kind === 2) {
        m = new Uint8Array(next(2) ? g.length : 16 + next(200));
        rnd(m, 0, m.length);
        m.set(g.subarray(0, Math.min(m.length, 16)));
      } else {
        m = new Uint8Array(next(160));
        rnd(m, 0, m.length);
        if (m.length >= 4 && next(2)) { m[0] = 1 + next(4); m[1] = m[2] = m[3] = 0; }
      }
      check(m);
    }
    expect(count).toBeGreaterThanOrEqual(100_000);
    expect(accepted).toBe(0);
    expect(total(w.dev.drops) - dropsBefore).toBe(count - uncounted);
    expect(w.dev.endpoint).toBe(SRV);
    expect(w.devGot.length).toBe(got);
    // The genuine session still works both ways, and so does a new handshake.
    w.srvSend(down(100));
    w.send(up(100));
    w.pump();
    expect(w.devGot.at(-1)).toEqual(down(100));
    expect(w.srvGot.at(-1)).toEqual(up(100));
    w.connect(true);
    w.pump();
    expect(w.dev.status(w.now).sessionAge).toBe(0);
    w.send(up(101));
    w.pump();
    expect(w.srvGot.at(-1)).toEqual(up(101));
  });

  it('random inner packets to send() never throw and are counted', () => {
    const w = connected();
    const rnd = seededRandom(78);
    const b = new Uint8Array(2);
    for (let i = 0; i < 5000; i++) {
      rnd(b, 0, 2);
      const m = new Uint8Array(b[0] * 7);
      rnd(m, 0, m.length);
      if (b[1] & 1) m[0] = 0x45;
      const before = total(w.dev.drops);
      const r = w.dev.send(w.now, m, 0, m.length, false);
      expect(total(w.dev.drops)).toBe(r === 0 ? before : before + 1);
      w.queue = [];
    }
  });

  it('a low-order peer public key throws at construction', () => {
    const hex = (s: string) => new Uint8Array(s.match(/../g)!.map((x) => parseInt(x, 16)));
    const lowOrder = [
      new Uint8Array(32),
      hex('0100000000000000000000000000000000000000000000000000000000000000'),
      hex('e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800'),
      hex('5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157'),
      hex('ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f'),
      hex('edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f'),
      hex('eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f'),
    ];
    for (const k of lowOrder) {
      expect(() => new Initiator({ privateKey: DEV_PRIV, peerPublicKey: k, allowedIPs: [], random: seededRandom(1), wallTime: () => 0 }, { send() {}, deliver() {} }))
        .toThrow(expect.objectContaining({ code: 'EINVAL', message: expect.stringMatching(/low-order/) }));
    }
  });

  it('bad key lengths and MTUs throw with a message', () => {
    const base: InitiatorConfig = { privateKey: DEV_PRIV, peerPublicKey: SRV_PUB, allowedIPs: [], random: seededRandom(1), wallTime: () => 0 };
    const mk = (o: Partial<InitiatorConfig>) => () => new Initiator({ ...base, ...o }, { send() {}, deliver() {} });
    expect(mk({ privateKey: new Uint8Array(31) })).toThrow(/32 bytes/);
    expect(mk({ privateKey: new Uint8Array(33) })).toThrow(/32 bytes/);
    expect(mk({ peerPublicKey: new Uint8Array(0) })).toThrow(/32 bytes/);
    expect(mk({ presharedKey: new Uint8Array(16) })).toThrow(/preshared key/);
    expect(mk({ mtu: 575 })).toThrow(/mtu/);
    expect(mk({ mtu: 65536 })).toThrow(/mtu/);
    expect(mk({ presharedKey: null, mtu: 576 })).not.toThrow();
  });
});

describe('Initiator: status() and wipe()', () => {
  it('status() reports session, handshake time, bytes, drops, endpoint, sleep, keepalive and precompute', () => {
    const w = new World();
    expect(w.dev.status(0)).toEqual({
      hasSession: false, sessionAge: -1, lastHandshake: -Infinity, rxBytes: 0, txBytes: 0, drops: 0,
      endpoint: SRV, asleep: false, adaptive: null, precomputed: false,
    });
    w.advanceTo(1000);
    w.connect();
    w.pump();
    w.advance(500);
    w.srvSend(down(1));
    w.pump();
    w.send(up(1));
    w.toDevice(new Uint8Array(3));
    const st = w.dev.status(w.now);
    expect(st).toMatchObject({ hasSession: true, sessionAge: 500, lastHandshake: 1000, drops: 1, asleep: false, adaptive: null });
    expect(st.rxBytes).toBe(92 + 64);
    expect(st.txBytes).toBe(148 + 32 + 80);
    expect(w.dev.status(1000 + REJECT_AFTER_TIME).hasSession).toBe(false);
    w.dev.setKeepalive({ verifyEvery: 60_000 });
    expect(w.dev.status(w.now).adaptive).toMatchObject({ learning: true, echo: false });
    w.dev.sleep();
    expect(w.dev.status(w.now).asleep).toBe(true);
    w.dev.precompute();
    expect(w.dev.status(w.now).precomputed).toBe(true);
    expect(w.dev.drops.length).toBe(INITIATOR_DROPS);
    expect(INITIATOR_DROPS).toBe(DROP_COUNT);
  });

  it('wipe() zeroes B (every key) and the buffers', () => {
    const w = connected();
    w.send(up(1));
    w.dev.precompute();
    expect(isZero(w.dev.B)).toBe(false);
    w.dev.wipe();
    expect(isZero(w.dev.B)).toBe(true);
    expect(isZero(w.dev.tx)).toBe(true);
    expect(w.dev.stage).toBe(null);
    expect(w.dev.status(w.now).hasSession).toBe(false);
    expect(w.dev.status(w.now).precomputed).toBe(false);
  });
});
