/**
 * Hostile input: over a million random and mutated datagrams (every message type, truncated,
 * oversized, replayed, bit-flipped) and random inner packets thrown at an engine with a live
 * session. No exception may escape, every rejection must be counted under a reason, memory must
 * stay flat, and the legitimate peer must keep working throughout. Then a handshake flood from
 * many spoofed sources: the responder goes "under load", answers with cookie replies instead of
 * doing DH work, and a legitimate initiator still gets its handshake through.
 */
import { describe, expect, it } from 'vitest';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { aToB, bToA, makePair, seededRandom } from './support/harness.js';
import { DROP_NAMES } from '../src/drops.js';
import { REKEY_TIMEOUT } from '../src/constants.js';

setFlagsFromString('--expose_gc');
const gc = runInNewContext('gc') as () => void;

const DATAGRAMS = 1_000_000;

describe('hostile input', () => {
  it(`survives ${DATAGRAMS.toLocaleString('en')} random and mutated datagrams and random inner packets`, () => {
    const { net, a, b, aPeer } = makePair();
    a.engine.connect(net.now, aPeer);
    net.pump();
    // Capture real messages of every type to mutate: initiation, response, keepalive, data.
    const samples: Uint8Array[] = [];
    for (const d of [...a.sent, ...b.sent]) samples.push(d.data.slice());
    a.engine.sendPacket(net.now, aToB(1), 0, aToB(1).length);
    samples.push(a.sent.at(-1)!.data.slice());
    net.pump();
    const cookieLike = new Uint8Array(64);
    cookieLike[0] = 3;
    samples.push(cookieLike);

    const rnd = seededRandom(12345);
    const r4 = new Uint8Array(4);
    const rand = (n: number): number => {
      rnd(r4, 0, 4);
      return (((r4[0] | (r4[1] << 8) | (r4[2] << 16)) >>> 0) + r4[3] * 16777216) % n;
    };
    const buf = new Uint8Array(2048);
    const endpoints = ['192.0.2.1:51820', '203.0.113.9:1', '[2001:db8::1]:4444', '198.51.100.2:65535'];
    let rejected = 0;
    let accepted = 0;
    let legitSent = 0;
    const dropsBefore = b.engine.drops.reduce((x, y) => x + y, 0);
    const cookiesBefore = b.engine.cookieRepliesSent;
    gc();
    const heapBefore = process.memoryUsage().heapUsed;
    const e = b.engine;

    for (let i = 0; i < DATAGRAMS; i++) {
      let len: number;
      const mode = rand(8);
      if (mode === 0) {
        // random bytes, random length (including 0 and oversized)
        len = rand(1600);
        rnd(buf, 0, len);
      } else if (mode === 1) {
        // right type byte and exact size, random body
        const t = 1 + rand(4);
        len = t === 1 ? 148 : t === 2 ? 92 : t === 3 ? 64 : 32 + 16 * rand(90);
        rnd(buf, 0, len);
        buf[0] = t; buf[1] = 0; buf[2] = 0; buf[3] = 0;
      } else {
        // a real message, replayed, truncated, extended or with flipped bits
        const s = samples[rand(samples.length)];
        buf.set(s);
        len = s.length;
        const m = rand(4);
        if (m === 0) len = rand(len + 1);
        else if (m === 1) { const extra = rand(64); rnd(buf, len, extra); len += extra; }
        else if (m === 2) { for (let k = 1 + rand(4); k > 0; k--) buf[rand(len)] ^= 1 << rand(8); }
        // m === 3: exact replay
      }
      const r = e.receive(net.now, buf, 0, len, endpoints[rand(endpoints.length)]);
      if (r === 0) accepted++;
      else rejected++;
      if (i % 10_000 === 0) {
        // The legitimate peer keeps working throughout.
        const p = aToB(legitSent++);
        a.engine.sendPacket(net.now, p, 0, p.length);
        net.pump();
        const q = bToA(legitSent);
        b.engine.sendPacket(net.now, q, 0, q.length);
        net.pump();
        net.now += 1;
        // The harness records every datagram; forget them so the heap measures the engine only.
        a.sent.length = 0;
        b.sent.length = 0;
      }
    }
    // Random inner packets from the application side: counted and dropped or sent, never thrown.
    for (let i = 0; i < 100_000; i++) {
      const len = rand(1500);
      rnd(buf, 0, len);
      if (i % 2 === 0) buf[0] = (buf[0] & 15) | (rand(2) ? 0x40 : 0x60);
      a.engine.sendPacket(net.now, buf, 0, len);
    }
    net.queue.length = 0;
    a.sent.length = 0;
    b.sent.length = 0;
    const deliveredCount = b.delivered.length;
    b.delivered.length = 0;
    a.delivered.length = 0;
    gc();
    const heapGrowth = process.memoryUsage().heapUsed - heapBefore;

    const drops = b.engine.drops.reduce((x, y) => x + y, 0) - dropsBefore;
    expect(drops).toBe(rejected);
    // Replayed handshakes from many sources put B under load: those are answered with cookie
    // replies (not drops). Anything else accepted must be a genuine message of the session.
    const cookies = b.engine.cookieRepliesSent - cookiesBefore;
    expect(b.engine.isUnderLoad(net.now)).toBe(true);
    expect(accepted - cookies).toBeLessThan(100);
    const byReason = Object.fromEntries(DROP_NAMES.map((n, i) => [n, b.engine.drops[i]]).filter(([, v]) => v));
    console.log(`fuzz: ${rejected} dropped, ${accepted} accepted (${cookies} answered with cookie replies); by reason ${JSON.stringify(byReason)}; heap growth ${(heapGrowth / 1024).toFixed(0)} KiB`);
    expect(Object.keys(byReason).length).toBeGreaterThanOrEqual(6);
    expect(heapGrowth).toBeLessThan(4 * 1024 * 1024);
    expect(deliveredCount).toBeGreaterThanOrEqual(legitSent);
    // And the tunnel still works after the storm.
    const before = b.delivered.length;
    a.engine.sendPacket(net.now, aToB(9), 0, aToB(9).length);
    net.pump();
    expect(b.delivered.length).toBe(before + 1);
  }, 300_000);

  it('a handshake flood from spoofed sources turns on cookies, and a legitimate initiator still gets through', () => {
    const { net, a, b, aPeer, bPeer } = makePair({ engine: { underLoadThreshold: 50 } });
    // An initiation with a valid mac1 (anyone who knows B's public key can make one) from a key B
    // does not know, replayed from thousands of spoofed addresses.
    const spare = makePair({ keySeed: 99 });
    spare.a.engine.connect(0, spare.aPeer);
    const flood = spare.a.sent[0].data;
    let cookieReplies = 0;
    net.filter = (d) => {
      if (d.data[0] === 3 && d.to.startsWith('203.')) { cookieReplies++; return false; }
      return true;
    };
    const storm = (n: number): void => {
      for (let i = 0; i < n; i++) {
        const ep = `203.0.${(i >> 8) & 255}.${i & 255}:${1024 + (i % 50000)}`;
        b.engine.receive(net.now, flood.slice(), 0, flood.length, ep);
      }
      net.pump();
    };
    storm(500);
    expect(b.engine.isUnderLoad(net.now)).toBe(true);
    const cookiesAfterFirst = b.engine.cookieRepliesSent;
    expect(cookiesAfterFirst).toBeGreaterThan(400);
    // The legitimate initiator starts while the flood goes on.
    a.engine.connect(net.now, aPeer);
    for (let t = 0; t < REKEY_TIMEOUT * 3 && !a.engine.peerStatus(aPeer).hasSession; t += 100) {
      storm(100);
      net.advance(100);
    }
    expect(a.engine.peerStatus(aPeer).hasSession).toBe(true);
    expect(b.engine.peerStatus(bPeer).hasSession).toBe(true);
    expect(cookieReplies).toBeGreaterThan(0);
    // Data flows.
    a.engine.sendPacket(net.now, aToB(1), 0, aToB(1).length);
    net.pump();
    expect(b.delivered.length).toBe(1);
  }, 120_000);
});
