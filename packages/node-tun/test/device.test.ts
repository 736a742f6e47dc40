/** Library mode: peer churn does not leak, stale hostnames are re-resolved, bad input fails clearly. */
import dns from 'node:dns/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { formatKey } from '@wgjs/core';
import { WgDevice } from '../src/device.js';

setFlagsFromString('--expose_gc');
const gc = runInNewContext('gc') as () => void;

const key = (n: number) => {
  const k = new Uint8Array(32);
  k[0] = n & 255;
  k[1] = (n >> 8) & 255;
  k[2] = (n >> 16) & 255;
  k[31] = 0x40;
  return k;
};

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('WgDevice (library mode)', () => {
  it('adding and removing peers in a loop does not leak memory', async () => {
    const dev = await WgDevice.create({ privateKey: key(1), bindAddress: '127.0.0.1', maxPeers: 64 });
    const round = async (from: number) => {
      for (let i = 0; i < 800; i++) {
        const pub = formatKey(key(from + i));
        await dev.addPeer({ publicKey: pub, allowedIPs: [`10.${(i >> 8) & 255}.${i & 255}.0/24`, 'fd00::/64'], endpoint: '127.0.0.1:9', presharedKey: formatKey(key(7)) });
        dev.connect(pub); // creates handshake state and an index
        dev.removePeer(pub);
      }
    };
    await round(1000); // warm up
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let r = 0; r < 4; r++) await round(10_000 + r * 1000);
    gc();
    const growth = process.memoryUsage().heapUsed - before;
    expect(dev.status().peers).toHaveLength(0);
    expect(growth).toBeLessThan(1024 * 1024);
    await dev.close();
  }, 120_000);

  it('re-resolves a hostname endpoint when handshakes go stale', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const lookup = vi.spyOn(dns, 'lookup').mockResolvedValue({ address: '127.0.0.1', family: 4 } as never);
    const dev = await WgDevice.create({ privateKey: key(2), bindAddress: '127.0.0.1' });
    const pub = formatKey(key(3));
    // Port 9 on loopback: nobody answers, so the handshake gives up after REKEY_ATTEMPT_TIME.
    await dev.addPeer({ publicKey: pub, allowedIPs: ['10.0.0.2/32'], endpoint: 'peer.example.test:9', persistentKeepalive: 25 });
    expect(dev.status().peers[0].endpoint).toBe('127.0.0.1:9');
    lookup.mockResolvedValue({ address: '127.0.0.2', family: 4 } as never);
    const failed = new Promise((r) => dev.once('handshake-failed', r));
    await vi.advanceTimersByTimeAsync(130_000);
    await failed;
    await vi.advanceTimersByTimeAsync(10);
    expect(lookup).toHaveBeenCalledTimes(2);
    expect(dev.status().peers[0].endpoint).toBe('127.0.0.2:9');
    await dev.close();
  }, 30_000);

  it('rejects bad keys, endpoints and ports with clear messages', async () => {
    await expect(WgDevice.create({ privateKey: 'nope' })).rejects.toThrow(/private key is not a valid WireGuard key/);
    await expect(WgDevice.create({ privateKey: key(4), listenPort: 70000 })).rejects.toThrow(/listen port 70000/);
    const dev = await WgDevice.create({ privateKey: key(4), bindAddress: '127.0.0.1' });
    await expect(dev.addPeer({ publicKey: 'abc' })).rejects.toThrow(/peer public key is not a valid WireGuard key/);
    await expect(dev.addPeer({ publicKey: key(5), endpoint: 'fd00::1:51820' })).rejects.toThrow(/brackets/);
    await expect(dev.addPeer({ publicKey: key(5), endpoint: 'host:99999' })).rejects.toThrow(/invalid port/);
    await expect(dev.addPeer({ publicKey: key(5), allowedIPs: ['10.0.0.0/40'] })).rejects.toThrow(/10\.0\.0\.0\/40/);
    const other = WgDevice.create({ privateKey: key(6), bindAddress: '127.0.0.1', listenPort: dev.listenPort });
    await expect(other).rejects.toThrow(/already in use/);
    await dev.close();
  });
});
