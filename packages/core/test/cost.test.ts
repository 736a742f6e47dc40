/**
 * The keepalive cost model: hand-counted cases, and a differential test against two real engines
 * on the virtual-clock harness (the model must reproduce the engine's datagrams exactly).
 */
import { describe, expect, it } from 'vitest';
import { dailyCost, type CostInput } from '../src/cost.js';
import type { WgError } from '../src/errors.js';
import { ipv4Packet, makePair } from './support/harness.js';

const H4 = 28; // IPv4 + UDP header
const H6 = 48;

describe('dailyCost: hand-counted cases', () => {
  it('600 s, keepalive 25, no reports (rtt 0)', () => {
    // t=0: initiation up, response down, confirmation keepalive up. Keepalives every 25 s from 25
    // to 575 (23). A keepalive sent on a session older than 120 s rekeys right after it: at 125,
    // 250, 375 and 500 (initiation, response, confirmation each), so 5 handshakes in all.
    const r = dailyCost({ keepalive: 25, natTimeout: 30, seconds: 600, rtt: 0 });
    const up = 5 * (148 + H4) + (23 + 5) * (32 + H4);
    const down = 5 * (92 + H4);
    expect(r).toEqual({
      seconds: 600, upBytes: up, downBytes: down, totalBytes: up + down, upPackets: 33, downPackets: 5,
      keepalives: 28, handshakes: 5, reports: 0, probes: 0, reachable: true, longestGap: 25, unreachableFraction: 0,
    });
    expect(up).toBe(2560);
  });

  it('the default rtt shifts times but not the counts', () => {
    const r = dailyCost({ keepalive: 25, natTimeout: 30, seconds: 600 });
    expect([r.upBytes, r.downBytes, r.handshakes, r.keepalives]).toEqual([2560, 600, 5, 28]);
    // initiation at 0, confirmation at 0.1 s, keepalives 25 s after each send from then on
    expect(r.longestGap).toBeCloseTo(25, 9);
  });

  it('IPv6 adds 20 bytes per datagram', () => {
    const v4 = dailyCost({ keepalive: 25, natTimeout: 30, seconds: 600, rtt: 0 });
    const v6 = dailyCost({ keepalive: 25, natTimeout: 30, seconds: 600, rtt: 0, ipv6: true });
    expect(v6.totalBytes - v4.totalBytes).toBe((H6 - H4) * (v4.upPackets + v4.downPackets));
  });

  it('600 s, keepalive off, a 64-byte report every 90 s', () => {
    // t=0 handshake + keepalive confirmation. Reports at 90, 270, 450 go on a 90 s old session;
    // at 180, 360, 540 the session is 180 s old (unusable): the report is held, a handshake goes
    // first and the report confirms it. Each report draws the server's passive keepalive 10 s
    // later (the response does not cancel it: it precedes the report).
    const r = dailyCost({ keepalive: 0, natTimeout: 30, seconds: 600, rtt: 0, reportInterval: 90, reportBytes: 64 });
    const report = 32 + 64; // 64 is a multiple of 16
    expect(r.upBytes).toBe(4 * (148 + H4) + (32 + H4) + 6 * (report + H4));
    expect(r.downBytes).toBe(4 * (92 + H4) + 6 * (32 + H4));
    expect(r.handshakes).toBe(4);
    expect(r.reports).toBe(6);
    expect(r.keepalives).toBe(7);
    expect(r.reachable).toBe(false);
    expect(r.longestGap).toBe(90);
    // silences: six of 90 s and the last 60 s (540 to 600), each 30 s beyond the NAT timeout
    expect(r.unreachableFraction).toBeCloseTo((6 * 60 + 30) / 600, 12);
  });

  it('inner sizes are padded to 16', () => {
    const a = dailyCost({ keepalive: 0, natTimeout: 30, seconds: 100, rtt: 0, reportInterval: 90, reportBytes: 33 });
    // handshake + confirmation, one report of 33 -> 48 padded, the server's keepalive at 100 is out
    expect(a.upBytes).toBe(148 + 32 + 32 + 48 + 3 * H4);
    expect(a.downBytes).toBe(92 + H4);
  });

  it('a server reply replaces its passive keepalive and draws the device\'s', () => {
    const r = dailyCost({ keepalive: 0, natTimeout: 30, seconds: 120, rtt: 0, reportInterval: 90, reportBytes: 64, serverReplyBytes: 100 });
    // up: initiation, confirmation, report at 90, the device's passive keepalive at 100
    expect(r.upBytes).toBe(148 + 32 + 96 + 32 + 4 * H4);
    // down: response, reply of 100 -> 112 padded
    expect(r.downBytes).toBe(92 + 32 + 112 + 2 * H4);
  });

  it('stock keepalive is restarted by received packets; adaptive (sends only) is not', () => {
    // The report at 300 s draws the server's keepalive at 310: stock then stays silent until
    // 335, 35 s, longer than a 30 s NAT timeout (for a NAT that only outbound packets refresh);
    // the sends-only rule keeps its 25 s beat (325).
    const base: CostInput = { keepalive: 25, natTimeout: 30, seconds: 400, rtt: 0, reportInterval: 300, reportBytes: 64 };
    const stock = dailyCost(base);
    const adaptive = dailyCost({ ...base, refreshOnReceive: false });
    expect([stock.longestGap, stock.reachable]).toEqual([35, false]);
    expect(stock.unreachableFraction).toBeCloseTo(5 / 400, 12);
    expect([adaptive.longestGap, adaptive.reachable]).toEqual([25, true]);
  });

  it('sleep mode: a handshake per report when reports are 300 s apart', () => {
    const r = dailyCost({ mode: 'sleep', keepalive: 0, natTimeout: 30, seconds: 3600, rtt: 0, reportInterval: 300, reportBytes: 64 });
    // reports at 300 .. 3300 (11): initiation + report up; response + passive keepalive down
    expect(r.upBytes).toBe(11 * (148 + 96 + 2 * H4));
    expect(r.downBytes).toBe(11 * (92 + 32 + 2 * H4));
    expect([r.handshakes, r.reports, r.keepalives]).toEqual([11, 11, 11]);
    expect(r.reachable).toBe(false);
    expect(r.unreachableFraction).toBeCloseTo(12 * 270 / 3600, 12);
  });

  it('sleep mode reuses a session younger than 120 s', () => {
    const r = dailyCost({ mode: 'sleep', keepalive: 0, natTimeout: 30, seconds: 700, rtt: 0, reportInterval: 100, reportBytes: 64 });
    // 100 handshake, 200 reuse (age 100), 300 handshake (age 200), 400 reuse, 500 hs, 600 reuse
    expect(r.handshakes).toBe(3);
    expect(r.reports).toBe(6);
    expect(r.upBytes).toBe(3 * (148 + H4) + 6 * (96 + H4));
  });

  it('probes add their bytes and count as sends', () => {
    const without = dailyCost({ keepalive: 25, natTimeout: 30, seconds: 600, rtt: 0, refreshOnReceive: false });
    const withProbe = dailyCost({ keepalive: 25, natTimeout: 30, seconds: 600, rtt: 0, refreshOnReceive: false, probe: { every: 3600, upBytes: 76, downBytes: 76 } });
    expect(withProbe).toEqual(without); // no probe within 600 s
    const p = dailyCost({ keepalive: 25, natTimeout: 30, seconds: 600, rtt: 0, refreshOnReceive: false, probe: { every: 60, upBytes: 76, downBytes: 60 } });
    expect(p.probes).toBe(9);
    expect(p.downBytes).toBe(without.downBytes + 9 * 60);
    // the probe at 60 restarts the beat: 75 becomes 85, and so on; fewer keepalives overall
    expect(p.keepalives).toBeLessThan(without.keepalives);
  });

  it('keepalive off with no reports: one handshake, unreachable after natTimeout', () => {
    const r = dailyCost({ keepalive: 0, natTimeout: 30, rtt: 0 });
    expect(r.totalBytes).toBe(148 + 92 + 32 + 3 * H4);
    expect(r.longestGap).toBe(86400);
    expect(r.unreachableFraction).toBeCloseTo((86400 - 30) / 86400, 12);
  });

  it('rejects bad input with EINVAL and a message naming the field', () => {
    const bad: Array<[unknown, RegExp]> = [
      [{ keepalive: -1, natTimeout: 30 }, /keepalive/],
      [{ keepalive: NaN, natTimeout: 30 }, /keepalive/],
      [{ keepalive: 0.5, natTimeout: 30 }, /keepalive/],
      [{ keepalive: 25, natTimeout: 0 }, /natTimeout/],
      [{ keepalive: 25 }, /natTimeout/],
      [{ keepalive: 25, natTimeout: 30, reportInterval: 60 }, /reportBytes/],
      [{ keepalive: 25, natTimeout: 30, reportInterval: 60, reportBytes: 5000 }, /reportBytes/],
      [{ keepalive: 25, natTimeout: 30, rtt: 5 }, /rtt/],
      [{ keepalive: 25, natTimeout: 30, seconds: -3 }, /seconds/],
      [{ keepalive: 25, natTimeout: 30, mode: 'nap' }, /mode/],
      [{ keepalive: 0, natTimeout: 30, mode: 'sleep', reportInterval: 5, reportBytes: 10 }, /sleep mode/],
      [{ keepalive: 0, natTimeout: 30, mode: 'sleep', probe: { every: 60, upBytes: 1, downBytes: 1 } }, /probe/],
      [{ keepalive: 1, natTimeout: 30, seconds: 31622400 }, /shorter period/],
      [null, /object/],
    ];
    for (const [input, msg] of bad) {
      let err: WgError | null = null;
      try {
        dailyCost(input as CostInput);
      } catch (e) {
        err = e as WgError;
      }
      expect(err, JSON.stringify(input)).not.toBeNull();
      expect(err!.code).toBe('EINVAL');
      expect(err!.message).toMatch(msg);
    }
  });
});

interface Policy { name: string; keepalive: number; reportInterval: number; reportBytes: number; serverReplyBytes?: number; adaptive?: boolean }

/**
 * Runs the device (A, persistent keepalive, initiator) and the server (B) for `seconds` on the
 * virtual clock; the test sends A's reports at their times, and B answers each at once when the
 * policy has a server reply. Returns wire bytes and datagrams per direction.
 */
function runEngines(p: Policy, seconds: number) {
  const { net, a, b, aPeer } = makePair({ keepalive: p.adaptive ? 0 : p.keepalive });
  if (p.adaptive) {
    // An adaptive keepalive that already knows the lifetime (no learning, no verification within
    // the period) keeps an interval of learned × margin = `keepalive` seconds.
    a.engine.updatePeer(aPeer, { adaptiveKeepalive: { learned: p.keepalive * 2000, margin: 0.5, verifyEvery: 86_400_000 } });
  }
  const report = ipv4Packet('10.1.0.1', '10.1.0.2', new Uint8Array(p.reportBytes - 28));
  if (p.serverReplyBytes) {
    // The server's application answers from inside delivery, i.e. "at once", as in the model.
    const reply = ipv4Packet('10.1.0.2', '10.1.0.1', new Uint8Array(p.serverReplyBytes - 28));
    b.delivered.push = () => b.engine.sendPacket(net.now, reply, 0, reply.length);
  }
  a.engine.connect(0, aPeer);
  net.pump();
  const end = seconds * 1000;
  if (p.reportInterval > 0) {
    for (let k = 1; k * p.reportInterval * 1000 < end; k++) {
      net.advanceTo(k * p.reportInterval * 1000);
      expect(a.engine.sendPacket(net.now, report, 0, report.length)).toBe(0);
    }
  }
  // The model counts events at t < end; every engine event falls on a whole millisecond here
  // (no loss, so no jittered timer fires), so stopping at end - 1 ms covers the same window.
  net.advanceTo(end - 1);
  const sum = (list: { data: Uint8Array }[]) => list.reduce((s, d) => s + d.data.length + H4, 0);
  const drops = [...a.engine.drops, ...b.engine.drops].reduce((s, x) => s + x, 0);
  return {
    upBytes: sum(a.sent),
    downBytes: sum(b.sent),
    upPackets: a.sent.length,
    downPackets: b.sent.length,
    handshakes: a.sent.filter((d) => d.data[0] === 1).length,
    keepalives: a.sent.filter((d) => d.data.length === 32).length + b.sent.filter((d) => d.data.length === 32).length,
    drops,
  };
}

const POLICIES: Policy[] = [
  { name: 'keepalive 25, no reports', keepalive: 25, reportInterval: 0, reportBytes: 64 },
  { name: 'keepalive 60, no reports', keepalive: 60, reportInterval: 0, reportBytes: 64 },
  { name: 'keepalive 100, no reports', keepalive: 100, reportInterval: 0, reportBytes: 64 },
  { name: 'keepalive 25, 64-byte report every 300 s', keepalive: 25, reportInterval: 300, reportBytes: 64 },
  { name: 'keepalive off, 64-byte report every 90 s', keepalive: 0, reportInterval: 90, reportBytes: 64 },
  { name: 'keepalive 25, report every 37 s, server reply 200', keepalive: 25, reportInterval: 37, reportBytes: 100, serverReplyBytes: 200 },
  { name: 'keepalive off, report every 170 s, server reply 64', keepalive: 0, reportInterval: 170, reportBytes: 64, serverReplyBytes: 64 },
  { name: 'adaptive 25, no reports', keepalive: 25, reportInterval: 0, reportBytes: 64, adaptive: true },
  { name: 'adaptive 54, no reports', keepalive: 54, reportInterval: 0, reportBytes: 64, adaptive: true },
  { name: 'adaptive 100, no reports', keepalive: 100, reportInterval: 0, reportBytes: 64, adaptive: true },
  { name: 'adaptive 25, 64-byte report every 300 s', keepalive: 25, reportInterval: 300, reportBytes: 64, adaptive: true },
  { name: 'adaptive 25, report every 37 s, server reply 200', keepalive: 25, reportInterval: 37, reportBytes: 100, serverReplyBytes: 200, adaptive: true },
];

describe('dailyCost matches the engine byte for byte (2 simulated hours, zero rtt)', () => {
  const SECONDS = 7200;
  for (const p of POLICIES) {
    it(p.name, () => {
      const engine = runEngines(p, SECONDS);
      const model = dailyCost({
        keepalive: p.keepalive, natTimeout: 30, seconds: SECONDS, rtt: 0,
        reportInterval: p.reportInterval, reportBytes: p.reportBytes, serverReplyBytes: p.serverReplyBytes,
        refreshOnReceive: !p.adaptive,
      });
      console.log(`[cost] ${p.name}: model up ${model.upBytes} down ${model.downBytes}; engine up ${engine.upBytes} down ${engine.downBytes}`);
      expect(engine.drops).toBe(0);
      expect({
        upBytes: model.upBytes, downBytes: model.downBytes, upPackets: model.upPackets, downPackets: model.downPackets,
        handshakes: model.handshakes, keepalives: model.keepalives,
      }).toEqual({
        upBytes: engine.upBytes, downBytes: engine.downBytes, upPackets: engine.upPackets, downPackets: engine.downPackets,
        handshakes: engine.handshakes, keepalives: engine.keepalives,
      });
    });
  }

  it('the sends-only rule differs from the stock engine when the server talks', () => {
    const p = POLICIES[3];
    const engine = runEngines(p, SECONDS);
    const model = dailyCost({ keepalive: 25, natTimeout: 30, seconds: SECONDS, rtt: 0, reportInterval: 300, reportBytes: 64, refreshOnReceive: false });
    expect(model.upBytes).not.toBe(engine.upBytes);
  });
});
