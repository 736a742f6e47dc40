import { describe, expect, it } from 'vitest';
import { PACKETS_BURST, PACKETS_PER_SECOND, RateLimiter, hashEndpointAddress } from '../src/ratelimiter.js';

describe('handshake rate limiter', () => {
  it(`allows a burst of ${PACKETS_BURST}, then ${PACKETS_PER_SECOND} per second per source`, () => {
    const r = new RateLimiter(64);
    const k = hashEndpointAddress('203.0.113.5:1234');
    let allowed = 0;
    for (let i = 0; i < 100; i++) if (r.allow(k, 0)) allowed++;
    expect(allowed).toBe(PACKETS_BURST);
    allowed = 0;
    for (let t = 1; t <= 10_000; t++) if (r.allow(k, t)) allowed++;
    expect(allowed).toBeGreaterThanOrEqual(PACKETS_PER_SECOND * 10 - 1);
    expect(allowed).toBeLessThanOrEqual(PACKETS_PER_SECOND * 10 + PACKETS_BURST);
    // Another source is unaffected.
    expect(r.allow(hashEndpointAddress('198.51.100.1:9'), 10_000)).toBe(true);
  });

  it('limits per address, not per port; IPv6 per /64', () => {
    expect(hashEndpointAddress('203.0.113.5:1')).toBe(hashEndpointAddress('203.0.113.5:2'));
    expect(hashEndpointAddress('[2001:db8:1:2:aaaa::1]:1')).toBe(hashEndpointAddress('[2001:db8:1:2:bbbb::9]:7'));
    expect(hashEndpointAddress('[2001:db8:1:3::1]:1')).not.toBe(hashEndpointAddress('[2001:db8:1:2::1]:1'));
  });
});
