/**
 * The engine-level tests of packages/core, run on the code *as bundled for the device*: the device
 * build (`dist/wgjs.js`, built with the device build options, minified, X25519 on the E.convolve
 * path with the unrolled JS left out) evaluated in the Espruino shim, whose `wgjs._core` exposes
 * the bundled Engine, Noise and portable provider. A representative set: RFC 8439 AEAD (A.5, in
 * the WireGuard nonce form), XChaCha20-Poly1305 (draft-03 A.3.1), BLAKE2s (RFC 7693 and keyed
 * KAT), X25519 (RFC 7748 §5.2, §6.1, 1,000 iterations, low-order points), the Cacophony IKpsk2
 * vector through the bundled Noise layer, and two bundled engines handshaking and exchanging data
 * with their timers, plus interop of a bundled engine with the host build of @wgjs/core.
 */
import { randomFillSync } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { Engine as HostEngine, createPortableProvider as hostProvider, fromHex, toHex, type CryptoProvider, type Engine, type EngineSink } from '@wgjs/core';
import { buildDevice } from '../scripts/build.js';
import { EspruinoShim } from '../shim/espruino.js';

interface Core {
  Engine: typeof Engine;
  Noise: new (c: CryptoProvider) => NoiseLike;
  HandshakeState: new () => HsLike;
  createPortableProvider: () => CryptoProvider;
}
interface HsLike { ePriv: Uint8Array; ePub: Uint8Array; h: Uint8Array }
interface NoiseLike {
  start(hs: HsLike, prologue: Uint8Array, rPub: Uint8Array): void;
  writeA(hs: HsLike, sPriv: Uint8Array, sPub: Uint8Array, rPub: Uint8Array, es: Uint8Array | null, ss: Uint8Array | null, p: Uint8Array, pOff: number, pLen: number, out: Uint8Array, outOff: number): boolean;
  readA1(hs: HsLike, sPriv: Uint8Array, msg: Uint8Array, off: number, rs: Uint8Array): boolean;
  readA2(hs: HsLike, sPriv: Uint8Array, rs: Uint8Array, ss: Uint8Array | null, msg: Uint8Array, off: number, pLen: number, out: Uint8Array, outOff: number): boolean;
  writeB(hs: HsLike, rs: Uint8Array, psk: Uint8Array, p: Uint8Array, pOff: number, pLen: number, out: Uint8Array, outOff: number): boolean;
  readB(hs: HsLike, sPriv: Uint8Array, psk: Uint8Array, msg: Uint8Array, off: number, pLen: number, out: Uint8Array, outOff: number): boolean;
  split(hs: HsLike, a: Uint8Array, b: Uint8Array): void;
}

let core: Core;
let shim: EspruinoShim;
let convolveCalls = 0;
const hex = (s: string): Uint8Array => fromHex(s)!;
const random = (b: Uint8Array, o: number, len: number): void => { randomFillSync(b, o, len); };
/** A minimal IPv4/UDP packet 10.0.0.src → 10.0.0.dst whose last byte is `payload`. */
function packet(src: number, dst: number, payload: number): Uint8Array {
  const p = new Uint8Array(28 + 4);
  p[0] = 0x45; p[3] = p.length; p[8] = 64; p[9] = 17;
  p.set([10, 0, 0, src], 12);
  p.set([10, 0, 0, dst], 16);
  p[31] = payload;
  return p;
}

beforeAll(async () => {
  const { code } = await buildDevice();
  shim = new EspruinoShim();
  // Count E.convolve use: the bundled X25519 must take the Espruino path.
  const E = shim.run('E', 'probe.js') as { convolve: (a: ArrayLike<number>, b: ArrayLike<number>, o: number) => number };
  const conv = E.convolve;
  E.convolve = (a, b, o) => { convolveCalls++; return conv(a, b, o); };
  shim.run(code, 'wgjs.js');
  core = (shim.wgjs as unknown as { _core: Core })._core;
});

describe('crypto vectors on the bundled portable provider', () => {
  it('ChaCha20-Poly1305: RFC 8439 A.5 (nonce 00000000 || counter), seal, open, forgery', () => {
    const p = core.createPortableProvider();
    const A5 = {
      key: '1c9240a5eb55d38af333888604f6b5f0473917c1402b80099dca5cbc207075c0',
      ad: 'f33388860000000000004e91',
      tag: 'eead9d67890cbb22392336fea1851f38',
      ciphertext: '64a0861575861af460f062c79be643bd5e805cfd345cf389f108670ac76c8cb24c6cfc18755d43eea09ee94e382d26b0bdb7b73c321b0100d4f03b7f355894cf'
        + '332f830e710b97ce98c8a84abd0b948114ad176e008d33bd60f982b1ff37c8559797a06ef4f0ef61c186324e2b3506383606907b6a7c02b0f9f6157b53c867e4'
        + 'b9166c767b804d46a59b5216cde7a4e99040c5a40433225ee282a1b0a06c523eaf4534d7f83fa1155b0047718cbc546a0d072b04b3564eea1b422273f548271a'
        + '0bb2316053fa76991955ebd63159434ecebb4e466dae5a1073a6727627097a1049e617d91d361094fa68f0ff77987130305beaba2eda04df997b714d6c6f2c29a6ad5cb4022b02709b',
    };
    const ct = hex(A5.ciphertext);
    const sealed = new Uint8Array(ct.length + 16);
    sealed.set(ct);
    sealed.set(hex(A5.tag), ct.length);
    // Nonce 000000000102030405060708: counter lo 0x04030201, hi 0x08070605.
    const out = new Uint8Array(ct.length);
    expect(p.open(hex(A5.key), 0x04030201, 0x08070605, hex(A5.ad), 0, 12, sealed, 0, ct.length, out, 0)).toBe(true);
    const again = new Uint8Array(ct.length + 16);
    p.seal(hex(A5.key), 0x04030201, 0x08070605, hex(A5.ad), 0, 12, out, 0, ct.length, again, 0);
    expect(toHex(again)).toBe(toHex(sealed));
    // The plaintext is the RFC's "Internet-Drafts are draft documents…" text.
    expect(Buffer.from(out).toString('latin1')).toMatch(/^Internet-Drafts are draft documents valid for a maximum of six months/);
    sealed[ct.length + 3] ^= 0x10;
    expect(p.open(hex(A5.key), 0x04030201, 0x08070605, hex(A5.ad), 0, 12, sealed, 0, ct.length, out, 0)).toBe(false);
  });

  it('XChaCha20-Poly1305: draft-irtf-cfrg-xchacha-03 A.3.1', () => {
    const p = core.createPortableProvider();
    const pt = Buffer.from("Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.", 'latin1');
    const expected = 'bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452'
      + '2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff921f9664c97637da9768812f615c68b13b52ec0875924c1c7987947deafd8780acf49';
    const key = hex('808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f');
    const nonce = hex('404142434445464748494a4b4c4d4e4f5051525354555657');
    const ad = hex('50515253c0c1c2c3c4c5c6c7');
    const o = new Uint8Array(130);
    p.xseal(key, nonce, 0, ad, 0, 12, pt, 0, pt.length, o, 0);
    expect(toHex(o)).toBe(expected);
    const b = new Uint8Array(pt.length);
    expect(p.xopen(key, nonce, 0, ad, 0, 12, o, 0, pt.length, b, 0)).toBe(true);
    expect(Buffer.from(b).equals(pt)).toBe(true);
  });

  it('BLAKE2s: RFC 7693 appendix B and keyed KAT entries', () => {
    const p = core.createPortableProvider();
    const digest = (key: Uint8Array | null, msg: Uint8Array): string => {
      p.hashInit(32, key, key ? key.length : 0);
      p.hashUpdate(msg, 0, msg.length);
      const out = new Uint8Array(32);
      p.hashFinal(out, 0);
      return toHex(out);
    };
    expect(digest(null, Buffer.from('abc'))).toBe('508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982');
    expect(digest(null, new Uint8Array(0))).toBe('69217a3079908094e11121d042354a7c1f55b6482ca1a51e1b250dfd1ed0eef9');
    const key = new Uint8Array(32).map((_, i) => i);
    const kat = [
      '48a8997da407876b3d79c0d92325ad3b89cbb754d86ab71aee047ad345fd2c49',
      '40d15fee7c328830166ac3f918650f807e7e01e177258cdc0a39b11f598066f1',
      '6bb71300644cd3991b26ccd4d274acd1adeab8b1d7914546c1198bbe9fc9d803',
      '1d220dbe2ee134661fdf6d9e74b41704710556f2f6e5a091b227697445dbea6b',
      'f6c3fbadb4cc687a0064a5be6e791bec63b868ad62fba61b3757ef9ca52e05b2',
    ];
    kat.forEach((want, n) => expect(digest(key, new Uint8Array(n).map((_, i) => i))).toBe(want));
  });

  it('X25519: RFC 7748 §5.2, 1,000 iterations, §6.1, low-order points — on the E.convolve path', () => {
    const p = core.createPortableProvider();
    const before = convolveCalls;
    const v = [
      ['a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4', 'e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c', 'c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552'],
      ['4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d', 'e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493', '95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957'],
    ];
    for (const [s, u, want] of v) {
      const out = new Uint8Array(32);
      expect(p.x25519(out, hex(s!), hex(u!))).toBe(true);
      expect(toHex(out)).toBe(want);
    }
    let k = new Uint8Array(32);
    let u = new Uint8Array(32);
    k[0] = 9;
    u[0] = 9;
    for (let i = 1; i <= 1000; i++) {
      const r = new Uint8Array(32);
      p.x25519(r, k, u);
      u = k;
      k = r;
      if (i === 1) expect(toHex(k)).toBe('422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079');
    }
    expect(toHex(k)).toBe('684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51');
    const aPub = new Uint8Array(32);
    const s1 = new Uint8Array(32);
    p.x25519Base(aPub, hex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a'));
    expect(toHex(aPub)).toBe('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
    expect(p.x25519(s1, hex('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb'), aPub)).toBe(true);
    expect(toHex(s1)).toBe('4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742');
    for (const lo of ['0000000000000000000000000000000000000000000000000000000000000000', 'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800', 'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f']) {
      const out = new Uint8Array(32).fill(0xaa);
      expect(p.x25519(out, hex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a'), hex(lo))).toBe(false);
      expect(toHex(out)).toBe('00'.repeat(32));
    }
    expect(convolveCalls - before).toBeGreaterThan(1000);
  }, 60_000);
});

describe('Noise and the engine as bundled', () => {
  it('reproduces the Cacophony Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s vector', () => {
    const c = core.createPortableProvider();
    const ni = new core.Noise(c);
    const nr = new core.Noise(core.createPortableProvider());
    const prologue = hex('4a6f686e2047616c74');
    const psk = hex('54686973206973206d7920417573747269616e20706572737065637469766521');
    const iPriv = hex('e61ef9919cde45dd5f82166404bd08e38bceb5dfdfded0a34c8df7ed542214d1');
    const rPriv = hex('4a3acbfdb163dec651dfa3194dece676d437029c62a408b4c5ea9114246e4893');
    const iPub = new Uint8Array(32);
    const rPub = new Uint8Array(32);
    c.x25519Base(iPub, iPriv);
    c.x25519Base(rPub, rPriv);
    const hi = new core.HandshakeState();
    const hr = new core.HandshakeState();
    hi.ePriv.set(hex('893e28b9dc6ca8d611ab664754b8ceb7bac5117349a4439a6b0569da977c464a'));
    c.x25519Base(hi.ePub, hi.ePriv);
    hr.ePriv.set(hex('bbdb4cdbd309f1a1f2e1456967fe288cadd6f712d65dc7b7793d5e63da6b375b'));
    c.x25519Base(hr.ePub, hr.ePriv);
    const p0 = hex('4c756477696720766f6e204d69736573');
    const msgA = new Uint8Array(80 + p0.length + 16);
    ni.start(hi, prologue, rPub);
    expect(ni.writeA(hi, iPriv, iPub, rPub, null, null, p0, 0, p0.length, msgA, 0)).toBe(true);
    expect(toHex(msgA)).toBe('ca35def5ae56cec33dc2036731ab14896bc4c75dbb07a61f879f8e3afa4c7944001e21de9f98ddd8e2ad57527207feb56253c9c94a9e496782ecfcb2a75fbcaf1b52948cc48daefe660c62119ab5000980c84831215f2441eba616548e832985464cf17e51ee93109008399a21f7e13f');
    nr.start(hr, prologue, rPub);
    const rs = new Uint8Array(32);
    expect(nr.readA1(hr, rPriv, msgA, 0, rs)).toBe(true);
    const got0 = new Uint8Array(p0.length);
    expect(nr.readA2(hr, rPriv, rs, null, msgA, 0, p0.length, got0, 0)).toBe(true);
    expect(toHex(got0)).toBe(toHex(p0));
    const p1 = hex('4d757272617920526f746862617264');
    const msgB = new Uint8Array(32 + p1.length + 16);
    expect(nr.writeB(hr, rs, psk, p1, 0, p1.length, msgB, 0)).toBe(true);
    expect(toHex(msgB)).toBe('95ebc60d2b1fa672c1f46a8aa265ef51bfe38e7ccb39ec5be34069f144808843cb765f2caef0751b8f007572dab0322217755c0632f365717edbf34d33e87a');
    const got1 = new Uint8Array(p1.length);
    expect(ni.readB(hi, iPriv, psk, msgB, 0, p1.length, got1, 0)).toBe(true);
    expect(toHex(hi.h)).toBe('f5191b875290abcd41347ac3622d9679688a7e980229cb937ef748336cfde0e5');
    const i1 = new Uint8Array(32), i2 = new Uint8Array(32);
    ni.split(hi, i1, i2);
    const p2 = hex('462e20412e20486179656b');
    const out = new Uint8Array(p2.length + 16);
    c.seal(i1, 0, 0, null, 0, 0, p2, 0, p2.length, out, 0);
    expect(toHex(out)).toBe('8153ca9833bc3c1b91a7e66e5f4d4f5b59bf9e64c2f20d15f0bba7');
  });

  /** Two engines on a virtual network with a virtual clock. */
  function net(a: Engine, b: Engine): { now: number; run(ms: number): void; inA: Uint8Array[]; inB: Uint8Array[]; sinkA: EngineSink; sinkB: EngineSink } {
    const q: Array<{ to: 'a' | 'b'; d: Uint8Array; from: string }> = [];
    const n = {
      now: 0,
      inA: [] as Uint8Array[],
      inB: [] as Uint8Array[],
      sinkA: {
        send: (buf: Uint8Array, off: number, len: number) => { q.push({ to: 'b', d: buf.slice(off, off + len), from: '192.0.2.1:51820' }); },
        deliver: (buf: Uint8Array, off: number, len: number) => { n.inA.push(buf.slice(off, off + len)); },
      } as EngineSink,
      sinkB: {
        send: (buf: Uint8Array, off: number, len: number) => { q.push({ to: 'a', d: buf.slice(off, off + len), from: '192.0.2.2:51820' }); },
        deliver: (buf: Uint8Array, off: number, len: number) => { n.inB.push(buf.slice(off, off + len)); },
      } as EngineSink,
      run(ms: number): void {
        const end = n.now + ms;
        for (let guard = 0; guard < 100_000; guard++) {
          while (q.length) {
            const m = q.shift()!;
            (m.to === 'a' ? a : b).receive(n.now, m.d, 0, m.d.length, m.from);
          }
          const t = Math.min(a.nextDeadline(), b.nextDeadline(), end);
          if (t > n.now) n.now = t;
          a.tick(n.now);
          b.tick(n.now);
          if (n.now >= end && q.length === 0) return;
        }
        throw new Error('network did not settle');
      },
    };
    return n;
  }

  it('two bundled engines: handshake (precomputed), data both ways, rekey after 120 s', () => {
    const keyA = new Uint8Array(32), keyB = new Uint8Array(32);
    random(keyA, 0, 32);
    random(keyB, 0, 32);
    let clock = 1_700_000_000_000;
    const wall = (): number => clock;
    const sinks: { a?: EngineSink; b?: EngineSink } = {};
    const fwd = (k: 'a' | 'b'): EngineSink => ({
      send: (...x) => sinks[k]!.send(...x),
      deliver: (...x) => sinks[k]!.deliver(...x),
    });
    const opts = { random, wallTime: wall, maxPeers: 1, maxSessions: 4, maxAllowedIPs: 8, mtu: 576, maxStaged: 2, replayWindowWords: 8, rateLimiterSize: 16 };
    const a = new core.Engine({ ...opts, privateKey: keyA, crypto: core.createPortableProvider() }, fwd('a'));
    const b = new core.Engine({ ...opts, privateKey: keyB, crypto: core.createPortableProvider() }, fwd('b'));
    const n = net(a, b);
    sinks.a = n.sinkA;
    sinks.b = n.sinkB;
    const pa = a.addPeer({ publicKey: b.publicKey, endpoint: '192.0.2.2:51820', allowedIPs: ['10.0.0.1/32'] });
    b.addPeer({ publicKey: a.publicKey, allowedIPs: ['10.0.0.2/32'] });
    expect(a.precomputeHandshake(pa)).toBe(true);
    a.connect(n.now, pa, false);
    expect(a.hasPrecomputedHandshake(pa)).toBe(false);
    n.run(10);
    expect(a.peerStatus(pa).hasSession).toBe(true);
    expect(a.sendPacket(n.now, packet(2, 1, 7), 0, 32)).toBe(0);
    n.run(10);
    expect(n.inB.map((p) => p[31])).toEqual([7]);
    expect(b.sendPacket(n.now, packet(1, 2, 8), 0, 32)).toBe(0);
    n.run(10);
    expect(n.inA.map((p) => p[31])).toEqual([8]);
    // Past REKEY_AFTER_TIME, the initiator's next packet starts a new handshake; data keeps flowing.
    n.run(121_000);
    clock += 121_000;
    const hs0 = a.peerStatus(pa).lastHandshakeTime;
    a.sendPacket(n.now, packet(2, 1, 9), 0, 32);
    n.run(100);
    expect(a.peerStatus(pa).lastHandshakeTime).toBeGreaterThan(hs0);
    expect(n.inB.map((p) => p[31])).toEqual([7, 9]);
  });

  it('a bundled engine interoperates with the host build of @wgjs/core', () => {
    const keyA = new Uint8Array(32), keyB = new Uint8Array(32);
    random(keyA, 0, 32);
    random(keyB, 0, 32);
    const inA: Uint8Array[] = [], inB: Uint8Array[] = [];
    const q: Array<[string, Uint8Array]> = [];
    const a = new core.Engine({ privateKey: keyA, crypto: core.createPortableProvider(), random, wallTime: Date.now, maxPeers: 1, mtu: 576 }, {
      send: (buf, off, len) => { q.push(['b', buf.slice(off, off + len)]); },
      deliver: (buf, off, len) => { inA.push(buf.slice(off, off + len)); },
    });
    const b = new HostEngine({ privateKey: keyB, crypto: hostProvider(), random, wallTime: Date.now, maxPeers: 1 }, {
      send: (buf, off, len) => { q.push(['a', buf.slice(off, off + len)]); },
      deliver: (buf, off, len) => { inB.push(buf.slice(off, off + len)); },
    });
    const pa = a.addPeer({ publicKey: b.publicKey, endpoint: '192.0.2.2:51820', allowedIPs: ['10.0.0.1/32'] });
    const pb = b.addPeer({ publicKey: a.publicKey, allowedIPs: ['10.0.0.2/32'] });
    const pump = (): void => {
      for (let i = 0; i < 100 && q.length; i++) {
        const [to, d] = q.shift()!;
        if (to === 'a') a.receive(1, d, 0, d.length, '192.0.2.2:51820');
        else b.receive(1, d, 0, d.length, '192.0.2.1:51820');
      }
    };
    a.sendPacket(0, packet(2, 1, 42), 0, 32);
    pump();
    expect(b.peerStatus(pb).hasSession).toBe(true);
    expect(inB.map((p) => p[31])).toEqual([42]);
    b.sendPacket(2, packet(1, 2, 43), 0, 32);
    pump();
    expect(inA.map((p) => p[31])).toEqual([43]);
    expect(a.peerStatus(pa).hasSession).toBe(true);
  });
});
