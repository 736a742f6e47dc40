import { describe, expect, it } from 'vitest';
import { formatCidr, formatIp, parseCidr } from '../src/ipaddr.js';

function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

describe('parseCidr', () => {
  it('parses IPv4 prefixes and plain addresses', () => {
    expect(parseCidr('10.0.0.0/24')).toEqual({ ip: new Uint8Array([10, 0, 0, 0]), family: 4, cidr: 24 });
    expect(parseCidr('192.168.1.7')).toEqual({ ip: new Uint8Array([192, 168, 1, 7]), family: 4, cidr: 32 });
    expect(parseCidr(' 0.0.0.0/0 ')).toEqual({ ip: new Uint8Array(4), family: 4, cidr: 0 });
    expect(parseCidr('255.255.255.255/32').cidr).toBe(32);
    // Host bits are kept; AllowedIps masks them.
    expect(hex(parseCidr('10.1.2.3/8').ip)).toBe('0a010203');
  });

  it('parses IPv6 prefixes and plain addresses', () => {
    expect(parseCidr('fd00::/64')).toEqual({ ip: new Uint8Array([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), family: 6, cidr: 64 });
    expect(parseCidr('::/0')).toEqual({ ip: new Uint8Array(16), family: 6, cidr: 0 });
    expect(parseCidr('::1').cidr).toBe(128);
    expect(hex(parseCidr('::1').ip)).toBe('00000000000000000000000000000001');
    expect(hex(parseCidr('1::').ip)).toBe('00010000000000000000000000000000');
    expect(hex(parseCidr('2001:DB8:0:0:1:0:0:1').ip)).toBe('20010db8000000000001000000000001');
    expect(hex(parseCidr('2001:db8::1:0:0:1/96').ip)).toBe('20010db8000000000001000000000001');
    expect(hex(parseCidr('1:2:3:4:5:6:7::').ip)).toBe('00010002000300040005000600070000');
    expect(hex(parseCidr('::2:3:4:5:6:7:8').ip)).toBe('00000002000300040005000600070008');
    expect(hex(parseCidr('::ffff:192.0.2.1').ip)).toBe('00000000000000000000ffffc0000201');
    expect(hex(parseCidr('64:ff9b::10.0.0.1/96').ip)).toBe('0064ff9b00000000000000000a000001');
    expect(hex(parseCidr('1:2:3:4:5:6:1.2.3.4').ip)).toBe('00010002000300040005000601020304');
  });

  it('rejects malformed text with EINVAL naming it', () => {
    const bad = [
      '', '/', '10.0.0.0/', '10.0.0.0/33', '10.0.0/8', '10.0.0.0.0', '256.0.0.0', '1.2.3.-4', '01.2.3.4',
      '1.2.3.4/-1', '1.2.3.4/1a', 'a.b.c.d', 'fd00::/129', ':::', '1:::2', '::1::', '1::2::3', ':1::', '1::2:',
      '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8::', '::1:2:3:4:5:6:7:8', '12345::', 'g::',
      'fe80::1%eth0', '::ffff:1.2.3', '1.2.3.4::', '::1.2.3.4:5', '1:2:3:4:5:6:7:1.2.3.4', '10.0.0.1 /24', 'x',
    ];
    for (const s of bad) {
      let err: any;
      try {
        parseCidr(s);
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(s)).toBeInstanceOf(Error);
      expect(err.code).toBe('EINVAL');
      expect(err.message).toContain(JSON.stringify(s).slice(1, -1));
    }
  });
});

describe('formatIp', () => {
  it('formats IPv4', () => {
    expect(formatIp(new Uint8Array([9, 10, 192, 168, 0, 1]), 2, 4)).toBe('192.168.0.1');
  });

  it('follows RFC 5952', () => {
    const cases: Array<[string, string]> = [
      ['2001:0db8:0000:0000:0000:0000:0002:0001', '2001:db8::2:1'],
      ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // a single zero group is not compressed
      ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'], // longest run
      ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // first of equal runs
      ['0:0:0:0:0:0:0:0', '::'],
      ['0:0:0:0:0:0:0:1', '::1'],
      ['1:0:0:0:0:0:0:0', '1::'],
      ['FD00:ABCD::', 'fd00:abcd::'],
      ['::ffff:10.1.2.3', '::ffff:10.1.2.3'],
      ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
      ['0:1:0:1:0:1:0:1', '0:1:0:1:0:1:0:1'],
    ];
    for (const [input, want] of cases) {
      expect(formatIp(parseCidr(input).ip, 0, 6)).toBe(want);
    }
    expect(formatCidr(parseCidr('fd00::').ip, 0, 6, 64)).toBe('fd00::/64');
  });

  it('round-trips random addresses and matches the WHATWG URL serializer', () => {
    let x = 12345;
    const next = () => {
      x = (x * 1103515245 + 12345) >>> 0;
      return x >>> 16;
    };
    for (let i = 0; i < 5000; i++) {
      const ip = new Uint8Array(16);
      // Mostly-zero words so that runs of zeros of every length occur.
      for (let w = 0; w < 8; w++) {
        if (next() % 3 === 0) {
          ip[2 * w] = next() & 0xff;
          ip[2 * w + 1] = next() & 0xff;
        }
      }
      const s = formatIp(ip, 0, 6);
      expect(parseCidr(s).ip).toEqual(ip);
      if (!s.startsWith('::ffff:') || s.indexOf('.') < 0) {
        expect(s).toBe(new URL(`http://[${s}]/`).hostname.slice(1, -1));
      }
      const v4 = ip.subarray(0, 4);
      expect(parseCidr(formatIp(v4, 0, 4)).ip).toEqual(new Uint8Array(v4));
    }
  });
});
