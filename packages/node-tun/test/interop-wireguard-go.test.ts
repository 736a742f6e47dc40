/**
 * Interop, for real: the engine in library mode (node:dgram, no TUN) in one network namespace,
 * wireguard-go (Debian's package, configured with `wg`) in another. ICMP echo both ways through the
 * tunnel — the wgjs side builds its pings itself and gets the kernel's replies back; the kernel on
 * the wireguard-go side pings the wgjs address and wgjs answers — IPv4 and IPv6 inside, both
 * roles, with and without a preshared key, over an IPv4 and an IPv6 outer link.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { genKeyPair, genPresharedKey, Lab, requireTools } from './lab/netns.js';
import { WgjsChild } from './lab/wgjs-child.js';

const skip = requireTools('wireguard-go', 'wg', 'ping');
if (skip) console.warn(`[interop-wireguard-go] skipping: ${skip}`);

const lab = new Lab();
afterAll(() => lab.cleanup());

interface Case { initiator: 'wgjs' | 'wireguard-go'; psk: boolean; outer: 4 | 6 }
const cases: Case[] = [
  { initiator: 'wgjs', psk: false, outer: 4 },
  { initiator: 'wgjs', psk: true, outer: 4 },
  { initiator: 'wireguard-go', psk: false, outer: 4 },
  { initiator: 'wireguard-go', psk: true, outer: 4 },
  { initiator: 'wgjs', psk: true, outer: 6 },
  { initiator: 'wireguard-go', psk: false, outer: 6 },
];

async function wgjsPings(peer: WgjsChild, dst: string, count: number): Promise<number> {
  const before = peer.events.length;
  peer.send({ cmd: 'ping', dst, count });
  await peer.waitFor((e) => e.event === 'pong' && e.src === dst && peer.events.indexOf(e) >= before, 10_000);
  await new Promise((r) => setTimeout(r, count * 200 + 300));
  return peer.events.slice(before).filter((e) => e.event === 'pong' && e.src === dst).length;
}

describe.skipIf(skip !== null)('interop: wgjs (library mode) ↔ wireguard-go', () => {
  for (const c of cases) {
    it(`${c.initiator} initiates, PSK ${c.psk ? 'on' : 'off'}, outer IPv${c.outer}`, async () => {
      const { a, b, link } = await lab.pair();
      const host = (end: { v4: string; v6: string }) => (c.outer === 4 ? end.v4 : `[${end.v6}]`);
      const kj = await genKeyPair();
      const kg = await genKeyPair();
      const psk = c.psk ? await genPresharedKey() : undefined;

      const wg = await lab.startWireguardGo(b, {
        privateKey: kg.privateKey,
        listenPort: 51821,
        address4: '10.99.0.2/24',
        address6: 'fd99::2/64',
        peers: [{
          publicKey: kj.publicKey,
          presharedKey: psk,
          allowedIps: ['10.99.0.1/32', 'fd99::1/128'],
          endpoint: c.initiator === 'wireguard-go' ? `${host(link.a)}:51820` : undefined,
        }],
      });
      const js = await WgjsChild.start(lab, a, {
        privateKey: kj.privateKey,
        listenPort: 51820,
        address: ['10.99.0.1/24', 'fd99::1/64'],
        peers: [{
          publicKey: kg.publicKey,
          presharedKey: psk ?? null,
          allowedIPs: ['10.99.0.2/32', 'fd99::2/128'],
          endpoint: c.initiator === 'wgjs' ? `${host(link.b)}:51821` : null,
        }],
      });

      if (c.initiator === 'wgjs') {
        expect(await wgjsPings(js, '10.99.0.2', 3)).toBeGreaterThanOrEqual(2);
        expect(await lab.ping(b, '10.99.0.1', { count: 3 })).toBeGreaterThanOrEqual(2);
      } else {
        expect(await lab.ping(b, '10.99.0.1', { count: 3 })).toBeGreaterThanOrEqual(2);
        expect(await wgjsPings(js, '10.99.0.2', 3)).toBeGreaterThanOrEqual(2);
      }
      expect(await wgjsPings(js, 'fd99::2', 3)).toBeGreaterThanOrEqual(2);
      expect(await lab.ping(b, 'fd99::1', { count: 3 })).toBeGreaterThanOrEqual(2);

      const dump = await wg.show();
      const p = dump.peers[0];
      expect(p.latestHandshake).toBeGreaterThan(0);
      expect(p.rxBytes).toBeGreaterThan(0);
      expect(p.txBytes).toBeGreaterThan(0);
      const st = await js.status();
      expect(st.peers[0].lastHandshakeWall).toBeGreaterThan(0);
      expect(st.peers[0].rxBytes).toBeGreaterThan(0);
      expect(st.drops).toEqual({});
      if (c.initiator === 'wireguard-go') expect(st.peers[0].endpoint).toBe(`${host(link.b)}:51821`);
      js.send({ cmd: 'quit' });
      await wg.stop();
    });
  }
});
