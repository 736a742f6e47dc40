/**
 * The device engine: WireGuard for exactly one peer, in the initiator role only, written for a
 * JavaScript interpreter with a few thousand variables of RAM (Espruino).
 *
 * Same protocol as `Engine` (whitepaper §5–6: Noise_IKpsk2 initiation and response, cookie
 * replies, transport data with a replay window, every timer), but shaped for the interpreter's
 * costs rather than for many peers: on Espruino every function object costs ~6 variables and
 * every parameter one, even when the code runs from flash, and every small typed array or object
 * field costs more. So:
 *  - few functions (this class has 24 with its constructor; `Engine` with its helpers ~290) and the cipher
 *    suite of `crypto/suite.ts`; the handshake's code, primitives and scratch exist only while a
 *    handshake step runs (`handshake`), the staging buffer only while packets wait;
 *  - state at fixed offsets in one byte array (`B`: keys, hashes, handshake) and one number array
 *    (`N`: timers, session numbers, counters), with named offsets the build inlines;
 *  - initiator only: a device never computes a responder's four X25519 inline; it answers a
 *    peer's initiation with one of its own (the caller decides, see `receive`). No index table,
 *    cookie checker, rate limiter or AllowedIPs trie: the one peer's sessions are found by
 *    comparing indexes, its AllowedIPs (IPv4) by a linear scan.
 *
 * The handshake's X25519 work that does not depend on the response is done ahead:
 * DH(static, peer static) once at construction, the next ephemeral key and DH(ephemeral, peer
 * static) by `precompute()` while idle. Time and randomness are injected; nothing here does I/O.
 * Tested differentially against `Engine` as the responder (test/initiator.test.ts) and against
 * wireguard-go through the device build (packages/espruino).
 */
import {
  COOKIE_REPLY_SIZE, COOKIE_SECRET_LATENCY, COOKIE_SECRET_MAX_AGE, CONSTRUCTION, IDENTIFIER, INITIATION_SIZE,
  KEEPALIVE_TIMEOUT, LABEL_COOKIE, LABEL_MAC1, MAX_TIMER_HANDSHAKES, REJECT_AFTER_MESSAGES, REJECT_AFTER_TIME,
  REKEY_AFTER_MESSAGES, REKEY_AFTER_TIME, REKEY_TIMEOUT, REKEY_TIMEOUT_JITTER_MAX, RESPONSE_SIZE, TRANSPORT_MIN_SIZE,
} from './constants.js';
import { compareBE, equalCT, isZero } from './bytes.js';
import { Drop } from './drops.js';
import { wgError } from './errors.js';
import { ip4Info, ip4Parse, ip4Udp } from './ip4.js';
import { PROBE_SIZE, PROBE_REPLY, parseProbe, probeNonce, writeProbeRequest } from './probe.js';
import { ReplayPool } from './replay.js';
import { TimestampGuard } from './tai64n.js';
import {
  adaptiveKeepalive, type AdaptiveKeepalive, KA_ECHO, KA_HANDSHAKE, KA_KEEPALIVE, KA_NONE, KA_PROBE, KA_REKEY, KA_REOPEN,
  type AdaptiveKeepaliveOptions, type AdaptiveStatus,
} from './keepalive.js';
import { aead, handshakeSuite, type HandshakeSuite } from './crypto/suite.js';

/**
 * The primitives the initiator needs (crypto/suite.ts has the JS ones; a board's native module
 * can replace any of them). Buffers are whole arrays (offset 0) unless an offset is passed.
 */
export interface Suite {
  /** ChaCha20-Poly1305 in place (see crypto/suite.ts `aead`). */
  aead(key: Uint8Array, ctrLo: number, ctrHi: number, ad: Uint8Array | null, adLen: number,
    buf: Uint8Array, off: number, len: number, open: boolean): boolean;
  /**
   * Creates X25519, HChaCha20 and BLAKE2s for one handshake step (see `handshakeSuite`): the
   * initiator calls it when a step starts and drops the result when it ends.
   */
  handshake(): HandshakeSuite;
}

/** The suite in JS (crypto/suite.ts). */
export function jsSuite(): Suite {
  return { aead: aead, handshake: handshakeSuite };
}

/** Where packets and events go (the device implements it). */
export interface InitiatorSink {
  /** A datagram for the peer's endpoint ("a.b.c.d:port"); buf is reused after the call. */
  send(buf: Uint8Array, off: number, len: number, endpoint: string): void;
  /** A decrypted inner IPv4 packet from the peer, source address checked against AllowedIPs. */
  deliver(buf: Uint8Array, off: number, len: number): void;
  /** EVENT_* below. */
  event?(type: number): void;
}

/** Same numbers as `Engine`'s events. */
export const EVENT_COMPLETE = 1;
export const EVENT_GAVE_UP = 3;
export const EVENT_INITIATED = 4;

export interface InitiatorConfig {
  privateKey: Uint8Array;
  peerPublicKey: Uint8Array;
  presharedKey?: Uint8Array | null;
  /** IPv4 prefixes ("10.0.0.0/24") the peer may send from and we may send to; IPv6 ones are ignored. */
  allowedIPs: string[];
  /** Fills buf[off, off+len) with random bytes. */
  random: (buf: Uint8Array, off: number, len: number) => void;
  /** Wall clock (ms since the epoch) for TAI64N timestamps. */
  wallTime: () => number;
  /** Largest inner packet (default 1420). */
  mtu?: number;
  suite?: Suite;
}

// B: every key, hash and handshake value at a fixed offset (32 bytes each unless noted).
const SPRIV = 0, SPUB = 32, RPUB = 64, PSK = 96;
/** DH(static, peer static), computed once. */
const SS = 128;
/** HASH(LABEL_MAC1 || peer static): mac1 key of what we send; of what we receive; HASH(LABEL_COOKIE || peer static). */
const MAC1K = 160, MYMAC1K = 192, COOKIEK = 224;
/** The handshake's start: ck = HASH(CONSTRUCTION), h = HASH(HASH(ck || IDENTIFIER) || peer static). */
const H0 = 256, CK0 = 288;
/** Precomputed: the next ephemeral private and public key, DH(ephemeral, peer static). */
const PEPRIV = 320, PEPUB = 352, PES = 384;
/** The handshake in flight: ephemeral private key, chaining key, hash. */
const EPRIV = 416, CK = 448, H = 480;
/** mac1 of the last initiation (16) and the cookie (16). */
const MAC1 = 512, COOKIE = 528;
/** Session keys: slot k's send key at KEYS + 64k, receive key 32 bytes further. */
const KEYS = 544;
const B_SIZE = KEYS + 128;
// A handshake step's scratch, after B in the step's working copy (see `handshake`):
/** KDF scratch: t0; the second and third outputs. */
const T0 = B_SIZE, K1 = B_SIZE + 32, K2 = B_SIZE + 64;
/** The response's ephemeral; its chaining key and hash, worked on aside (a forgery spoils nothing). */
const ER = B_SIZE + 96, CK2 = B_SIZE + 128, H2 = B_SIZE + 160;
/** HMAC's 64-byte key pad and a counter byte. */
const PAD = B_SIZE + 192;
const STEP_SIZE = PAD + 65;

// N: timers (monotonic ms, Infinity = off), then per session slot (k = 0, 1) 4 numbers.
const T_RETRANSMIT = 0, T_SEND_KEEPALIVE = 1, T_NEW_HANDSHAKE = 2, T_ZERO = 3, T_PERSISTENT = 4, T_ADAPTIVE = 5;
const TIMERS = 6;
/** Slot k: created (ms; -Infinity = empty), send counter, local index, remote index. */
const S_CREATED = 6, S_COUNTER = 7, S_LOCAL = 8, S_REMOTE = 9;
/** Last initiation sent (ms), its local index, when the cookie came, last handshake completed. */
const LAST_SENT = 14, HS_INDEX = 15, COOKIE_AT = 16, LAST_HS = 17;
/** Bytes received and sent (all datagrams). */
const RX = 18, TX = 19;
/** Lengths of the two staging slots (-1 = empty). */
const STAGE_LEN = 20;
const N_SIZE = 22;

/** Packets staged while no session is usable. */
const STAGED = 2;
/** Drop reasons (drops.ts numbering). */
export const INITIATOR_DROPS = 24;
const MAX_ALLOWED = 8;

const HS_NONE = 0, HS_SENT = 1;

/** Handshake steps (`handshake`). */
const OP_PRECOMPUTE = 0, OP_INITIATE = 1, OP_RESPONSE = 2, OP_COOKIE = 3;

/** The initiator (see the file comment). One instance per peer; the device has one. */
export class Initiator {
  declare private s: Suite;
  /** The handshake's primitives while a handshake step runs, else null (see `handshake`). */
  declare h: HandshakeSuite | null;
  /** Our public key (a view of B). */
  declare publicKey: Uint8Array;
  declare private sink: InitiatorSink;
  declare private random: (buf: Uint8Array, off: number, len: number) => void;
  declare wallTime: () => number;
  declare mtu: number;
  declare B: Uint8Array;
  declare N: Float64Array;
  /** The session keys (slot 0 send, receive, slot 1 send, receive) as the suite takes them: views of B. */
  declare private v: Uint8Array[];
  /** Transmit buffer: header, up to mtu bytes, tag. */
  declare tx: Uint8Array;
  /** Packets waiting for a handshake: STAGED slots of mtu bytes, allocated while any wait. */
  declare stage: Uint8Array | null;
  declare private replay: ReplayPool;
  declare tai: TimestampGuard;
  /** AllowedIPs: 5 bytes each (address, prefix length); count. */
  declare private allow: Uint8Array;
  declare nAllow: number;
  /** The peer's endpoint ("a.b.c.d:port"); null until set. Authenticated packets move it. */
  declare endpoint: string | null;
  /** Drop counters by reason (drops.ts). */
  declare drops: Uint32Array;
  /** Session slots in use as current and previous (-1 = none). */
  declare cur: number;
  declare prev: number;
  declare private hs: number;
  declare private attempts: number;
  declare hasPre: boolean;
  declare private needKa: boolean;
  declare private lastMinute: boolean;
  declare private asleep: boolean;
  declare private sleepAfter: boolean;
  /** Persistent keepalive, s (0 = off); adaptive keepalive (null = off) and its echo probe packet. */
  declare private pk: number;
  declare private ka: AdaptiveKeepalive | null;
  /** The adaptive keepalive's class, defined on first use (keepalive.ts: its code costs RAM only then). */
  declare private kaClass: ReturnType<typeof adaptiveKeepalive> | null;
  declare private kaPkt: Uint8Array | null;
  /** Echo probes: our tunnel address, then the responder's (4 bytes each); its UDP port. */
  declare private kaSrc: Uint8Array;
  declare private kaDst: Uint8Array;
  declare private kaPort: number;

  constructor(cfg: InitiatorConfig, sink: InitiatorSink) {
    if (!cfg.privateKey || cfg.privateKey.length !== 32 || !cfg.peerPublicKey || cfg.peerPublicKey.length !== 32) {
      throw wgError('EINVAL', 'private key and peer public key must be 32 bytes');
    }
    const psk = cfg.presharedKey;
    if (psk && psk.length !== 32) throw wgError('EINVAL', 'preshared key must be 32 bytes');
    const mtu = cfg.mtu === undefined ? 1420 : cfg.mtu;
    if (!(mtu >= 576 && mtu <= 65535)) throw wgError('EINVAL', 'mtu must be 576..65535, got ' + mtu);
    const s = cfg.suite || jsSuite();
    this.s = s;
    this.sink = sink;
    this.random = cfg.random;
    this.wallTime = cfg.wallTime;
    this.mtu = mtu;
    const B = new Uint8Array(B_SIZE);
    this.B = B;
    this.N = new Float64Array(N_SIZE);
    this.v = [B.subarray(KEYS, KEYS + 32), B.subarray(KEYS + 32, KEYS + 64), B.subarray(KEYS + 64, KEYS + 96), B.subarray(KEYS + 96, KEYS + 128)];
    this.tx = new Uint8Array(TRANSPORT_MIN_SIZE + mtu);
    this.stage = null;
    this.replay = new ReplayPool(2, 8);
    this.tai = new TimestampGuard();
    this.drops = new Uint32Array(INITIATOR_DROPS);
    this.allow = new Uint8Array(MAX_ALLOWED * 5);
    this.nAllow = 0;
    const list = cfg.allowedIPs || [];
    for (let i = 0; i < list.length; i++) {
      const c = String(list[i]).split('/');
      if (c[0]!.indexOf(':') >= 0) continue;
      const q = c[0]!.split('.');
      const bits = c.length === 2 ? parseInt(c[1]!, 10) : 32;
      let ok = q.length === 4 && c.length <= 2 && bits >= 0 && bits <= 32 && (c.length === 1 || String(bits) === c[1]) && this.nAllow < MAX_ALLOWED;
      for (let j = 0; j < 4 && ok; j++) {
        const x = parseInt(q[j]!, 10);
        ok = x >= 0 && x <= 255 && String(x) === q[j];
        this.allow[this.nAllow * 5 + j] = x;
      }
      if (!ok) throw wgError('EINVAL', 'AllowedIPs: bad or too many IPv4 prefixes at "' + list[i] + '" (at most ' + MAX_ALLOWED + ')');
      this.allow[this.nAllow * 5 + 4] = bits;
      this.nAllow++;
    }
    this.endpoint = null;
    B.set(cfg.privateKey, SPRIV);
    B.set(cfg.peerPublicKey, RPUB);
    if (psk) B.set(psk, PSK);
    const h = s.handshake();
    const sk = B.subarray(SPRIV, SPRIV + 32);
    this.publicKey = B.subarray(SPUB, SPUB + 32);
    h.x25519(this.publicKey, sk, null);
    if (!h.x25519(B.subarray(SS, SS + 32), sk, B.subarray(RPUB, RPUB + 32))) throw wgError('EINVAL', 'the peer public key is a low-order point');
    // Handshake start and the mac1 / cookie keys (hash of a label or name and a key).
    const tmp = new Uint8Array(48);
    const labels = [CONSTRUCTION, IDENTIFIER, LABEL_MAC1, LABEL_MAC1, LABEL_COOKIE];
    const outs = [CK0, H0, MAC1K, MYMAC1K, COOKIEK];
    for (let i = 0; i < 5; i++) {
      const l = labels[i]!;
      for (let j = 0; j < l.length; j++) tmp[j] = l.charCodeAt(j);
      h.hashInit(32, null, 0);
      if (i === 1) h.hashUpdate(B, CK0, 32);
      h.hashUpdate(tmp, 0, l.length);
      if (i > 1) h.hashUpdate(B, i === 3 ? SPUB : RPUB, 32);
      h.hashFinal(B, outs[i]!);
    }
    h.hashInit(32, null, 0);
    h.hashUpdate(B, H0, 32);
    h.hashUpdate(B, RPUB, 32);
    h.hashFinal(B, H0);
    this.h = null;
    const N = this.N;
    for (let i = 0; i < N_SIZE; i++) N[i] = Infinity;
    N[LAST_SENT] = -Infinity;
    N[COOKIE_AT] = -Infinity;
    N[LAST_HS] = -Infinity;
    N[RX] = 0;
    N[TX] = 0;
    this.cur = -1;
    this.prev = -1;
    this.freeSlot(0);
    this.freeSlot(1);
    this.hs = HS_NONE;
    this.attempts = 0;
    this.hasPre = false;
    this.needKa = false;
    this.lastMinute = false;
    this.asleep = false;
    this.sleepAfter = false;
    this.pk = 0;
    this.ka = null;
    this.kaClass = null;
    this.kaPkt = null;
    this.kaPort = 0;
    this.h = null;
    N[STAGE_LEN] = -1;
    N[STAGE_LEN + 1] = -1;
  }

  // ------------------------------------------------------------------ handshake

  /**
   * Does the X25519 work of the next initiation now: a fresh ephemeral key pair and DH(ephemeral,
   * peer static). Call it while idle; the next initiation then costs no scalar multiplication.
   */
  precompute(): void {
    if (!this.hasPre) this.handshake(OP_PRECOMPUTE, 0, this.B, 0, '');
  }

  /**
   * send.c wg_packet_send_handshake_initiation: an initiation, at most one per REKEY_TIMEOUT.
   * `retry` keeps the attempt count (retransmissions).
   */
  private initiate(now: number, retry: boolean): void {
    if (!retry) this.attempts = 0;
    if (now - this.N[LAST_SENT] < REKEY_TIMEOUT || this.endpoint === null) return;
    this.handshake(OP_INITIATE, now, this.tx, 0, '');
  }

  /**
   * The handshake's steps, in one method: its code, Noise's HASH/HMAC/KDF below and the suite's
   * handshake primitives exist only while it runs (on Espruino, RAM at rest holds none of them).
   *  - OP_PRECOMPUTE: the next ephemeral key and DH(e, S_r).
   *  - OP_INITIATE: builds the initiation in `buf` (the transmit buffer) and sends it.
   *  - OP_RESPONSE / OP_COOKIE: the message at buf[off] from `ep` (length checked by the caller).
   * Returns 0, or the drops.ts reason (counted by the caller).
   */
  private handshake(op: number, now: number, buf: Uint8Array, off: number, ep: string): number {
    // The step works on a copy of B extended by its scratch (KDF outputs, the response's
    // ephemeral and hashes, the HMAC pad), which thus exists only while the step runs; B gets
    // the result back (`back`), and the copy is zeroed.
    const B = new Uint8Array(STEP_SIZE);
    B.set(this.B);
    let back = true;
    const N = this.N;
    const s = this.s;
    /** A view of B, as the suite takes keys and hashes: made per use (views cost RAM on Espruino). */
    function at(o: number, n: number): Uint8Array {
      return B.subarray(o, o + n);
    }
    const h = s.handshake();
    this.h = h;
    /** B[d, d+32) = HASH(B[d, d+32) || src[o, o+n)): Noise's MixHash. */
    function mixHash(d: number, src: Uint8Array, o: number, n: number): void {
      h.hashInit(32, null, 0);
      h.hashUpdate(B, d, 32);
      h.hashUpdate(src, o, n);
      h.hashFinal(B, d);
    }
    /**
     * Noise's KDF over HMAC-BLAKE2s with the chaining key at B[ck]: n outputs from src[o, o+len).
     * The first replaces the chaining key, the second goes to K1, the third to K2.
     * (HMAC(k, x) = HASH(k ^ opad || HASH(k ^ ipad || x)), 64-byte blocks.)
     */
    function kdf(n: number, ck: number, src: Uint8Array, o: number, len: number): void {
      // Step 0: t0 = HMAC(ck, input); step i: output i = HMAC(t0, output i-1 || i).
      for (let step = 0; step <= n; step++) {
        const key = step === 0 ? ck : T0;
        const out = step === 0 ? T0 : step === 1 ? ck : step === 2 ? K1 : K2;
        for (let round = 0; round < 2; round++) {
          for (let i = 0; i < 64; i++) B[PAD + i] = (i < 32 ? B[key + i]! : 0) ^ (round === 0 ? 0x36 : 0x5c);
          h.hashInit(32, null, 0);
          h.hashUpdate(B, PAD, 64);
          if (round === 1) h.hashUpdate(B, out, 32);
          else if (step === 0) h.hashUpdate(src, o, len);
          else {
            if (step > 1) h.hashUpdate(B, step === 2 ? ck : K1, 32);
            B[PAD + 64] = step;
            h.hashUpdate(B, PAD + 64, 1);
          }
          h.hashFinal(B, out);
        }
      }
    }
    let r = 0;
    switch (op) {
      case OP_PRECOMPUTE:
      case OP_INITIATE: {
        // An initiation that was not precomputed does that first, in the same step.
        if (!this.hasPre) {
          this.random(B, PEPRIV, 32);
          h.x25519(at(PEPUB, 32), at(PEPRIV, 32), null);
          // The peer's key is not low-order (checked at construction), so this cannot fail.
          h.x25519(at(PES, 32), at(PEPRIV, 32), at(RPUB, 32));
          this.hasPre = true;
        }
        if (op === OP_PRECOMPUTE) break;
        const m = buf;
        this.hasPre = false;
        B.set(B.subarray(PEPRIV, PEPRIV + 32), EPRIV);
        this.random(m, 4, 4);
        N[HS_INDEX] = m[4]! | (m[5]! << 8) | (m[6]! << 16) | (m[7]! << 24);
        m[0] = 1; m[1] = 0; m[2] = 0; m[3] = 0;
        // msg.ephemeral; h = HASH(h || e); ck = KDF1(ck, e); (ck, k) = KDF2(ck, DH(e, S_r)).
        B.set(B.subarray(CK0, CK0 + 32), CK);
        B.set(B.subarray(H0, H0 + 32), H);
        for (let i = 0; i < 32; i++) m[8 + i] = B[PEPUB + i]!;
        mixHash(H, m, 8, 32);
        kdf(1, CK, m, 8, 32);
        kdf(2, CK, B, PES, 32);
        // The precomputed values are used up: no copy of the ephemeral outlives the handshake.
        B.fill(0, PEPRIV, PES + 32);
        // msg.static = AEAD(k, 0, S_i, h); h = HASH(h || msg.static); (ck, k) = KDF2(ck, DH(S_i, S_r)).
        for (let i = 0; i < 32; i++) m[40 + i] = B[SPUB + i]!;
        s.aead(at(K1, 32), 0, 0, at(H, 32), 32, m, 40, 32, false);
        mixHash(H, m, 40, 48);
        kdf(2, CK, B, SS, 32);
        // msg.timestamp = AEAD(k, 0, TAI64N, h); h = HASH(h || msg.timestamp).
        this.tai.stamp(this.wallTime(), m, 88);
        s.aead(at(K1, 32), 0, 0, at(H, 32), 32, m, 88, 12, false);
        mixHash(H, m, 88, 28);
        // mac1 = MAC(HASH(LABEL_MAC1 || S_r), msg[0..116]); mac2 = MAC(cookie, msg[0..132]) with a fresh cookie.
        h.hashInit(16, at(MAC1K, 32), 32);
        h.hashUpdate(m, 0, 116);
        h.hashFinal(m, 116);
        B.set(m.subarray(116, 132), MAC1);
        if (now - N[COOKIE_AT] < COOKIE_SECRET_MAX_AGE - COOKIE_SECRET_LATENCY) {
          h.hashInit(16, at(COOKIE, 16), 16);
          h.hashUpdate(m, 0, 132);
          h.hashFinal(m, 132);
        } else {
          for (let i = 132; i < INITIATION_SIZE; i++) m[i] = 0;
        }
        this.hs = HS_SENT;
        N[LAST_SENT] = now;
        N[TX] += INITIATION_SIZE;
        this.sink.send(m, 0, INITIATION_SIZE, this.endpoint as string);
        // timers: any_authenticated_packet_traversal / _sent, handshake_initiated
        this.sent(now, false);
        N[T_RETRANSMIT] = now + REKEY_TIMEOUT + this.jitter();
        if (this.sink.event) this.sink.event(EVENT_INITIATED);
        break;
      }
      case OP_RESPONSE: {
        h.hashInit(16, at(MYMAC1K, 32), 32);
        h.hashUpdate(buf, off, 60);
        h.hashFinal(B, K1);
        if (!equalCT(B, K1, buf, off + 60, 16)) { r = Drop.BAD_MAC1; break; }
        if (this.hs !== HS_SENT || (buf[off + 8]! | (buf[off + 9]! << 8) | (buf[off + 10]! << 16) | (buf[off + 11]! << 24)) !== N[HS_INDEX]) {
          r = Drop.UNEXPECTED_RESPONSE;
          break;
        }
        // On copies of ck and h: e_r; h = HASH(h || e_r); ck = KDF1(ck, e_r); ck = KDF1(ck, DH(e, e_r));
        // ck = KDF1(ck, DH(S_i, e_r)); (ck, t, k) = KDF3(ck, psk); h = HASH(h || t); empty = AEAD-open(k, 0, h).
        B.set(B.subarray(CK, CK + 32), CK2);
        B.set(B.subarray(H, H + 32), H2);
        for (let i = 0; i < 32; i++) B[ER + i] = buf[off + 12 + i]!;
        mixHash(H2, B, ER, 32);
        kdf(1, CK2, B, ER, 32);
        if (!h.x25519(at(K2, 32), at(EPRIV, 32), at(ER, 32))) { r = Drop.HANDSHAKE_FAILED; break; }
        kdf(1, CK2, B, K2, 32);
        if (!h.x25519(at(K2, 32), at(SPRIV, 32), at(ER, 32))) { r = Drop.HANDSHAKE_FAILED; break; }
        kdf(1, CK2, B, K2, 32);
        kdf(3, CK2, B, PSK, 32);
        mixHash(H2, B, K1, 32);
        if (!s.aead(at(K2, 32), 0, 0, at(H2, 32), 32, buf, off + 44, 0, true)) { r = Drop.HANDSHAKE_FAILED; break; }
        // (T_send, T_recv) = KDF2(ck, ε): the session. The older slot gives way.
        kdf(2, CK2, B, 0, 0);
        const k = this.cur === 0 ? 1 : 0;
        // What follows (the confirming packet) uses B itself: the step's result goes back now.
        this.B.set(B.subarray(0, B_SIZE));
        back = false;
        this.freeSlot(k);
        this.prev = this.cur;
        this.cur = k;
        this.B.set(B.subarray(CK2, CK2 + 32), KEYS + 64 * k);
        this.B.set(B.subarray(K1, K1 + 32), KEYS + 64 * k + 32);
        B.fill(0);
        N[S_CREATED + 4 * k] = now;
        N[S_COUNTER + 4 * k] = 0;
        N[S_LOCAL + 4 * k] = N[HS_INDEX]!;
        N[S_REMOTE + 4 * k] = buf[off + 4]! | (buf[off + 5]! << 8) | (buf[off + 6]! << 16) | (buf[off + 7]! << 24);
        this.replay.reset(k);
        this.clearHandshake();
        this.endpoint = ep;
        N[RX] += RESPONSE_SIZE;
        N[T_NEW_HANDSHAKE] = Infinity;
        if (this.pk > 0 && this.ka === null) N[T_PERSISTENT] = now + this.pk * 1000;
        // timers_session_derived, timers_handshake_complete
        N[T_ZERO] = now + REJECT_AFTER_TIME * 3;
        N[T_RETRANSMIT] = Infinity;
        this.attempts = 0;
        this.lastMinute = false;
        N[LAST_HS] = now;
        if (this.ka !== null) this.ka.onHandshake(now, now - N[LAST_SENT]!);
        // The primitives are not needed for what follows (the event, the confirming packet).
        this.h = null;
        if (this.sink.event) this.sink.event(EVENT_COMPLETE);
        // Confirm the session at once: staged packets if any, else a keepalive.
        this.keepalive(now);
        break;
      }
      default: {
        // Cookie reply to our initiation: XChaCha20-Poly1305(HASH(LABEL_COOKIE || S_r), nonce, cookie, AD = our mac1).
        if (this.hs !== HS_SENT || (buf[off + 4]! | (buf[off + 5]! << 8) | (buf[off + 6]! << 16) | (buf[off + 7]! << 24)) !== N[HS_INDEX]) {
          r = Drop.UNKNOWN_INDEX;
          break;
        }
        h.hchacha(at(K2, 32), at(COOKIEK, 32), buf, off + 8);
        const lo = buf[off + 24]! | (buf[off + 25]! << 8) | (buf[off + 26]! << 16) | (buf[off + 27]! << 24);
        const hi = buf[off + 28]! | (buf[off + 29]! << 8) | (buf[off + 30]! << 16) | (buf[off + 31]! << 24);
        if (!s.aead(at(K2, 32), lo, hi, at(MAC1, 16), 16, buf, off + 32, 16, true)) { r = Drop.BAD_COOKIE_REPLY; break; }
        for (let i = 0; i < 16; i++) B[COOKIE + i] = buf[off + 32 + i]!;
        N[COOKIE_AT] = now;
      }
    }
    if (back) this.B.set(B.subarray(0, B_SIZE));
    B.fill(0);
    this.h = null;
    return r;
  }

  /** Random 0..REKEY_TIMEOUT_JITTER_MAX-1 ms, as the kernel adds to retry timers. */
  private jitter(): number {
    const r = this.tx;
    this.random(r, 0, 2);
    return (r[0]! | (r[1]! << 8)) % REKEY_TIMEOUT_JITTER_MAX;
  }

  // ------------------------------------------------------------------ receiving

  /**
   * One datagram from the network (`buf` is modified: transport data is decrypted in place).
   * Returns 0 if accepted, else the drops.ts reason (also counted in `drops`). A handshake
   * initiation from the peer is not processed (we are never the responder): it returns
   * Drop.UNKNOWN_TYPE after counting nothing, so the caller can start its own handshake.
   * Never throws on hostile input.
   */
  receive(now: number, buf: Uint8Array, off: number, len: number, endpoint: string): number {
    const N = this.N;
    const type = len >= 4 && buf[off + 1] === 0 && buf[off + 2] === 0 && buf[off + 3] === 0 ? buf[off]! : 0;
    let reason = 0;
    let k = -1;
    switch (type) {
      case 1:
        return Drop.UNKNOWN_TYPE;
      case 2:
      case 3:
        reason = len !== (type === 2 ? RESPONSE_SIZE : COOKIE_REPLY_SIZE) ? Drop.BAD_LENGTH
          : this.handshake(type === 2 ? OP_RESPONSE : OP_COOKIE, now, buf, off, endpoint);
        if (reason === 0) return 0;
        break;
      case 4: {
        if (len < TRANSPORT_MIN_SIZE) { reason = Drop.BAD_LENGTH; break; }
        const idx = buf[off + 4]! | (buf[off + 5]! << 8) | (buf[off + 6]! << 16) | (buf[off + 7]! << 24);
        k = this.cur >= 0 && N[S_LOCAL + 4 * this.cur] === idx ? this.cur : this.prev >= 0 && N[S_LOCAL + 4 * this.prev] === idx ? this.prev : -1;
        if (k < 0) { reason = Drop.UNKNOWN_INDEX; break; }
        const lo = buf[off + 8]! | (buf[off + 9]! << 8) | (buf[off + 10]! << 16) | (buf[off + 11]! << 24);
        const hi = buf[off + 12]! | (buf[off + 13]! << 8) | (buf[off + 14]! << 16) | (buf[off + 15]! << 24);
        if (hi < 0 || hi >= 2097152) { reason = Drop.REPLAY; break; }
        if (now - N[S_CREATED + 4 * k] >= REJECT_AFTER_TIME) { reason = Drop.EXPIRED_SESSION; break; }
        const ctLen = len - TRANSPORT_MIN_SIZE;
        if (!this.s.aead(this.v[1 + 2 * k]!, lo, hi, null, 0, buf, off + 16, ctLen, true)) { reason = Drop.AUTH_FAILED; break; }
        if (!this.replay.check(k, hi * 4294967296 + (lo >>> 0))) { reason = Drop.REPLAY; break; }
        this.endpoint = endpoint;
        // receive.c keep_key_fresh: the initiator rekeys shortly before the session would be rejected
        // (the current session's age, whichever session this packet used; cur >= 0 as k >= 0).
        if (!this.lastMinute && now - N[S_CREATED + 4 * this.cur] > REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT - REKEY_TIMEOUT) {
          this.lastMinute = true;
          this.initiate(now, false);
        }
        N[T_NEW_HANDSHAKE] = Infinity;
        if (this.pk > 0 && this.ka === null) N[T_PERSISTENT] = now + this.pk * 1000;
        N[RX] += len;
        const inner = off + 16;
        const ka = this.ka;
        let act = KA_NONE;
        if (ka !== null) {
          // Our echo probe's answer is consumed here; the keepalive we answer with replaces the passive one.
          if (this.kaPkt !== null && ip4Parse(buf, inner, ctLen) === 17 && ip4Info[3] === PROBE_SIZE &&
              ip4Info[0] === this.kaPort && compareBE(buf, inner + 12, this.kaDst, 0, 4) === 0 &&
              parseProbe(buf, ip4Info[2]!, PROBE_SIZE) === PROBE_REPLY) {
            this.kaAct(now, ka.onEchoReply(now, probeNonce(buf, ip4Info[2]!)));
            return 0;
          }
          act = ka.onReceive(now);
        }
        if (ctLen !== 0) {
          // timers_data_received: answer within KEEPALIVE_TIMEOUT if we have nothing else to send.
          if (N[T_SEND_KEEPALIVE] === Infinity) N[T_SEND_KEEPALIVE] = now + KEEPALIVE_TIMEOUT;
          else this.needKa = true;
        }
        if (ka !== null) this.kaAct(now, act);
        if (ctLen === 0) return 0;
        // A probe from a wgjs peer (16 zero bytes, not IP) is expected and ignored.
        if (ctLen === 16 && isZero(buf, inner, 16)) return 0;
        const n = (buf[inner + 2]! << 8) | buf[inner + 3]!;
        if (ctLen < 20 || buf[inner]! >> 4 !== 4 || n < 20 || n > ctLen) { reason = Drop.BAD_INNER_PACKET; break; }
        if (!this.allowed(buf, inner + 12)) { reason = Drop.SOURCE_NOT_ALLOWED; break; }
        this.sink.deliver(buf, inner, n);
        return 0;
      }
      default:
        reason = len < 4 ? Drop.BAD_LENGTH : Drop.UNKNOWN_TYPE;
    }
    this.drops[reason]++;
    return reason;
  }

  /** True if the IPv4 address at buf[off] is in the peer's AllowedIPs. */
  private allowed(buf: Uint8Array, off: number): boolean {
    const a = this.allow;
    for (let i = 0; i < this.nAllow; i++) {
      let bits = a[i * 5 + 4]!;
      let j = 0;
      for (; bits >= 8; j++, bits -= 8) if (buf[off + j] !== a[i * 5 + j]) break;
      if (bits >= 8) continue;
      if (bits === 0 || ((buf[off + j]! ^ a[i * 5 + j]!) & (0xff00 >> bits) & 255) === 0) return true;
    }
    return false;
  }

  // ------------------------------------------------------------------ sending

  /**
   * Sends an inner IPv4 packet to the peer (destination in its AllowedIPs), or stages it and
   * handshakes. `report`: report-and-sleep (see `Engine.report`): the packet with the fewest
   * datagrams — alone on a young session, else as the confirmation of one handshake — then
   * sleep. Returns 0 if sent or staged, else the drops.ts reason (counted).
   */
  send(now: number, buf: Uint8Array, off: number, len: number, report: boolean): number {
    const N = this.N;
    let reason = 0;
    if (len < 20 || buf[off]! >> 4 !== 4) reason = Drop.BAD_INNER_PACKET;
    else if (!this.allowed(buf, off + 16)) reason = Drop.NO_ROUTE;
    else if (len > this.mtu) reason = Drop.TOO_LARGE;
    else if (this.endpoint === null) reason = Drop.NO_ENDPOINT;
    if (reason !== 0) {
      this.drops[reason]++;
      return reason;
    }
    this.wake();
    const k = this.cur;
    const staged = N[STAGE_LEN] >= 0 || N[STAGE_LEN + 1] >= 0;
    const usable = this.usable(now);
    if (!staged && usable && (!report || now - N[S_CREATED + 4 * k] < REKEY_AFTER_TIME - KEEPALIVE_TIMEOUT)) {
      this.xmit(now, buf, off, len);
      if (report) this.sleep();
      else this.keyFresh(now);
      return 0;
    }
    // Stage (the oldest staged packet gives way), then send the staged packets or handshake.
    let slot = N[STAGE_LEN] < 0 ? 0 : N[STAGE_LEN + 1] < 0 ? 1 : -1;
    if (this.stage === null) this.stage = new Uint8Array(STAGED * this.mtu);
    const st = this.stage;
    if (slot < 0) {
      this.drops[Drop.STAGED_OVERFLOW]++;
      st.set(st.subarray(this.mtu, this.mtu + N[STAGE_LEN + 1]!), 0);
      N[STAGE_LEN] = N[STAGE_LEN + 1]!;
      slot = 1;
    }
    st.set(buf.subarray(off, off + len), slot * this.mtu);
    N[STAGE_LEN + slot] = len;
    if (report) {
      this.sleepAfter = true;
      N[LAST_SENT] = -Infinity;
      this.initiate(now, false);
      return 0;
    }
    this.keepalive(now);
    return 0;
  }

  /** A session to send on: current, younger than REJECT_AFTER_TIME, counter below the limit. */
  private usable(now: number): boolean {
    const k = this.cur;
    return k >= 0 && now - this.N[S_CREATED + 4 * k] < REJECT_AFTER_TIME && this.N[S_COUNTER + 4 * k] < REJECT_AFTER_MESSAGES;
  }

  /**
   * Sends the staged packets (they serve as a keepalive), else a keepalive; without a usable
   * session, handshakes instead (send.c wg_packet_send_staged_packets / send_keepalive).
   */
  private keepalive(now: number): void {
    const N = this.N;
    if (this.endpoint === null) return;
    if (!this.usable(now)) {
      this.initiate(now, false);
      return;
    }
    const st = this.stage;
    if (st === null) this.xmit(now, this.tx, 0, 0);
    else {
      for (let i = 0; i < STAGED; i++) if (N[STAGE_LEN + i]! >= 0) this.xmit(now, st, i * this.mtu, N[STAGE_LEN + i]!);
      this.unstage(0);
    }
    if (st !== null && this.sleepAfter) {
      this.sleep();
      return;
    }
    this.keyFresh(now);
  }

  /** send.c keep_key_fresh: the initiator rekeys after REKEY_AFTER_TIME or REKEY_AFTER_MESSAGES. */
  private keyFresh(now: number): void {
    const k = this.cur;
    if (k >= 0 && (this.N[S_COUNTER + 4 * k] > REKEY_AFTER_MESSAGES || now - this.N[S_CREATED + 4 * k] > REKEY_AFTER_TIME)) {
      this.initiate(now, false);
    }
  }

  /** Encrypts src[off, off+len) (len 0: a keepalive) on the current session and sends it. */
  private xmit(now: number, src: Uint8Array, off: number, len: number): void {
    const N = this.N;
    const tx = this.tx;
    const k = this.cur;
    // Pad to a multiple of 16 (not beyond the MTU), as the whitepaper says.
    let padded = (len + 15) & ~15;
    if (padded > this.mtu) padded = this.mtu;
    if (src !== tx || off !== 16) for (let i = 0; i < len; i++) tx[16 + i] = src[off + i]!;
    for (let i = len; i < padded; i++) tx[16 + i] = 0;
    const ctr = N[S_COUNTER + 4 * k];
    N[S_COUNTER + 4 * k] = ctr + 1;
    const lo = ctr % 4294967296;
    const hi = (ctr - lo) / 4294967296;
    const r = N[S_REMOTE + 4 * k];
    tx[0] = 4; tx[1] = 0; tx[2] = 0; tx[3] = 0;
    for (let i = 0; i < 4; i++) {
      tx[4 + i] = (r >>> (8 * i)) & 255;
      tx[8 + i] = (lo >>> (8 * i)) & 255;
      tx[12 + i] = (hi >>> (8 * i)) & 255;
    }
    this.s.aead(this.v[2 * k]!, lo, hi, null, 0, tx, 16, padded, false);
    N[TX] += TRANSPORT_MIN_SIZE + padded;
    this.sink.send(tx, 0, TRANSPORT_MIN_SIZE + padded, this.endpoint as string);
    this.sent(now, len > 0 && N[T_NEW_HANDSHAKE] === Infinity);
  }

  /**
   * Timers after anything authenticated was sent: persistent keepalive re-armed, the passive
   * keepalive is no longer needed, the adaptive keepalive counts from here; `data`: expect an
   * answer within KEEPALIVE_TIMEOUT + REKEY_TIMEOUT or handshake.
   */
  private sent(now: number, data: boolean): void {
    const N = this.N;
    if (this.pk > 0 && this.ka === null) N[T_PERSISTENT] = now + this.pk * 1000;
    if (this.ka !== null) {
      this.ka.onSend(now);
      N[T_ADAPTIVE] = this.ka.next();
    }
    N[T_SEND_KEEPALIVE] = Infinity;
    if (data) N[T_NEW_HANDSHAKE] = now + KEEPALIVE_TIMEOUT + REKEY_TIMEOUT + this.jitter();
  }

  // ------------------------------------------------------------------ timers

  /** The earliest time (monotonic ms) at which `tick` has work to do; Infinity if none. */
  nextDeadline(): number {
    let t = Infinity;
    for (let i = 0; i < TIMERS; i++) if (this.N[i] < t) t = this.N[i]!;
    return t;
  }

  /** Runs every timer that is due at `now` (timers.c). Asleep, only the zeroing of keys runs. */
  tick(now: number): void {
    const N = this.N;
    for (let i = 0; i < TIMERS; i++) {
      if (N[i]! > now) continue;
      N[i] = Infinity;
      // Asleep, a due timer (armed by a packet received meanwhile) is dropped, not left due: a
      // deadline in the past would make the caller tick in a busy loop. wake() re-arms what it needs.
      if (this.asleep && i !== T_ZERO) continue;
      switch (i) {
        case T_RETRANSMIT:
          if (this.attempts > MAX_TIMER_HANDSHAKES) {
            // REKEY_ATTEMPT_TIME is over: stop trying until there is new data to send.
            N[T_SEND_KEEPALIVE] = Infinity;
            this.unstage(Drop.HANDSHAKE_GAVE_UP);
            // A report among them is gone: a later ordinary send must not put the device to sleep.
            this.sleepAfter = false;
            this.clearHandshake();
            if (N[T_ZERO] === Infinity) N[T_ZERO] = now + REJECT_AFTER_TIME * 3;
            if (this.sink.event) this.sink.event(EVENT_GAVE_UP);
          } else {
            this.attempts++;
            this.initiate(now, true);
          }
          break;
        case T_SEND_KEEPALIVE:
          this.keepalive(now);
          if (this.needKa) {
            this.needKa = false;
            N[T_SEND_KEEPALIVE] = now + KEEPALIVE_TIMEOUT;
          }
          break;
        case T_NEW_HANDSHAKE:
          // We sent data and heard nothing back for KEEPALIVE_TIMEOUT + REKEY_TIMEOUT.
          this.initiate(now, false);
          break;
        case T_ZERO:
          this.freeSlot(0);
          this.freeSlot(1);
          this.cur = this.prev = -1;
          this.clearHandshake();
          break;
        case T_PERSISTENT:
          if (this.pk > 0 && this.ka === null) this.keepalive(now);
          break;
        default:
          if (this.ka !== null) this.kaAct(now, this.ka.tick(now, this.cur >= 0 ? now - N[S_CREATED + 4 * this.cur] : Infinity));
      }
    }
  }

  /** Carries out an adaptive-keepalive action (keepalive.ts) and re-arms its timer (as Engine.kaAct). */
  private kaAct(now: number, act: number): void {
    const ka = this.ka as AdaptiveKeepalive;
    const N = this.N;
    const k = this.cur;
    if (act === KA_HANDSHAKE || act === KA_REKEY) {
      if (act === KA_HANDSHAKE) N[LAST_SENT] = -Infinity;
      this.initiate(now, false);
    } else if (act !== KA_NONE && this.endpoint !== null) {
      if (!this.usable(now) || (act === KA_KEEPALIVE && now - N[S_CREATED + 4 * k] > REKEY_AFTER_TIME && now - N[LAST_SENT] >= REKEY_TIMEOUT)) {
        // No session, or a rekey is due: its initiation refreshes the mapping as a keepalive would.
        this.initiate(now, false);
      } else {
        const tx = this.tx;
        ka.ownSend = true;
        if (act === KA_PROBE) {
          for (let i = 16; i < 32; i++) tx[i] = 0;
          this.xmit(now, tx, 16, 16);
        } else if (act === KA_ECHO) {
          const pkt = this.kaPkt as Uint8Array;
          writeProbeRequest(pkt, 28, ka.requestDelay, ka.nonce);
          const n = ip4Udp(pkt, 0, this.kaSrc, this.kaPort, this.kaDst, this.kaPort, PROBE_SIZE);
          this.xmit(now, pkt, 0, n);
        } else {
          this.xmit(now, tx, 0, 0);
        }
        ka.ownSend = false;
        // An unanswered learning probe is the NAT's doing, not a reason to handshake.
        if (act === KA_REOPEN) N[T_NEW_HANDSHAKE] = Infinity;
        this.keyFresh(now);
      }
    }
    N[T_ADAPTIVE] = ka.next();
  }

  // ------------------------------------------------------------------ control

  /**
   * Keepalive: `n` seconds of persistent keepalive (0 = off), or the adaptive keepalive's options
   * (keepalive.ts; `responder` "a.b.c.d:port" with `source` our tunnel address for echo probes).
   * Throws a WgError with a message on bad values.
   */
  setKeepalive(n: number | AdaptiveKeepaliveOptions | null): void {
    const N = this.N;
    this.ka = null;
    this.kaPkt = null;
    N[T_ADAPTIVE] = Infinity;
    N[T_PERSISTENT] = Infinity;
    this.pk = 0;
    if (n === null || typeof n === 'number') {
      const k = n === null ? 0 : n;
      if (!(k >= 0 && k <= 65535 && k % 1 === 0)) throw wgError('EINVAL', 'persistent keepalive must be 0..65535 seconds, got ' + n);
      this.pk = k;
      return;
    }
    if (n.responder) {
      // The echo probe packet: IPv4 + UDP + probe; its addresses are written once, here.
      const r = String(n.responder).split(':');
      const a = (String(r[0]) + '.' + String(n.source || '').split('/')[0]).split('.');
      const ad = new Uint8Array(8);
      const port = parseInt(r[1] || '', 10);
      let ok = r.length === 2 && a.length === 8 && port > 0 && port < 65536;
      for (let i = 0; i < 8 && ok; i++) {
        const x = parseInt(a[i]!, 10);
        ok = x >= 0 && x <= 255 && String(x) === a[i];
        ad[i < 4 ? 4 + i : i - 4] = x;
      }
      if (!ok) throw wgError('EINVAL', 'adaptive keepalive: responder must be a.b.c.d:port and source our IPv4 address, got ' + n.responder + ' / ' + n.source);
      this.kaPkt = new Uint8Array(28 + PROBE_SIZE);
      this.kaSrc = ad;
      this.kaDst = ad.subarray(4);
      this.kaPort = port;
    }
    if (this.kaClass === null) this.kaClass = adaptiveKeepalive();
    this.ka = new this.kaClass(n, this.kaPkt !== null, 0);
    N[T_ADAPTIVE] = this.ka.next();
  }

  /**
   * Starts a handshake now (at start-up, after waking, after a path change). Initiations are
   * limited to one per REKEY_TIMEOUT; `force` lifts the limit for this call.
   */
  connect(now: number, force: boolean): void {
    this.wake();
    if (force) this.N[LAST_SENT] = -Infinity;
    this.initiate(now, false);
  }

  /**
   * Sleep-and-wake: until the next `send` or `connect`, no timer sends anything (keepalive,
   * rekey, retry); the handshake in flight is abandoned, staged packets dropped. Keys are still
   * zeroed on time.
   */
  sleep(): void {
    const N = this.N;
    this.asleep = true;
    this.sleepAfter = false;
    this.unstage(Drop.ASLEEP);
    for (let i = 0; i < TIMERS; i++) if (i !== T_ZERO) N[i] = Infinity;
    this.needKa = false;
    this.clearHandshake();
  }

  /** Ends sleep: timers armed by packets received while asleep are stale; the caller decides what to send. */
  private wake(): void {
    if (!this.asleep) return;
    this.asleep = false;
    for (let i = 0; i < TIMERS; i++) if (i !== T_ZERO) this.N[i] = Infinity;
    if (this.ka !== null) this.N[T_ADAPTIVE] = this.ka.next();
  }

  /** Drops the staged packets (counted under `reason`; 0: they were sent) and frees their buffer, zeroed. */
  private unstage(reason: number): void {
    const N = this.N;
    for (let i = 0; i < STAGED; i++) if (reason !== 0 && N[STAGE_LEN + i]! >= 0) this.drops[reason]++;
    N[STAGE_LEN] = N[STAGE_LEN + 1] = -1;
    if (this.stage !== null) this.stage.fill(0);
    this.stage = null;
  }

  /** Zeroes a session slot's keys; -Infinity marks it empty. */
  private freeSlot(k: number): void {
    this.B.fill(0, KEYS + 64 * k, KEYS + 64 * k + 64);
    this.N[S_CREATED + 4 * k] = -Infinity;
    this.N[S_LOCAL + 4 * k] = -1;
  }

  private clearHandshake(): void {
    this.hs = HS_NONE;
    this.N[HS_INDEX] = -1;
    this.B.fill(0, EPRIV, H + 32);
  }

  /**
   * Status: `hasSession` (a usable current session), `sessionAge` (ms, -1 none), `lastHandshake`
   * (monotonic ms, -Infinity never), rx/tx bytes, drops (total), endpoint, asleep, the adaptive
   * keepalive's status (null if off), whether the next initiation is precomputed.
   */
  status(now: number): {
    hasSession: boolean; sessionAge: number; lastHandshake: number; rxBytes: number; txBytes: number; drops: number;
    endpoint: string | null; asleep: boolean; adaptive: AdaptiveStatus | null; precomputed: boolean;
  } {
    const N = this.N;
    let d = 0;
    for (let i = 0; i < INITIATOR_DROPS; i++) d += this.drops[i]!;
    return {
      hasSession: this.usable(now),
      sessionAge: this.cur >= 0 ? now - N[S_CREATED + 4 * this.cur]! : -1,
      lastHandshake: N[LAST_HS]!,
      rxBytes: N[RX]!,
      txBytes: N[TX]!,
      drops: d,
      endpoint: this.endpoint,
      asleep: this.asleep,
      adaptive: this.ka === null ? null : this.ka.status(),
      precomputed: this.hasPre,
    };
  }

  /** Wipes every key (shutdown). */
  wipe(): void {
    this.B.fill(0);
    this.tx.fill(0);
    this.unstage(0);
    this.cur = this.prev = -1;
    this.hs = HS_NONE;
    this.hasPre = false;
  }
}
