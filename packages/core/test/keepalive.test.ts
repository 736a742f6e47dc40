/**
 * Adaptive keepalive and sleep-and-wake, on two engines with a virtual clock, a simulated NAT in
 * front of A (the device) and a simulated probe responder behind B. The namespace lab
 * (packages/node-tun/test/nat-lab.test.ts) repeats the essentials against a real conntrack NAT.
 */
import { describe, expect, it } from 'vitest';
import { makePair, ipv4Packet, type Pair, type Node } from './support/harness.js';
import { NatSim, ResponderSim, runSim } from './support/natsim.js';
import { Engine } from '../src/engine.js';
import { createPortableProvider } from '../src/crypto/portable.js';

/** A NAT in front of A (the device). */
function natFor(p: Pair, timeout: number, inboundRefresh = true): NatSim<Node> {
  return new NatSim(p.net, p.a.addr, p.a, timeout, inboundRefresh);
}

/** The probe responder at 10.1.0.2:51821 behind B. */
function responderFor(p: Pair): ResponderSim {
  return new ResponderSim(() => p.b.delivered, (now, pkt) => { p.b.engine.sendPacket(now, pkt, 0, pkt.length); });
}

/** Runs the virtual network until `until`, firing engine timers and responder replies in order. */
/** `hook` runs after every step; returning true stops the run there. */
function run(p: Pair, until: number, r?: ResponderSim, hook?: (now: number) => boolean | void): void {
  runSim(p.net, () => [...new Set(p.net.nodes.values())].map((n) => n.engine), until, r, hook);
}

function setup(natTimeout: number, opts: { echo?: boolean; inboundRefresh?: boolean; verifyEvery?: number } = {}) {
  const p = makePair();
  const nat = natFor(p, natTimeout, opts.inboundRefresh ?? true);
  const r = opts.echo === false ? undefined : responderFor(p);
  p.a.engine.updatePeer(p.aPeer, {
    adaptiveKeepalive: {
      ...(r ? { responder: '10.1.0.2:51821', source: '10.1.0.1' } : {}),
      verifyEvery: opts.verifyEvery ?? 1_800_000,
    },
  });
  return { ...p, nat, r };
}

/** Runs until A's adaptive keepalive has finished learning (bounded); returns the time it took. */
function learn(s: ReturnType<typeof setup>, limit = 3_600_000): number {
  const t0 = s.net.now;
  let done = -1;
  run(s, t0 + limit, s.r, (now) => {
    if (s.a.engine.peerStatus(s.aPeer).adaptive!.learning === false) done = now;
    return done >= 0;
  });
  if (done < 0) throw new Error('did not finish learning');
  return done - t0;
}

describe('adaptive keepalive: learning the NAT mapping lifetime', () => {
  for (const inboundRefresh of [true, false]) {
    for (const tau of [2, 5, 10, 20, 60, 120]) {
      it(`echo probes learn a ${tau} s NAT timeout within ±10% (${inboundRefresh ? 'inbound refreshes' : 'outbound-only refresh'})`, () => {
        const s = setup(tau * 1000, { inboundRefresh });
        const took = learn(s);
        const st = s.a.engine.peerStatus(s.aPeer).adaptive!;
        expect(Math.abs(st.estimate / 1000 - tau) / tau).toBeLessThanOrEqual(0.1);
        expect(st.interval).toBeLessThan(tau * 1000);
        expect(st.interval).toBeGreaterThan(tau * 1000 * 0.7);
        // Two cycles: doubling until the first loss, then at most three bisection probes.
        // (From the first 2 s test down, halving replaces doubling.)
        const doublings = tau > 2 ? Math.ceil(Math.log2(tau / 2)) + 1 : 2;
        expect(st.probes).toBeLessThanOrEqual(doublings + 3);
        expect(took).toBeLessThan(12 * tau * 1000 + 60_000);
      });
    }
  }

  for (const tau of [2, 5, 8]) {
    it(`passive probes (stock peer, no responder) learn a ${tau} s NAT timeout within ±10%`, () => {
      const s = setup(tau * 1000, { echo: false });
      learn(s);
      const st = s.a.engine.peerStatus(s.aPeer).adaptive!;
      expect(st.echo).toBe(false);
      expect(Math.abs(st.estimate / 1000 - tau) / tau).toBeLessThanOrEqual(0.1);
      expect(st.interval).toBeLessThan(tau * 1000);
    });
  }

  it('passive probes cannot prove more than KEEPALIVE_TIMEOUT: a long NAT timeout falls back to the stock 25 s', () => {
    const s = setup(60_000, { echo: false });
    learn(s);
    const st = s.a.engine.peerStatus(s.aPeer).adaptive!;
    expect(st.failed).toBe(0);
    expect(st.interval).toBe(25_000);
  });
});

describe('adaptive keepalive: keeping the tunnel reachable', () => {
  it('after learning, the peer reaches the device at any time for an hour, with one keepalive per interval', () => {
    const s = setup(30_000);
    learn(s);
    const interval = s.a.engine.peerStatus(s.aPeer).adaptive!.interval;
    const rebinds = s.nat.rebinds;
    const aSent = s.a.sent.length;
    const got = s.a.delivered.length;
    const t0 = s.net.now;
    let sent = 0;
    // B sends to A every 7 minutes-ish at irregular times.
    for (let k = 1; k <= 9; k++) {
      run(s, t0 + k * 397_000, s.r);
      expect(s.b.engine.sendPacket(s.net.now, ipv4Packet('10.1.0.2', '10.1.0.1', new Uint8Array([k])), 0, 29)).toBe(0);
      sent++;
      s.net.pump();
    }
    expect(s.a.delivered.length - got).toBe(sent);
    expect(s.nat.rebinds).toBe(rebinds);
    const elapsed = s.net.now - t0;
    // One refresh (a keepalive, or an initiation when a rekey is due) per interval; on top: the
    // rekeys' confirmations, answers to B's data and the verification probes (each ≤ 3 sends).
    const aSends = s.a.sent.length - aSent;
    const rekeys = s.a.sent.slice(aSent).filter((d) => d.data[0] === 1).length;
    expect(aSends).toBeGreaterThanOrEqual(Math.floor(elapsed / interval) - 1);
    expect(aSends).toBeLessThanOrEqual(Math.ceil(elapsed / interval) + rekeys + sent + 3 * 3 + 2);
  });

  it('real traffic counts as a refresh: a device sending every 10 s sends no keepalive', () => {
    const s = setup(30_000);
    learn(s);
    const from = s.a.sent.length;
    const t0 = s.net.now;
    for (let k = 1; k <= 60; k++) {
      run(s, t0 + k * 10_000, s.r);
      s.a.engine.sendPacket(s.net.now, ipv4Packet('10.1.0.1', '10.1.0.2', new Uint8Array([k])), 0, 29);
      s.net.pump();
    }
    const empty = s.a.sent.slice(from).filter((d) => d.data[0] === 4 && d.data.length === 32).length;
    // Only handshake confirmations (every REKEY_AFTER_TIME) may be empty; no interval keepalive.
    expect(empty).toBeLessThanOrEqual(Math.ceil(600_000 / 120_000) + 1);
  });

  it('when the NAT shortens its timeout, a verification probe fails and the keepalive relearns', () => {
    const s = setup(20_000, { verifyEvery: 120_000 });
    learn(s);
    expect(s.a.engine.peerStatus(s.aPeer).adaptive!.estimate).toBeGreaterThan(18_000);
    s.nat.timeout = 8_000;
    const t0 = s.net.now;
    let relearned = -1;
    run(s, t0 + 3_600_000, s.r, (now) => {
      const st = s.a.engine.peerStatus(s.aPeer).adaptive!;
      if (relearned < 0 && st.failed > 0 && !st.learning && st.estimate < 10_000) relearned = now;
    });
    expect(relearned).toBeGreaterThan(0);
    const st = s.a.engine.peerStatus(s.aPeer).adaptive!;
    expect(Math.abs(st.estimate - 8_000) / 8_000).toBeLessThanOrEqual(0.1);
    expect(relearned - t0).toBeLessThan(120_000 + 10 * 8_000 + 60_000);
  });

  it('a peer that lost its session (restart) is detected by the verification probe and handshaken at once', () => {
    const s = setup(20_000, { verifyEvery: 60_000 });
    learn(s);
    // B restarts: same key, no sessions, no endpoint for A.
    const bKey = s.b.engine.privateKeyCopy();
    const fresh = new Engine({ privateKey: bKey, crypto: createPortableProvider(), random: (b, o, l) => { for (let i = 0; i < l; i++) b[o + i] = (i * 31 + s.net.now) & 255; }, wallTime: () => 1_800_000_000_000 + s.net.now }, {
      send: (buf, off, len, endpoint) => { const d = { from: s.b.addr, to: endpoint, data: buf.slice(off, off + len) }; s.b.sent.push(d); s.net.queue.push(d); },
      deliver: (buf, off, len) => { s.b.delivered.push(buf.slice(off, off + len)); },
    });
    const aPub = new Uint8Array(32);
    createPortableProvider().x25519Base(aPub, s.a.engine.privateKeyCopy());
    fresh.addPeer({ publicKey: aPub, allowedIPs: ['10.1.0.1/32'] });
    s.b.engine = fresh;
    const r = responderFor(s);
    r.seen = s.b.delivered.length;
    const t0 = s.net.now;
    let back = -1;
    run(s, t0 + 600_000, r, (now) => {
      if (back < 0 && fresh.peerStatus(0).hasSession) back = now;
    });
    expect(back).toBeGreaterThan(0);
    // Within one verification period plus one probe.
    expect(back - t0).toBeLessThan(60_000 + 40_000);
  });

  it('a learned value given back at start skips learning and keeps the tunnel up from the first minute', () => {
    const p = makePair();
    const nat = natFor(p, 30_000);
    p.a.engine.updatePeer(p.aPeer, { adaptiveKeepalive: { responder: '10.1.0.2:51821', source: '10.1.0.1', learned: 29_000 } });
    const r = responderFor(p);
    run(p, 600_000, r);
    const st = p.a.engine.peerStatus(p.aPeer).adaptive!;
    expect(st.learning).toBe(false);
    expect(st.probes).toBe(0);
    expect(st.interval).toBe(29_000 * 0.9);
    expect(nat.rebinds).toBe(0);
  });

  it('rejects bad options with a clear error', () => {
    const p = makePair();
    expect(() => p.a.engine.updatePeer(p.aPeer, { adaptiveKeepalive: { responder: '10.1.0.2:51821' } })).toThrow(/source/);
    expect(() => p.a.engine.updatePeer(p.aPeer, { adaptiveKeepalive: { responder: '10.1.0.2', source: '10.1.0.1' } })).toThrow(/probe responder/);
    expect(() => p.a.engine.updatePeer(p.aPeer, { adaptiveKeepalive: { responder: '[fd00::1]:5', source: '10.1.0.1' } })).toThrow(/IP version/);
    expect(() => p.a.engine.updatePeer(p.aPeer, { adaptiveKeepalive: { margin: 1.5 } })).toThrow(/margin/);
    expect(() => p.a.engine.updatePeer(p.aPeer, { adaptiveKeepalive: { start: -1 } })).toThrow(/start/);
  });
});

describe('sleep-and-wake', () => {
  it('a report on a young session is one datagram; asleep, nothing is sent for an hour', () => {
    const p = makePair();
    p.a.engine.connect(0, p.aPeer);
    p.net.pump();
    p.a.engine.sleepPeer(p.aPeer);
    p.net.advance(30_000);
    const from = p.a.sent.length;
    expect(p.a.engine.report(p.net.now, p.aPeer, ipv4Packet('10.1.0.1', '10.1.0.2', new Uint8Array(20)), 0, 48)).toBe(0);
    p.net.pump();
    expect(p.a.sent.length - from).toBe(1);
    expect(p.a.engine.isAsleep(p.aPeer)).toBe(true);
    p.net.advance(3_600_000); // B's passive keepalive arrives; A answers nothing
    expect(p.a.sent.length - from).toBe(1);
    expect(p.b.delivered.length).toBe(1);
  });

  it('a report after a long sleep is one handshake with the payload as its confirmation, nothing else', () => {
    const p = makePair({ keepalive: 25 });
    p.a.engine.connect(0, p.aPeer);
    p.net.pump();
    p.a.engine.sleepPeer(p.aPeer);
    p.net.advance(900_000);
    const from = p.a.sent.length;
    const bFrom = p.b.sent.length;
    p.a.engine.report(p.net.now, p.aPeer, ipv4Packet('10.1.0.1', '10.1.0.2', new Uint8Array(20)), 0, 48);
    p.net.pump();
    const sent = p.a.sent.slice(from).map((d) => d.data[0]);
    expect(sent).toEqual([1, 4]); // initiation, then the report
    expect(p.b.sent.slice(bFrom).map((d) => d.data[0])).toEqual([2]);
    expect(p.b.delivered.length).toBe(1);
    p.net.advance(3_600_000);
    expect(p.a.sent.length - from).toBe(2);
  });

  it('putting a peer to sleep mid-handshake drops the waiting packet, counted', () => {
    const p = makePair();
    p.net.filter = () => false;
    p.a.engine.report(0, p.aPeer, ipv4Packet('10.1.0.1', '10.1.0.2', new Uint8Array(4)), 0, 32);
    p.a.engine.sleepPeer(p.aPeer);
    expect(p.a.engine.drops[23]).toBe(1);
    const n = p.a.sent.length;
    p.net.advance(600_000);
    expect(p.a.sent.length).toBe(n);
  });
});
