/** The host provider (node:crypto) agrees byte for byte with the portable provider, and runs the Cacophony-checked engine. */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createPortableProvider, Engine, type EngineSink } from '@wgjs/core';
import { createHostProvider } from '../src/crypto-host.js';

describe('host crypto provider', () => {
  const p = createPortableProvider();
  for (const aead of ['node', 'portable'] as const) {
    it(`AEAD (${aead}) matches the portable provider, and rejects tampering`, () => {
      const h = createHostProvider({ aead });
      for (let i = 0; i < 200; i++) {
        const key = randomBytes(32);
        const len = [0, 1, 15, 16, 17, 64, 1420][i % 7] + (i % 3);
        const ad = i % 2 ? randomBytes(32) : null;
        const src = randomBytes(len + 8);
        const a = new Uint8Array(len + 16 + 4);
        const b = new Uint8Array(len + 16 + 4);
        h.seal(key, i, i >> 3, ad, 0, ad ? 32 : 0, src, 4, len, a, 2);
        p.seal(key, i, i >> 3, ad, 0, ad ? 32 : 0, src, 4, len, b, 2);
        expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
        const back = new Uint8Array(len + 1);
        expect(h.open(key, i, i >> 3, ad, 0, ad ? 32 : 0, a, 2, len, back, 1)).toBe(true);
        expect(Buffer.from(back.subarray(1)).equals(src.subarray(4, 4 + len))).toBe(true);
        a[2 + ((i * 7) % (len + 16))] ^= 1;
        expect(h.open(key, i, i >> 3, ad, 0, ad ? 32 : 0, a, 2, len, back, 1)).toBe(false);
      }
    });
  }

  it('X25519 matches the portable provider and refuses low-order points', () => {
    const h = createHostProvider();
    for (let i = 0; i < 50; i++) {
      const s = randomBytes(32);
      const q = randomBytes(32);
      const x = new Uint8Array(32);
      const y = new Uint8Array(32);
      h.x25519Base(x, s);
      p.x25519Base(y, s);
      expect(x).toEqual(y);
      expect(h.x25519(x, s, q)).toBe(p.x25519(y, s, q));
      expect(x).toEqual(y);
    }
    const out = new Uint8Array(32);
    expect(h.x25519(out, randomBytes(32), new Uint8Array(32))).toBe(false);
    const one = new Uint8Array(32);
    one[0] = 1;
    expect(h.x25519(out, randomBytes(32), one)).toBe(false);
  });

  it('carries a handshake and data between a host-provider engine and a portable one', () => {
    const kA = randomBytes(32);
    const kB = randomBytes(32);
    const pubA = new Uint8Array(32); p.x25519Base(pubA, kA);
    const pubB = new Uint8Array(32); p.x25519Base(pubB, kB);
    let a: Engine;
    let b: Engine;
    const got: number[] = [];
    const rnd = (x: Uint8Array, o: number, n: number) => { x.set(randomBytes(n), o); };
    const sa: EngineSink = { send: (buf, off, len) => { b.receive(0, buf.slice(off, off + len), 0, len, 'A'); }, deliver: () => undefined };
    const sb: EngineSink = { send: (buf, off, len) => { a.receive(0, buf.slice(off, off + len), 0, len, 'B'); }, deliver: (buf, off, len) => { got.push(len); } };
    a = new Engine({ privateKey: kA, crypto: createHostProvider(), random: rnd, wallTime: Date.now }, sa);
    b = new Engine({ privateKey: kB, crypto: createPortableProvider(), random: rnd, wallTime: Date.now }, sb);
    const pa = a.addPeer({ publicKey: pubB, allowedIPs: ['10.0.0.2/32'], endpoint: 'B' });
    b.addPeer({ publicKey: pubA, allowedIPs: ['10.0.0.1/32'], endpoint: 'A' });
    const pkt = new Uint8Array(100);
    pkt[0] = 0x45; pkt[3] = 100; pkt.set([10, 0, 0, 1], 12); pkt.set([10, 0, 0, 2], 16);
    a.connect(0, pa);
    for (let i = 0; i < 10; i++) expect(a.sendPacket(0, pkt, 0, 100)).toBe(0);
    expect(got).toEqual(new Array(10).fill(100));
  });
});
