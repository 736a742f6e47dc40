import { describe, expect, it } from 'vitest';
const REKEY_TIMEOUT_JITTER_SAFE = 2;
import { aToB, bToA, initiations, makePair, ipv4Packet } from './support/harness.js';
import {
  KEEPALIVE_TIMEOUT, REJECT_AFTER_TIME, REKEY_AFTER_TIME, REKEY_ATTEMPT_TIME, REKEY_TIMEOUT,
} from '../src/constants.js';
import { Drop } from '../src/drops.js';
import { EVENT_ENDPOINT_CHANGED, EVENT_HANDSHAKE_GAVE_UP } from '../src/engine.js';

describe('handshake and transport', () => {
  for (const psk of [false, true]) {
    it(`completes a handshake and carries data both ways (psk ${psk ? 'on' : 'off'})`, () => {
      const { net, a, b, aPeer, bPeer } = makePair({ psk });
      expect(a.engine.sendPacket(net.now, aToB(1), 0, aToB(1).length)).toBe(0);
      net.pump();
      // initiation, response, then A's staged packet confirms B's session
      expect(a.sent.map((d) => d.data.length)).toEqual([148, 80]); // 33-byte packet padded to 48
      expect(b.sent.map((d) => d.data.length)).toEqual([92]);
      expect(b.delivered).toEqual([aToB(1)]);
      b.engine.sendPacket(net.now, bToA(2), 0, bToA(2).length);
      net.pump();
      expect(a.delivered).toEqual([bToA(2)]);
      expect(a.engine.peerStatus(aPeer).hasSession).toBe(true);
      expect(b.engine.peerStatus(bPeer).hasSession).toBe(true);
      expect(b.engine.peerStatus(bPeer).endpoint).toBe(a.addr);
      expect(a.engine.peerStatus(aPeer).lastHandshakeWall).toBeGreaterThan(0);
      expect(Array.from(a.engine.drops).every((x) => x === 0)).toBe(true);
      expect(Array.from(b.engine.drops).every((x) => x === 0)).toBe(true);
    });
  }

  it('mismatched preshared keys never complete a handshake', () => {
    const { net, a, b, bPeer } = makePair({ psk: true });
    b.engine.updatePeer(bPeer, { presharedKey: new Uint8Array(32).fill(7) });
    a.engine.sendPacket(net.now, aToB(1), 0, aToB(1).length);
    net.pump();
    expect(a.engine.drops[Drop.HANDSHAKE_FAILED]).toBe(1);
    expect(b.delivered.length).toBe(0);
  });

  it('the initiator confirms the session with a keepalive when it has nothing staged', () => {
    const { net, a, b, aPeer } = makePair();
    a.engine.connect(net.now, aPeer);
    net.pump();
    expect(a.sent.map((d) => d.data.length)).toEqual([148, 32]);
    expect(b.engine.peerStatus(0).hasSession).toBe(true);
  });

  it('pads the payload to a multiple of 16', () => {
    const { net, a, aPeer } = makePair();
    a.engine.connect(net.now, aPeer);
    net.pump();
    const p = aToB(1); // 33 bytes
    a.engine.sendPacket(net.now, p, 0, p.length);
    expect(a.sent.at(-1)!.data.length).toBe(32 + 48);
  });

  it('drops a replayed transport packet', () => {
    const { net, a, b, aPeer } = makePair();
    a.engine.connect(net.now, aPeer);
    net.pump();
    a.engine.sendPacket(net.now, aToB(5), 0, aToB(5).length);
    const copy = a.sent.at(-1)!.data.slice();
    net.pump();
    expect(b.engine.receive(net.now, copy, 0, copy.length, a.addr)).toBe(Drop.REPLAY);
    expect(b.delivered.length).toBe(1);
  });

  it('drops a replayed initiation (timestamp not newer)', () => {
    const { net, a, b, aPeer } = makePair();
    a.engine.connect(net.now, aPeer);
    const init = a.sent[0].data.slice();
    net.pump();
    net.advance(1000);
    expect(b.engine.receive(net.now, init, 0, init.length, a.addr)).toBe(Drop.STALE_TIMESTAMP);
  });

  it('drops decrypted packets whose inner source the peer may not use', () => {
    const { net, a, b, aPeer } = makePair();
    a.engine.connect(net.now, aPeer);
    net.pump();
    const spoof = ipv4Packet('10.9.9.9', '10.1.0.2', new Uint8Array(4));
    a.engine.sendToPeer(net.now, aPeer, spoof, 0, spoof.length);
    net.pump();
    expect(b.engine.drops[Drop.SOURCE_NOT_ALLOWED]).toBe(1);
    expect(b.delivered.length).toBe(0);
  });

  it('counts packets with no route', () => {
    const { net, a } = makePair();
    const p = ipv4Packet('10.1.0.1', '10.7.7.7', new Uint8Array(4));
    expect(a.engine.sendPacket(net.now, p, 0, p.length)).toBe(Drop.NO_ROUTE);
  });

  it('roaming: the endpoint follows the latest authenticated packet', () => {
    const { net, a, b, aPeer, bPeer } = makePair();
    a.engine.connect(net.now, aPeer);
    net.pump();
    net.nat = (d) => (d.from === a.addr ? '198.51.100.7:40000' : d.from);
    net.nodes.set('198.51.100.7:40000', a);
    a.engine.sendPacket(net.now, aToB(1), 0, aToB(1).length);
    net.pump();
    expect(b.engine.peerStatus(bPeer).endpoint).toBe('198.51.100.7:40000');
    expect(b.events.some(([t]) => t === EVENT_ENDPOINT_CHANGED)).toBe(true);
    b.engine.sendPacket(net.now, bToA(1), 0, bToA(1).length);
    expect(b.sent.at(-1)!.to).toBe('198.51.100.7:40000');
  });
});

describe('timers (whitepaper section 6)', () => {
  it('passive keepalive after KEEPALIVE_TIMEOUT when data was received and nothing sent back', () => {
    const { net, a, b, aPeer } = makePair();
    a.engine.connect(net.now, aPeer);
    net.pump();
    a.engine.sendPacket(net.now, aToB(1), 0, aToB(1).length);
    net.pump();
    const before = b.sent.length;
    net.advance(KEEPALIVE_TIMEOUT - 1);
    expect(b.sent.length).toBe(before);
    net.advance(REKEY_TIMEOUT_JITTER_SAFE);
    expect(b.sent.slice(before).map((d) => d.data.length)).toEqual([32]);
  });

  it('no passive keepalive when the receiver replied with data in time', () => {
    const { net, a, b, aPeer } = makePair();
    a.engine.connect(net.now, aPeer);
    net.pump();
    a.engine.sendPacket(net.now, aToB(1), 0, aToB(1).length);
    net.pump();
    net.advance(3000);
    b.engine.sendPacket(net.now, bToA(1), 0, bToA(1).length);
    const before = b.sent.length;
    net.advance(KEEPALIVE_TIMEOUT + 1000);
    expect(b.sent.slice(before).filter((d) => d.data.length === 32).length).toBe(0);
  });

  it('new handshake after KEEPALIVE_TIMEOUT + REKEY_TIMEOUT of sending without hearing back', () => {
    const { net, a, b, aPeer } = makePair();
    a.engine.connect(net.now, aPeer);
    net.pump();
    net.filter = (d) => d.from !== b.addr; // B's replies are lost
    const start = a.sent.length;
    a.engine.sendPacket(net.now, aToB(1), 0, aToB(1).length);
    net.advance(KEEPALIVE_TIMEOUT + REKEY_TIMEOUT - 1);
    expect(initiations(a, start)).toBe(0);
    net.advance(400);
    expect(initiations(a, start)).toBe(1);
  });

  it('retransmits the initiation every REKEY_TIMEOUT and gives up after REKEY_ATTEMPT_TIME', () => {
    const { net, a, aPeer } = makePair();
    net.filter = () => false; // B unreachable
    a.engine.sendPacket(net.now, aToB(1), 0, aToB(1).length);
    net.advance(REKEY_ATTEMPT_TIME);
    const sentDuring = initiations(a);
    expect(sentDuring).toBeGreaterThanOrEqual(REKEY_ATTEMPT_TIME / (REKEY_TIMEOUT + 334));
    net.advance(20_000);
    const total = initiations(a);
    expect(total).toBe(20); // the first + MAX_TIMER_HANDSHAKES + 1 retries, as the kernel does
    expect(a.events.some(([t]) => t === EVENT_HANDSHAKE_GAVE_UP)).toBe(true);
    expect(a.engine.drops[Drop.HANDSHAKE_GAVE_UP]).toBe(1);
    net.advance(REJECT_AFTER_TIME);
    expect(initiations(a)).toBe(total); // stays quiet until there is new data
    a.engine.sendPacket(net.now, aToB(2), 0, aToB(2).length);
    expect(initiations(a)).toBe(total + 1);
    expect(a.engine.peerStatus(aPeer).hasSession).toBe(false);
  });

  it('initiator rekeys after REKEY_AFTER_TIME when it sends', () => {
    const { net, a, b, aPeer } = makePair();
    a.engine.connect(net.now, aPeer);
    net.pump();
    net.advance(REKEY_AFTER_TIME - 1000);
    const start = a.sent.length;
    a.engine.sendPacket(net.now, aToB(1), 0, aToB(1).length);
    net.pump();
    expect(initiations(a, start)).toBe(0);
    net.advance(2000);
    a.engine.sendPacket(net.now, aToB(2), 0, aToB(2).length);
    net.pump();
    expect(initiations(a, start)).toBe(1);
    expect(b.delivered.length).toBe(2);
  });

  it('responder does not rekey on session age', () => {
    const { net, a, b, aPeer } = makePair();
    a.engine.connect(net.now, aPeer);
    net.pump();
    net.advance(REKEY_AFTER_TIME + 5000);
    b.engine.sendPacket(net.now, bToA(1), 0, bToA(1).length);
    net.pump();
    expect(initiations(b)).toBe(0);
    expect(a.delivered.length).toBe(1);
  });

  it('initiator rekeys on receive shortly before REJECT_AFTER_TIME', () => {
    const { net, a, b, aPeer } = makePair();
    a.engine.connect(net.now, aPeer);
    net.pump();
    net.advance(REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT - REKEY_TIMEOUT + 1000);
    const start = a.sent.length;
    b.engine.sendPacket(net.now, bToA(1), 0, bToA(1).length);
    net.pump();
    expect(initiations(a, start)).toBe(1);
  });

  it('rejects a session older than REJECT_AFTER_TIME', () => {
    const { net, a, b, aPeer } = makePair();
    a.engine.connect(net.now, aPeer);
    net.pump();
    net.filter = () => false;
    net.advance(REJECT_AFTER_TIME - 1);
    b.engine.sendPacket(net.now, bToA(1), 0, bToA(1).length);
    const late = b.sent.at(-1)!.data.slice();
    expect(late[0]).toBe(4);
    net.advance(2);
    expect(a.engine.receive(net.now, late, 0, late.length, b.addr)).toBe(Drop.EXPIRED_SESSION);
  });

  it('zeroes key material after 3 × REJECT_AFTER_TIME without a new handshake', () => {
    const { net, a, b, aPeer, bPeer } = makePair();
    a.engine.connect(net.now, aPeer);
    net.pump();
    net.advance(REJECT_AFTER_TIME * 3 - 10);
    expect(a.engine.peerStatus(aPeer).hasSession).toBe(true);
    net.advance(20);
    expect(a.engine.peerStatus(aPeer).hasSession).toBe(false);
    expect(b.engine.peerStatus(bPeer).hasSession).toBe(false);
  });

  it('persistent keepalive is sent every interval while idle', () => {
    const { net, a, b, aPeer } = makePair({ keepalive: 25 });
    a.engine.connect(net.now, aPeer);
    net.pump();
    const start = a.sent.length;
    net.advance(100_000);
    expect(a.sent.slice(start).filter((d) => d.data.length === 32).length).toBe(4);
    expect(b.engine.drops.reduce((x, y) => x + y, 0)).toBe(0);
  });

  it('carries a steady stream through at least 10 rekeys with 0 lost', () => {
    const { net, a, b, aPeer } = makePair();
    a.engine.connect(net.now, aPeer);
    net.pump();
    let sentAB = 0;
    let sentBA = 0;
    const end = REKEY_AFTER_TIME * 11 + 5000;
    while (net.now < end) {
      const pa = aToB(sentAB++);
      expect(a.engine.sendPacket(net.now, pa, 0, pa.length)).toBe(0);
      const pb = bToA(sentBA++);
      expect(b.engine.sendPacket(net.now, pb, 0, pb.length)).toBe(0);
      net.advance(250);
    }
    net.advance(1000);
    expect(initiations(a)).toBeGreaterThanOrEqual(11);
    expect(initiations(b)).toBe(0);
    expect(b.delivered.length).toBe(sentAB);
    expect(a.delivered.length).toBe(sentBA);
    for (let i = 0; i < sentAB; i += 97) expect(b.delivered[i]).toEqual(aToB(i));
    expect(a.engine.drops.reduce((x, y) => x + y, 0)).toBe(0);
    expect(b.engine.drops.reduce((x, y) => x + y, 0)).toBe(0);
  });
});

describe('cookies and load', () => {
  it('under load the responder answers with a cookie reply and the initiator completes with mac2', () => {
    const { net, a, b, aPeer } = makePair();
    b.engine.forceUnderLoad = true;
    a.engine.connect(net.now, aPeer);
    net.pump();
    expect(b.engine.cookieRepliesSent).toBe(1);
    expect(b.sent.map((d) => d.data.length)).toEqual([64]);
    expect(a.engine.peerStatus(aPeer).hasSession).toBe(false);
    net.advance(REKEY_TIMEOUT + 400); // retransmission carries mac2
    expect(a.engine.peerStatus(aPeer).hasSession).toBe(true);
    expect(b.engine.cookieRepliesSent).toBe(1);
  });

  it('drops handshakes with a bad mac1 before any DH work', () => {
    const { net, a, b, aPeer } = makePair();
    a.engine.connect(net.now, aPeer);
    const m = a.sent[0].data.slice();
    m[120] ^= 1;
    expect(b.engine.receive(net.now, m, 0, m.length, a.addr)).toBe(Drop.BAD_MAC1);
  });
});

describe('configuration', () => {
  it('exceeding maxPeers is a typed error', () => {
    const { a } = makePair({ engine: { maxPeers: 1 } });
    expect(() => a.engine.addPeer({ publicKey: new Uint8Array(32).fill(9) })).toThrow(expect.objectContaining({ code: 'ENOSPC' }));
  });

  it('exceeding AllowedIPs capacity is a typed error and leaves the peer unchanged', () => {
    const { a, aPeer } = makePair({ engine: { maxAllowedIPs: 3 } });
    expect(() => a.engine.setAllowedIPs(aPeer, ['10.0.0.0/8', '10.1.0.0/16', '10.2.0.0/16', '10.3.0.0/16'])).toThrow(expect.objectContaining({ code: 'ECAPACITY' }));
    expect(a.engine.allowedIPsOf(aPeer).sort()).toEqual(['10.1.0.2/32', 'fd01::2/128']);
  });

  it('rejects duplicate and own public keys', () => {
    const { a, aPeer } = makePair();
    const pk = a.engine.peerStatus(aPeer).publicKey;
    expect(() => a.engine.addPeer({ publicKey: pk })).toThrow(expect.objectContaining({ code: 'EEXIST' }));
    expect(() => a.engine.addPeer({ publicKey: a.engine.publicKey })).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });

  it('removing a peer wipes its sessions and routes', () => {
    const { net, a, aPeer } = makePair();
    a.engine.connect(net.now, aPeer);
    net.pump();
    a.engine.removePeer(aPeer);
    expect(a.engine.peerIds()).toEqual([]);
    expect(a.engine.sendPacket(net.now, aToB(1), 0, aToB(1).length)).toBe(Drop.NO_ROUTE);
  });
});


