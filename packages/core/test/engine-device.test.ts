/**
 * Engine features for slow devices and NATed paths: precomputed initiations, forced reconnects
 * after a path change, data probes, and recovery from the "stuck rekey" state (a peer keeps
 * sending initiations to a stale endpoint while the other side sends on a session it lost).
 */
import { describe, expect, it } from 'vitest';
import { aToB, bToA, initiations, makePair } from './support/harness.js';
import type { CryptoProvider } from '../src/crypto/provider.js';
import { createPortableProvider } from '../src/crypto/portable.js';
import { KEEPALIVE_TIMEOUT, REKEY_TIMEOUT } from '../src/constants.js';
import { Drop } from '../src/drops.js';
import { Engine } from '../src/engine.js';

function counting(): CryptoProvider & { scalarMults: number } {
  const c = createPortableProvider();
  const wrapped = Object.create(c) as CryptoProvider & { scalarMults: number };
  wrapped.scalarMults = 0;
  wrapped.x25519 = (o, s, p) => { wrapped.scalarMults++; return c.x25519(o, s, p); };
  wrapped.x25519Base = (o, s) => { wrapped.scalarMults++; c.x25519Base(o, s); };
  return wrapped;
}

describe('precomputed handshakes', () => {
  it('a precomputed initiation costs no scalar multiplication and still completes', () => {
    let cA: ReturnType<typeof counting> | null = null;
    const { net, a, b, aPeer } = makePair({ crypto: () => (cA ??= counting()) });
    expect(a.engine.precomputeHandshake(aPeer)).toBe(true);
    expect(a.engine.hasPrecomputedHandshake(aPeer)).toBe(true);
    const before = cA!.scalarMults;
    a.engine.connect(net.now, aPeer);
    // Both engines share the counting provider here; count only A's initiation by checking
    // before the network delivers it to B.
    expect(cA!.scalarMults).toBe(before);
    expect(a.engine.hasPrecomputedHandshake(aPeer)).toBe(false);
    net.pump();
    expect(a.engine.peerStatus(aPeer).hasSession).toBe(true);
    expect(b.engine.peerStatus(0).hasSession).toBe(true);
  });

  it('a precomputed ephemeral is never used twice', () => {
    const { net, a, aPeer } = makePair();
    a.engine.precomputeHandshake(aPeer);
    a.engine.connect(net.now, aPeer);
    const first = a.sent[0].data.slice(8, 40);
    net.filter = () => false;
    net.advance(REKEY_TIMEOUT + 400);
    const second = a.sent.filter((d) => d.data[0] === 1)[1].data.slice(8, 40);
    expect(second).not.toEqual(first);
  });
});

describe('path changes', () => {
  it('connect(force) sends an initiation at once even inside REKEY_TIMEOUT', () => {
    const { net, a, aPeer } = makePair();
    a.engine.connect(net.now, aPeer);
    net.pump();
    net.advance(1000);
    const n = initiations(a);
    a.engine.connect(net.now, aPeer);
    expect(initiations(a)).toBe(n);
    a.engine.connect(net.now, aPeer, true);
    expect(initiations(a)).toBe(n + 1);
  });

  it('a probe draws the peer\'s passive keepalive within KEEPALIVE_TIMEOUT', () => {
    const { net, a, b, aPeer } = makePair();
    a.engine.connect(net.now, aPeer);
    net.pump();
    net.advance(30_000);
    const received = a.engine.peerStatus(aPeer).rxBytes;
    expect(a.engine.probe(net.now, aPeer)).toBe(true);
    net.advance(KEEPALIVE_TIMEOUT + 10);
    expect(a.engine.peerStatus(aPeer).rxBytes).toBe(received + 32);
    expect(b.engine.drops[Drop.BAD_INNER_PACKET]).toBe(0);
    expect(b.engine.probesReceived).toBe(1);
  });

  it('an unanswered probe leads to a new handshake (KEEPALIVE_TIMEOUT + REKEY_TIMEOUT)', () => {
    const { net, a, aPeer } = makePair();
    a.engine.connect(net.now, aPeer);
    net.pump();
    net.filter = (d) => d.from !== '192.0.2.2:51820';
    const n = initiations(a);
    a.engine.probe(net.now, aPeer);
    net.advance(KEEPALIVE_TIMEOUT + REKEY_TIMEOUT + 400);
    expect(initiations(a)).toBe(n + 1);
  });
});

describe('the stuck-rekey state', () => {
  it('a restarted server retrying a stale endpoint reaches a client whose NAT port changed', () => {
    // B is the client behind NAT with a persistent keepalive; A is the server and initiated the
    // session. Then the NAT rebinds B to a new port and A restarts, losing its sessions.
    const { net, a, b, aPeer, bPeer } = makePair({ bEndpointKnown: true });
    b.engine.updatePeer(bPeer, { persistentKeepalive: 25 });
    a.engine.connect(net.now, aPeer);
    net.pump();
    expect(b.engine.peerStatus(bPeer).hasSession).toBe(true);
    // NAT rebinding: B's packets now come from port 40000, and only that port reaches B.
    net.nat = (d) => (d.from === b.addr ? '192.0.2.2:40000' : d.from);
    net.nodes.set('192.0.2.2:40000', b);
    net.nodes.delete(b.addr);
    // Server restart: a fresh engine with the same key and the stale configured endpoint.
    const fresh = new Engine({ privateKey: new Uint8Array(32).map((_, i) => (i * 7 + 1) & 255), crypto: createPortableProvider(), random: (x, o, n) => { for (let i = 0; i < n; i++) x[o + i] = (i * 31 + net.now) & 255; }, wallTime: () => 1_800_000_000_000 + net.now }, {
      send(buf, off, len, endpoint) { const d = { from: a.addr, to: endpoint, data: buf.slice(off, off + len) }; a.sent.push(d); net.queue.push(d); },
      deliver(buf, off, len) { a.delivered.push(buf.slice(off, off + len)); },
    });
    const st = a.engine.peerStatus(aPeer);
    const id = fresh.addPeer({ publicKey: st.publicKey, allowedIPs: ['10.1.0.2/32'], endpoint: b.addr });
    a.engine = fresh;
    const t0 = net.now;
    // The server has data for the client: it initiates to the stale endpoint, unanswered.
    fresh.sendPacket(net.now, aToB(1), 0, aToB(1).length);
    let recovered = -1;
    for (let t = 0; t < 120_000 && recovered < 0; t += 500) {
      net.advance(500);
      if (b.delivered.some((p) => p[28] === 1 && p.length === aToB(1).length)) recovered = net.now - t0;
    }
    expect(fresh.rebindProbes).toBeGreaterThan(0);
    expect(fresh.peerStatus(id).endpoint).toBe('192.0.2.2:40000');
    // Recovery within one keepalive interval plus a retransmission, not REJECT_AFTER_TIME.
    expect(recovered).toBeGreaterThan(0);
    expect(recovered).toBeLessThanOrEqual(25_000 + REKEY_TIMEOUT + 1000);
    b.engine.sendPacket(net.now, bToA(2), 0, bToA(2).length);
    net.pump();
    expect(a.delivered.length).toBeGreaterThan(0);
  });

  it('never sends a rebind copy to a different host', () => {
    const { net, a, aPeer } = makePair();
    net.filter = () => false;
    a.engine.connect(net.now, aPeer);
    net.advance(REKEY_TIMEOUT + 1400); // retrying, the last initiation unanswered for over a second
    const junk = new Uint8Array(48);
    junk[0] = 4;
    a.engine.receive(net.now, junk, 0, 48, '203.0.113.66:40000');
    expect(a.engine.rebindProbes).toBe(0);
    a.engine.receive(net.now + 150, junk, 0, 48, '192.0.2.2:40000');
    expect(a.engine.rebindProbes).toBe(1);
    a.engine.receive(net.now + 300, junk, 0, 48, '192.0.2.2:40001');
    expect(a.engine.rebindProbes).toBe(1); // one per REKEY_TIMEOUT
  });
});
