import { describe, expect, it } from 'vitest';
import {
  answerEcho, checksumAdd, checksumFinish, destinationAddressOffset, ECHO_REPLY, ECHO_REQUEST, EchoInfo, echoInfo,
  internetChecksum, ipPacketLength, ipVersion, parseIcmpEcho, parseUdp, sourceAddressOffset, transportChecksumValid,
  UdpInfo, udpInfo, writeIcmpEcho, writeUdp,
} from '../src/ip.js';
import { parseCidr } from '../src/ipaddr.js';

function fromHex(h: string): Uint8Array {
  const s = h.replace(/\s+/g, '');
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.substr(2 * i, 2), 16);
  return out;
}
function toHex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}
function addr(text: string): Uint8Array {
  return parseCidr(text).ip;
}
/** Independent, obviously-correct checksum for cross-checking. */
function naiveChecksum(bytes: number[]): number {
  let s = 0;
  for (let i = 0; i < bytes.length; i += 2) s += bytes[i]! * 256 + (bytes[i + 1] ?? 0);
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 65536);
  return 0xffff - s;
}

/** Captured with tcpdump on lo: `ping -c1 -s 16 127.0.0.1` (Ethernet header stripped). */
const V4_REQUEST = fromHex('4500 002c 8058 4000 4001 bc76 7f00 0001 7f00 0001 0800 beb2 03d8 0001 d93f 026b 0000 0000 50c9 0900 0000 0000');
const V4_REPLY = fromHex('4500 002c 8059 0000 4001 fc75 7f00 0001 7f00 0001 0000 c6b2 03d8 0001 d93f 026b 0000 0000 50c9 0900 0000 0000');
/** Captured with tcpdump on lo: `ping -6 -c1 -s 16 ::1`. */
const V6_REQUEST = fromHex(
  '6008 bee8 0018 3a40 0000 0000 0000 0000 0000 0000 0000 0001 0000 0000 0000 0000 0000 0000 0000 0001' +
  '8000 5554 03d9 0001 d93f 026b 0000 0000 41d2 0900 0000 0000',
);
const V6_REPLY = fromHex(
  '6006 fedd 0018 3a40 0000 0000 0000 0000 0000 0000 0000 0001 0000 0000 0000 0000 0000 0000 0000 0001' +
  '8100 5454 03d9 0001 d93f 026b 0000 0000 41d2 0900 0000 0000',
);
/** Computed independently (Python struct): 10.0.0.1:51820 -> 10.0.0.2:53, "hello wgjs!". */
const V4_UDP = fromHex('4500002700000000401166c40a0000010a000002ca6c00350013da5668656c6c6f2077676a7321');
/** Same datagram, fd00::1 -> fd00::2. */
const V6_UDP = fromHex('6000000000131140fd000000000000000000000000000001fd000000000000000000000000000002ca6c00350013f45468656c6c6f2077676a7321');
const HELLO = new TextEncoder().encode('hello wgjs!');

function check(cond: boolean, what: string): void {
  if (!cond) throw new Error('check failed: ' + what);
}
function same(buf: Uint8Array, off: number, want: Uint8Array): boolean {
  for (let i = 0; i < want.length; i++) if (buf[off + i] !== want[i]) return false;
  return true;
}

/** Deterministic PRNG (xorshift32). */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 4294967296;
  };
}

describe('Internet checksum', () => {
  it('matches the textbook IPv4 header (checksum 0xb861)', () => {
    const hdr = fromHex('4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7');
    expect(internetChecksum(hdr, 0, 20)).toBe(0);
    hdr[10] = 0;
    hdr[11] = 0;
    expect(internetChecksum(hdr, 0, 20)).toBe(0xb861);
  });

  it('RFC 1071 example and odd lengths', () => {
    // RFC 1071 section 3: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2 (one's complement 220d).
    const b = fromHex('0001f203f4f5f6f7');
    expect(internetChecksum(b, 0, 8)).toBe(0x220d);
    const rand = rng(9);
    for (let n = 0; n < 300; n++) {
      const len = Math.floor(rand() * 70);
      const buf = new Uint8Array(len + 5);
      for (let i = 0; i < buf.length; i++) buf[i] = Math.floor(rand() * 256);
      expect(internetChecksum(buf, 3, len)).toBe(naiveChecksum(Array.from(buf.subarray(3, 3 + len))));
    }
    // Chaining even-length chunks equals one pass.
    const buf = fromHex('0123456789abcdeffedcba9876543210aa');
    expect(checksumFinish(checksumAdd(checksumAdd(0, buf, 0, 8), buf, 8, 9))).toBe(internetChecksum(buf, 0, 17));
    // Large sums fold correctly (65535 bytes of 0xff).
    const big = new Uint8Array(65535).fill(0xff);
    expect(internetChecksum(big, 0, big.length)).toBe(naiveChecksum(Array.from(big)));
  });

  it('validates captured packets', () => {
    for (const p of [V4_REQUEST, V4_REPLY]) {
      expect(internetChecksum(p, 0, 20)).toBe(0);
      expect(transportChecksumValid(p, 0, p.length)).toBe(true);
    }
    for (const p of [V6_REQUEST, V6_REPLY, V4_UDP, V6_UDP]) expect(transportChecksumValid(p, 0, p.length)).toBe(true);
    const bad = new Uint8Array(V6_REQUEST);
    bad[20] ^= 1; // source address is covered by the ICMPv6 pseudo-header
    expect(transportChecksumValid(bad, 0, bad.length)).toBe(false);
  });
});

describe('IP header helpers', () => {
  it('version, length and address offsets', () => {
    const buf = new Uint8Array(100);
    buf.set(V4_REQUEST, 7);
    expect(ipVersion(buf, 7)).toBe(4);
    expect(ipPacketLength(buf, 7, V4_REQUEST.length)).toBe(44);
    expect(ipPacketLength(buf, 7, 60)).toBe(44); // trailing padding ignored
    expect(ipPacketLength(buf, 7, 43)).toBe(-1);
    expect(sourceAddressOffset(buf, 7)).toBe(19);
    expect(destinationAddressOffset(buf, 7)).toBe(23);
    buf.fill(0);
    buf.set(V6_REQUEST, 3);
    expect(ipVersion(buf, 3)).toBe(6);
    expect(ipPacketLength(buf, 3, V6_REQUEST.length)).toBe(64);
    expect(sourceAddressOffset(buf, 3)).toBe(11);
    expect(destinationAddressOffset(buf, 3)).toBe(27);
  });

  it('malformed headers give -1', () => {
    const p = new Uint8Array(V4_REQUEST);
    expect(ipPacketLength(p, 0, 19)).toBe(-1);
    expect(ipPacketLength(p, 0, 0)).toBe(-1);
    expect(ipPacketLength(p, 0, 100)).toBe(-1); // more than the buffer
    expect(ipPacketLength(p, -1, 10)).toBe(-1);
    expect(ipPacketLength(p, 50, 1)).toBe(-1);
    p[0] = 0x44; // IHL 4
    expect(ipPacketLength(p, 0, p.length)).toBe(-1);
    p[0] = 0x4f; // IHL 60 > total length 44
    expect(ipPacketLength(p, 0, p.length)).toBe(-1);
    p[0] = 0x55;
    expect(ipPacketLength(p, 0, p.length)).toBe(-1);
    expect(sourceAddressOffset(p, 0)).toBe(-1);
    expect(destinationAddressOffset(p, 0)).toBe(-1);
    expect(ipVersion(p, 99)).toBe(0);
    expect(ipPacketLength(V6_REQUEST, 0, 39)).toBe(-1);
    expect(ipPacketLength(V6_REQUEST, 0, 63)).toBe(-1);
  });
});

describe('UDP', () => {
  it('writeUdp reproduces independently computed datagrams', () => {
    const buf = new Uint8Array(200);
    expect(writeUdp(buf, 5, 4, addr('10.0.0.1'), 51820, addr('10.0.0.2'), 53, HELLO, 0, HELLO.length)).toBe(V4_UDP.length);
    expect(toHex(buf.subarray(5, 5 + V4_UDP.length))).toBe(toHex(V4_UDP));
    expect(writeUdp(buf, 1, 6, addr('fd00::1'), 51820, addr('fd00::2'), 53, HELLO, 0, HELLO.length)).toBe(V6_UDP.length);
    expect(toHex(buf.subarray(1, 1 + V6_UDP.length))).toBe(toHex(V6_UDP));
  });

  it('parseUdp reads them back', () => {
    const info = new UdpInfo();
    expect(parseUdp(V4_UDP, 0, V4_UDP.length, info)).toBe(11);
    expect(info).toMatchObject({ family: 4, ipLength: 39, srcAddrOff: 12, dstAddrOff: 16, srcPort: 51820, dstPort: 53, payloadOff: 28, payloadLen: 11 });
    expect(parseUdp(V6_UDP, 0, V6_UDP.length)).toBe(11);
    expect(udpInfo).toMatchObject({ family: 6, ipLength: 59, srcAddrOff: 8, dstAddrOff: 24, srcPort: 51820, dstPort: 53, payloadOff: 48, payloadLen: 11 });
    expect(parseUdp(V4_REQUEST, 0, V4_REQUEST.length)).toBe(-1); // ICMP, not UDP
  });

  it('round-trips random datagrams in both families', () => {
    const rand = rng(42);
    const buf = new Uint8Array(1600);
    const info = new UdpInfo();
    for (let n = 0; n < 2000; n++) {
      const family = rand() < 0.5 ? 4 : 6;
      const alen = family === 4 ? 4 : 16;
      const src = new Uint8Array(alen).map(() => Math.floor(rand() * 256));
      const dst = new Uint8Array(alen).map(() => Math.floor(rand() * 256));
      const payload = new Uint8Array(Math.floor(rand() * 300)).map(() => Math.floor(rand() * 256));
      const sp = Math.floor(rand() * 65536);
      const dp = Math.floor(rand() * 65536);
      const off = Math.floor(rand() * 10);
      const len = writeUdp(buf, off, family, src, sp, dst, dp, payload, 0, payload.length);
      const hl = family === 4 ? 20 : 40;
      check(len === hl + 8 + payload.length, 'length');
      if (family === 4) check(internetChecksum(buf, off, 20) === 0, 'ip checksum');
      check(transportChecksumValid(buf, off, len), 'udp checksum');
      check(parseUdp(buf, off, len + 7, info) === payload.length, 'parse');
      check(info.srcPort === sp && info.dstPort === dp, 'ports');
      check(same(buf, info.srcAddrOff, src) && same(buf, info.dstAddrOff, dst), 'addresses');
      check(info.payloadOff === off + hl + 8 && same(buf, info.payloadOff, payload), 'payload');
      check((buf[off + hl + 6]! | buf[off + hl + 7]!) !== 0, 'never "no checksum"');
      // Any flipped bit in the UDP part or the addresses breaks the checksum.
      const from = off + hl - 2 * alen;
      let i = from + Math.floor(rand() * (len - (hl - 2 * alen)));
      if (i === off + hl + 6 || i === off + hl + 7) i = from; // keep clear of the checksum itself
      buf[i] ^= 1 << Math.floor(rand() * 8);
      check(!transportChecksumValid(buf, off, len), 'flip detected');
    }
  });

  it('builders refuse what does not fit, and handle a payload staged in place', () => {
    const small = new Uint8Array(38);
    expect(writeUdp(small, 0, 4, addr('1.1.1.1'), 1, addr('2.2.2.2'), 2, HELLO, 0, HELLO.length)).toBe(-1);
    expect(writeUdp(small, 0, 4, addr('1.1.1.1'), 1, addr('2.2.2.2'), 2, HELLO, 0, 10)).toBe(38);
    expect(writeUdp(small, 0, 4, addr('1.1.1.1'), 1, addr('2.2.2.2'), 2, HELLO, 5, 10)).toBe(-1); // past payload end
    expect(writeUdp(small, 0, 5, addr('1.1.1.1'), 1, addr('2.2.2.2'), 2, null, 0, 0)).toBe(-1);
    expect(writeUdp(small, 0, 6, addr('1.1.1.1'), 1, addr('2.2.2.2'), 2, null, 0, 0)).toBe(-1); // v4 addresses for v6
    expect(writeUdp(small, -1, 4, addr('1.1.1.1'), 1, addr('2.2.2.2'), 2, null, 0, 0)).toBe(-1);
    const huge = new Uint8Array(70000);
    expect(writeUdp(huge, 0, 4, addr('1.1.1.1'), 1, addr('2.2.2.2'), 2, huge, 0, 65508)).toBe(-1);
    expect(writeUdp(huge, 0, 4, addr('1.1.1.1'), 1, addr('2.2.2.2'), 2, null, 0, 0)).toBe(28);
    // Payload already at its final place in the buffer.
    const buf = new Uint8Array(100);
    buf.set(HELLO, 28);
    expect(writeUdp(buf, 0, 4, addr('10.0.0.1'), 51820, addr('10.0.0.2'), 53, buf, 28, HELLO.length)).toBe(39);
    expect(toHex(buf.subarray(0, 39))).toBe(toHex(V4_UDP));
    // Payload staged overlapping the header area (moved forward safely).
    buf.fill(0);
    buf.set(HELLO, 10);
    expect(writeUdp(buf, 0, 4, addr('10.0.0.1'), 51820, addr('10.0.0.2'), 53, buf, 10, HELLO.length)).toBe(39);
    expect(toHex(buf.subarray(0, 39))).toBe(toHex(V4_UDP));
  });
});

describe('ICMP echo', () => {
  it('writeIcmpEcho reproduces the captured ICMP messages', () => {
    const buf = new Uint8Array(100);
    const payload = V4_REQUEST.subarray(28);
    const lo = addr('127.0.0.1');
    expect(writeIcmpEcho(buf, 0, 4, lo, lo, ECHO_REQUEST, 984, 1, payload, 0, payload.length)).toBe(44);
    expect(toHex(buf.subarray(20, 44))).toBe(toHex(V4_REQUEST.subarray(20)));
    expect(internetChecksum(buf, 0, 20)).toBe(0);
    // Header fields other than identification/flags (ours: 0) match the capture.
    expect(toHex(buf.subarray(0, 4))).toBe(toHex(V4_REQUEST.subarray(0, 4)));
    expect(toHex(buf.subarray(8, 10))).toBe(toHex(V4_REQUEST.subarray(8, 10)));
    expect(toHex(buf.subarray(12, 20))).toBe(toHex(V4_REQUEST.subarray(12, 20)));
    expect(writeIcmpEcho(buf, 0, 4, lo, lo, ECHO_REPLY, 984, 1, payload, 0, payload.length)).toBe(44);
    expect(toHex(buf.subarray(20, 44))).toBe(toHex(V4_REPLY.subarray(20)));

    const lo6 = addr('::1');
    const p6 = V6_REQUEST.subarray(48);
    expect(writeIcmpEcho(buf, 0, 6, lo6, lo6, ECHO_REQUEST, 985, 1, p6, 0, p6.length)).toBe(64);
    expect(toHex(buf.subarray(4, 64))).toBe(toHex(V6_REQUEST.subarray(4))); // all but the flow label
    expect(writeIcmpEcho(buf, 0, 6, lo6, lo6, ECHO_REPLY, 985, 1, p6, 0, p6.length)).toBe(64);
    expect(toHex(buf.subarray(4, 64))).toBe(toHex(V6_REPLY.subarray(4)));
    expect(writeIcmpEcho(buf, 0, 6, lo6, lo6, 3, 985, 1, p6, 0, p6.length)).toBe(-1);
  });

  it('parseIcmpEcho reads captured packets', () => {
    const info = new EchoInfo();
    expect(parseIcmpEcho(V4_REQUEST, 0, V4_REQUEST.length, info)).toBe(ECHO_REQUEST);
    expect(info).toMatchObject({ family: 4, kind: ECHO_REQUEST, ipLength: 44, icmpOff: 20, id: 984, seq: 1, payloadOff: 28, payloadLen: 16 });
    expect(parseIcmpEcho(V6_REPLY, 0, V6_REPLY.length)).toBe(ECHO_REPLY);
    expect(echoInfo).toMatchObject({ family: 6, kind: ECHO_REPLY, ipLength: 64, icmpOff: 40, id: 985, seq: 1, payloadOff: 48, payloadLen: 16 });
    expect(parseIcmpEcho(V4_UDP, 0, V4_UDP.length)).toBe(-1);
  });

  it('answerEcho turns the captured requests into the captured replies', () => {
    const out = new Uint8Array(100);
    expect(answerEcho(V4_REQUEST, 0, V4_REQUEST.length, out, 0)).toBe(44);
    expect(toHex(out.subarray(20, 44))).toBe(toHex(V4_REPLY.subarray(20)));
    expect(internetChecksum(out, 0, 20)).toBe(0);
    expect(toHex(out.subarray(12, 20))).toBe(toHex(V4_REPLY.subarray(12, 20)));
    expect(answerEcho(V6_REQUEST, 0, V6_REQUEST.length, out, 3)).toBe(64);
    expect(toHex(out.subarray(7, 67))).toBe(toHex(V6_REPLY.subarray(4)));
    // A reply is not answered.
    expect(answerEcho(V4_REPLY, 0, V4_REPLY.length, out, 0)).toBe(-1);
    expect(answerEcho(V6_REPLY, 0, V6_REPLY.length, out, 0)).toBe(-1);
  });

  it('answerEcho swaps addresses, works in place, checks local address', () => {
    const me = addr('10.9.0.2');
    const peer = addr('10.9.0.1');
    const buf = new Uint8Array(200);
    const data = new Uint8Array(57).map((_, i) => i * 7);
    const n = writeIcmpEcho(buf, 10, 4, peer, me, ECHO_REQUEST, 0x1234, 0xfffe, data, 0, data.length);
    expect(answerEcho(buf, 10, n, buf, 10, addr('10.9.0.3'))).toBe(-1);
    expect(answerEcho(buf, 10, n + 20, buf, 10, me)).toBe(n); // in place; padding ignored
    const info = new EchoInfo();
    expect(parseIcmpEcho(buf, 10, n, info)).toBe(ECHO_REPLY);
    expect(info.id).toBe(0x1234);
    expect(info.seq).toBe(0xfffe);
    expect(buf.subarray(info.srcAddrOff, info.srcAddrOff + 4)).toEqual(me);
    expect(buf.subarray(info.dstAddrOff, info.dstAddrOff + 4)).toEqual(peer);
    expect(buf.subarray(info.payloadOff, info.payloadOff + info.payloadLen)).toEqual(data);
    expect(transportChecksumValid(buf, 10, n)).toBe(true);

    const me6 = addr('fd00::2');
    const peer6 = addr('fd00::1');
    const m = writeIcmpEcho(buf, 0, 6, peer6, me6, ECHO_REQUEST, 7, 8, data, 0, data.length);
    // Overlapping output shifted forward and backward in the same buffer.
    expect(answerEcho(buf, 0, m, buf, 5, me6)).toBe(m);
    expect(parseIcmpEcho(buf, 5, m, info)).toBe(ECHO_REPLY);
    expect(transportChecksumValid(buf, 5, m)).toBe(true);
    expect(buf.subarray(info.srcAddrOff, info.srcAddrOff + 16)).toEqual(me6);
    const again = writeIcmpEcho(buf, 5, 6, peer6, me6, ECHO_REQUEST, 7, 8, data, 0, data.length);
    expect(answerEcho(buf, 5, again, buf, 0)).toBe(m);
    expect(parseIcmpEcho(buf, 0, m, info)).toBe(ECHO_REPLY);
    expect(buf.subarray(info.payloadOff, info.payloadOff + info.payloadLen)).toEqual(data);
    expect(transportChecksumValid(buf, 0, m)).toBe(true);
  });

  it('answerEcho drops IPv4 options and refuses bad requests', () => {
    // Request with 4 bytes of IP options (NOPs + end): IHL 6.
    const base = new Uint8Array(100);
    const n = writeIcmpEcho(base, 0, 4, addr('10.0.0.1'), addr('10.0.0.2'), ECHO_REQUEST, 1, 2, HELLO, 0, HELLO.length);
    const withOpt = new Uint8Array(n + 4);
    withOpt.set(base.subarray(0, 20), 0);
    withOpt.set([1, 1, 1, 0], 20);
    withOpt.set(base.subarray(20, n), 24);
    withOpt[0] = 0x46;
    withOpt[3] = n + 4;
    withOpt[10] = 0;
    withOpt[11] = 0;
    const c = internetChecksum(withOpt, 0, 24);
    withOpt[10] = c >> 8;
    withOpt[11] = c & 255;
    const out = new Uint8Array(100);
    expect(answerEcho(withOpt, 0, withOpt.length, out, 0)).toBe(n);
    expect(out[0]).toBe(0x45);
    expect(transportChecksumValid(out, 0, n)).toBe(true);
    expect(answerEcho(withOpt, 0, withOpt.length, withOpt, 0)).toBe(n); // in place, shrinking

    const bad = (mutate: (p: Uint8Array) => void, family: 4 | 6 = 4): number => {
      const p = new Uint8Array(100);
      const len = family === 4
        ? writeIcmpEcho(p, 0, 4, addr('10.0.0.1'), addr('10.0.0.2'), ECHO_REQUEST, 1, 2, HELLO, 0, HELLO.length)
        : writeIcmpEcho(p, 0, 6, addr('fd00::1'), addr('fd00::2'), ECHO_REQUEST, 1, 2, HELLO, 0, HELLO.length);
      mutate(p);
      return answerEcho(p, 0, len, out, 0);
    };
    expect(bad(() => {})).toBeGreaterThan(0);
    expect(bad(() => {}, 6)).toBeGreaterThan(0);
    expect(bad((p) => (p[30] ^= 1))).toBe(-1); // ICMP checksum wrong
    expect(bad((p) => (p[50] ^= 1), 6)).toBe(-1);
    expect(bad((p) => p.set([224, 0, 0, 1], 16))).toBe(-1); // multicast destination
    expect(bad((p) => p.set([255, 255, 255, 255], 16))).toBe(-1); // broadcast
    expect(bad((p) => p.set([0, 0, 0, 0], 12))).toBe(-1); // unspecified source
    expect(bad((p) => (p[24] = 0xff), 6)).toBe(-1); // multicast destination
    expect(bad((p) => p.fill(0, 8, 24), 6)).toBe(-1); // unspecified source
    expect(bad((p) => (p[6] = 0x20))).toBe(-1); // more fragments
    expect(bad((p) => (p[7] = 1))).toBe(-1); // fragment offset
    expect(bad((p) => (p[21] = 1))).toBe(-1); // code != 0
    expect(answerEcho(V4_REQUEST, 0, V4_REQUEST.length, out, 60)).toBe(-1); // does not fit
    expect(answerEcho(V4_REQUEST, 0, V4_REQUEST.length, out, 56)).toBe(44);
  });
});

describe('malformed input never throws', () => {
  it('truncations of valid packets', () => {
    const out = new Uint8Array(200);
    const info = new EchoInfo();
    const uinfo = new UdpInfo();
    for (const p of [V4_REQUEST, V6_REQUEST, V4_UDP, V6_UDP]) {
      for (let len = 0; len <= p.length; len++) {
        const q = p.slice(0, len);
        const whole = len === p.length;
        expect(ipPacketLength(q, 0, len)).toBe(whole ? p.length : -1);
        const isUdp = p === V4_UDP || p === V6_UDP;
        expect(parseUdp(q, 0, len, uinfo)).toBe(whole && isUdp ? 11 : -1);
        expect(parseIcmpEcho(q, 0, len, info)).toBe(whole && !isUdp ? ECHO_REQUEST : -1);
        expect(answerEcho(q, 0, len, out, 0)).toBe(whole && !isUdp ? p.length : -1);
        expect(transportChecksumValid(q, 0, len)).toBe(whole);
      }
    }
  });

  it('random and mutated bytes', () => {
    const rand = rng(1234);
    const out = new Uint8Array(100);
    const seeds = [V4_REQUEST, V6_REQUEST, V4_UDP, V6_UDP];
    for (let n = 0; n < 30000; n++) {
      let p: Uint8Array;
      if (rand() < 0.3) {
        p = new Uint8Array(Math.floor(rand() * 80)).map(() => Math.floor(rand() * 256));
        if (p.length > 0 && rand() < 0.7) p[0] = rand() < 0.5 ? 0x45 : 0x60;
      } else {
        p = new Uint8Array(seeds[Math.floor(rand() * seeds.length)]!);
        const flips = 1 + Math.floor(rand() * 4);
        for (let k = 0; k < flips; k++) p[Math.floor(rand() * p.length)] = Math.floor(rand() * 256);
      }
      const off = Math.floor(rand() * 3);
      const len = Math.floor(rand() * (p.length + 10)) - 5;
      const results = [
        ipVersion(p, off),
        ipPacketLength(p, off, len),
        sourceAddressOffset(p, off),
        destinationAddressOffset(p, off),
        parseUdp(p, off, len),
        parseIcmpEcho(p, off, len),
        answerEcho(p, off, len, out, 0),
        transportChecksumValid(p, off, len) ? 1 : 0,
      ];
      for (const r of results) check(Number.isInteger(r), 'integer result');
      const total = results[1]!;
      if (total >= 0) check(total <= len, 'length within len');
      if (results[4]! >= 0) check(udpInfo.payloadOff + udpInfo.payloadLen <= off + total, 'udp payload inside');
      if (results[5]! >= 0) check(echoInfo.payloadOff + echoInfo.payloadLen <= off + total, 'echo payload inside');
      if (results[6]! >= 0) check(parseIcmpEcho(out, 0, results[6]!) === ECHO_REPLY && transportChecksumValid(out, 0, results[6]!), 'reply parses');
    }
  });
});
