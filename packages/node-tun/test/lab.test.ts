/**
 * Proves the namespace lab itself: wireguard-go ↔ wireguard-go across a veth link (IPv4 and
 * IPv6 outside and inside the tunnel, with and without a preshared key, each side initiating),
 * and the NAT router's masquerade and conntrack controls.
 */
import { existsSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { genKeyPair, genPresharedKey, Lab, listLabNamespaces, requireTools, type WgHandle } from './lab/netns.js';

const wgSkip = requireTools('wireguard-go', 'wg', 'ping');
const natSkip = requireTools('nft', 'conntrack');
if (wgSkip) console.warn(`[lab.test] skipping wireguard-go tests: ${wgSkip}`);
if (natSkip) console.warn(`[lab.test] skipping NAT tests: ${natSkip}`);

const lab = new Lab();
afterAll(() => lab.cleanup());

interface Case {
  outer: 4 | 6;
  psk: boolean;
  /** b has no endpoint for a: it is a pure responder and must learn a's address. */
  responderOnly: boolean;
}

const cases: Case[] = [
  { outer: 4, psk: false, responderOnly: true },
  { outer: 4, psk: true, responderOnly: false },
  { outer: 6, psk: false, responderOnly: false },
  { outer: 6, psk: true, responderOnly: true },
];

const wgPids: number[] = [];
const wgSockets: string[] = [];

describe.skipIf(wgSkip !== null)('lab: wireguard-go pair in namespaces', () => {
  for (const c of cases) {
    const name =
      `outer IPv${c.outer}, ${c.psk ? 'with' : 'without'} PSK, ` +
      `${c.responderOnly ? 'a initiates (b has no endpoint)' : 'b initiates'}`;
    it(name, async () => {
      const { a, b, link } = await lab.pair();
      const ka = await genKeyPair();
      const kb = await genKeyPair();
      const psk = c.psk ? await genPresharedKey() : undefined;
      const host = (end: { v4: string; v6: string }): string => (c.outer === 4 ? end.v4 : `[${end.v6}]`);

      const wa: WgHandle = await lab.startWireguardGo(a, {
        privateKey: ka.privateKey,
        listenPort: 51820,
        address4: '10.99.0.1/24',
        address6: 'fd99::1/64',
        peers: [
          {
            publicKey: kb.publicKey,
            presharedKey: psk,
            allowedIps: ['10.99.0.2/32', 'fd99::2/128'],
            endpoint: `${host(link.b)}:51821`,
          },
        ],
      });
      const wb: WgHandle = await lab.startWireguardGo(b, {
        privateKey: kb.privateKey,
        listenPort: 51821,
        address4: '10.99.0.2/24',
        address6: 'fd99::2/64',
        peers: [
          {
            publicKey: ka.publicKey,
            presharedKey: psk,
            allowedIps: ['10.99.0.1/32', 'fd99::1/128'],
            endpoint: c.responderOnly ? undefined : `${host(link.a)}:51820`,
          },
        ],
      });
      wgPids.push(wa.process.pid!, wb.process.pid!);
      wgSockets.push(`/var/run/wireguard/${wa.ifname}.sock`, `/var/run/wireguard/${wb.ifname}.sock`);
      expect(wa.publicKey).toBe(ka.publicKey);

      const before = await wb.show();
      expect(before.peers[0]!.latestHandshake).toBe(0);
      expect(before.peers[0]!.endpoint).toBe(c.responderOnly ? null : `${host(link.a)}:51820`);

      const opts = { count: 3, timeoutSec: 10, intervalSec: 0.1 };
      const [first, firstPeer, second, secondPeer] = c.responderOnly ? [a, 2, b, 1] : [b, 1, a, 2];
      const ctx = (): string => `\n--- a:\n${wa.output()}\n--- b:\n${wb.output()}`;
      expect(await lab.ping(first, `10.99.0.${firstPeer}`, opts), `first ping v4${ctx()}`).toBe(3);
      expect(await lab.ping(first, `fd99::${firstPeer}`, opts), 'first ping v6').toBe(3);
      expect(await lab.ping(second, `10.99.0.${secondPeer}`, opts), 'reverse ping v4').toBe(3);
      expect(await lab.ping(second, `fd99::${secondPeer}`, opts), 'reverse ping v6').toBe(3);

      for (const [h, self] of [
        [wa, link.a],
        [wb, link.b],
      ] as const) {
        const d = await h.show();
        expect(d.peers).toHaveLength(1);
        const p = d.peers[0]!;
        expect(p.latestHandshake).toBeGreaterThan(0);
        expect(Math.abs(p.latestHandshake - Date.now() / 1000)).toBeLessThan(60);
        expect(p.presharedKey).toBe(psk ?? null);
        expect(p.rxBytes).toBeGreaterThan(0);
        expect(p.txBytes).toBeGreaterThan(0);
        expect(d.listenPort).toBe(self === link.a ? 51820 : 51821);
      }
      // The responder-only side learnt the initiator's outer address from the handshake.
      expect((await wb.show()).peers[0]!.endpoint).toBe(`${host(link.a)}:51820`);
    });
  }

  it('set() and stop() work on a running wireguard-go', async () => {
    const { a } = await lab.pair();
    const k = await genKeyPair();
    const peer = await genKeyPair();
    const w = await lab.startWireguardGo(a, { privateKey: k.privateKey, listenPort: 40000 });
    expect((await w.show()).peers).toHaveLength(0);
    await w.set(['peer', peer.publicKey, 'allowed-ips', '10.98.0.0/24', 'persistent-keepalive', '25']);
    const d = await w.show();
    expect(d.peers[0]!.allowedIps).toEqual(['10.98.0.0/24']);
    expect(d.peers[0]!.persistentKeepalive).toBe(25);
    await w.stop();
    expect(w.process.exitCode !== null || w.process.signalCode !== null).toBe(true);
    expect(existsSync(`/var/run/wireguard/${w.ifname}.sock`)).toBe(false);
  });
});

describe.skipIf(wgSkip !== null || natSkip !== null)('lab: NAT router', () => {
  it('masquerades device→server UDP (IPv4 and IPv6) and controls conntrack', async () => {
    const nat = await lab.natTopology();
    const r4 = await lab.udpReceiver(nat.server, 9000, { family: 4 });
    const r6 = await lab.udpReceiver(nat.server, 9000, { family: 6 });
    await lab.udpSend(nat.device, nat.wan.b.v4, 9000, 'hello v4', 40001);
    await lab.udpSend(nat.device, nat.wan.b.v6, 9000, 'hello v6', 40001);
    await r4.waitFor(1);
    await r6.waitFor(1);
    // The server sees the router's WAN address, not the device's LAN address.
    expect(r4.messages[0]!.from).toBe(nat.wan.a.v4);
    expect(r4.messages[0]!.data.toString()).toBe('hello v4');
    expect(r6.messages[0]!.from).toBe(nat.wan.a.v6);
    expect(r6.messages[0]!.data.toString()).toBe('hello v6');

    // Server has no route to the LAN: only a masqueraded flow can be answered.
    expect(await lab.ping(nat.device, nat.wan.b.v4, { count: 1, timeoutSec: 3 })).toBe(1);
    expect(await lab.ping(nat.server, nat.lan.b.v4, { count: 1, timeoutSec: 1 })).toBe(0);

    const entries = await nat.conntrackUdp();
    expect(entries.some((l) => l.includes(`src=${nat.lan.b.v4}`) && l.includes('dport=9000'))).toBe(true);

    await nat.setUdpTimeouts(7, 11);
    expect(await nat.getUdpTimeouts()).toEqual({ timeout: 7, stream: 11 });
    await nat.flushConntrack();
    expect((await nat.conntrackUdp()).filter((l) => l.includes('dport=9000'))).toEqual([]);

    // A fresh mapping after the flush gets the new timeout (conntrack -L prints remaining seconds).
    await lab.udpSend(nat.device, nat.wan.b.v4, 9000, 'again', 40001);
    await r4.waitFor(2);
    const fresh = (await nat.conntrackUdp()).find((l) => l.includes('dport=9000'));
    expect(fresh).toBeDefined();
    const ttl = Number(/^\S+\s+\d+\s+(\d+)/.exec(fresh!)?.[1]);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(7);
    await r4.close();
    await r6.close();
  });
});

describe.skipIf(wgSkip !== null)('lab: cleanup', () => {
  it('removes every namespace, process, socket and temp file it created', async () => {
    const tmp = lab.tmpDir;
    expect(listLabNamespaces().length).toBeGreaterThan(0);
    await lab.cleanup();
    expect(listLabNamespaces()).toEqual([]);
    expect(lab.ownNamespaces).toEqual([]);
    expect(existsSync(tmp)).toBe(false);
    for (const pid of wgPids) {
      let alive = true;
      try {
        process.kill(pid, 0);
      } catch {
        alive = false;
      }
      expect(alive, `wireguard-go pid ${pid} still alive`).toBe(false);
    }
    for (const s of wgSockets) expect(existsSync(s), s).toBe(false);
  });
});
