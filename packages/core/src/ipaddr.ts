/**
 * Text <-> binary IP addresses and CIDR prefixes, for configuration and display only
 * (these allocate; the data path never calls them).
 */
import { wgError } from './errors.js';

/** A parsed prefix: `ip` holds 4 (IPv4) or 16 (IPv6) bytes, host bits as written. */
export interface Cidr {
  ip: Uint8Array;
  family: 4 | 6;
  cidr: number;
}

/** Parses a decimal integer of 1..maxDigits digits; -1 if `s` is not one. */
function parseDecimal(s: string, maxDigits: number): number {
  if (s.length === 0 || s.length > maxDigits) return -1;
  let v = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v;
}

/** Parses dotted-quad `s` into out[off..off+4); false if malformed. Leading zeros are refused. */
function parseV4(s: string, out: Uint8Array, off: number): boolean {
  const parts = s.split('.');
  if (parts.length !== 4) return false;
  for (let i = 0; i < 4; i++) {
    const p = parts[i];
    // "010" could mean octal to some parsers: refuse rather than guess.
    if (p.length > 1 && p.charCodeAt(0) === 48) return false;
    const v = parseDecimal(p, 3);
    if (v < 0 || v > 255) return false;
    out[off + i] = v;
  }
  return true;
}

/** Parses 1..4 hex digits; -1 if malformed. */
function parseHex16(s: string): number {
  if (s.length === 0 || s.length > 4) return -1;
  let v = 0;
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) c -= 48;
    else if (c >= 97 && c <= 102) c -= 87;
    else if (c >= 65 && c <= 70) c -= 55;
    else return -1;
    v = v * 16 + c;
  }
  return v;
}

/**
 * Parses the colon-separated groups of one side of "::" into words[at..]; returns the number of
 * 16-bit words written or -1. `allowV4` lets the last group be a dotted quad (two words).
 */
function parseGroups(s: string, words: Uint16Array, at: number, allowV4: boolean): number {
  if (s.length === 0) return 0;
  const groups = s.split(':');
  let n = 0;
  for (let i = 0; i < groups.length; i++) {
    const g = groups[i];
    if (allowV4 && i === groups.length - 1 && g.indexOf('.') >= 0) {
      const q = new Uint8Array(4);
      if (at + n + 2 > 8 || !parseV4(g, q, 0)) return -1;
      words[at + n] = (q[0] << 8) | q[1];
      words[at + n + 1] = (q[2] << 8) | q[3];
      n += 2;
    } else {
      const v = parseHex16(g);
      if (v < 0 || at + n >= 8) return -1;
      words[at + n] = v;
      n++;
    }
  }
  return n;
}

/** Parses an IPv6 address into 16 bytes at out[off]; false if malformed. */
function parseV6(s: string, out: Uint8Array, off: number): boolean {
  const words = new Uint16Array(8);
  const dc = s.indexOf('::');
  if (dc < 0) {
    if (parseGroups(s, words, 0, true) !== 8) return false;
  } else {
    const head = s.substring(0, dc);
    const tail = s.substring(dc + 2);
    if (tail.indexOf('::') >= 0) return false;
    const tailWords = new Uint16Array(8);
    const nh = parseGroups(head, words, 0, false);
    const nt = parseGroups(tail, tailWords, 0, true);
    // "::" stands for at least one zero group.
    if (nh < 0 || nt < 0 || nh + nt > 7) return false;
    for (let i = 0; i < nt; i++) words[8 - nt + i] = tailWords[i];
  }
  for (let i = 0; i < 8; i++) {
    out[off + 2 * i] = words[i] >> 8;
    out[off + 2 * i + 1] = words[i] & 255;
  }
  return true;
}

/**
 * Parses "10.0.0.0/24", "fd00::/64", "::/0", or a plain address (meaning /32 or /128).
 * Host bits are kept as written (AllowedIps.insert masks them). Surrounding whitespace is ignored.
 * Throws wgError('EINVAL') naming the bad text.
 */
export function parseCidr(text: string): Cidr {
  if (typeof text !== 'string') throw wgError('EINVAL', 'Invalid IP prefix: ' + text);
  const s = text.trim();
  const slash = s.indexOf('/');
  const addr = slash < 0 ? s : s.substring(0, slash);
  const v6 = addr.indexOf(':') >= 0;
  const ip = new Uint8Array(v6 ? 16 : 4);
  const max = v6 ? 128 : 32;
  const ok = v6 ? parseV6(addr, ip, 0) : parseV4(addr, ip, 0);
  if (!ok) {
    throw wgError('EINVAL', 'Invalid IP address "' + addr + '" in "' + text +
      '" (expected e.g. 10.0.0.1, 10.0.0.0/24, fd00::1 or fd00::/64)');
  }
  let cidr = max;
  if (slash >= 0) {
    cidr = parseDecimal(s.substring(slash + 1), 3);
    if (cidr < 0 || cidr > max) {
      throw wgError('EINVAL', 'Invalid prefix length in "' + text + '" (must be 0..' + max + ')');
    }
  }
  return { ip: ip, family: v6 ? 6 : 4, cidr: cidr };
}

/** Formats 4 bytes at ip[off] as a dotted quad. */
function formatV4(ip: Uint8Array, off: number): string {
  return ip[off] + '.' + ip[off + 1] + '.' + ip[off + 2] + '.' + ip[off + 3];
}

/**
 * Formats the address at ip[off] (4 bytes for family 4, 16 for family 6). IPv6 follows
 * RFC 5952: lowercase, no leading zeros, the longest run (first if tied) of two or more zero
 * groups as "::", and IPv4-mapped addresses as ::ffff:a.b.c.d (section 5), like inet_ntop.
 */
export function formatIp(ip: Uint8Array, off: number, family: 4 | 6): string {
  if (family === 4) return formatV4(ip, off);
  const w = new Uint16Array(8);
  for (let i = 0; i < 8; i++) w[i] = (ip[off + 2 * i] << 8) | ip[off + 2 * i + 1];
  if (w[0] === 0 && w[1] === 0 && w[2] === 0 && w[3] === 0 && w[4] === 0 && w[5] === 0xffff) {
    return '::ffff:' + formatV4(ip, off + 12);
  }
  let bestAt = -1;
  let bestLen = 1; // a single zero group is not compressed
  let i = 0;
  while (i < 8) {
    if (w[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  let s = '';
  for (let k = 0; k < 8; k++) {
    if (k === bestAt) {
      s += '::';
      k += bestLen - 1;
      continue;
    }
    // No ':' right after a "::" or at the start.
    if (s.length > 0 && k !== bestAt + bestLen) s += ':';
    s += w[k].toString(16);
  }
  return s;
}

/** Formats a prefix as "addr/cidr". */
export function formatCidr(ip: Uint8Array, off: number, family: 4 | 6, cidr: number): string {
  return formatIp(ip, off, family) + '/' + cidr;
}
