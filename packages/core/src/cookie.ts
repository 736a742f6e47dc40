/**
 * mac1 / mac2 and cookies (whitepaper 5.4.4 and 5.4.7): the DoS defence of the handshake.
 *
 * Every handshake message carries mac1 = MAC(HASH("mac1----" || receiver's static public), msg).
 * A responder under load answers a handshake without a valid mac2 with a cookie reply instead of
 * doing Diffie-Hellman work; the cookie is a MAC of the sender's address under a secret rotated
 * every two minutes, encrypted to the initiator with XChaCha20-Poly1305. The initiator then puts
 * mac2 = MAC(cookie, msg) on its next handshake, proving it owns its source address.
 */
import type { Noise } from './noise.js';
import type { RandomSource } from './crypto/provider.js';
import { COOKIE_SECRET_MAX_AGE, COOKIE_SECRET_LATENCY, LABEL_COOKIE, LABEL_MAC1, MAC_SIZE } from './constants.js';
import { ascii, equalCT } from './bytes.js';

const MAC1_LABEL = ascii(LABEL_MAC1);
const COOKIE_LABEL = ascii(LABEL_COOKIE);

/** key = HASH(label || publicKey), the mac1 key or the cookie encryption key for that public key. */
export function deriveLabelKey(noise: Noise, out: Uint8Array, label: 'mac1' | 'cookie', publicKey: Uint8Array): void {
  const l = label === 'mac1' ? MAC1_LABEL : COOKIE_LABEL;
  noise.hash(out, 0, l, 0, 8, publicKey, 0, 32);
}

/** Result of checking the MACs of a received handshake message. */
export const MAC_INVALID = 0;
export const MAC_VALID_NO_COOKIE = 1;
export const MAC_VALID_WITH_COOKIE = 2;

/** Responder-side state: our mac1 key, our cookie key, and the rotating cookie secret. */
export class CookieChecker {
  readonly mac1Key: Uint8Array;
  readonly cookieKey: Uint8Array;
  private secret: Uint8Array;
  private secretBirth: number;
  private cookie: Uint8Array;
  private mac: Uint8Array;
  private epBytes: Uint8Array;

  constructor() {
    this.mac1Key = new Uint8Array(32);
    this.cookieKey = new Uint8Array(32);
    this.secret = new Uint8Array(32);
    this.secretBirth = -Infinity;
    this.cookie = new Uint8Array(16);
    this.mac = new Uint8Array(16);
    this.epBytes = new Uint8Array(64);
  }

  /** Derives the keys that depend on our static public key. */
  init(noise: Noise, ourPublic: Uint8Array): void {
    deriveLabelKey(noise, this.mac1Key, 'mac1', ourPublic);
    deriveLabelKey(noise, this.cookieKey, 'cookie', ourPublic);
  }

  /** True if msg's mac1 (at macOff, covering msg[off, macOff)) is valid. */
  checkMac1(noise: Noise, msg: Uint8Array, off: number, macOff: number): boolean {
    noise.mac(this.mac, 0, this.mac1Key, 32, msg, off, macOff - off);
    return equalCT(this.mac, 0, msg, macOff, MAC_SIZE);
  }

  /** The cookie for a source endpoint: MAC(Rm, endpoint), rotating Rm every COOKIE_SECRET_MAX_AGE. */
  private makeCookie(noise: Noise, random: RandomSource, now: number, endpoint: string): void {
    if (now - this.secretBirth >= COOKIE_SECRET_MAX_AGE) {
      random(this.secret, 0, 32);
      this.secretBirth = now;
    }
    // The endpoint string identifies source address and port; only we ever compute this MAC.
    const b = this.epBytes;
    const n = endpoint.length < b.length ? endpoint.length : b.length;
    for (let i = 0; i < n; i++) b[i] = endpoint.charCodeAt(i) & 255;
    noise.mac(this.cookie, 0, this.secret, 32, b, 0, n);
  }

  /** True if msg's mac2 (at mac2Off, covering msg[off, mac2Off)) matches the source's current cookie. */
  checkMac2(noise: Noise, random: RandomSource, now: number, endpoint: string,
    msg: Uint8Array, off: number, mac2Off: number): boolean {
    this.makeCookie(noise, random, now, endpoint);
    noise.mac(this.mac, 0, this.cookie, 16, msg, off, mac2Off - off);
    return equalCT(this.mac, 0, msg, mac2Off, MAC_SIZE);
  }

  /**
   * Writes a 64-byte cookie reply into out[0, 64) for a message whose sender index is `receiver`
   * and whose mac1 is msg[mac1Off, mac1Off+16).
   */
  writeReply(noise: Noise, random: RandomSource, now: number, endpoint: string, receiver: number,
    msg: Uint8Array, mac1Off: number, out: Uint8Array): void {
    this.makeCookie(noise, random, now, endpoint);
    out[0] = 3;
    out[1] = 0;
    out[2] = 0;
    out[3] = 0;
    out[4] = receiver & 255;
    out[5] = (receiver >>> 8) & 255;
    out[6] = (receiver >>> 16) & 255;
    out[7] = (receiver >>> 24) & 255;
    random(out, 8, 24);
    noise.c.xseal(this.cookieKey, out, 8, msg, mac1Off, MAC_SIZE, this.cookie, 0, 16, out, 32);
  }
}

/** Initiator-side cookie state, one per peer. */
export class CookieState {
  /** HASH("mac1----" || peer public) and HASH("cookie--" || peer public). */
  readonly mac1Key: Uint8Array;
  readonly cookieKey: Uint8Array;
  readonly cookie: Uint8Array;
  cookieBirth: number;
  readonly lastMac1: Uint8Array;
  haveSentMac1: boolean;
  private scratch: Uint8Array;

  constructor() {
    this.scratch = new Uint8Array(16);
    this.mac1Key = new Uint8Array(32);
    this.cookieKey = new Uint8Array(32);
    this.cookie = new Uint8Array(16);
    this.cookieBirth = -Infinity;
    this.lastMac1 = new Uint8Array(16);
    this.haveSentMac1 = false;
  }

  init(noise: Noise, peerPublic: Uint8Array): void {
    deriveLabelKey(noise, this.mac1Key, 'mac1', peerPublic);
    deriveLabelKey(noise, this.cookieKey, 'cookie', peerPublic);
    this.clear();
  }

  clear(): void {
    this.cookie.fill(0);
    this.cookieBirth = -Infinity;
    this.lastMac1.fill(0);
    this.haveSentMac1 = false;
  }

  /** Adds mac1 and (if we hold a fresh cookie) mac2 to a handshake message msg[0, len). */
  addMacs(noise: Noise, now: number, msg: Uint8Array, len: number): void {
    const mac1Off = len - 32;
    const mac2Off = len - 16;
    noise.mac(msg, mac1Off, this.mac1Key, 32, msg, 0, mac1Off);
    for (let i = 0; i < 16; i++) this.lastMac1[i] = msg[mac1Off + i];
    this.haveSentMac1 = true;
    if (now - this.cookieBirth < COOKIE_SECRET_MAX_AGE - COOKIE_SECRET_LATENCY) {
      noise.mac(msg, mac2Off, this.cookie, 16, msg, 0, mac2Off);
    } else {
      for (let i = 0; i < 16; i++) msg[mac2Off + i] = 0;
    }
  }

  /** Consumes a cookie reply msg[off, off+64). Returns false if it does not decrypt. */
  consumeReply(noise: Noise, now: number, msg: Uint8Array, off: number): boolean {
    if (!this.haveSentMac1) return false;
    if (!noise.c.xopen(this.cookieKey, msg, off + 8, this.lastMac1, 0, 16, msg, off + 32, 16, this.scratch, 0)) {
      return false;
    }
    this.cookie.set(this.scratch);
    this.cookieBirth = now;
    this.haveSentMac1 = false;
    return true;
  }
}
