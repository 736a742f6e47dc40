/**
 * Minimal IPv4/IPv6 helpers for the engine and drivers: header fields, the Internet checksum,
 * builders and readers for UDP and ICMP echo.
 *
 * Per-packet functions allocate nothing: they take (buffer, offset, length), write into caller
 * buffers, report through preallocated result objects, and return -1 (never throw) on malformed
 * input. IPv6 extension headers are not walked: a packet whose first Next Header is not the
 * expected protocol is "not UDP"/"not an echo". IPv4 fragments are never parsed as UDP/ICMP.
 */

/** IP protocol numbers used here. */
export const IPPROTO_ICMP = 1;
export const IPPROTO_UDP = 17;
export const IPPROTO_ICMPV6 = 58;

/** Family-independent echo kinds for writeIcmpEcho / parseIcmpEcho (not ICMP type numbers). */
export const ECHO_REQUEST = 1;
export const ECHO_REPLY = 2;

/** Hop limit / TTL of packets built here. */
const DEFAULT_TTL = 64;

/** Where the fields of a parsed UDP datagram are (offsets into the parsed buffer). */
export class UdpInfo {
  /** 4 or 6. */
  declare family: number;
  /** Total IP packet length from the header (excludes any trailing padding). */
  declare ipLength: number;
  declare srcAddrOff: number;
  declare dstAddrOff: number;
  declare srcPort: number;
  declare dstPort: number;
  declare payloadOff: number;
  declare payloadLen: number;
  constructor() {
    this.family = 0;
    this.ipLength = 0;
    this.srcAddrOff = 0;
    this.dstAddrOff = 0;
    this.srcPort = 0;
    this.dstPort = 0;
    this.payloadOff = 0;
    this.payloadLen = 0;
  }
}

/** Where the fields of a parsed ICMP/ICMPv6 echo message are. */
export class EchoInfo {
  declare family: number;
  /** ECHO_REQUEST or ECHO_REPLY. */
  declare kind: number;
  declare ipLength: number;
  declare srcAddrOff: number;
  declare dstAddrOff: number;
  /** Offset of the ICMP header; the message runs to the end of the IP packet. */
  declare icmpOff: number;
  declare id: number;
  declare seq: number;
  declare payloadOff: number;
  declare payloadLen: number;
  constructor() {
    this.family = 0;
    this.kind = 0;
    this.ipLength = 0;
    this.srcAddrOff = 0;
    this.dstAddrOff = 0;
    this.icmpOff = 0;
    this.id = 0;
    this.seq = 0;
    this.payloadOff = 0;
    this.payloadLen = 0;
  }
}

/** Shared result objects for callers that do not keep their own. Overwritten by each parse. */
export const udpInfo = /* @__PURE__ */ new UdpInfo();
export const echoInfo = /* @__PURE__ */ new EchoInfo();

/** answerEcho's own result object, so it does not clobber `echoInfo`. */
const echoScratch = /* @__PURE__ */ new EchoInfo();
/** Saved source and destination addresses (16 + 16 bytes) while a reply is built in place. */
const addrScratch = /* @__PURE__ */ new Uint8Array(32);

function read16(b: Uint8Array, off: number): number {
  return (b[off] << 8) | b[off + 1];
}

function write16(b: Uint8Array, off: number, v: number): void {
  b[off] = (v >> 8) & 255;
  b[off + 1] = v & 255;
}

/** memmove: copies n bytes, correct when src and dst overlap in the same buffer. */
function copyBytes(dst: Uint8Array, dstOff: number, src: Uint8Array, srcOff: number, n: number): void {
  if (dst === src) {
    if (dstOff === srcOff) return;
    if (dstOff > srcOff && dstOff < srcOff + n) {
      for (let i = n - 1; i >= 0; i--) dst[dstOff + i] = src[srcOff + i];
      return;
    }
  }
  for (let i = 0; i < n; i++) dst[dstOff + i] = src[srcOff + i];
}

/** The IP version nibble of the packet at buf[off] (4 or 6 for valid packets), 0 if off is out of range. */
export function ipVersion(buf: Uint8Array, off: number): number {
  if (!(off >= 0 && off < buf.length)) return 0;
  return buf[off] >> 4;
}

/**
 * The total length of the IP packet at buf[off] according to its header, given that `len` bytes
 * are available (the rest is padding, e.g. WireGuard's). -1 if the header is malformed, too
 * short, or claims more than `len` bytes.
 */
export function ipPacketLength(buf: Uint8Array, off: number, len: number): number {
  if (!(off >= 0 && len >= 1 && off + len <= buf.length)) return -1;
  const v = buf[off] >> 4;
  if (v === 4) {
    if (len < 20) return -1;
    const ihl = (buf[off] & 15) * 4;
    const total = read16(buf, off + 2);
    if (ihl < 20 || total < ihl || total > len) return -1;
    return total;
  }
  if (v === 6) {
    if (len < 40) return -1;
    const total = 40 + read16(buf, off + 4);
    return total > len ? -1 : total;
  }
  return -1;
}

/** Offset of the source address of the packet at buf[off], or -1 if not IPv4/IPv6. */
export function sourceAddressOffset(buf: Uint8Array, off: number): number {
  const v = ipVersion(buf, off);
  return v === 4 ? off + 12 : v === 6 ? off + 8 : -1;
}

/** Offset of the destination address of the packet at buf[off], or -1 if not IPv4/IPv6. */
export function destinationAddressOffset(buf: Uint8Array, off: number): number {
  const v = ipVersion(buf, off);
  return v === 4 ? off + 16 : v === 6 ? off + 24 : -1;
}

/**
 * Adds buf[off, off+len) to a running Internet checksum sum (RFC 1071) as big-endian 16-bit
 * words; an odd last byte is padded with zero. Chain calls with even lengths except the last.
 * The sum is kept unfolded (doubles are exact far beyond any IP packet).
 */
export function checksumAdd(sum: number, buf: Uint8Array, off: number, len: number): number {
  const end = off + len - 1;
  let i = off;
  for (; i < end; i += 2) sum += (buf[i] << 8) | buf[i + 1];
  if (i === end) sum += buf[i] << 8;
  return sum;
}

/** Folds a sum from checksumAdd to 16 bits and complements it: the value to store in a header. */
export function checksumFinish(sum: number): number {
  while (sum > 0xffff) sum = (sum % 65536) + Math.floor(sum / 65536);
  return ~sum & 0xffff;
}

/** The Internet checksum of buf[off, off+len). Over data that includes its checksum, 0 means valid. */
export function internetChecksum(buf: Uint8Array, off: number, len: number): number {
  return checksumFinish(checksumAdd(0, buf, off, len));
}

/** Sum of the pseudo-header of the packet at buf[off] (addresses from its header) for UDP/ICMPv6. */
function pseudoHeaderSum(buf: Uint8Array, off: number, family: number, proto: number, l4Len: number): number {
  // Source and destination are adjacent in both headers.
  return family === 4
    ? checksumAdd(proto + l4Len, buf, off + 12, 8)
    : checksumAdd(proto + l4Len, buf, off + 8, 32);
}

/**
 * Writes an IP header at buf[off] for `payloadLen` bytes of protocol `proto`, with addresses
 * src[srcOff..] and dst[dstOff..]; returns the header length (20 or 40).
 */
function writeIpHeader(
  buf: Uint8Array, off: number, family: number,
  src: Uint8Array, srcOff: number, dst: Uint8Array, dstOff: number,
  proto: number, payloadLen: number,
): number {
  if (family === 4) {
    buf[off] = 0x45;
    buf[off + 1] = 0;
    write16(buf, off + 2, 20 + payloadLen);
    write16(buf, off + 4, 0); // identification: never fragmented (DF is not set, but sizes stay small)
    write16(buf, off + 6, 0);
    buf[off + 8] = DEFAULT_TTL;
    buf[off + 9] = proto;
    write16(buf, off + 10, 0);
    for (let i = 0; i < 4; i++) {
      buf[off + 12 + i] = src[srcOff + i];
      buf[off + 16 + i] = dst[dstOff + i];
    }
    write16(buf, off + 10, internetChecksum(buf, off, 20));
    return 20;
  }
  buf[off] = 0x60;
  buf[off + 1] = 0;
  buf[off + 2] = 0;
  buf[off + 3] = 0;
  write16(buf, off + 4, payloadLen);
  buf[off + 6] = proto;
  buf[off + 7] = DEFAULT_TTL;
  for (let i = 0; i < 16; i++) {
    buf[off + 8 + i] = src[srcOff + i];
    buf[off + 24 + i] = dst[dstOff + i];
  }
  return 40;
}

/**
 * Checks the common preconditions of the builders; returns the IP header length or -1.
 * `l4Len` is the transport header plus payload.
 */
function builderHeaderLength(
  buf: Uint8Array, off: number, family: number, src: Uint8Array, dst: Uint8Array,
  payload: Uint8Array | null, payloadOff: number, payloadLen: number, l4Len: number,
): number {
  if (family !== 4 && family !== 6) return -1;
  const hl = family === 4 ? 20 : 40;
  const alen = family === 4 ? 4 : 16;
  if (!(payloadLen >= 0) || (payloadLen > 0 && (payload === null || !(payloadOff >= 0) ||
      payloadOff + payloadLen > payload.length))) return -1;
  if (src.length < alen || dst.length < alen) return -1;
  // IPv4 total length and IPv6 payload length are 16-bit fields.
  if ((family === 4 ? hl + l4Len : l4Len) > 65535) return -1;
  if (!(off >= 0) || off + hl + l4Len > buf.length) return -1;
  return hl;
}

/**
 * Writes an ICMP (IPv4) or ICMPv6 echo request or reply (`kind` ECHO_REQUEST/ECHO_REPLY) from
 * src to dst (4 or 16 bytes at index 0) into buf[off], with identifier `id`, sequence `seq` and
 * payload[payloadOff, payloadOff+payloadLen) (payload may be null when payloadLen is 0, and may
 * already sit in buf at its final place). Returns the packet length, or -1 if it does not fit or
 * an argument is invalid.
 */
export function writeIcmpEcho(
  buf: Uint8Array, off: number, family: number, src: Uint8Array, dst: Uint8Array,
  kind: number, id: number, seq: number,
  payload: Uint8Array | null, payloadOff: number, payloadLen: number,
): number {
  if (kind !== ECHO_REQUEST && kind !== ECHO_REPLY) return -1;
  const l4Len = 8 + payloadLen;
  const hl = builderHeaderLength(buf, off, family, src, dst, payload, payloadOff, payloadLen, l4Len);
  if (hl < 0) return -1;
  const icmp = off + hl;
  // Payload first: it may overlap the header area if the caller staged it in buf.
  if (payloadLen > 0) copyBytes(buf, icmp + 8, payload as Uint8Array, payloadOff, payloadLen);
  const proto = family === 4 ? IPPROTO_ICMP : IPPROTO_ICMPV6;
  writeIpHeader(buf, off, family, src, 0, dst, 0, proto, l4Len);
  if (family === 4) buf[icmp] = kind === ECHO_REQUEST ? 8 : 0;
  else buf[icmp] = kind === ECHO_REQUEST ? 128 : 129;
  buf[icmp + 1] = 0;
  write16(buf, icmp + 2, 0);
  write16(buf, icmp + 4, id);
  write16(buf, icmp + 6, seq);
  // ICMPv4 has no pseudo-header; ICMPv6 does (RFC 4443 section 2.3).
  const sum = family === 4 ? 0 : pseudoHeaderSum(buf, off, 6, IPPROTO_ICMPV6, l4Len);
  write16(buf, icmp + 2, checksumFinish(checksumAdd(sum, buf, icmp, l4Len)));
  return hl + l4Len;
}

/**
 * Writes an IPv4 or IPv6 UDP datagram from src:srcPort to dst:dstPort (addresses of 4 or 16 bytes
 * at index 0) carrying payload[payloadOff, payloadOff+payloadLen) into buf[off], checksum
 * included. Returns the packet length, or -1 if it does not fit or an argument is invalid.
 */
export function writeUdp(
  buf: Uint8Array, off: number, family: number,
  src: Uint8Array, srcPort: number, dst: Uint8Array, dstPort: number,
  payload: Uint8Array | null, payloadOff: number, payloadLen: number,
): number {
  const l4Len = 8 + payloadLen;
  const hl = builderHeaderLength(buf, off, family, src, dst, payload, payloadOff, payloadLen, l4Len);
  if (hl < 0) return -1;
  const udp = off + hl;
  if (payloadLen > 0) copyBytes(buf, udp + 8, payload as Uint8Array, payloadOff, payloadLen);
  writeIpHeader(buf, off, family, src, 0, dst, 0, IPPROTO_UDP, l4Len);
  write16(buf, udp, srcPort);
  write16(buf, udp + 2, dstPort);
  write16(buf, udp + 4, l4Len);
  write16(buf, udp + 6, 0);
  let c = checksumFinish(checksumAdd(pseudoHeaderSum(buf, off, family, IPPROTO_UDP, l4Len), buf, udp, l4Len));
  // A computed 0 is sent as 0xffff: 0 means "no checksum" in IPv4 and is invalid in IPv6.
  if (c === 0) c = 0xffff;
  write16(buf, udp + 6, c);
  return hl + l4Len;
}

/**
 * Validates the IP header of the packet at buf[off] (len bytes available) and that it carries
 * `proto4` (IPv4) / `proto6` (IPv6) unfragmented. Returns the transport header offset or -1;
 * the packet length is in `ipPacketLength`.
 */
function transportOffset(buf: Uint8Array, off: number, len: number, proto4: number, proto6: number): number {
  if (ipPacketLength(buf, off, len) < 0) return -1;
  if (buf[off] >> 4 === 4) {
    // More-fragments flag or a fragment offset: not a whole datagram.
    if (buf[off + 9] !== proto4 || (read16(buf, off + 6) & 0x3fff) !== 0) return -1;
    return off + (buf[off] & 15) * 4;
  }
  if (buf[off + 6] !== proto6) return -1;
  return off + 40;
}

/**
 * Parses the UDP datagram in the IP packet at buf[off] (len bytes available) into `out`
 * (default: the shared `udpInfo`). Returns the payload length, or -1 if the packet is not a
 * well-formed UDP datagram. Does not verify the checksum (see transportChecksumValid).
 */
export function parseUdp(buf: Uint8Array, off: number, len: number, out?: UdpInfo): number {
  const res = out === undefined ? udpInfo : out;
  const udp = transportOffset(buf, off, len, IPPROTO_UDP, IPPROTO_UDP);
  if (udp < 0) return -1;
  const ipLen = ipPacketLength(buf, off, len);
  const end = off + ipLen;
  if (udp + 8 > end) return -1;
  const udpLen = read16(buf, udp + 4);
  if (udpLen < 8 || udp + udpLen > end) return -1;
  const family = buf[off] >> 4;
  res.family = family;
  res.ipLength = ipLen;
  res.srcAddrOff = family === 4 ? off + 12 : off + 8;
  res.dstAddrOff = family === 4 ? off + 16 : off + 24;
  res.srcPort = read16(buf, udp);
  res.dstPort = read16(buf, udp + 2);
  res.payloadOff = udp + 8;
  res.payloadLen = udpLen - 8;
  return udpLen - 8;
}

/**
 * Parses an ICMP (IPv4) or ICMPv6 echo request/reply in the IP packet at buf[off] into `out`
 * (default: the shared `echoInfo`). Returns ECHO_REQUEST or ECHO_REPLY, or -1 if the packet is
 * not a well-formed echo message. Does not verify the checksum.
 */
export function parseIcmpEcho(buf: Uint8Array, off: number, len: number, out?: EchoInfo): number {
  const res = out === undefined ? echoInfo : out;
  const icmp = transportOffset(buf, off, len, IPPROTO_ICMP, IPPROTO_ICMPV6);
  if (icmp < 0) return -1;
  const ipLen = ipPacketLength(buf, off, len);
  const end = off + ipLen;
  if (icmp + 8 > end) return -1;
  const family = buf[off] >> 4;
  const type = buf[icmp];
  let kind = -1;
  if (family === 4) kind = type === 8 ? ECHO_REQUEST : type === 0 ? ECHO_REPLY : -1;
  else kind = type === 128 ? ECHO_REQUEST : type === 129 ? ECHO_REPLY : -1;
  if (kind < 0 || buf[icmp + 1] !== 0) return -1;
  res.family = family;
  res.kind = kind;
  res.ipLength = ipLen;
  res.srcAddrOff = family === 4 ? off + 12 : off + 8;
  res.dstAddrOff = family === 4 ? off + 16 : off + 24;
  res.icmpOff = icmp;
  res.id = read16(buf, icmp + 4);
  res.seq = read16(buf, icmp + 6);
  res.payloadOff = icmp + 8;
  res.payloadLen = end - icmp - 8;
  return kind;
}

/**
 * Whether the UDP, ICMP or ICMPv6 checksum of the IP packet at buf[off] (len bytes available)
 * is correct. An IPv4 UDP checksum of 0 (none) counts as correct. False for other protocols,
 * fragments and malformed packets.
 */
export function transportChecksumValid(buf: Uint8Array, off: number, len: number): boolean {
  const ipLen = ipPacketLength(buf, off, len);
  if (ipLen < 0) return false;
  const family = buf[off] >> 4;
  const end = off + ipLen;
  let l4 = transportOffset(buf, off, len, IPPROTO_UDP, IPPROTO_UDP);
  if (l4 >= 0) {
    if (l4 + 8 > end) return false;
    const udpLen = read16(buf, l4 + 4);
    if (udpLen < 8 || l4 + udpLen > end) return false;
    const stored = read16(buf, l4 + 6);
    if (stored === 0) return family === 4;
    return checksumFinish(checksumAdd(pseudoHeaderSum(buf, off, family, IPPROTO_UDP, udpLen), buf, l4, udpLen)) === 0;
  }
  l4 = transportOffset(buf, off, len, IPPROTO_ICMP, IPPROTO_ICMPV6);
  if (l4 < 0 || l4 + 4 > end) return false;
  const sum = family === 4 ? 0 : pseudoHeaderSum(buf, off, 6, IPPROTO_ICMPV6, end - l4);
  return checksumFinish(checksumAdd(sum, buf, l4, end - l4)) === 0;
}

/** Whether the address at b[o] cannot be a unicast peer (IPv4 multicast/broadcast/unspecified, IPv6 multicast/unspecified). */
function notUnicast(b: Uint8Array, o: number, family: number): boolean {
  if (family === 4) return b[o] >= 224 || (b[o] === 0 && b[o + 1] === 0 && b[o + 2] === 0 && b[o + 3] === 0);
  if (b[o] === 0xff) return true;
  for (let i = 0; i < 16; i++) if (b[o + i] !== 0) return false;
  return true;
}

/**
 * Turns the echo request in the IP packet at buf[off] (len bytes available) into an echo reply
 * written at out[outOff] (may be the same place: it works in place). The reply swaps the
 * addresses, resets TTL/hop limit, drops IPv4 options, and carries the same id, sequence and data.
 * If `local` is given (4 or 16 bytes), the request must be addressed to it; otherwise the caller
 * must have checked that the destination is ours. Returns the reply length, or -1 (nothing
 * answered) for anything but a well-formed, correctly checksummed echo request between unicast
 * addresses that fits in `out`.
 */
export function answerEcho(buf: Uint8Array, off: number, len: number, out: Uint8Array, outOff: number, local?: Uint8Array): number {
  const e = echoScratch;
  if (parseIcmpEcho(buf, off, len, e) !== ECHO_REQUEST) return -1;
  const family = e.family;
  const alen = family === 4 ? 4 : 16;
  if (notUnicast(buf, e.srcAddrOff, family) || notUnicast(buf, e.dstAddrOff, family)) return -1;
  if (local !== undefined) {
    if (local.length < alen) return -1;
    for (let i = 0; i < alen; i++) if (local[i] !== buf[e.dstAddrOff + i]) return -1;
  }
  const icmpLen = off + e.ipLength - e.icmpOff;
  const psum = family === 4 ? 0 : pseudoHeaderSum(buf, off, 6, IPPROTO_ICMPV6, icmpLen);
  if (checksumFinish(checksumAdd(psum, buf, e.icmpOff, icmpLen)) !== 0) return -1;
  const hl = family === 4 ? 20 : 40;
  if (!(outOff >= 0) || outOff + hl + icmpLen > out.length) return -1;
  // Save the addresses: building in place overwrites them.
  for (let i = 0; i < alen; i++) {
    addrScratch[i] = buf[e.srcAddrOff + i];
    addrScratch[16 + i] = buf[e.dstAddrOff + i];
  }
  const icmp = outOff + hl;
  copyBytes(out, icmp, buf, e.icmpOff, icmpLen);
  writeIpHeader(out, outOff, family, addrScratch, 16, addrScratch, 0, family === 4 ? IPPROTO_ICMP : IPPROTO_ICMPV6, icmpLen);
  out[icmp] = family === 4 ? 0 : 129;
  write16(out, icmp + 2, 0);
  const sum = family === 4 ? 0 : pseudoHeaderSum(out, outOff, 6, IPPROTO_ICMPV6, icmpLen);
  write16(out, icmp + 2, checksumFinish(checksumAdd(sum, out, icmp, icmpLen)));
  return hl + icmpLen;
}
