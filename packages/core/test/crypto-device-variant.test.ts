/**
 * The device crypto variant (src/crypto/device/, swapped in by the device build) must pass the same
 * tests as the Node variant: this file re-runs crypto-vectors and crypto-differential with
 * chacha20poly1305.ts and x25519-unrolled.ts replaced by their device versions (the x25519 stub
 * is the loop fallback for firmware without E.convolve, which Node lacks too, so it really runs).
 */
import { describe, expect, it, vi } from 'vitest';
import * as nodeAead from '../src/crypto/chacha20poly1305.js';
import * as deviceAead from '../src/crypto/device/chacha20poly1305.js';
import { mulJs, sqrJs } from '../src/crypto/x25519-unrolled.js';
import * as stub from '../src/crypto/device/x25519-unrolled.js';

vi.mock('../src/crypto/chacha20poly1305.js', async () => await import('../src/crypto/device/chacha20poly1305.js'));
vi.mock('../src/crypto/x25519-unrolled.js', async () => await import('../src/crypto/device/x25519-unrolled.js'));

await import('./crypto-vectors.test.js');
await import('./crypto-differential.test.js');

describe('device variant wiring', () => {
  it('the mocks are in place (this file really tests the device code)', () => {
    expect(nodeAead.wgSeal).toBe(deviceAead.wgSeal);
    expect(mulJs).toBe(stub.mulJs);
    expect(sqrJs).toBe(stub.sqrJs);
  });
});
