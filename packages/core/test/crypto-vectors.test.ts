/**
 * Known-answer tests for the portable crypto (and the noble reference provider where the
 * provider interface can express the vector): RFC 8439 (ChaCha20, Poly1305, AEAD, appendix A),
 * RFC 7748 (X25519), RFC 7693 / BLAKE2 KAT (BLAKE2s), draft-irtf-cfrg-xchacha-03 (HChaCha20,
 * XChaCha20-Poly1305).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { A5, LOW_ORDER, RFC7748, SUNSCREEN } from './support/vectors.js';
import {
  aeadOpen, aeadSeal, chacha20Xor, hchacha20, poly1305, xaeadOpen, xaeadSeal,
} from '../src/crypto/chacha20poly1305.js';
import { Blake2s } from '../src/crypto/blake2s.js';
import { x25519, x25519Base } from '../src/crypto/x25519.js';
import { createPortableProvider } from '../src/crypto/portable.js';
import { createNobleProvider } from '../src/crypto/noble.js';
import type { CryptoProvider } from '../src/crypto/provider.js';

function hex(s: string): Uint8Array {
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.substr(2 * i, 2), 16);
  return out;
}
function toHex(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += (b[i] < 16 ? '0' : '') + b[i].toString(16);
  return s;
}
function ascii(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

// Generated from the RFC 8439 text (hex dumps parsed, then checked by eye against the RFC).
const A1 = [
  { key: '0000000000000000000000000000000000000000000000000000000000000000', nonce: '000000000000000000000000', counter: 0,
    keystream: '76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7'
      + 'da41597c5157488d7724e03fb8d84a376a43b8f41518a11cc387b669b2ee6586' },
  { key: '0000000000000000000000000000000000000000000000000000000000000000', nonce: '000000000000000000000000', counter: 1,
    keystream: '9f07e7be5551387a98ba977c732d080dcb0f29a048e3656912c6533e32ee7aed'
      + '29b721769ce64e43d57133b074d839d531ed1f28510afb45ace10a1f4b794d6f' },
  { key: '0000000000000000000000000000000000000000000000000000000000000001', nonce: '000000000000000000000000', counter: 1,
    keystream: '3aeb5224ecf849929b9d828db1ced4dd832025e8018b8160b82284f3c949aa5a'
      + '8eca00bbb4a73bdad192b5c42f73f2fd4e273644c8b36125a64addeb006c13a0' },
  { key: '00ff000000000000000000000000000000000000000000000000000000000000', nonce: '000000000000000000000000', counter: 2,
    keystream: '72d54dfbf12ec44b362692df94137f328fea8da73990265ec1bbbea1ae9af0ca'
      + '13b25aa26cb4a648cb9b9d1be65b2c0924a66c54d545ec1b7374f4872e99f096' },
  { key: '0000000000000000000000000000000000000000000000000000000000000000', nonce: '000000000000000000000002', counter: 0,
    keystream: 'c2c64d378cd536374ae204b9ef933fcd1a8b2288b3dfa49672ab765b54ee27c7'
      + '8a970e0e955c14f3a88e741b97c286f75f8fc299e8148362fa198a39531bed6d' },
];
const A2 = [
  { key: '0000000000000000000000000000000000000000000000000000000000000000', nonce: '000000000000000000000000', counter: 0,
    plaintext: '0000000000000000000000000000000000000000000000000000000000000000'
      + '0000000000000000000000000000000000000000000000000000000000000000',
    ciphertext: '76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7'
      + 'da41597c5157488d7724e03fb8d84a376a43b8f41518a11cc387b669b2ee6586' },
  { key: '0000000000000000000000000000000000000000000000000000000000000001', nonce: '000000000000000000000002', counter: 1,
    plaintext: '416e79207375626d697373696f6e20746f20746865204945544620696e74656e'
      + '6465642062792074686520436f6e7472696275746f7220666f72207075626c69'
      + '636174696f6e20617320616c6c206f722070617274206f6620616e2049455446'
      + '20496e7465726e65742d4472616674206f722052464320616e6420616e792073'
      + '746174656d656e74206d6164652077697468696e2074686520636f6e74657874'
      + '206f6620616e204945544620616374697669747920697320636f6e7369646572'
      + '656420616e20224945544620436f6e747269627574696f6e222e205375636820'
      + '73746174656d656e747320696e636c756465206f72616c2073746174656d656e'
      + '747320696e20494554462073657373696f6e732c2061732077656c6c20617320'
      + '7772697474656e20616e6420656c656374726f6e696320636f6d6d756e696361'
      + '74696f6e73206d61646520617420616e792074696d65206f7220706c6163652c'
      + '207768696368206172652061646472657373656420746f',
    ciphertext: 'a3fbf07df3fa2fde4f376ca23e82737041605d9f4f4f57bd8cff2c1d4b7955ec'
      + '2a97948bd3722915c8f3d337f7d370050e9e96d647b7c39f56e031ca5eb6250d'
      + '4042e02785ececfa4b4bb5e8ead0440e20b6e8db09d881a7c6132f420e527950'
      + '42bdfa7773d8a9051447b3291ce1411c680465552aa6c405b7764d5e87bea85a'
      + 'd00f8449ed8f72d0d662ab052691ca66424bc86d2df80ea41f43abf937d3259d'
      + 'c4b2d0dfb48a6c9139ddd7f76966e928e635553ba76c5c879d7b35d49eb2e62b'
      + '0871cdac638939e25e8a1e0ef9d5280fa8ca328b351c3c765989cbcf3daa8b6c'
      + 'cc3aaf9f3979c92b3720fc88dc95ed84a1be059c6499b9fda236e7e818b04b0b'
      + 'c39c1e876b193bfe5569753f88128cc08aaa9b63d1a16f80ef2554d7189c411f'
      + '5869ca52c5b83fa36ff216b9c1d30062bebcfd2dc5bce0911934fda79a86f6e6'
      + '98ced759c3ff9b6477338f3da4f9cd8514ea9982ccafb341b2384dd902f3d1ab'
      + '7ac61dd29c6f21ba5b862f3730e37cfdc4fd806c22f221' },
  { key: '1c9240a5eb55d38af333888604f6b5f0473917c1402b80099dca5cbc207075c0', nonce: '000000000000000000000002', counter: 42,
    plaintext: '2754776173206272696c6c69672c20616e642074686520736c6974687920746f'
      + '7665730a446964206779726520616e642067696d626c6520696e207468652077'
      + '6162653a0a416c6c206d696d737920776572652074686520626f726f676f7665'
      + '732c0a416e6420746865206d6f6d65207261746873206f757467726162652e',
    ciphertext: '62e6347f95ed87a45ffae7426f27a1df5fb69110044c0d73118effa95b01e5cf'
      + '166d3df2d721caf9b21e5fb14c616871fd84c54f9d65b283196c7fe4f60553eb'
      + 'f39c6402c42234e32a356b3e764312a61a5532055716ead6962568f87d3f3f77'
      + '04c6a8d1bcd1bf4d50d6154b6da731b187b58dfd728afa36757a797ac188d1' },
];
const A3 = [
  { key: '0000000000000000000000000000000000000000000000000000000000000000',
    msg: '0000000000000000000000000000000000000000000000000000000000000000'
      + '0000000000000000000000000000000000000000000000000000000000000000',
    tag: '00000000000000000000000000000000' },
  { key: '0000000000000000000000000000000036e5f6b5c5e06070f0efca96227a863e',
    msg: '416e79207375626d697373696f6e20746f20746865204945544620696e74656e'
      + '6465642062792074686520436f6e7472696275746f7220666f72207075626c69'
      + '636174696f6e20617320616c6c206f722070617274206f6620616e2049455446'
      + '20496e7465726e65742d4472616674206f722052464320616e6420616e792073'
      + '746174656d656e74206d6164652077697468696e2074686520636f6e74657874'
      + '206f6620616e204945544620616374697669747920697320636f6e7369646572'
      + '656420616e20224945544620436f6e747269627574696f6e222e205375636820'
      + '73746174656d656e747320696e636c756465206f72616c2073746174656d656e'
      + '747320696e20494554462073657373696f6e732c2061732077656c6c20617320'
      + '7772697474656e20616e6420656c656374726f6e696320636f6d6d756e696361'
      + '74696f6e73206d61646520617420616e792074696d65206f7220706c6163652c'
      + '207768696368206172652061646472657373656420746f',
    tag: '36e5f6b5c5e06070f0efca96227a863e' },
  { key: '36e5f6b5c5e06070f0efca96227a863e00000000000000000000000000000000',
    msg: '416e79207375626d697373696f6e20746f20746865204945544620696e74656e'
      + '6465642062792074686520436f6e7472696275746f7220666f72207075626c69'
      + '636174696f6e20617320616c6c206f722070617274206f6620616e2049455446'
      + '20496e7465726e65742d4472616674206f722052464320616e6420616e792073'
      + '746174656d656e74206d6164652077697468696e2074686520636f6e74657874'
      + '206f6620616e204945544620616374697669747920697320636f6e7369646572'
      + '656420616e20224945544620436f6e747269627574696f6e222e205375636820'
      + '73746174656d656e747320696e636c756465206f72616c2073746174656d656e'
      + '747320696e20494554462073657373696f6e732c2061732077656c6c20617320'
      + '7772697474656e20616e6420656c656374726f6e696320636f6d6d756e696361'
      + '74696f6e73206d61646520617420616e792074696d65206f7220706c6163652c'
      + '207768696368206172652061646472657373656420746f',
    tag: 'f3477e7cd95417af89a6b8794c310cf0' },
  { key: '1c9240a5eb55d38af333888604f6b5f0473917c1402b80099dca5cbc207075c0',
    msg: '2754776173206272696c6c69672c20616e642074686520736c6974687920746f'
      + '7665730a446964206779726520616e642067696d626c6520696e207468652077'
      + '6162653a0a416c6c206d696d737920776572652074686520626f726f676f7665'
      + '732c0a416e6420746865206d6f6d65207261746873206f757467726162652e',
    tag: '4541669a7eaaee61e708dc7cbcc5eb62' },
];
const A4 = [
  { key: '0000000000000000000000000000000000000000000000000000000000000000', nonce: '000000000000000000000000',
    polyKey: '76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7' },
  { key: '0000000000000000000000000000000000000000000000000000000000000001', nonce: '000000000000000000000002',
    polyKey: 'ecfa254f845f647473d3cb140da9e87606cb33066c447b87bc2666dde3fbb739' },
  { key: '1c9240a5eb55d38af333888604f6b5f0473917c1402b80099dca5cbc207075c0', nonce: '000000000000000000000002',
    polyKey: '965e3bc6f9ec7ed9560808f4d229f94b137ff275ca9b3fcbdd59deaad23310ae' },
];
const S232_BLOCK = '10f1e7e4d13b5915500fdd1fa32071c4c7d1f4c733c068030422aa9ac3d46c4e'
      + 'd2826446079faa0914c2d705d98b02a2b5129cd1de164eb9cbd083e8a2503c4e';
const S242_CIPHERTEXT = '6e2e359a2568f98041ba0728dd0d6981e97e7aec1d4360c20a27afccfd9fae0b'
      + 'f91b65c5524733ab8f593dabcd62b3571639d624e65152ab8f530c359f0861d8'
      + '07ca0dbf500d6a6156a38e088a22b65e52bc514d16ccf806818ce91ab7793736'
      + '5af90bbf74a35be6b40b8eedf2785e42874d';
const S252_MSG = '43727970746f6772617068696320466f72756d2052657365617263682047726f'
      + '7570';
const S282_CIPHERTEXT = 'd31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6'
      + '3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36'
      + '92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc'
      + '3ff4def08e4b7a9de576d26586cec64b6116';

const providers: CryptoProvider[] = [createPortableProvider(), createNobleProvider()];

describe('ChaCha20 (RFC 8439)', () => {
  it('2.3.2 block function', () => {
    const out = new Uint8Array(64);
    chacha20Xor(hex('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f'), 0,
      hex('000000090000004a00000000'), 0, 1, new Uint8Array(64), 0, 64, out, 0);
    expect(toHex(out)).toBe(S232_BLOCK);
  });

  it('2.4.2 encryption (sunscreen), also at offsets and in place', () => {
    const key = hex('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f');
    const nonce = hex('000000000000004a00000000');
    const pt = hex(SUNSCREEN);
    expect(toHex(pt)).toBe(toHex(ascii("Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.")));
    const out = new Uint8Array(114);
    chacha20Xor(key, 0, nonce, 0, 1, pt, 0, 114, out, 0);
    expect(toHex(out)).toBe(S242_CIPHERTEXT);
    const buf = new Uint8Array(130);
    buf.set(pt, 7);
    const kbuf = new Uint8Array(40);
    kbuf.set(key, 3);
    const nbuf = new Uint8Array(20);
    nbuf.set(nonce, 5);
    chacha20Xor(kbuf, 3, nbuf, 5, 1, buf, 7, 114, buf, 7);
    expect(toHex(buf.subarray(7, 121))).toBe(S242_CIPHERTEXT);
    expect(buf[6]).toBe(0);
    expect(buf[121]).toBe(0);
  });

  it('A.1 block function vectors #1-#5', () => {
    for (const v of A1) {
      const out = new Uint8Array(64);
      chacha20Xor(hex(v.key), 0, hex(v.nonce), 0, v.counter, new Uint8Array(64), 0, 64, out, 0);
      expect(toHex(out)).toBe(v.keystream);
    }
  });

  it('A.2 encryption vectors #1-#3', () => {
    for (const v of A2) {
      const pt = hex(v.plaintext);
      const out = new Uint8Array(pt.length);
      chacha20Xor(hex(v.key), 0, hex(v.nonce), 0, v.counter, pt, 0, pt.length, out, 0);
      expect(toHex(out)).toBe(v.ciphertext);
    }
  });

  it('A.4 Poly1305 key generation vectors #1-#3', () => {
    for (const v of A4) {
      const out = new Uint8Array(32);
      chacha20Xor(hex(v.key), 0, hex(v.nonce), 0, 0, new Uint8Array(32), 0, 32, out, 0);
      expect(toHex(out)).toBe(v.polyKey);
    }
  });
});

describe('Poly1305 (RFC 8439)', () => {
  it('2.5.2 example', () => {
    const tag = new Uint8Array(16);
    const msg = hex(S252_MSG);
    expect(toHex(msg)).toBe(toHex(ascii('Cryptographic Forum Research Group')));
    poly1305(hex('85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b'), 0, msg, 0, msg.length, tag, 0);
    expect(toHex(tag)).toBe('a8061dc1305136c6c22b8baf0c0127a9');
  });

  it('A.3 vectors #1-#4', () => {
    for (const v of A3) {
      const tag = new Uint8Array(16);
      const msg = hex(v.msg);
      poly1305(hex(v.key), 0, msg, 0, msg.length, tag, 0);
      expect(toHex(tag)).toBe(v.tag);
    }
  });

  it('A.3 edge-case vectors #5-#11 (reduction and carry corners)', () => {
    // R || S as the key, then the data and the expected tag, as listed in the RFC.
    const cases: [string, string, string, string][] = [
      ['02000000000000000000000000000000', '00000000000000000000000000000000',
        'ffffffffffffffffffffffffffffffff', '03000000000000000000000000000000'],
      ['02000000000000000000000000000000', 'ffffffffffffffffffffffffffffffff',
        '02000000000000000000000000000000', '03000000000000000000000000000000'],
      ['01000000000000000000000000000000', '00000000000000000000000000000000',
        'ffffffffffffffffffffffffffffffff' + 'f0ffffffffffffffffffffffffffffff' + '11000000000000000000000000000000',
        '05000000000000000000000000000000'],
      ['01000000000000000000000000000000', '00000000000000000000000000000000',
        'ffffffffffffffffffffffffffffffff' + 'fbfefefefefefefefefefefefefefefe' + '01010101010101010101010101010101',
        '00000000000000000000000000000000'],
      ['02000000000000000000000000000000', '00000000000000000000000000000000',
        'fdffffffffffffffffffffffffffffff', 'faffffffffffffffffffffffffffffff'],
      ['01000000000000000400000000000000', '00000000000000000000000000000000',
        'e33594d7505e43b90000000000000000' + '3394d7505e4379cd0100000000000000' + '00000000000000000000000000000000'
        + '01000000000000000000000000000000',
        '14000000000000005500000000000000'],
      ['01000000000000000400000000000000', '00000000000000000000000000000000',
        'e33594d7505e43b90000000000000000' + '3394d7505e4379cd0100000000000000' + '00000000000000000000000000000000',
        '13000000000000000000000000000000'],
    ];
    for (const c of cases) {
      const tag = new Uint8Array(16);
      const msg = hex(c[2]);
      poly1305(hex(c[0] + c[1]), 0, msg, 0, msg.length, tag, 0);
      expect(toHex(tag)).toBe(c[3]);
    }
  });
});

describe('ChaCha20-Poly1305 AEAD (RFC 8439)', () => {
  const key282 = hex('808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f');
  const nonce282 = hex('070000004041424344454647');
  const ad282 = hex('50515253c0c1c2c3c4c5c6c7');
  const tag282 = '1ae10b594f09e26a7e902ecbd0600691';

  it('2.8.2 seal and open', () => {
    const pt = hex(SUNSCREEN);
    const out = new Uint8Array(130);
    aeadSeal(key282, nonce282, 0, ad282, 0, 12, pt, 0, 114, out, 0);
    expect(toHex(out)).toBe(S282_CIPHERTEXT + tag282);
    const back = new Uint8Array(114);
    expect(aeadOpen(key282, nonce282, 0, ad282, 0, 12, out, 0, 114, back, 0)).toBe(true);
    expect(toHex(back)).toBe(SUNSCREEN);
    // In place at an offset, AD at an offset.
    const buf = new Uint8Array(150);
    buf.set(pt, 9);
    const adBuf = new Uint8Array(20);
    adBuf.set(ad282, 4);
    aeadSeal(key282, nonce282, 0, adBuf, 4, 12, buf, 9, 114, buf, 9);
    expect(toHex(buf.subarray(9, 9 + 130))).toBe(S282_CIPHERTEXT + tag282);
    expect(aeadOpen(key282, nonce282, 0, adBuf, 4, 12, buf, 9, 114, buf, 9)).toBe(true);
    expect(toHex(buf.subarray(9, 9 + 114))).toBe(SUNSCREEN);
  });

  it('A.5 decryption, low level and through both providers', () => {
    const ct = hex(A5.ciphertext);
    const sealed = new Uint8Array(ct.length + 16);
    sealed.set(ct, 0);
    sealed.set(hex(A5.tag), ct.length);
    const out = new Uint8Array(ct.length);
    expect(aeadOpen(hex(A5.key), hex(A5.nonce), 0, hex(A5.ad), 0, 12, sealed, 0, ct.length, out, 0)).toBe(true);
    expect(toHex(out)).toBe(A5.plaintext);
    // The nonce is 00000000 || 0102030405060708, i.e. the WireGuard form with this counter.
    const nonce = hex(A5.nonce);
    expect(toHex(nonce.subarray(0, 4))).toBe('00000000');
    const lo = new DataView(nonce.buffer).getUint32(4, true);
    const hi = new DataView(nonce.buffer).getUint32(8, true);
    for (const p of providers) {
      const o = new Uint8Array(ct.length);
      expect(p.open(hex(A5.key), lo, hi, hex(A5.ad), 0, 12, sealed, 0, ct.length, o, 0)).toBe(true);
      expect(toHex(o)).toBe(A5.plaintext);
      const again = new Uint8Array(ct.length + 16);
      p.seal(hex(A5.key), lo, hi, hex(A5.ad), 0, 12, o, 0, ct.length, again, 0);
      expect(toHex(again)).toBe(toHex(sealed));
      const bad = sealed.slice();
      bad[ct.length + 3] ^= 0x10;
      expect(p.open(hex(A5.key), lo, hi, hex(A5.ad), 0, 12, bad, 0, ct.length, o, 0)).toBe(false);
    }
  });
});

describe('XChaCha20 (draft-irtf-cfrg-xchacha-03)', () => {
  it('2.2.1 HChaCha20', () => {
    const out = new Uint8Array(32);
    hchacha20(hex('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f'), 0,
      hex('000000090000004a0000000031415927'), 0, out, 0);
    expect(toHex(out)).toBe('82413b4227b27bfed30e42508a877d73a0f9e4d58a74a853c12ec41326d3ecdc');
  });

  it('A.3.1 XChaCha20-Poly1305, low level and through both providers', () => {
    const key = hex('808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f');
    const nonce = hex('404142434445464748494a4b4c4d4e4f5051525354555657');
    const ad = hex('50515253c0c1c2c3c4c5c6c7');
    const pt = hex(SUNSCREEN);
    const expected = 'bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb'
      + '731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452'
      + '2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9'
      + '21f9664c97637da9768812f615c68b13b52e'
      + 'c0875924c1c7987947deafd8780acf49';
    const out = new Uint8Array(130);
    xaeadSeal(key, nonce, 0, ad, 0, 12, pt, 0, 114, out, 0);
    expect(toHex(out)).toBe(expected);
    const back = new Uint8Array(114);
    expect(xaeadOpen(key, nonce, 0, ad, 0, 12, out, 0, 114, back, 0)).toBe(true);
    expect(toHex(back)).toBe(SUNSCREEN);
    for (const p of providers) {
      const o = new Uint8Array(140);
      const nbuf = new Uint8Array(30);
      nbuf.set(nonce, 3);
      p.xseal(key, nbuf, 3, ad, 0, 12, pt, 0, 114, o, 5);
      expect(toHex(o.subarray(5, 135))).toBe(expected);
      const b = new Uint8Array(114);
      expect(p.xopen(key, nbuf, 3, ad, 0, 12, o, 5, 114, b, 0)).toBe(true);
      expect(toHex(b)).toBe(SUNSCREEN);
      o[5] ^= 1;
      expect(p.xopen(key, nbuf, 3, ad, 0, 12, o, 5, 114, b, 0)).toBe(false);
    }
  });
});

describe('BLAKE2s (RFC 7693, BLAKE2 KAT)', () => {
  function digest(p: CryptoProvider, outLen: number, key: Uint8Array | null, msg: Uint8Array): string {
    p.hashInit(outLen, key, key ? key.length : 0);
    p.hashUpdate(msg, 0, msg.length);
    const out = new Uint8Array(outLen);
    p.hashFinal(out, 0);
    return toHex(out);
  }

  it('RFC 7693 appendix B: BLAKE2s-256("abc"), and the empty message', () => {
    for (const p of providers) {
      expect(digest(p, 32, null, ascii('abc'))).toBe('508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982');
      expect(digest(p, 32, null, new Uint8Array(0))).toBe('69217a3079908094e11121d042354a7c1f55b6482ca1a51e1b250dfd1ed0eef9');
    }
  });

  it('blake2s-kat keyed entries (key 00..1f, input 00..n-1)', () => {
    const kat = [
      '48a8997da407876b3d79c0d92325ad3b89cbb754d86ab71aee047ad345fd2c49',
      '40d15fee7c328830166ac3f918650f807e7e01e177258cdc0a39b11f598066f1',
      '6bb71300644cd3991b26ccd4d274acd1adeab8b1d7914546c1198bbe9fc9d803',
      '1d220dbe2ee134661fdf6d9e74b41704710556f2f6e5a091b227697445dbea6b',
      'f6c3fbadb4cc687a0064a5be6e791bec63b868ad62fba61b3757ef9ca52e05b2',
    ];
    const key = new Uint8Array(32);
    for (let i = 0; i < 32; i++) key[i] = i;
    for (const p of providers) {
      for (let n = 0; n < kat.length; n++) {
        const msg = new Uint8Array(n);
        for (let i = 0; i < n; i++) msg[i] = i;
        expect(digest(p, 32, key, msg)).toBe(kat[n]);
      }
    }
  });

  it('streams in pieces, supports short digests, and re-init resets', () => {
    const h = new Blake2s();
    const msg = new Uint8Array(200);
    for (let i = 0; i < msg.length; i++) msg[i] = (i * 7) & 255;
    const noble = createNobleProvider();
    for (const outLen of [1, 16, 31, 32]) {
      const want = digest(noble, outLen, ascii('k'), msg);
      h.init(outLen, ascii('k'), 1);
      h.update(msg, 0, 63);
      h.update(msg, 63, 1);
      h.update(msg, 64, 0);
      h.update(msg, 64, 136);
      const out = new Uint8Array(outLen + 2);
      h.final(out, 2);
      expect(toHex(out.subarray(2))).toBe(want);
    }
    h.init(32, null, 0);
    h.update(ascii('abc'), 0, 3);
    const out = new Uint8Array(32);
    h.final(out, 0);
    expect(toHex(out)).toBe('508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982');
  });

  it('providers keep independent hash state', () => {
    const a = createPortableProvider();
    const b = createPortableProvider();
    a.hashInit(32, null, 0);
    b.hashInit(32, null, 0);
    a.hashUpdate(ascii('ab'), 0, 2);
    b.hashUpdate(ascii('xyz'), 0, 3);
    a.hashUpdate(ascii('c'), 0, 1);
    const out = new Uint8Array(32);
    a.hashFinal(out, 0);
    expect(toHex(out)).toBe('508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982');
  });
});


type X = { x25519(out: Uint8Array, s: Uint8Array, p: Uint8Array): boolean; x25519Base(out: Uint8Array, s: Uint8Array): void };

function x25519Suite(name: string, getImpl: () => Promise<X>, iterations: number): void {
  describe(name, () => {
    it('5.2 scalar multiplication vectors', async () => {
      const impl = await getImpl();
      for (const v of [RFC7748.v1, RFC7748.v2]) {
        const out = new Uint8Array(32);
        expect(impl.x25519(out, hex(v[0]), hex(v[1]))).toBe(true);
        expect(toHex(out)).toBe(v[2]);
      }
    });

    it(`5.2 iterated: 1 and ${iterations} iterations`, async () => {
      const impl = await getImpl();
      let k = new Uint8Array(32);
      let u = new Uint8Array(32);
      k[0] = 9;
      u[0] = 9;
      for (let i = 1; i <= iterations; i++) {
        const r = new Uint8Array(32);
        impl.x25519(r, k, u);
        u = k;
        k = r;
        if (i === 1) expect(toHex(k)).toBe(RFC7748.iter1);
      }
      if (iterations === 1000) expect(toHex(k)).toBe(RFC7748.iter1000);
    });

    it('6.1 Diffie-Hellman (Alice and Bob)', async () => {
      const impl = await getImpl();
      const aPub = new Uint8Array(32), bPub = new Uint8Array(32), s1 = new Uint8Array(32), s2 = new Uint8Array(32);
      impl.x25519Base(aPub, hex(RFC7748.alicePriv));
      impl.x25519Base(bPub, hex(RFC7748.bobPriv));
      expect(toHex(aPub)).toBe(RFC7748.alicePub);
      expect(toHex(bPub)).toBe(RFC7748.bobPub);
      expect(impl.x25519(s1, hex(RFC7748.alicePriv), bPub)).toBe(true);
      expect(impl.x25519(s2, hex(RFC7748.bobPriv), aPub)).toBe(true);
      expect(toHex(s1)).toBe(RFC7748.shared);
      expect(toHex(s2)).toBe(RFC7748.shared);
    });

    it('low-order points give all zeros and false', async () => {
      const impl = await getImpl();
      for (const p of LOW_ORDER) {
        const out = new Uint8Array(32).fill(0xaa);
        expect(impl.x25519(out, hex(RFC7748.alicePriv), hex(p))).toBe(false);
        expect(toHex(out)).toBe('00'.repeat(32));
      }
    });

    it('does not modify its inputs', async () => {
      const impl = await getImpl();
      const s = hex(RFC7748.v2[0]), p = hex(RFC7748.v2[1]);
      impl.x25519(new Uint8Array(32), s, p);
      expect(toHex(s)).toBe(RFC7748.v2[0]);
      expect(toHex(p)).toBe(RFC7748.v2[1]);
    });
  });
}

x25519Suite('X25519 (RFC 7748), portable', async () => ({ x25519, x25519Base }), 1000);
x25519Suite('X25519 (RFC 7748), noble provider', async () => createNobleProvider(), 1);

describe('X25519 Espruino path (E.convolve shimmed on Node)', () => {
  afterEach(() => {
    delete (globalThis as { E?: unknown }).E;
    vi.resetModules();
  });
  // Same semantics as Espruino's E.convolve: sum(a[i] * b[(i + offset) % b.length]).
  function convolve(a: Float64Array, b: Float64Array, offset: number): number {
    let v = 0;
    for (let i = 0; i < a.length; i++) v += a[i] * b[(i + offset) % b.length];
    return v;
  }
  let calls = 0;
  const load = async (): Promise<X> => {
    vi.resetModules();
    (globalThis as { E?: unknown }).E = {
      convolve: (a: Float64Array, b: Float64Array, o: number) => {
        calls++;
        return convolve(a, b, o);
      },
    };
    return (await import('../src/crypto/x25519.js')) as X;
  };
  x25519Suite('shimmed', load, 20);
  it('actually used E.convolve', () => {
    expect(calls).toBeGreaterThan(1000);
  });
});
