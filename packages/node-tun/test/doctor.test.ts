/** `wgjs doctor`'s analysis, on facts describing healthy and broken interfaces. */
import { describe, expect, it } from 'vitest';
import { diagnose, formatFindings, type Facts } from '../src/doctor.js';
import type { HostStatus } from '../src/host.js';

const NOW = 1_800_000_000_000;
const peer = (o: Partial<HostStatus['peers'][number]> = {}): HostStatus['peers'][number] => ({
  id: 0, publicKey: 'xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=', hasPresharedKey: false, endpoint: '192.0.2.7:51820',
  allowedIPs: ['10.0.0.2/32'], persistentKeepalive: 0, rxBytes: 1000, txBytes: 1000, lastHandshakeWall: NOW - 30_000,
  lastHandshakeTime: 0, hasSession: true, handshakeAttempts: 0, adaptive: null, asleep: false, ...o,
});
const status = (peers: HostStatus['peers'], drops: Record<string, number> = {}): HostStatus => ({
  name: 'wg0', pid: 1, startedAt: NOW - 60_000, transport: 'native', addresses: ['10.0.0.1/24'], mtu: 1420,
  tun: { rxPackets: 0, rxBytes: 0, rxBatches: 0, rxTruncated: 0, txPackets: 0, txBytes: 0, txDropped: 0, txErrors: 0, lastTxError: null },
  publicKey: 'yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=', listenPort: 51820, peers, drops,
});
const facts = (before: HostStatus, after: HostStatus, o: Partial<Facts> = {}): Facts => ({
  before, after, intervalMs: 2000, now: NOW, link: { exists: true, up: true, addresses: ['10.0.0.1/24'] },
  routes: after.peers.flatMap((p) => p.allowedIPs.map((prefix) => ({ prefix, dev: 'wg0' }))), ...o,
});
const fails = (f: ReturnType<typeof diagnose>) => f.filter((x) => x.severity === 'fail').map((x) => x.message).join('\n');

describe('wgjs doctor', () => {
  it('finds nothing wrong with a healthy interface', () => {
    const f = diagnose(facts(status([peer()]), status([peer({ rxBytes: 2000, txBytes: 2500 })])));
    expect(fails(f)).toBe('');
    expect(formatFindings(f)).toMatch(/rx and tx both moving/);
  });

  it('says when traffic is not routed into the interface', () => {
    const s = status([peer({ allowedIPs: ['10.0.0.0/24'] })]);
    const f = diagnose(facts(s, s, { routes: [{ prefix: '10.0.0.0/24', dev: 'eth0' }] }));
    expect(fails(f)).toMatch(/10\.0\.0\.0\/24 is routed to eth0, not wg0: .*ip route add 10\.0\.0\.0\/24 dev wg0/);
  });

  it('says when there was never a handshake, and what to check', () => {
    const s = status([peer({ lastHandshakeWall: 0, rxBytes: 0, txBytes: 148 })]);
    expect(fails(diagnose(facts(s, s)))).toMatch(/no handshake yet with 192\.0\.2\.7:51820: check that its UDP port is reachable/);
  });

  it('says when we send but receive nothing', () => {
    const f = diagnose(facts(status([peer()]), status([peer({ txBytes: 9000 })])));
    expect(fails(f)).toMatch(/sent 8000 B in 2 s but received nothing/);
  });

  it('explains drops by reason', () => {
    const before = status([peer()], { source_not_allowed: 2 });
    const after = status([peer()], { source_not_allowed: 5, bad_mac1: 1 });
    const text = formatFindings(diagnose(facts(before, after)));
    expect(text).toMatch(/5 dropped as source_not_allowed \(3 just now\): .*widen AllowedIPs/);
    expect(text).toMatch(/bad_mac1 \(1 just now\): .*wrong public key/);
  });

  it('reports an interface that is down or has no address, and a missing endpoint', () => {
    const s = status([peer({ endpoint: null, lastHandshakeWall: 0, rxBytes: 0, txBytes: 0 })]);
    const f = diagnose(facts(s, s, { link: { exists: true, up: false, addresses: [] } }));
    expect(fails(f)).toMatch(/wg0 is down: ip link set up dev wg0/);
    expect(formatFindings(f)).toMatch(/no address/);
    expect(formatFindings(f)).toMatch(/no endpoint, and the peer has never contacted us/);
  });

  it('points out AllowedIPs that overlap between peers', () => {
    const s = status([peer({ allowedIPs: ['10.0.0.0/24'] }), peer({ publicKey: 'HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=', allowedIPs: ['10.0.0.5/32'] })]);
    expect(formatFindings(diagnose(facts(s, s)))).toMatch(/10\.0\.0\.0\/24 \(peer xTIBA5rb…\) contains 10\.0\.0\.5\/32 \(peer HIgo9xNz…\)/);
  });

  it('warns about a stale handshake', () => {
    const s = status([peer({ lastHandshakeWall: NOW - 10 * 60_000 })]);
    expect(formatFindings(diagnose(facts(s, s)))).toMatch(/last handshake 10 min 0 s ago/);
  });
});
