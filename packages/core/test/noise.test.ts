/**
 * The Noise layer against published vectors: the Cacophony vector for
 * Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s (handshake and transport messages), the initial chaining
 * key and hash of WireGuard's construction, and wireguard-go's KDF vectors (device/kdf_test.go).
 */
import { describe, expect, it } from 'vitest';
import { HandshakeState, Noise } from '../src/noise.js';
import { ascii, fromHex, toHex } from '../src/bytes.js';
import { IDENTIFIER } from '../src/constants.js';
import { providers } from './support/providers.js';

const hex = (s: string) => fromHex(s)!;

// Cacophony (haskell-cryptography/cacophony, vectors/cacophony.txt), the IKpsk2 BLAKE2s vector.
const V = {
  prologue: '4a6f686e2047616c74',
  psk: '54686973206973206d7920417573747269616e20706572737065637469766521',
  initStatic: 'e61ef9919cde45dd5f82166404bd08e38bceb5dfdfded0a34c8df7ed542214d1',
  initEphemeral: '893e28b9dc6ca8d611ab664754b8ceb7bac5117349a4439a6b0569da977c464a',
  respStatic: '4a3acbfdb163dec651dfa3194dece676d437029c62a408b4c5ea9114246e4893',
  respEphemeral: 'bbdb4cdbd309f1a1f2e1456967fe288cadd6f712d65dc7b7793d5e63da6b375b',
  handshakeHash: 'f5191b875290abcd41347ac3622d9679688a7e980229cb937ef748336cfde0e5',
  messages: [
    ['4c756477696720766f6e204d69736573', 'ca35def5ae56cec33dc2036731ab14896bc4c75dbb07a61f879f8e3afa4c7944001e21de9f98ddd8e2ad57527207feb56253c9c94a9e496782ecfcb2a75fbcaf1b52948cc48daefe660c62119ab5000980c84831215f2441eba616548e832985464cf17e51ee93109008399a21f7e13f'],
    ['4d757272617920526f746862617264', '95ebc60d2b1fa672c1f46a8aa265ef51bfe38e7ccb39ec5be34069f144808843cb765f2caef0751b8f007572dab0322217755c0632f365717edbf34d33e87a'],
    ['462e20412e20486179656b', '8153ca9833bc3c1b91a7e66e5f4d4f5b59bf9e64c2f20d15f0bba7'],
    ['4361726c204d656e676572', '07af0c9c86e1b4e80f36b04ff7688d51141af3debd0332f0a705ef'],
    ['4a65616e2d426170746973746520536179', '6ab1467c0448cc78394494abaaf23afce0e234315d6e2624dcbfa8a21c1c4d073d'],
    ['457567656e2042f6686d20766f6e2042617765726b', 'dfc346c0d2296ae6cf1acf6f12b8456a1dba228cf8d8b774aacf1c47fc53aa80ebc7a4c292'],
  ],
};

for (const [name, mk] of providers) {
  describe(`Noise layer (${name} provider)`, () => {
    it('HASH(CONSTRUCTION) and HASH(Ci || IDENTIFIER) match the published constants', () => {
      const n = new Noise(mk());
      expect(toHex(n.initialCk)).toBe('60e26daef327efc02ec335e2a025d2d016eb4206f87277f52d38d1988b78cd36');
      const h = new Uint8Array(32);
      const id = ascii(IDENTIFIER);
      n.hash(h, 0, n.initialCk, 0, 32, id, 0, id.length);
      expect(toHex(h)).toBe('2211b361081ac566691243db458ad5322d9c6c662293e8b70ee19c65ba079ef3');
    });

    it('KDF1/2/3 match wireguard-go device/kdf_test.go', () => {
      const n = new Noise(mk());
      const cases = [
        ['746573742d6b6579', '746573742d696e707574', '6f0e5ad38daba1bea8a0d213688736f19763239305e0f58aba697f9ffc41c633', 'df1194df20802a4fe594cde27e92991c8cae66c366e8106aaa937a55fa371e8a', 'fac6e2745a325f5dc5d11a5b165aad08b0ada28e7b4e666b7c077934a4d76c24'],
        ['776972656775617264', '776972656775617264', '491d43bbfdaa8750aaf535e334ecbfe5129967cd64635101c566d4caefda96e8', '1e71a379baefd8a79aa4662212fcafe19a23e2b609a3db7d6bcba8f560e3d25f', '31e1ae48bddfbe5de38f295e5452b1909a1b4e38e183926af3780b0c1e1f0160'],
        ['', '', '8387b46bf43eccfcf349552a095d8315c4055beb90208fb1be23b894bc2ed5d0', '58a0e5f6faefccf4807bff1f05fa8a9217945762040bcec2f4b4a62bdfe0e86e', '0ce6ea98ec548f8e281e93e32db65621c45eb18dc6f0a7ad94178610a2f7338e'],
      ];
      for (const [key, input, t0, t1, t2] of cases) {
        const k = hex(key);
        const inp = hex(input);
        const o1 = new Uint8Array(32), o2 = new Uint8Array(32), o3 = new Uint8Array(32);
        n.kdfKeyed(o1, o2, o3, k, k.length, inp, 0, inp.length);
        expect([toHex(o1), toHex(o2), toHex(o3)]).toEqual([t0, t1, t2]);
        n.kdfKeyed(o1, o2, null, k, k.length, inp, 0, inp.length);
        expect([toHex(o1), toHex(o2)]).toEqual([t0, t1]);
        n.kdfKeyed(o1, null, null, k, k.length, inp, 0, inp.length);
        expect(toHex(o1)).toBe(t0);
      }
    });

    it('reproduces the Cacophony Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s vector byte for byte', () => {
      const c = mk();
      const ni = new Noise(c);
      const nr = new Noise(mk());
      const prologue = hex(V.prologue);
      const psk = hex(V.psk);
      const iPriv = hex(V.initStatic);
      const rPriv = hex(V.respStatic);
      const iPub = new Uint8Array(32); c.x25519Base(iPub, iPriv);
      const rPub = new Uint8Array(32); c.x25519Base(rPub, rPriv);
      const hi = new HandshakeState();
      const hr = new HandshakeState();
      hi.ePriv.set(hex(V.initEphemeral)); c.x25519Base(hi.ePub, hi.ePriv);
      hr.ePriv.set(hex(V.respEphemeral)); c.x25519Base(hr.ePub, hr.ePriv);

      // Message A (initiator -> responder)
      const [p0, c0] = V.messages[0].map(hex);
      const msgA = new Uint8Array(80 + p0.length + 16);
      ni.start(hi, prologue, rPub);
      expect(ni.writeA(hi, iPriv, iPub, rPub, null, null, p0, 0, p0.length, msgA, 0)).toBe(true);
      expect(toHex(msgA)).toBe(toHex(c0));
      nr.start(hr, prologue, rPub);
      const rs = new Uint8Array(32);
      expect(nr.readA1(hr, rPriv, msgA, 0, rs)).toBe(true);
      expect(rs).toEqual(iPub);
      const got0 = new Uint8Array(p0.length);
      expect(nr.readA2(hr, rPriv, rs, null, msgA, 0, p0.length, got0, 0)).toBe(true);
      expect(got0).toEqual(p0);

      // Message B (responder -> initiator)
      const [p1, c1] = V.messages[1].map(hex);
      const msgB = new Uint8Array(32 + p1.length + 16);
      expect(nr.writeB(hr, rs, psk, p1, 0, p1.length, msgB, 0)).toBe(true);
      expect(toHex(msgB)).toBe(toHex(c1));
      const got1 = new Uint8Array(p1.length);
      expect(ni.readB(hi, iPriv, psk, msgB, 0, p1.length, got1, 0)).toBe(true);
      expect(got1).toEqual(p1);
      expect(toHex(hi.h)).toBe(V.handshakeHash);
      expect(toHex(hr.h)).toBe(V.handshakeHash);

      // Transport: initiator sends with k1, responder with k2, nonces counting from 0.
      const i1 = new Uint8Array(32), i2 = new Uint8Array(32), r1 = new Uint8Array(32), r2 = new Uint8Array(32);
      ni.split(hi, i1, i2);
      nr.split(hr, r1, r2);
      expect(i1).toEqual(r1);
      expect(i2).toEqual(r2);
      for (let m = 2; m < V.messages.length; m++) {
        const [p, ct] = V.messages[m].map(hex);
        const fromInitiator = m % 2 === 0;
        const nonce = (m - 2) >> 1;
        const out = new Uint8Array(p.length + 16);
        c.seal(fromInitiator ? i1 : r2, nonce, 0, null, 0, 0, p, 0, p.length, out, 0);
        expect(toHex(out)).toBe(toHex(ct));
        const back = new Uint8Array(p.length);
        expect(c.open(fromInitiator ? r1 : i2, nonce, 0, null, 0, 0, ct, 0, p.length, back, 0)).toBe(true);
        expect(back).toEqual(p);
      }
    });

    it('rejects a tampered message A', () => {
      const c = mk();
      const n = new Noise(c);
      const rPriv = hex(V.respStatic);
      const rPub = new Uint8Array(32); c.x25519Base(rPub, rPriv);
      const iPriv = hex(V.initStatic);
      const iPub = new Uint8Array(32); c.x25519Base(iPub, iPriv);
      const hi = new HandshakeState();
      hi.ePriv.set(hex(V.initEphemeral)); c.x25519Base(hi.ePub, hi.ePriv);
      const msg = new Uint8Array(80 + 28);
      n.start(hi, ascii(IDENTIFIER), rPub);
      n.writeA(hi, iPriv, iPub, rPub, null, null, new Uint8Array(12), 0, 12, msg, 0);
      msg[40] ^= 0x80;
      const hr = new HandshakeState();
      n.start(hr, ascii(IDENTIFIER), rPub);
      expect(n.readA1(hr, rPriv, msg, 0, new Uint8Array(32))).toBe(false);
    });
  });
}
