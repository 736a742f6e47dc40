/**
 * Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s, the handshake WireGuard is built on (whitepaper 5.4),
 * written against caller-owned buffers. The prologue and payloads are parameters so the same code
 * passes the Cacophony test vectors and serves WireGuard (prologue = IDENTIFIER, payload A = TAI64N
 * timestamp, payload B = empty).
 *
 * The four message steps are split where WireGuard needs to act between them: the responder must
 * learn who the initiator is (decrypted static key) before it can finish reading message A with
 * that peer's precomputed static-static DH and, later, its preshared key.
 */
import type { CryptoProvider } from './crypto/provider.js';
import { CONSTRUCTION, KEY_SIZE, TAG_SIZE } from './constants.js';
import { ascii, isZero } from './bytes.js';

/** Per-handshake secret state. All buffers are 32 bytes, allocated once and reused. */
export class HandshakeState {
  /** Chaining key. */
  ck: Uint8Array;
  /** Handshake hash. */
  h: Uint8Array;
  /** Our ephemeral private and public key. */
  ePriv: Uint8Array;
  ePub: Uint8Array;
  /** The remote party's ephemeral public key. */
  re: Uint8Array;
  /** Current cipher key (transient). */
  k: Uint8Array;
  constructor() {
    const mem = new Uint8Array(6 * KEY_SIZE);
    this.ck = mem.subarray(0, 32);
    this.h = mem.subarray(32, 64);
    this.ePriv = mem.subarray(64, 96);
    this.ePub = mem.subarray(96, 128);
    this.re = mem.subarray(128, 160);
    this.k = mem.subarray(160, 192);
  }
  /** Wipes every secret. */
  clear(): void {
    this.ck.fill(0);
    this.h.fill(0);
    this.ePriv.fill(0);
    this.ePub.fill(0);
    this.re.fill(0);
    this.k.fill(0);
  }
}

/**
 * The symmetric half of Noise over one crypto provider: HASH, HMAC, the whitepaper's KDF1/2/3,
 * MixHash, MixKey, EncryptAndHash, DecryptAndHash. Holds its own scratch so it allocates nothing
 * after construction.
 */
export class Noise {
  readonly c: CryptoProvider;
  private pad: Uint8Array;
  private inner: Uint8Array;
  private t0: Uint8Array;
  private t1: Uint8Array;
  private one: Uint8Array;
  private dh: Uint8Array;
  /** HASH(CONSTRUCTION): the initial chaining key (and initial hash before the prologue). */
  readonly initialCk: Uint8Array;

  constructor(c: CryptoProvider) {
    this.c = c;
    this.pad = new Uint8Array(64);
    this.inner = new Uint8Array(32);
    this.t0 = new Uint8Array(32);
    this.t1 = new Uint8Array(33);
    this.one = new Uint8Array(1);
    this.dh = new Uint8Array(32);
    this.initialCk = new Uint8Array(32);
    const name = ascii(CONSTRUCTION);
    this.hash(this.initialCk, 0, name, 0, name.length, null, 0, 0);
  }

  /** out = BLAKE2s-256(a || b). `out` may alias `a` or `b`: inputs are consumed before output. */
  hash(out: Uint8Array, outOff: number, a: Uint8Array, aOff: number, aLen: number,
    b: Uint8Array | null, bOff: number, bLen: number): void {
    const c = this.c;
    c.hashInit(32, null, 0);
    c.hashUpdate(a, aOff, aLen);
    if (b !== null && bLen > 0) c.hashUpdate(b, bOff, bLen);
    c.hashFinal(out, outOff);
  }

  /** out[0,outLen) = keyed BLAKE2s (the whitepaper's MAC) of data with a 16..32-byte key. */
  mac(out: Uint8Array, outOff: number, key: Uint8Array, keyLen: number,
    data: Uint8Array, off: number, len: number): void {
    const c = this.c;
    c.hashInit(16, key, keyLen);
    c.hashUpdate(data, off, len);
    c.hashFinal(out, outOff);
  }

  /** out = HMAC-BLAKE2s(key[0,keyLen), a || b), keyLen <= 64. out may alias key, a or b. */
  hmac(out: Uint8Array, outOff: number, key: Uint8Array, keyLen: number,
    a: Uint8Array, aOff: number, aLen: number, b: Uint8Array | null, bOff: number, bLen: number): void {
    const c = this.c;
    const pad = this.pad;
    for (let i = 0; i < keyLen; i++) pad[i] = key[i] ^ 0x36;
    for (let i = keyLen; i < 64; i++) pad[i] = 0x36;
    c.hashInit(32, null, 0);
    c.hashUpdate(pad, 0, 64);
    if (aLen > 0) c.hashUpdate(a, aOff, aLen);
    if (b !== null && bLen > 0) c.hashUpdate(b, bOff, bLen);
    c.hashFinal(this.inner, 0);
    for (let i = 0; i < 64; i++) pad[i] ^= 0x36 ^ 0x5c;
    c.hashInit(32, null, 0);
    c.hashUpdate(pad, 0, 64);
    c.hashUpdate(this.inner, 0, 32);
    c.hashFinal(out, outOff);
  }

  /**
   * The whitepaper's KDFn(key, input) for n = 1..3: T0 = HMAC(key, input), Ti = HMAC(T0, Ti-1 || i).
   * Writes T1 to o1, T2 to o2, T3 to o3 (each 32 bytes at offset 0; null to skip).
   * `key` may be the same array as o1 (the usual chaining-key update).
   */
  kdf(o1: Uint8Array, o2: Uint8Array | null, o3: Uint8Array | null, key: Uint8Array,
    input: Uint8Array | null, inOff: number, inLen: number): void {
    this.kdfKeyed(o1, o2, o3, key, 32, input, inOff, inLen);
  }

  /** KDFn with a key of any length up to 64 bytes (the general form; the protocol uses 32). */
  kdfKeyed(o1: Uint8Array, o2: Uint8Array | null, o3: Uint8Array | null, key: Uint8Array, keyLen: number,
    input: Uint8Array | null, inOff: number, inLen: number): void {
    const t0 = this.t0;
    const t1 = this.t1;
    const one = this.one;
    this.hmac(t0, 0, key, keyLen, input === null ? one : input, inOff, input === null ? 0 : inLen, null, 0, 0);
    one[0] = 1;
    this.hmac(t1, 0, t0, 32, one, 0, 1, null, 0, 0);
    if (o2 !== null) {
      t1[32] = 2;
      this.hmac(o2, 0, t0, 32, t1, 0, 33, null, 0, 0);
      if (o3 !== null) {
        // T3 = HMAC(T0, T2 || 3); T2 is already in o2.
        one[0] = 3;
        this.hmac(o3, 0, t0, 32, o2, 0, 32, one, 0, 1);
      }
    }
    for (let i = 0; i < 32; i++) o1[i] = t1[i];
    t0.fill(0);
    t1.fill(0);
  }

  /** h = HASH(h || data). */
  mixHash(hs: HandshakeState, data: Uint8Array, off: number, len: number): void {
    this.hash(hs.h, 0, hs.h, 0, 32, data, off, len);
  }

  /** (ck, k) = KDF2(ck, data): MixKey of Noise. */
  mixKey(hs: HandshakeState, data: Uint8Array, off: number, len: number): void {
    this.kdf(hs.ck, hs.k, null, hs.ck, data, off, len);
  }

  /** ck = KDF1(ck, data): the ephemeral-key MixKey of PSK handshakes (no cipher key). */
  mixKey1(hs: HandshakeState, data: Uint8Array, off: number, len: number): void {
    this.kdf(hs.ck, null, null, hs.ck, data, off, len);
  }

  /**
   * MixKey(DH(priv, pub)). Returns false if the shared secret is all zeros (low-order point),
   * which WireGuard rejects.
   */
  mixDh(hs: HandshakeState, priv: Uint8Array, pub: Uint8Array): boolean {
    const ok = this.c.x25519(this.dh, priv, pub);
    if (ok) this.mixKey(hs, this.dh, 0, 32);
    this.dh.fill(0);
    return ok;
  }

  /** MixKey with an already computed DH result (precomputed static-static, or from a native module). */
  mixPrecomputed(hs: HandshakeState, shared: Uint8Array): boolean {
    if (isZero(shared, 0, 32)) return false;
    this.mixKey(hs, shared, 0, 32);
    return true;
  }

  /** EncryptAndHash with nonce 0 (each WireGuard handshake key encrypts once): dst gets len+16 bytes. */
  encryptAndHash(hs: HandshakeState, src: Uint8Array, srcOff: number, len: number,
    dst: Uint8Array, dstOff: number): void {
    this.c.seal(hs.k, 0, 0, hs.h, 0, 32, src, srcOff, len, dst, dstOff);
    this.mixHash(hs, dst, dstOff, len + TAG_SIZE);
  }

  /**
   * DecryptAndHash with nonce 0: src holds len bytes of ciphertext plus a tag; plaintext to dst.
   * `dst` must not overlap `src` (the hash needs the ciphertext afterwards).
   */
  decryptAndHash(hs: HandshakeState, src: Uint8Array, srcOff: number, len: number,
    dst: Uint8Array, dstOff: number): boolean {
    if (!this.c.open(hs.k, 0, 0, hs.h, 0, 32, src, srcOff, len, dst, dstOff)) return false;
    this.mixHash(hs, src, srcOff, len + TAG_SIZE);
    return true;
  }

  /** Initialises a handshake: ck = h = HASH(CONSTRUCTION); h = HASH(h || prologue); h = HASH(h || responder static). */
  start(hs: HandshakeState, prologue: Uint8Array, responderStatic: Uint8Array): void {
    hs.ck.set(this.initialCk);
    hs.h.set(this.initialCk);
    this.mixHash(hs, prologue, 0, prologue.length);
    this.mixHash(hs, responderStatic, 0, 32);
  }

  /** The `e` token: emit our ephemeral public key (already in hs.ePub) to out. */
  writeE(hs: HandshakeState, out: Uint8Array, outOff: number): void {
    for (let i = 0; i < 32; i++) out[outOff + i] = hs.ePub[i];
    this.mixHash(hs, hs.ePub, 0, 32);
    this.mixKey1(hs, hs.ePub, 0, 32);
  }

  /** The `e` token on the receiving side: the remote ephemeral key is read into hs.re. */
  readE(hs: HandshakeState, msg: Uint8Array, off: number): void {
    for (let i = 0; i < 32; i++) hs.re[i] = msg[off + i];
    this.mixHash(hs, hs.re, 0, 32);
    this.mixKey1(hs, hs.re, 0, 32);
  }

  /** The `psk` token: (ck, τ, k) = KDF3(ck, psk); h = HASH(h || τ). */
  mixPsk(hs: HandshakeState, psk: Uint8Array): void {
    const tau = this.dh;
    this.kdf(hs.ck, tau, hs.k, hs.ck, psk, 0, 32);
    this.mixHash(hs, tau, 0, 32);
    tau.fill(0);
  }

  /** Split(): the two transport keys. The initiator sends with k1, the responder with k2. */
  split(hs: HandshakeState, k1: Uint8Array, k2: Uint8Array): void {
    this.kdf(k1, k2, null, hs.ck, null, 0, 0);
  }

  // ----- Message A:  -> e, es, s, ss, {payload} -----

  /**
   * Initiator writes message A at out[outOff]: e (32) | enc(s) (48) | enc(payload) (len+16).
   * `es` and `ss` may be precomputed DH results (null to compute them here). Returns false on a
   * low-order key.
   */
  writeA(hs: HandshakeState, sPriv: Uint8Array, sPub: Uint8Array, rs: Uint8Array,
    es: Uint8Array | null, ss: Uint8Array | null,
    payload: Uint8Array, pOff: number, pLen: number, out: Uint8Array, outOff: number): boolean {
    this.writeE(hs, out, outOff);
    if (!(es === null ? this.mixDh(hs, hs.ePriv, rs) : this.mixPrecomputed(hs, es))) return false;
    this.encryptAndHash(hs, sPub, 0, 32, out, outOff + 32);
    if (!(ss === null ? this.mixDh(hs, sPriv, rs) : this.mixPrecomputed(hs, ss))) return false;
    this.encryptAndHash(hs, payload, pOff, pLen, out, outOff + 80);
    return true;
  }

  /**
   * Responder, first half of message A: e, es, and the initiator's static key decrypted into
   * `rsOut`. The caller then finds the peer by that key and calls `readA2`.
   */
  readA1(hs: HandshakeState, sPriv: Uint8Array, msg: Uint8Array, off: number, rsOut: Uint8Array): boolean {
    this.readE(hs, msg, off);
    if (!this.mixDh(hs, sPriv, hs.re)) return false;
    return this.decryptAndHash(hs, msg, off + 32, 32, rsOut, 0);
  }

  /** Responder, second half of message A: ss (precomputed or computed), then the payload. */
  readA2(hs: HandshakeState, sPriv: Uint8Array, rs: Uint8Array, ss: Uint8Array | null,
    msg: Uint8Array, off: number, pLen: number, payloadOut: Uint8Array, pOutOff: number): boolean {
    if (!(ss === null ? this.mixDh(hs, sPriv, rs) : this.mixPrecomputed(hs, ss))) return false;
    return this.decryptAndHash(hs, msg, off + 80, pLen, payloadOut, pOutOff);
  }

  // ----- Message B:  <- e, ee, se, psk, {payload} -----

  /** Responder writes message B at out[outOff]: e (32) | enc(payload) (len+16). */
  writeB(hs: HandshakeState, rs: Uint8Array, psk: Uint8Array,
    payload: Uint8Array | null, pOff: number, pLen: number, out: Uint8Array, outOff: number): boolean {
    this.writeE(hs, out, outOff);
    if (!this.mixDh(hs, hs.ePriv, hs.re)) return false;
    if (!this.mixDh(hs, hs.ePriv, rs)) return false;
    this.mixPsk(hs, psk);
    this.encryptAndHash(hs, payload === null ? out : payload, pOff, pLen, out, outOff + 32);
    return true;
  }

  /** Initiator reads message B. */
  readB(hs: HandshakeState, sPriv: Uint8Array, psk: Uint8Array,
    msg: Uint8Array, off: number, pLen: number, payloadOut: Uint8Array, pOutOff: number): boolean {
    this.readE(hs, msg, off);
    if (!this.mixDh(hs, hs.ePriv, hs.re)) return false;
    if (!this.mixDh(hs, sPriv, hs.re)) return false;
    this.mixPsk(hs, psk);
    return this.decryptAndHash(hs, msg, off + 32, pLen, payloadOut, pOutOff);
  }
}
