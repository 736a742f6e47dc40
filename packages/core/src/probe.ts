/**
 * NAT-lifetime probes (issue #5): the device asks a responder inside the tunnel to answer after
 * a delay; if the answer arrives, the device's NAT mapping survived that long without outbound
 * traffic. The adaptive keepalive uses this to verify that its interval is still short enough.
 *
 * Wire format: a UDP payload of exactly 16 bytes, big-endian:
 *
 * | bytes  | field                                   |
 * |--------|-----------------------------------------|
 * | 0..3   | magic, ASCII "WGKA"                     |
 * | 4      | version, 1                              |
 * | 5      | type: 1 = request, 2 = reply            |
 * | 6..7   | zero                                    |
 * | 8..11  | delay in ms (u32, at most 600000)       |
 * | 12..15 | nonce (u32), echoed in the reply        |
 *
 * A reply is the request with type 2, sent `delay` ms later to the request's source address and
 * port. Device-safe; `parseProbe` and the readers allocate nothing.
 */
import { readU32BE, writeU32BE } from './bytes.js';
import { wgError } from './errors.js';

/** Size of every probe message. */
export const PROBE_SIZE = 16;
/** "WGKA" as a big-endian u32. */
export const PROBE_MAGIC = 0x57474b41;
export const PROBE_VERSION = 1;
export const PROBE_REQUEST = 1;
export const PROBE_REPLY = 2;
/** Longest delay a request may ask for (10 minutes, beyond any NAT UDP timeout worth probing). */
export const PROBE_MAX_DELAY_MS = 600000;
/** Offset of the type byte (a responder turns a request into its reply by rewriting it). */
export const PROBE_TYPE_OFFSET = 5;

/** `parseProbe` results below zero: why a datagram is not a valid probe. */
export const PROBE_BAD_SIZE = -1;
export const PROBE_BAD_MAGIC = -2;
export const PROBE_BAD_VERSION = -3;
export const PROBE_BAD_TYPE = -4;
export const PROBE_BAD_RESERVED = -5;
export const PROBE_BAD_DELAY = -6;

/**
 * Writes a probe request into `buf[off, off+16)` asking for a reply after `delayMs` ms (an
 * integer from 0 to PROBE_MAX_DELAY_MS) carrying `nonce` (taken as a u32). Returns PROBE_SIZE.
 * Throws EINVAL for a bad delay or a buffer too short.
 */
export function writeProbeRequest(buf: Uint8Array, off: number, delayMs: number, nonce: number): number {
  if (!(delayMs >= 0 && delayMs <= PROBE_MAX_DELAY_MS && delayMs % 1 === 0)) {
    throw wgError('EINVAL', 'probe delay must be an integer from 0 to ' + PROBE_MAX_DELAY_MS + ' ms, got ' + delayMs);
  }
  if (!(off >= 0 && off + PROBE_SIZE <= buf.length)) {
    throw wgError('EINVAL', 'probe needs ' + PROBE_SIZE + ' bytes at offset ' + off + ' of a ' + buf.length + '-byte buffer');
  }
  writeU32BE(buf, off, PROBE_MAGIC);
  buf[off + 4] = PROBE_VERSION;
  buf[off + PROBE_TYPE_OFFSET] = PROBE_REQUEST;
  buf[off + 6] = 0;
  buf[off + 7] = 0;
  writeU32BE(buf, off + 8, delayMs);
  writeU32BE(buf, off + 12, nonce >>> 0);
  return PROBE_SIZE;
}

/**
 * Checks the datagram `buf[off, off+len)`: returns PROBE_REQUEST or PROBE_REPLY for a valid
 * probe (read its fields with `probeDelayMs` / `probeNonce`), or a negative `PROBE_BAD_*` reason.
 * Allocates nothing.
 */
export function parseProbe(buf: Uint8Array, off: number, len: number): number {
  if (len !== PROBE_SIZE || off < 0 || off + len > buf.length) return PROBE_BAD_SIZE;
  if (readU32BE(buf, off) !== PROBE_MAGIC) return PROBE_BAD_MAGIC;
  if (buf[off + 4] !== PROBE_VERSION) return PROBE_BAD_VERSION;
  const type = buf[off + PROBE_TYPE_OFFSET];
  if (type !== PROBE_REQUEST && type !== PROBE_REPLY) return PROBE_BAD_TYPE;
  if (buf[off + 6] !== 0 || buf[off + 7] !== 0) return PROBE_BAD_RESERVED;
  if (readU32BE(buf, off + 8) > PROBE_MAX_DELAY_MS) return PROBE_BAD_DELAY;
  return type;
}

/** The delay field (ms) of a probe at `buf[off]`; call after `parseProbe` accepted it. */
export function probeDelayMs(buf: Uint8Array, off: number): number {
  return readU32BE(buf, off + 8);
}

/** The nonce field (u32) of a probe at `buf[off]`; call after `parseProbe` accepted it. */
export function probeNonce(buf: Uint8Array, off: number): number {
  return readU32BE(buf, off + 12);
}
