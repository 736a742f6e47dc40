/** NAT-lifetime probe wire format (probe.ts). */
import { describe, expect, it } from 'vitest';
import {
  PROBE_BAD_DELAY, PROBE_BAD_MAGIC, PROBE_BAD_RESERVED, PROBE_BAD_SIZE, PROBE_BAD_TYPE, PROBE_BAD_VERSION,
  PROBE_MAX_DELAY_MS, PROBE_REPLY, PROBE_REQUEST, PROBE_SIZE, PROBE_TYPE_OFFSET, parseProbe, probeDelayMs,
  probeNonce, writeProbeRequest,
} from '../src/probe.js';
import type { WgError } from '../src/errors.js';

describe('probe wire format', () => {
  it('writes the documented 16 bytes, big-endian', () => {
    const buf = new Uint8Array(20).fill(0xee);
    expect(writeProbeRequest(buf, 2, 25000, 0xdeadbeef)).toBe(PROBE_SIZE);
    expect(Array.from(buf)).toEqual([
      0xee, 0xee,
      0x57, 0x47, 0x4b, 0x41, // "WGKA"
      1, 1, 0, 0, // version, request, zero
      0x00, 0x00, 0x61, 0xa8, // 25000
      0xde, 0xad, 0xbe, 0xef,
      0xee, 0xee,
    ]);
    expect(new TextDecoder().decode(buf.subarray(2, 6))).toBe('WGKA');
  });

  it('parses a request and a reply and reads the fields back', () => {
    const buf = new Uint8Array(PROBE_SIZE);
    writeProbeRequest(buf, 0, PROBE_MAX_DELAY_MS, 0xffffffff);
    expect(parseProbe(buf, 0, PROBE_SIZE)).toBe(PROBE_REQUEST);
    expect(probeDelayMs(buf, 0)).toBe(600000);
    expect(probeNonce(buf, 0)).toBe(0xffffffff);
    buf[PROBE_TYPE_OFFSET] = PROBE_REPLY;
    expect(parseProbe(buf, 0, PROBE_SIZE)).toBe(PROBE_REPLY);
    writeProbeRequest(buf, 0, 0, -1); // the nonce is taken as a u32
    expect(probeNonce(buf, 0)).toBe(0xffffffff);
    expect(probeDelayMs(buf, 0)).toBe(0);
  });

  it('rejects everything else with a reason', () => {
    const good = new Uint8Array(PROBE_SIZE);
    writeProbeRequest(good, 0, 1000, 7);
    const bad = (edit: (b: Uint8Array) => void, len = PROBE_SIZE) => {
      const b = new Uint8Array(32);
      b.set(good);
      edit(b);
      return parseProbe(b, 0, len);
    };
    expect(bad(() => {}, 15)).toBe(PROBE_BAD_SIZE);
    expect(bad(() => {}, 17)).toBe(PROBE_BAD_SIZE);
    expect(parseProbe(good, 4, PROBE_SIZE)).toBe(PROBE_BAD_SIZE); // runs past the buffer
    expect(bad((b) => (b[0] = 0x58))).toBe(PROBE_BAD_MAGIC);
    expect(bad((b) => (b[3] = 0))).toBe(PROBE_BAD_MAGIC);
    expect(bad((b) => (b[4] = 2))).toBe(PROBE_BAD_VERSION);
    expect(bad((b) => (b[5] = 0))).toBe(PROBE_BAD_TYPE);
    expect(bad((b) => (b[5] = 3))).toBe(PROBE_BAD_TYPE);
    expect(bad((b) => (b[6] = 1))).toBe(PROBE_BAD_RESERVED);
    expect(bad((b) => (b[7] = 0x80))).toBe(PROBE_BAD_RESERVED);
    expect(bad((b) => { b[8] = 0; b[9] = 0x09; b[10] = 0x27; b[11] = 0xc1; })).toBe(PROBE_BAD_DELAY); // 600001
    expect(bad((b) => (b[8] = 0xff))).toBe(PROBE_BAD_DELAY);
    expect(bad(() => {})).toBe(PROBE_REQUEST);
  });

  it('refuses a bad delay or a short buffer with EINVAL', () => {
    for (const [buf, off, delay] of [
      [new Uint8Array(16), 0, -1], [new Uint8Array(16), 0, 600001], [new Uint8Array(16), 0, 1.5],
      [new Uint8Array(16), 0, NaN], [new Uint8Array(15), 0, 10], [new Uint8Array(20), 5, 10],
    ] as Array<[Uint8Array, number, number]>) {
      let err: WgError | null = null;
      try {
        writeProbeRequest(buf, off, delay, 1);
      } catch (e) {
        err = e as WgError;
      }
      expect(err?.code).toBe('EINVAL');
    }
  });
});
