/**
 * ip4.ts (the device's IPv4 helpers) against ip.ts (the full IPv4/IPv6 ones): same packets built,
 * same fields parsed, same echo replies; malformed input rejected.
 */
import { describe, expect, it } from 'vitest';
import { ip4EchoReply, ip4Info, ip4Parse, ip4Udp } from '../src/ip4.js';
import { ECHO_REQUEST, answerEcho, internetChecksum, parseUdp, udpInfo, writeIcmpEcho, writeUdp } from '../src/ip.js';

function rng(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return x >>> 8;
  };
}

describe('ip4', () => {
  it('builds the same UDP datagrams as ip.ts writeUdp (lengths 0..600, random addresses and ports)', () => {
    const r = rng(1);
    for (let n = 0; n < 600; n += 7) {
      const src = new Uint8Array([r() & 255, r() & 255, r() & 255, r() & 255]);
      const dst = new Uint8Array([r() & 255, r() & 255, r() & 255, r() & 255]);
      const sp = r() & 0xffff;
      const dp = r() & 0xffff;
      const payload = new Uint8Array(n).map(() => r() & 255);
      const a = new Uint8Array(3 + 28 + n);
      a.set(payload, 3 + 28);
      expect(ip4Udp(a, 3, src, sp, dst, dp, n)).toBe(28 + n);
      const b = new Uint8Array(3 + 28 + n);
      expect(writeUdp(b, 3, 4, src, sp, dst, dp, payload, 0, n)).toBe(28 + n);
      expect(a).toEqual(b);
    }
  });

  it('parses UDP as parseUdp does, with trailing padding; rejects fragments, short and truncated packets', () => {
    const r = rng(2);
    const src = new Uint8Array([10, 0, 0, 1]);
    const dst = new Uint8Array([10, 0, 0, 2]);
    for (let n = 0; n < 100; n += 3) {
      const p = new Uint8Array(28 + n + 16);
      for (let i = 0; i < n; i++) p[28 + i] = r() & 255;
      ip4Udp(p, 0, src, 1234, dst, 5555, n);
      expect(ip4Parse(p, 0, p.length)).toBe(17);
      expect(parseUdp(p, 0, p.length)).toBe(n);
      expect([ip4Info[0], ip4Info[1], ip4Info[2], ip4Info[3], ip4Info[4]]).toEqual([udpInfo.srcPort, udpInfo.dstPort, udpInfo.payloadOff, udpInfo.payloadLen, udpInfo.ipLength]);
    }
    const p = new Uint8Array(40);
    ip4Udp(p, 0, src, 1, dst, 2, 12);
    expect(ip4Parse(p, 0, 40)).toBe(17);
    expect(ip4Parse(p, 0, 39)).toBe(-1); // truncated
    const frag = p.slice();
    frag[6] = 0x20; // more fragments
    expect(ip4Parse(frag, 0, 40)).toBe(-1);
    const off = p.slice();
    off[7] = 1; // fragment offset
    expect(ip4Parse(off, 0, 40)).toBe(-1);
    const v6 = p.slice();
    v6[0] = 0x60;
    expect(ip4Parse(v6, 0, 40)).toBe(-1);
    const badLen = p.slice();
    badLen[25] = 200; // UDP length beyond the packet
    expect(ip4Parse(badLen, 0, 40)).toBe(-1);
  });

  it('answers echo requests exactly as answerEcho does, in place', () => {
    const r = rng(3);
    const me = new Uint8Array([10, 0, 0, 2]);
    const peer = new Uint8Array([10, 0, 0, 1]);
    for (let n = 0; n < 200; n += 11) {
      const payload = new Uint8Array(n).map(() => r() & 255);
      const req = new Uint8Array(28 + n + 8);
      const len = writeIcmpEcho(req, 0, 4, peer, me, ECHO_REQUEST, r() & 0xffff, r() & 0xffff, payload, 0, n);
      const a = req.slice();
      expect(ip4Parse(a, 0, a.length)).toBe(1);
      expect(ip4EchoReply(a, 0)).toBe(len);
      const b = req.slice();
      expect(answerEcho(b, 0, b.length, b, 0, me)).toBe(len);
      expect(a.subarray(0, len)).toEqual(b.subarray(0, len));
      expect(internetChecksum(a, 0, 20)).toBe(0);
    }
  });

  it('does not answer bad echo requests: wrong checksum, multicast or zero addresses, replies, options', () => {
    const me = new Uint8Array([10, 0, 0, 2]);
    const make = (src: number[]): Uint8Array => {
      const p = new Uint8Array(36);
      writeIcmpEcho(p, 0, 4, new Uint8Array(src), me, ECHO_REQUEST, 1, 1, null, 0, 0);
      return p;
    };
    expect(ip4Parse(make([10, 0, 0, 1]), 0, 36)).toBe(1);
    expect(ip4Parse(make([224, 0, 0, 1]), 0, 36)).toBe(-1);
    expect(ip4Parse(make([0, 0, 0, 0]), 0, 36)).toBe(-1);
    const bad = make([10, 0, 0, 1]);
    bad[27] ^= 1;
    expect(ip4Parse(bad, 0, 36)).toBe(-1);
    const reply = make([10, 0, 0, 1]);
    reply[20] = 0;
    expect(ip4Parse(reply, 0, 36)).toBe(-1);
  });
});
