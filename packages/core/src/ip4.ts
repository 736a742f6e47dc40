/**
 * IPv4 for the device: UDP datagrams built and parsed, ICMP echo requests answered, in three
 * functions plus ip.ts's checksum. `ip.ts` does the same for IPv4 and IPv6 with a richer API; on
 * the Espruino interpreter its ~15 functions cost ~250 variables of RAM (every function object
 * does, even run from flash), these ~50. Tested against ip.ts (test/ip4.test.ts). Nothing here
 * allocates.
 */

import { checksumAdd, checksumFinish } from './ip.js';

/** Fields of the last `ip4Parse`: source port (UDP), destination port, payload offset, payload length, IP length. */
export const ip4Info = new Int32Array(5);


/**
 * Writes an IPv4 header and a UDP header at buf[off] for the `len`-byte payload already at
 * buf[off + 28], from src:srcPort to dst:dstPort (addresses: 4 bytes at index 0), checksums
 * included. Returns the packet length (28 + len); the caller makes sure it fits.
 */
export function ip4Udp(buf: Uint8Array, off: number, src: Uint8Array, srcPort: number, dst: Uint8Array, dstPort: number, len: number): number {
  const n = 28 + len;
  const u = len + 8;
  // version/IHL 0x45, TOS 0, length, id 0, flags/fragment 0, TTL 64, protocol 17, checksums 0 (set below).
  for (let i = 0; i < 28; i++) buf[off + i] = 0;
  buf[off] = 0x45;
  buf[off + 2] = n >> 8;
  buf[off + 3] = n & 255;
  buf[off + 8] = 64;
  buf[off + 9] = 17;
  for (let i = 0; i < 4; i++) {
    buf[off + 12 + i] = src[i]!;
    buf[off + 16 + i] = dst[i]!;
  }
  buf[off + 20] = srcPort >> 8;
  buf[off + 21] = srcPort & 255;
  buf[off + 22] = dstPort >> 8;
  buf[off + 23] = dstPort & 255;
  buf[off + 24] = u >> 8;
  buf[off + 25] = u & 255;
  let c = checksumFinish(checksumAdd(0, buf, off, 20));
  buf[off + 10] = c >> 8;
  buf[off + 11] = c & 255;
  // UDP checksum over the pseudo-header (addresses, protocol, length) and the datagram; 0 is sent as 0xffff.
  c = checksumFinish(checksumAdd(checksumAdd(17 + u, buf, off + 12, 8), buf, off + 20, u));
  if (c === 0) c = 0xffff;
  buf[off + 26] = c >> 8;
  buf[off + 27] = c & 255;
  return n;
}

/**
 * Parses the IPv4 packet at buf[off] (`len` bytes available; trailing padding is fine): 17 for a
 * whole (unfragmented) UDP datagram, 1 for an ICMP echo request with a correct checksum between
 * unicast addresses and no IP options (the kind `ip4EchoReply` answers), else -1. The fields are
 * in `ip4Info`. UDP checksums are not verified (the tunnel authenticated the packet).
 */
export function ip4Parse(buf: Uint8Array, off: number, len: number): number {
  if (len < 28 || buf[off]! >> 4 !== 4) return -1;
  const ihl = (buf[off]! & 15) * 4;
  const total = (buf[off + 2]! << 8) | buf[off + 3]!;
  if (ihl < 20 || total < ihl + 8 || total > len || ((buf[off + 6]! & 0x3f) | buf[off + 7]!) !== 0) return -1;
  const l4 = off + ihl;
  const I = ip4Info;
  I[4] = total;
  I[2] = l4 + 8;
  if (buf[off + 9] === 17) {
    const u = (buf[l4 + 4]! << 8) | buf[l4 + 5]!;
    if (u < 8 || ihl + u > total) return -1;
    I[0] = (buf[l4]! << 8) | buf[l4 + 1]!;
    I[1] = (buf[l4 + 2]! << 8) | buf[l4 + 3]!;
    I[3] = u - 8;
    return 17;
  }
  // Echo request (type 8, code 0) from and to unicast addresses (not 0.0.0.0, multicast, broadcast).
  if (buf[off + 9] !== 1 || ihl !== 20 || buf[l4] !== 8 || buf[l4 + 1] !== 0) return -1;
  for (let a = off + 12; a <= off + 16; a += 4) {
    if (buf[a]! >= 224 || (buf[a] === 0 && buf[a + 1] === 0 && buf[a + 2] === 0 && buf[a + 3] === 0)) return -1;
  }
  if (checksumFinish(checksumAdd(0, buf, l4, total - 20)) !== 0) return -1;
  I[3] = total - 28;
  return 1;
}

/**
 * Turns the echo request `ip4Parse` just accepted (at buf[off]) into its reply in place: addresses
 * swapped, TTL 64, type 0, checksums updated; same id, sequence and data. Returns its length.
 */
export function ip4EchoReply(buf: Uint8Array, off: number): number {
  const total = ip4Info[4]!;
  for (let i = 12; i < 16; i++) {
    const t = buf[off + i]!;
    buf[off + i] = buf[off + i + 4]!;
    buf[off + i + 4] = t;
  }
  buf[off + 8] = 64;
  buf[off + 10] = 0;
  buf[off + 11] = 0;
  let c = checksumFinish(checksumAdd(0, buf, off, 20));
  buf[off + 10] = c >> 8;
  buf[off + 11] = c & 255;
  buf[off + 20] = 0;
  buf[off + 22] = 0;
  buf[off + 23] = 0;
  c = checksumFinish(checksumAdd(0, buf, off + 20, total - 20));
  buf[off + 22] = c >> 8;
  buf[off + 23] = c & 255;
  return total;
}
