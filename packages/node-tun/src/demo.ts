/**
 * The README's demo: two WireGuard peers in one process (library mode, no root), talking over
 * UDP on loopback. Alice sends a datagram and a ping through the tunnel to Bob, Bob answers, and
 * the status of both is printed.
 */
import { randomFillSync } from 'node:crypto';
import { generatePrivateKey } from '@wgjs/core';
import { WgDevice } from './device.js';

const rnd = (b: Uint8Array, o: number, n: number) => { randomFillSync(b, o, n); };

async function main(): Promise<void> {
  const alice = await WgDevice.create({ privateKey: generatePrivateKey(rnd), bindAddress: '127.0.0.1', address: ['10.8.0.1/24'] });
  const bob = await WgDevice.create({ privateKey: generatePrivateKey(rnd), bindAddress: '127.0.0.1', address: ['10.8.0.2/24'] });
  await alice.addPeer({ publicKey: bob.publicKey, allowedIPs: ['10.8.0.2/32'], endpoint: `127.0.0.1:${bob.listenPort}` });
  await bob.addPeer({ publicKey: alice.publicKey, allowedIPs: ['10.8.0.1/32'] });
  console.log(`alice ${alice.publicKey} udp/${alice.listenPort} tunnel 10.8.0.1`);
  console.log(`bob   ${bob.publicKey} udp/${bob.listenPort} tunnel 10.8.0.2`);

  alice.on('handshake', () => console.log('alice: handshake complete'));
  bob.on('udp', (m) => {
    console.log(`bob: got "${new TextDecoder().decode(m.payload)}" from ${m.src}:${m.srcPort}`);
    bob.sendUdp(m.src, m.srcPort, new TextEncoder().encode('hello back from bob'), m.dstPort);
  });
  const reply = new Promise<void>((resolve) => alice.on('udp', (m) => {
    console.log(`alice: got "${new TextDecoder().decode(m.payload)}" from ${m.src}:${m.srcPort}`);
    resolve();
  }));
  const pong = new Promise<void>((resolve) => alice.on('pong', (p) => {
    console.log(`alice: ping reply from ${p.src} seq=${p.seq}`);
    resolve();
  }));

  alice.sendUdp('10.8.0.2', 7000, new TextEncoder().encode('hello from alice'), 7001);
  alice.ping('10.8.0.2', 1, 1);
  const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('demo timed out after 10 s')), 10_000).unref());
  await Promise.race([Promise.all([reply, pong]), timeout]);

  for (const [name, dev] of [['alice', alice], ['bob', bob]] as const) {
    const s = dev.status();
    console.log(`\n${name} (${s.publicKey}):`);
    for (const p of s.peers) {
      console.log(`  peer ${p.publicKey}`);
      console.log(`    endpoint: ${p.endpoint ?? '(none)'}   allowed ips: ${p.allowedIPs.join(', ')}`);
      console.log(`    latest handshake: ${p.lastHandshakeWall ? new Date(p.lastHandshakeWall).toISOString() : 'never'}`);
      console.log(`    transfer: ${p.rxBytes} B received, ${p.txBytes} B sent`);
    }
    console.log(`  drops: ${JSON.stringify(s.drops)}`);
  }
  await alice.close();
  await bob.close();
}

main().catch((e) => {
  console.error('demo failed:', (e as Error).message);
  process.exit(1);
});
