/**
 * The wgjs device peer for Espruino: the entry of the device build (`dist/wgjs.js`). It wires the
 * engine (`@wgjs/core`), a crypto provider (a native `wgcrypto` firmware module if the board has
 * one, else the portable JS one), an AT modem driver (by dialect) and the Espruino runtime
 * (Serial, Storage, timers, `E.hwRand`), and defines the global `wgjs` API: `start(cfg)`,
 * `sendUdp`, `report`, `sleep`, `onUdp`, `onEvent`, `status`, `connect`, `stop`, and `bench` in the
 * builds that include it (scripts/build.ts: the per-board builds leave it and `_core` out).
 *
 * The device is always the initiator and one peer only. Handshake CPU is the scarce resource (an
 * X25519 takes ~1.5 s here on a PC and 50–100× longer on a microcontroller), so:
 *  - the next ephemeral key and DH(e, peer static) are precomputed while idle, after each
 *    handshake, so an initiation costs no scalar multiplication;
 *  - the engine is never ticked into a (re)transmission without a precomputed ephemeral: the
 *    device precomputes first, lets the modem's AT queue settle (a response that arrived in the
 *    meantime is processed first), then ticks with a fresh clock. An initiation computed inline
 *    would be sent with a stale time, its REKEY_TIMEOUT would already be over, and the next one
 *    would supersede it before its response could be read: a loop of abandoned handshakes;
 *  - a handshake response (2 X25519) is processed when the AT queue is idle, so no command is
 *    in flight (and timed out) while the interpreter is busy; if that processing takes so long
 *    that sessions are born stale (> 100 s), the device reports it and backs off instead of
 *    rekeying in a loop;
 *  - initiations from the peer are not answered as responder (4 X25519 inline): the device starts
 *    its own handshake instead (at most once per 30 s).
 *
 * No real-time clock: the last TAI64N is reserved ahead in Storage (`wgjs.ts`) and restored at
 * boot, so initiations after a reboot always carry a greater timestamp.
 *
 * Device code: Espruino subset (see scripts/check-device.ts).
 */
import { Initiator, jsSuite, EVENT_COMPLETE, EVENT_GAVE_UP, EVENT_INITIATED, type Suite } from '@wgjs/core/initiator';
import { Engine } from '@wgjs/core/engine';
import { createPortableProvider } from '@wgjs/core/crypto/portable';
import { Noise, HandshakeState } from '@wgjs/core/noise';
import { compareBE, fromBase64, fromHex, toBase64, toHex, writeU32BE } from '@wgjs/core/bytes';
import { ip4EchoReply, ip4Info, ip4Parse, ip4Udp } from '@wgjs/core/ip4';
import { REKEY_AFTER_TIME, REKEY_TIMEOUT } from '@wgjs/core/constants';
import { AtEngine } from './at.js';
import type { ModemUdp } from './modem/udp.js';
import { SimcomUdp } from './modem/simcom.js';
import { Sim7000Udp } from './modem/sim7000.js';
import { Sim7600Udp } from './modem/sim7600.js';
import { QuectelUdp } from './modem/quectel.js';
import { EspAtUdp } from './modem/espat.js';

/** Espruino's `E` (the shim provides the same). */
declare const E: {
  hwRand?: () => number;
  getSizeOf?: (x: unknown) => number;
};
/** Seconds since boot (or since the epoch if the time was set), with µs resolution. */
declare function getTime(): number;
declare function digitalWrite(pin: unknown, value: number): void;

/**
 * Defined by scripts/build.ts: '' (every driver), or one dialect (`--dialect quectel`), which
 * leaves the other drivers out of the bundle as dead code.
 */
declare const WGJS_DIALECT: string;
/** Defined by scripts/build.ts: whether `wgjs.bench()` and the `wgjs._core` test hook are in the build. */
declare const WGJS_BENCH: boolean;
declare const WGJS_CORE: boolean;

/** Espruino's root scope: `global.require`, `global.Serial1` (esbuild leaves member calls alone). */
const G = global as unknown as Record<string, any>;

const VERSION = '0.1.0';
/** Storage files. */
const CFG_TS = 'wgjs.ts';
/** The adaptive keepalive's learned NAT mapping lifetime (ms, decimal text). */
const CFG_KA = 'wgjs.ka';
/** TAI64N reservation: every timestamp sent stays below the persisted value; rewritten when passed. */
const TS_AHEAD_S = 3600;
/** A clock step larger than this (setTime) counts as no time passing. */
const MAX_STEP = 3600000;
/** Response processing above this means sessions are born too old to be worth having. */
const TOO_SLOW = 100000;
/**
 * 'auto' keepalive: the adaptive keepalive (learn the NAT's lifetime, keep just under it) unless a
 * handshake costs more than this share of REKEY_AFTER_TIME (%): then none (report and sleep).
 */
const AUTO_KA_MAX_CPU = 10;

/**
 * A firmware module `require('wgcrypto')` may provide (all synchronous, buffers Uint8Array, keys
 * 32 bytes, nonce 12 bytes, tag 16 bytes); each function is optional and the JS code does the rest.
 * See README "Native crypto module".
 */
export interface NativeCrypto {
  /** out = X25519(scalar, point) (scalar clamped); false if the result is all zeros. */
  x25519?(out: Uint8Array, scalar: Uint8Array, point: Uint8Array): boolean;
  /** ChaCha20-Poly1305: encrypts `data` in place, writes the tag. `ad` may be undefined. */
  seal?(key: Uint8Array, nonce: Uint8Array, ad: Uint8Array | undefined, data: Uint8Array, tag: Uint8Array): void;
  /** Checks `tag`, then decrypts `data` in place; false (data untouched) on a bad tag. */
  open?(key: Uint8Array, nonce: Uint8Array, ad: Uint8Array | undefined, data: Uint8Array, tag: Uint8Array): boolean;
  /** Streaming BLAKE2s (one computation at a time): digest length 1..32, optional key (≤ 32 bytes). */
  blake2sInit?(outLen: number, key: Uint8Array | undefined): void;
  blake2sUpdate?(data: Uint8Array): void;
  blake2sFinal?(out: Uint8Array): void;
  /** Fills `out` from a hardware RNG; mixed into the key pool (E.hwRand is weak on some boards). */
  random?(out: Uint8Array): void;
}

/** The config JSON in Storage `wgjs.cfg` (written by the flasher). */
export interface DeviceConfig {
  privateKey: string;
  address: string;
  /** Largest inner packet (576..1420, default 576): sets the engine's and the modem's buffers. */
  mtu?: number;
  /** 'portable' forces the JS crypto; default: the native module when present. */
  crypto?: string;
  peer: {
    publicKey: string;
    presharedKey?: string;
    endpoint: string;
    allowedIPs: string[];
    persistentKeepalive?: number | string;
    /** With 'auto': the probe responder inside the tunnel ("10.0.0.1:51821", `wgjs probe-responder`). */
    keepaliveResponder?: string;
  };
  modem: {
    dialect: string;
    serial: string;
    baud: number;
    tx?: unknown;
    rx?: unknown;
    pwrkey?: unknown;
    reset?: unknown;
    apn?: string;
    ssid?: string;
    wifiPassword?: string;
    /** Linux build only: the tty of Serial setup. */
    path?: string;
    /** Local UDP port (Quectel, ESP-AT). */
    lport?: number;
    /** Length of the power-on pulse on PWRKEY, ms (default 1100: SIM7000/SIM7080 need ≥ 1 s). */
    pwrkeyMs?: number;
  };
  app?: Record<string, unknown>;
}

type UdpCallback = (data: Uint8Array, srcIp: string, srcPort: number, dstPort: number) => void;
type EventCallback = (e: Record<string, unknown>) => void;

/** Prints a status line on the console: `WGJS {json}`. */
function print(o: Record<string, unknown>): void {
  console.log('WGJS ' + JSON.stringify(o));
}

/** Scratch for validating addresses. */
const IP_SCRATCH = new Uint8Array(4);

/** Dotted IPv4 text → 4 bytes in `out` (default: scratch); false if malformed. */
function ip4(s: string, out?: Uint8Array): boolean {
  const o = out || IP_SCRATCH;
  const p = s.split('.');
  if (p.length !== 4) return false;
  for (let i = 0; i < 4; i++) {
    const v = parseInt(p[i]!, 10);
    if (!(v >= 0 && v <= 255) || String(v) !== p[i]) return false;
    o[i] = v;
  }
  return true;
}

/** ESP-AT string argument escaping (backslash before `\`, `"` and `,`). */
function atEscape(s: string): string {
  let o = '';
  for (let i = 0; i < s.length; i++) {
    const ch = s.charAt(i);
    o += (ch === '\\' || ch === '"' || ch === ',' ? '\\' : '') + ch;
  }
  return o;
}

/**
 * The initiator's suite over a native module: what the module has runs natively (views of the
 * engine's buffers are made per call), the rest — and HChaCha20 for cookie replies — stays JS.
 * The handshake's wrappers are created with the handshake's primitives, per handshake step.
 */
export function nativeSuite(m: NativeCrypto, js: Suite): Suite {
  const s: Suite = { aead: js.aead, handshake: js.handshake };
  if (m.seal && m.open) {
    const nonce = new Uint8Array(12);
    s.aead = function (key, lo, hi, ad, adLen, buf, off, len, open) {
      for (let i = 0; i < 4; i++) {
        nonce[4 + i] = (lo >>> (8 * i)) & 255;
        nonce[8 + i] = (hi >>> (8 * i)) & 255;
      }
      const a = ad && adLen > 0 ? ad.subarray(0, adLen) : undefined;
      const d = buf.subarray(off, off + len);
      const t = buf.subarray(off + len, off + len + 16);
      if (open) return (m.open as NonNullable<NativeCrypto['open']>)(key, nonce, a, d, t);
      (m.seal as NonNullable<NativeCrypto['seal']>)(key, nonce, a, d, t);
      return true;
    };
  }
  const blake = m.blake2sInit && m.blake2sUpdate && m.blake2sFinal;
  if (m.x25519 || blake) {
    s.handshake = function () {
      const h = js.handshake();
      if (m.x25519) {
        const nine = new Uint8Array(32);
        nine[0] = 9;
        h.x25519 = function (out, scalar, point) {
          return (m.x25519 as NonNullable<NativeCrypto['x25519']>)(out, scalar, point || nine);
        };
      }
      if (blake) {
        h.hashInit = function (outLen, key, keyLen) {
          (m.blake2sInit as NonNullable<NativeCrypto['blake2sInit']>)(outLen, key && keyLen > 0 ? key.subarray(0, keyLen) : undefined);
        };
        h.hashUpdate = function (buf, off, len) {
          (m.blake2sUpdate as NonNullable<NativeCrypto['blake2sUpdate']>)(buf.subarray(off, off + len));
        };
        h.hashFinal = function (out, off) {
          (m.blake2sFinal as NonNullable<NativeCrypto['blake2sFinal']>)(out.subarray(off));
        };
      }
      return h;
    };
  }
  return s;
}

/**
 * The crypto: the firmware's `wgcrypto` module where it has the primitives (unless forced off with
 * crypto: 'portable'), else the JS suite. Returns the suite and the module (or null).
 */
function makeSuite(which: string | undefined): { s: Suite; m: NativeCrypto | null } {
  let m: NativeCrypto | null = null;
  if (which !== 'portable') {
    try {
      m = G.require('wgcrypto') as NativeCrypto;
    } catch (e) {
      m = null;
    }
  }
  const js = jsSuite();
  return { s: m ? nativeSuite(m, js) : js, m: m };
}

/** The `wgjs` global's API (an interface, so the build keeps these names). */
interface WgjsApi {
  /** Starts the peer from the config object (from Storage `wgjs.cfg`); errors are printed, not thrown. */
  start(cfg: DeviceConfig): void;
  stop(): void;
  /**
   * Sends `data` (string or bytes) as one UDP datagram from our tunnel address:srcPort to
   * dstIp:dstPort inside the tunnel. Returns true if sent or queued for the handshake.
   */
  sendUdp(dstIp: string, dstPort: number, data: string | Uint8Array, srcPort?: number): boolean;
  /**
   * Report and sleep: sends one datagram (a handshake first only if the session is too old) and
   * puts the tunnel back to sleep once it has left — for devices that report and power down.
   */
  report(dstIp: string, dstPort: number, data: string | Uint8Array, srcPort?: number): boolean;
  /** Puts the tunnel to sleep: nothing is sent (no keepalive, rekey or retry) until the next send. */
  sleep(): void;
  /** Sets the receiver of UDP datagrams addressed to us: cb(data, srcIp, srcPort, dstPort); data valid only during the call. */
  onUdp(cb: UdpCallback | null): void;
  /** Sets a listener for the events printed as `WGJS {…}`. */
  onEvent(cb: EventCallback | null): void;
  /** Status snapshot (null when stopped); also printed as `WGJS {"event":"status",…}` when `printIt`. */
  status(printIt?: boolean): Record<string, unknown> | null;
  /** Starts a handshake now; `force` ignores the 5 s initiation limit (e.g. after a path change). */
  connect(force?: boolean): void;
}

/**
 * The device peer, and the `wgjs` global itself (one instance, created at load; `start` brings it
 * up). On Espruino every method and every closure costs RAM (JsVars: ~6 per function plus one
 * per parameter, and a closure keeps its creator's local variables alive), so the device is one
 * class with few methods: it is the API, the engine's sink, and its callbacks are bound methods
 * rather than closures.
 */
class Device implements WgjsApi {
  declare version: string;
  declare m: DeviceConfig['modem'];
  declare c: Suite;
  /** 'native' or 'portable'. */
  declare cname: string;
  declare engine: Initiator;
  declare at: AtEngine;
  declare modem: ModemUdp;
  declare serial: { removeAllListeners?: (e: string) => void };
  declare pub: string;
  declare peerPub: string;
  declare addr: Uint8Array;
  /** Monotonic clock (see `now`): last getTime() in ms, and the monotonic time. */
  declare last: number;
  declare mono: number;
  /**
   * Randomness (see `rand`): the BLAKE2s pool, an output block, raw source bytes, no hardware
   * source at all, the native module's source.
   */
  declare pool: Uint8Array;
  declare weak: boolean;
  declare hw: ((out: Uint8Array) => void) | null;
  /** Configured endpoint: host (name or IPv4) and port; `ep` the engine's string once resolved. */
  declare epHost: string;
  declare epPort: number;
  declare ep: string;
  declare mstate: string;
  declare running: boolean;
  /** The one engine timer, its due time, the precompute timer, the idle-wait timer. */
  declare tmr: unknown;
  declare tmrAt: number;
  declare preTmr: unknown;
  declare idleTmr: unknown;
  /** Send cache: last endpoint string and its parts. */
  declare sEp: string;
  declare sHost: string;
  declare sPort: number;
  declare sendCb: (err: string | null) => void;
  /** A handshake response waiting for the AT queue to go idle. */
  declare rsp: Uint8Array | null;
  declare rspEp: string;
  declare rspWait: boolean;
  declare dst: Uint8Array;
  declare dstStr: string;
  /** Datagrams sent before the endpoint is known (modem not up yet), sent at the first connect. */
  declare early: Uint8Array[];
  declare udpCb: UdpCallback | null;
  declare evCb: EventCallback | null;
  /** Monotonic ms of the last initiation sent, of the last completed handshake, of the last reaction to a peer's initiation. */
  declare lastInit: number;
  declare lastHs: number;
  declare lastPoke: number;
  declare justDone: boolean;
  /** No initiations before this time (too-slow back-off), and the back-off length. */
  declare cool: number;
  declare coolMs: number;
  declare ka: number;
  declare kaAuto: boolean;
  /** The adaptive keepalive is on; its learned lifetime as last written to Storage. */
  declare kaOn: boolean;
  declare kaSaved: number;
  declare responder: string;
  declare addrStr: string;
  /** TAI64N reservation (12 bytes) persisted in Storage. */
  declare taiR: Uint8Array;
  declare openFails: number;
  declare errs: number;
  declare dnsCb: ((ip: string | null) => void) | null;
  declare dnsUrc: boolean;
  /** Counters: initiations, handshakes, UDP in/out, pings answered, send errors, too-slow events. */
  declare nInit: number;
  declare nHs: number;
  declare nUdpIn: number;
  declare nUdpOut: number;
  declare nPing: number;
  declare nTxErr: number;
  declare nSlow: number;
  /** ms of the last precompute, of the last response processing. */
  declare preMs: number;
  declare rspMs: number;

  constructor() {
    this.version = VERSION;
    this.running = false;
    this.udpCb = null;
    this.evCb = null;
  }

  start(cfg: DeviceConfig): void {
    this.stop();
    try {
      if (!cfg || !cfg.peer || !cfg.modem) throw new Error('no config (Storage wgjs.cfg)');
      this.init(cfg);
      print({ event: 'status', state: 'start', version: VERSION, publicKey: this.pub, crypto: this.cname });
    } catch (e) {
      this.stop();
      print({ event: 'error', message: 'start: ' + ((e as Error).message || String(e)) });
    }
  }

  init(cfg: DeviceConfig): void {
    this.running = true;
    this.last = getTime() * 1000;
    this.mono = 0;
    const key = fromBase64(cfg.privateKey);
    const peerKey = fromBase64(cfg.peer.publicKey);
    if (!key || key.length !== 32 || !peerKey || peerKey.length !== 32) throw new Error('wgjs.cfg: bad privateKey or peer.publicKey');
    this.addr = new Uint8Array(4);
    this.addrStr = String(cfg.address).split('/')[0]!;
    if (!ip4(this.addrStr, this.addr)) throw new Error('wgjs.cfg: address must be IPv4');
    const ep = String(cfg.peer.endpoint);
    const colon = ep.lastIndexOf(':');
    this.epHost = ep.substring(0, colon);
    this.epPort = parseInt(ep.substring(colon + 1), 10);
    if (!(colon > 0 && this.epPort > 0 && this.epPort < 65536)) throw new Error('wgjs.cfg: endpoint must be host:port');
    this.ep = '';
    // The TAI64N reservation from Storage (none: zeros, then one from the wall clock below).
    this.taiR = new Uint8Array(12);
    const st = G.require('Storage').read(CFG_TS);
    const saved = typeof st === 'string' ? fromHex(st) : null;
    if (saved && saved.length === 12) this.taiR.set(saved);
    const cr = makeSuite(cfg.crypto);
    const nat = cr.m;
    this.hw = nat && nat.random ? (nat.random as (o: Uint8Array) => void).bind(nat) : null;
    this.weak = !this.hw && (typeof E === 'undefined' || typeof E.hwRand !== 'function');
    this.pool = new Uint8Array(32);
    this.c = cr.s;
    this.cname = nat ? 'native' : 'portable';
    // pool = H_key(raw || reservation): keyed with the private key, salted with this boot's reservation.
    const raw = new Uint8Array(64);
    for (let i = 0; i < 64; i += 8) this.rand(raw, i, 8);
    const c = this.c;
    const h = c.handshake();
    h.hashInit(32, key, 32);
    h.hashUpdate(raw, 0, 64);
    h.hashUpdate(this.taiR, 0, 12);
    h.hashFinal(this.pool, 0);
    const mtu = cfg.mtu || 576;
    const psk = cfg.peer.presharedKey ? fromBase64(cfg.peer.presharedKey) : null;
    if (psk && psk.length !== 32) throw new Error('wgjs.cfg: bad peer.presharedKey');
    this.engine = new Initiator({
      privateKey: key,
      peerPublicKey: peerKey,
      presharedKey: psk,
      allowedIPs: cfg.peer.allowedIPs,
      suite: c,
      random: this.rand.bind(this),
      wallTime: Date.now,
      mtu: mtu,
    }, this);
    key.fill(0);
    // Timestamps after this boot are greater than any sent before it; reserve an hour ahead of
    // the later of that and the wall clock, so this boot writes Storage again only after an hour.
    this.engine.tai.restore(this.taiR);
    this.reserveTai(this.taiR);
    this.pub = toBase64(this.engine.publicKey);
    this.peerPub = cfg.peer.publicKey;
    const ka = cfg.peer.persistentKeepalive;
    this.kaAuto = ka === undefined || ka === 'auto';
    this.ka = this.kaAuto ? 0 : +(ka as number) || 0;
    if (this.ka > 0) this.engine.setKeepalive(this.ka);
    this.kaOn = false;
    this.responder = cfg.peer.keepaliveResponder || '';
    const kas = G.require('Storage').read(CFG_KA);
    this.kaSaved = kas ? +kas || 0 : 0;
    this.tmr = null;
    this.tmrAt = -1;
    this.preTmr = null;
    this.idleTmr = null;
    this.sEp = '';
    this.sHost = '';
    this.sPort = 0;
    this.rsp = null;
    this.rspEp = '';
    this.rspWait = false;
    this.dst = new Uint8Array(4);
    this.dstStr = '';
    this.early = [];
    this.lastInit = -Infinity;
    this.lastHs = -Infinity;
    this.lastPoke = -Infinity;
    this.justDone = false;
    this.cool = -Infinity;
    this.coolMs = 0;
    this.openFails = 0;
    this.errs = 0;
    this.dnsCb = null;
    this.dnsUrc = false;
    this.nInit = 0;
    this.nHs = 0;
    this.nUdpIn = 0;
    this.nUdpOut = 0;
    this.nPing = 0;
    this.nTxErr = 0;
    this.nSlow = 0;
    this.preMs = 0;
    this.rspMs = 0;
    this.mstate = 'off';
    this.m = cfg.modem;
    // The modem.
    const m = this.m;
    const serial = G[m.serial];
    if (!serial) throw new Error('wgjs.cfg: no serial port ' + m.serial);
    // Power key and reset idle high (README "Profile files"); on the Espruino WiFi this enables the ESP8266.
    if (m.pwrkey !== undefined) digitalWrite(m.pwrkey, 1);
    if (m.reset !== undefined) digitalWrite(m.reset, 1);
    const so: Record<string, unknown> = {};
    if (m.tx !== undefined) so.tx = m.tx;
    if (m.rx !== undefined) so.rx = m.rx;
    if (m.path !== undefined) so.path = m.path;
    serial.setup(m.baud || 115200, so);
    this.serial = serial;
    // The receive buffer is the engine's: the largest transport datagram for our MTU.
    const at = new AtEngine(serial, { bufSize: mtu + 32 });
    this.at = at;
    const host = ip4(this.epHost) ? this.epHost : '';
    const o = { apn: m.apn, host: host, port: host ? this.epPort : 0, lport: m.lport };
    // The driver of the dialect; in a single-dialect build the others are dead code, left out.
    const d = m.dialect;
    let modem: ModemUdp | null = null;
    if ((WGJS_DIALECT === '' || WGJS_DIALECT === 'simcom') && d === 'simcom') modem = new SimcomUdp(at, o);
    if ((WGJS_DIALECT === '' || WGJS_DIALECT === 'sim7000') && d === 'sim7000') modem = new Sim7000Udp(at, o);
    if ((WGJS_DIALECT === '' || WGJS_DIALECT === 'sim7600') && d === 'sim7600') modem = new Sim7600Udp(at, o);
    if ((WGJS_DIALECT === '' || WGJS_DIALECT === 'quectel') && d === 'quectel') modem = new QuectelUdp(at, o);
    if ((WGJS_DIALECT === '' || WGJS_DIALECT === 'espat') && d === 'espat') modem = new EspAtUdp(at, o);
    if (!modem) throw new Error('modem dialect ' + d + ' not in this build');
    this.modem = modem;
    // Bound methods, not closures: a closure would keep this function's locals alive.
    this.sendCb = this.txDone.bind(this);
    modem.onReceive(this.datagram.bind(this));
    modem.onEvent(this.modemEvent.bind(this));
    this.open();
  }


  /** A datagram left the modem, or could not (counted). */
  txDone(err: string | null): void {
    if (err) this.nTxErr++;
  }

  /** Monotonic milliseconds from getTime() (which setTime() can move): steps back or huge jumps count as 0. */
  now(): number {
    const t = getTime() * 1000;
    const d = t - this.last;
    this.last = t;
    if (d > 0 && d < MAX_STEP) this.mono += d;
    return this.mono;
  }

  /**
   * The engine's randomness: a native module's `random` if there is one, else E.hwRand (32 bits
   * a call: ADC noise on STM32, the SoftDevice RNG on nRF52, but libc rand() — a PRNG — on ESP32
   * firmware). Requests of more than 8 bytes (keys) are conditioned through a BLAKE2s pool keyed
   * with the private key and salted with the boot's TAI reservation (new every boot), so a weak
   * or repeating source does not give predictable or repeated ephemeral keys; shorter ones
   * (indexes, jitter: on the data path) come from the source directly, one word per 4 bytes.
   */
  rand(buf: Uint8Array, off: number, len: number): void {
    // A few bytes go straight from the source; keys through the pool, with scratch made per call
    // (they are drawn only during handshake steps, so nothing is kept for them at rest).
    const few = len <= 8;
    const r = few ? buf : new Uint8Array(64);
    const t = few ? buf : new Uint8Array(32);
    const o = few ? off : 0;
    const n = few ? len : 64;
    for (let done = 0; done < len; done += 32) {
      if (this.hw) this.hw(few ? buf.subarray(off, off + len) : r);
      else {
        for (let i = 0; i < n; i += 4) {
          const v = this.weak ? (Math.random() * 4294967296) ^ (getTime() * 1e6) : (E.hwRand as () => number)();
          for (let j = 0; j < 4 && i + j < n; j++) r[o + i + j] = (v >> (8 * j)) & 255;
        }
      }
      if (few) return;
      // t = H_pool(raw); output = H_t(0); pool = H_t(1): an output never reveals the next pool.
      // Keys are drawn during handshake steps: use that step's hash (else make one).
      const h = this.engine && this.engine.h ? this.engine.h : this.c.handshake();
      h.hashInit(32, this.pool, 32);
      h.hashUpdate(r, 0, 64);
      h.hashFinal(t, 0);
      r[0] = 1;
      h.hashInit(32, t, 32);
      h.hashUpdate(r, 0, 1);
      h.hashFinal(this.pool, 0);
      r[0] = 0;
      h.hashInit(32, t, 32);
      h.hashUpdate(r, 0, 1);
      h.hashFinal(t, 0);
      for (let i = 0; i < 32 && done + i < len; i++) buf[off + done + i] = t[i]!;
    }
    if (!few) {
      r.fill(0);
      t.fill(0);
    }
  }


  emit(o: Record<string, unknown>): void {
    print(o);
    if (this.evCb) this.evCb(o);
  }

  // ---------------------------------------------------------------- TAI64N persistence

  /**
   * Makes the persisted reservation exceed `t` (the last timestamp sent) and the wall clock: when
   * one reached it, the new reservation is an hour past the larger and is written to Storage.
   */
  reserveTai(t: Uint8Array): void {
    // w = the TAI64N label of the wall clock (nanoseconds 0).
    const w = new Uint8Array(12);
    const s = Math.floor(Date.now() / 1000) + 10;
    writeU32BE(w, 0, 0x40000000 + Math.floor(s / 4294967296));
    writeU32BE(w, 4, s % 4294967296);
    if (compareBE(t, 0, w, 0, 12) > 0) w.set(t);
    if (compareBE(w, 0, this.taiR, 0, 12) < 0 && this.taiR[0] !== 0) return;
    w[8] = 0; w[9] = 0; w[10] = 0; w[11] = 0;
    // Adds TS_AHEAD_S to the 64-bit big-endian seconds.
    let c = TS_AHEAD_S;
    for (let i = 7; i >= 0 && c > 0; i--) {
      const v = w[i]! + (c % 256);
      c = Math.floor(c / 256) + (v > 255 ? 1 : 0);
      w[i] = v & 255;
    }
    this.taiR.set(w);
    G.require('Storage').write(CFG_TS, toHex(this.taiR));
  }

  // ---------------------------------------------------------------- modem

  open(): void {
    const self = this;
    const m = this.m;
    this.mstate = 'opening';
    this.modem.open(function (err: string | null): void {
      if (!err || !self.running) return;
      self.mstate = 'off';
      const n = ++self.openFails;
      self.emit({ event: 'error', message: 'modem open: ' + err });
      // (ESP-AT only: in the other per-board builds this is dead code, left out with atEscape.)
      if ((WGJS_DIALECT === '' || WGJS_DIALECT === 'espat') && err === 'nowifi' && m.ssid) {
        self.at.cmd('AT+CWMODE=1', null, function (): void {
          self.at.cmd('AT+CWJAP="' + atEscape(m.ssid as string) + '","' + atEscape(m.wifiPassword || '') + '"', { timeout: 20000 }, function (): void {
            self.later(self.open, 1000);
          });
        });
        return;
      }
      // No answer at all: the modem is probably off; a PWRKEY pulse switches it on (every other try).
      if (err === 'timeout' && m.pwrkey !== undefined && n % 2 === 1) {
        self.pulse(m.pwrkey, m.pwrkeyMs || 1100);
        self.later(self.open, 8000);
        return;
      }
      self.later(self.open, Math.min(60000, 1000 << Math.min(n, 6)));
    });
  }

  /** Calls the method `fn` of this device after `ms`, unless stopped meanwhile. */
  later(fn: (this: Device, a?: string, b?: string) => void, ms: number, a?: string, b?: string): void {
    const self = this;
    setTimeout(function (): void { if (self.running) fn.call(self, a, b); }, ms);
  }

  /** A low pulse on an idle-high pin. */
  pulse(pin: unknown, ms: number): void {
    digitalWrite(pin, 0);
    setTimeout(function (): void { digitalWrite(pin, 1); }, ms);
  }

  modemEvent(type: string, info: string): void {
    const self = this;
    if (type === 'up' || type === 'reattach') {
      this.mstate = 'up';
      this.openFails = 0;
      this.errs = 0;
      this.emit({ event: 'status', state: type, ip: info });
      if (this.ep) {
        this.connect(type === 'reattach');
        return;
      }
      this.resolve(function (ip: string | null): void {
        if (!ip) {
          self.emit({ event: 'error', message: 'cannot resolve ' + self.epHost });
          self.later(self.modemEvent as (this: Device, a?: string, b?: string) => void, 30000, 'up', info);
          return;
        }
        self.ep = ip + ':' + self.epPort;
        self.engine.endpoint = self.ep;
        self.connect(false);
      });
    } else if (type === 'down') {
      this.mstate = 'down';
      this.emit({ event: 'status', state: 'down', reason: info });
    } else if (type === 'error') {
      this.mstate = 'recovering';
      // The driver cannot power-cycle a modem that stopped answering: every third failure, pulse reset (or PWRKEY).
      const m = this.m;
      if (++this.errs % 3 === 0) {
        if (m.reset !== undefined) this.pulse(m.reset, 200);
        else if (m.pwrkey !== undefined) this.pulse(m.pwrkey, m.pwrkeyMs || 1100);
      }
    }
  }

  /** The endpoint's IPv4 address: literal, or asked from the modem's DNS (AT+CDNSGIP / AT+QIDNSGIP / AT+CIPDOMAIN). */
  resolve(cb: (ip: string | null) => void): void {
    const self = this;
    const h = this.epHost;
    if (ip4(h)) {
      cb(h);
      return;
    }
    let done = false;
    function fin(ip: string | null): void {
      if (done) return;
      done = true;
      self.dnsCb = null;
      cb(ip);
    }
    const d = this.m.dialect;
    if (d === 'espat') {
      this.at.cmd('AT+CIPDOMAIN="' + h + '"', { resp: '+CIPDOMAIN:', timeout: 20000 }, function (err: string | null, lines: string[]): void {
        let ip = '';
        for (let i = 0; i < lines.length; i++) if (lines[i]!.substring(0, 11) === '+CIPDOMAIN:') ip = lines[i]!.substring(11).split('"').join('');
        fin(!err && ip4(ip) ? ip : null);
      });
      return;
    }
    if (!this.dnsUrc) {
      // The modem's answer comes as an unsolicited line; registered once, on the first lookup.
      this.dnsUrc = true;
      this.at.urc(d === 'quectel' ? '+QIURC: "dnsgip"' : '+CDNSGIP:', function (line: string): void {
        const q = line.split('"');
        const ip = q.length > 3 ? q[q.length - 2]! : '';
        if (self.dnsCb && ip4(ip)) self.dnsCb(ip);
      });
    }
    this.dnsCb = fin;
    // SIM7080 family: AT+CDNSGIP=<name>,<retries>,<timeout>; SIM7000/SIM7600: AT+CDNSGIP=<name>.
    const cmd = d === 'quectel' ? 'AT+QIDNSGIP=1,"' + h + '"' : 'AT+CDNSGIP="' + h + '"' + (d === 'simcom' ? ',1,10000' : '');
    this.at.cmd(cmd, { timeout: 20000 }, function (err: string | null): void {
      if (err) fin(null);
    });
    setTimeout(function (): void { fin(null); }, 30000);
  }

  /** The engine's sink: one datagram to the peer. modem.send copies the bytes at once. */
  send(b: Uint8Array, off: number, len: number, ep: string): void {
    if (ep !== this.sEp) {
      const i = ep.lastIndexOf(':');
      this.sHost = ep.substring(0, i);
      this.sPort = parseInt(ep.substring(i + 1), 10);
      this.sEp = ep;
    }
    this.modem.send(b, off, len, this.sHost, this.sPort, this.sendCb);
  }

  /** A datagram from the modem. */
  datagram(b: Uint8Array, off: number, len: number, host: string, port: number): void {
    if (!this.running) return;
    const ep = host + ':' + port;
    const type = b[off];
    // Backing off (too slow): no handshake work at all.
    if ((type === 1 || type === 2) && this.now() < this.cool) return;
    if (type === 2 && len === 92) {
      // A response: 2 X25519. Copied and processed once no AT command is in flight.
      // Held only until processed (RAM at rest on a board).
      if (this.rsp === null) this.rsp = new Uint8Array(92);
      this.rsp.set(b.subarray(off, off + 92));
      this.rspEp = ep;
      if (!this.rspWait) {
        this.rspWait = true;
        this.whenIdle(0);
      }
      return;
    }
    if (type === 1) {
      // The peer wants a session: rather than answer as responder (4 X25519 inline), initiate.
      const t = this.now();
      if (host === this.ep.substring(0, this.ep.lastIndexOf(':')) && t - this.lastPoke > 30000) {
        this.lastPoke = t;
        this.connect(false);
      }
      return;
    }
    this.engine.receive(this.now(), b, off, len, ep);
    this.arm();
  }

  /** Runs the pending response once the AT queue is idle (at most ~1 s of waiting). */
  whenIdle(waited: number): void {
    const self = this;
    if (this.at.pending() > 0 && waited < 1000) {
      this.idleTmr = setTimeout(function (): void { self.whenIdle(waited + 20); }, 20);
      return;
    }
    this.idleTmr = null;
    this.rspWait = false;
    const t0 = this.now();
    this.justDone = false;
    this.engine.receive(t0, this.rsp as Uint8Array, 0, 92, this.rspEp);
    this.rsp = null;
    this.rspMs = this.now() - t0;
    if (this.justDone) {
      // A handshake completed.
      const t = this.now();
      this.nHs++;
      this.lastHs = t;
      this.emit({ event: 'handshake', peer: this.peerPub, ms: Math.round(t - this.lastInit), cpu: Math.round(this.rspMs) });
      if (this.rspMs > TOO_SLOW) {
        // Sessions born this old are rekeyed at once and rejected soon after: do not loop on them.
        this.nSlow++;
        this.coolMs = this.coolMs ? Math.min(this.coolMs * 2, 7200000) : 600000;
        this.cool = t + this.coolMs;
        this.emit({ event: 'error', message: 'handshake processing took ' + Math.round(this.rspMs / 1000) + ' s (sessions expire after 120-180 s): install a native crypto module; next attempt in ' + this.coolMs / 1000 + ' s' });
        this.arm();
        return;
      }
      this.coolMs = 0;
      if (this.kaAuto) {
        // 'auto': adaptive keepalive if this board affords a rekey every two minutes; keeps its learning.
        const on = (this.preMs + this.rspMs) * 100 < REKEY_AFTER_TIME * AUTO_KA_MAX_CPU;
        if (on !== this.kaOn) {
          this.kaOn = on;
          this.engine.setKeepalive(on ? {
            responder: this.responder || null, source: this.responder ? this.addrStr : null,
            learned: this.kaSaved || undefined,
          } : null);
        } else {
          const a = on ? this.engine.status(t).adaptive : null;
          const l = a && !a.learning ? a.provenIdle : 0;
          // Flash wears: rewrite only when the value moved by more than 10 %.
          if (l > 0 && (l > this.kaSaved * 1.1 || l < this.kaSaved * 0.9)) {
            this.kaSaved = Math.round(l);
            G.require('Storage').write(CFG_KA, String(this.kaSaved));
          }
        }
      }
      this.schedulePre(1000);
    }
    this.arm();
  }

  /** The engine's sink: inner packets. ICMP echo requests are answered, UDP to our address goes to the application. */
  deliver(b: Uint8Array, off: number, len: number): void {
    const kind = ip4Parse(b, off, len);
    const a = off + 16;
    if (kind < 0 || b[a] !== this.addr[0] || b[a + 1] !== this.addr[1] || b[a + 2] !== this.addr[2] || b[a + 3] !== this.addr[3]) return;
    if (kind === 1) {
      this.nPing++;
      this.engine.send(this.now(), b, off, ip4EchoReply(b, off), false);
      return;
    }
    this.nUdpIn++;
    if (!this.udpCb) return;
    const u = ip4Info;
    this.udpCb(b.subarray(u[2]!, u[2]! + u[3]!), b[off + 12] + '.' + b[off + 13] + '.' + b[off + 14] + '.' + b[off + 15], u[0]!, u[1]!);
  }

  /** The engine's sink: handshake events. */
  event(type: number): void {
    if (type === EVENT_INITIATED) {
      this.nInit++;
      this.lastInit = this.now();
      this.reserveTai(this.engine.tai.last);
    } else if (type === EVENT_COMPLETE) {
      this.justDone = true;
    } else if (type === EVENT_GAVE_UP) {
      this.emit({ event: 'error', message: 'handshake: no response from ' + this.ep });
      this.schedulePre(1000);
    }
  }

  /** Precomputes the next initiation soon, while nothing else runs. */
  schedulePre(ms: number): void {
    const self = this;
    if (this.preTmr !== null) return;
    this.preTmr = setTimeout(function (): void {
      self.preTmr = null;
      if (!self.running || self.engine.hasPre) return;
      if (self.at.pending() > 0 || self.rspWait) {
        self.schedulePre(100);
        return;
      }
      self.precompute();
      self.arm();
    }, ms);
  }

  /** Precomputes the next initiation now unless it is (`ifNeeded`), timing it. */
  precompute(ifNeeded?: boolean): void {
    if (ifNeeded && this.engine.hasPre) return;
    const t0 = this.now();
    this.engine.precompute();
    this.preMs = this.now() - t0;
  }

  /** Arms the single engine timer at nextDeadline (at least every 10 minutes, to keep the clock read). */
  arm(): void {
    const self = this;
    if (!this.running) return;
    const t = this.now();
    let d = this.engine.nextDeadline();
    if (d < this.cool) d = this.cool;
    if (d > t + 600000) d = t + 600000;
    if (this.tmr !== null) {
      if (d === this.tmrAt) return;
      clearTimeout(this.tmr as number);
    }
    this.tmrAt = d;
    this.tmr = setTimeout(function (): void { self.onTimer(); }, d > t ? d - t : 0);
  }

  /**
   * The engine timer. `waited` >= 0: settling after a precompute (see below), waiting for the AT
   * queue to go idle, at most 3 s.
   */
  onTimer(waited?: number): void {
    const self = this;
    this.tmr = null;
    this.tmrAt = -1;
    if (this.rspWait || (waited !== undefined && this.at.pending() > 0 && waited < 3000)) {
      // A response is waiting for the AT queue (a retransmission now would make it stale), or
      // the queue has not settled yet.
      this.tmrAt = -2;
      this.tmr = setTimeout(function (): void { self.onTimer(waited === undefined ? undefined : waited + 50); }, 50);
      return;
    }
    const t = this.now();
    if (t >= this.cool && this.engine.nextDeadline() <= t) {
      if (!this.engine.hasPre) {
        // Precompute first, then let the AT queue settle (a response read meanwhile goes first),
        // then tick with a fresh time: the next initiation is cheap and carries the right time.
        this.precompute();
        this.tmrAt = -2;
        this.tmr = setTimeout(function (): void { self.onTimer(0); }, 50);
        return;
      }
      this.engine.tick(this.now());
    }
    this.arm();
  }

  // ---------------------------------------------------------------- API

  connect(force?: boolean): void {
    if (!this.running || !this.ep || this.now() < this.cool) return;
    // Make sure the initiation is cheap (precomputed).
    this.precompute(true);
    this.engine.connect(this.now(), force === true);
    // Queued before the modem was up: staged by the engine until the handshake completes.
    for (let i = 0; i < this.early.length; i++) this.engine.send(this.now(), this.early[i]!, 0, this.early[i]!.length, false);
    this.early = [];
    this.arm();
  }

  report(dstIp: string, dstPort: number, data: string | Uint8Array, srcPort?: number): boolean {
    return this.sendUdp(dstIp, dstPort, data, srcPort, true);
  }

  /** See WgjsApi; with `sleepAfter`, report and sleep: the tunnel sleeps again once it has left. */
  sendUdp(dstIp: string, dstPort: number, data: string | Uint8Array, srcPort?: number, sleepAfter?: boolean): boolean {
    if (!this.running) return false;
    const n = data.length;
    if (n + 28 > this.engine.mtu) return false;
    if (dstIp !== this.dstStr) {
      if (!ip4(dstIp, this.dst)) return false;
      this.dstStr = dstIp;
    }
    const p = new Uint8Array(28 + n);
    if (typeof data === 'string') for (let i = 0; i < n; i++) p[28 + i] = data.charCodeAt(i) & 255;
    else p.set(data, 28);
    const len = ip4Udp(p, 0, this.addr, srcPort || dstPort, this.dst, dstPort, n);
    if (!this.ep) {
      // Like the engine's staging: at most two, the oldest gives way.
      if (this.early.length === 2) this.early.shift();
      this.early.push(p);
      return true;
    }
    let t = this.now();
    if (t < this.cool) return false;
    if (!this.engine.hasPre && t - this.lastInit >= REKEY_TIMEOUT) {
      this.precompute();
      t = this.now();
    }
    const drop = this.engine.send(t, p, 0, len, sleepAfter === true);
    this.arm();
    if (drop === 0) this.nUdpOut++;
    return drop === 0;
  }

  onUdp(cb: UdpCallback | null): void {
    this.udpCb = cb;
  }

  onEvent(cb: EventCallback | null): void {
    this.evCb = cb;
  }

  sleep(): void {
    if (!this.running) return;
    this.engine.sleep();
    this.arm();
  }

  status(printIt?: boolean): Record<string, unknown> | null {
    if (!this.running) return null;
    const t = this.now();
    const st = this.engine.status(t);
    const mem = G.process && G.process.memory ? G.process.memory() : null;
    const o: Record<string, unknown> = {
      event: 'status',
      state: this.mstate === 'up' ? (st.hasSession && t - this.lastHs < 180000 ? 'connected' : 'handshaking') : this.mstate,
      version: VERSION,
      publicKey: this.pub,
      endpoint: st.endpoint,
      modem: this.mstate,
      ip: this.modem.localIp(),
      handshakeAge: this.lastHs === -Infinity ? -1 : Math.round((t - this.lastHs) / 1000),
      handshakes: this.nHs,
      initiations: this.nInit,
      rx: st.rxBytes,
      tx: st.txBytes,
      udpIn: this.nUdpIn,
      udpOut: this.nUdpOut,
      pings: this.nPing,
      drops: st.drops,
      sendErrors: this.nTxErr,
      tooSlow: this.nSlow,
      keepalive: this.kaOn ? 'auto' : this.ka,
      adaptive: st.adaptive,
      asleep: st.asleep,
      crypto: this.cname,
      precomputeMs: Math.round(this.preMs),
      responseMs: Math.round(this.rspMs),
      free: mem ? mem.free : -1,
    };
    if (printIt) print(o);
    return o;
  }

  stop(): void {
    this.running = false;
    // Truthy checks: clearTimeout() without an id clears every timeout on Espruino. A start that
    // failed half-way left some of these unset.
    if (this.tmr) clearTimeout(this.tmr as number);
    if (this.preTmr) clearTimeout(this.preTmr as number);
    if (this.idleTmr) clearTimeout(this.idleTmr as number);
    this.tmr = null;
    this.preTmr = null;
    this.idleTmr = null;
    if (this.modem) this.modem.close();
    if (this.at) this.at.close();
    // A later start() attaches a new AT engine: do not leave this one listening.
    if (this.serial && this.serial.removeAllListeners) this.serial.removeAllListeners('data');
    if (this.engine) this.engine.wipe();
  }
}

// ------------------------------------------------------------------ benchmark

/** Milliseconds per call of fn over n calls. */
function timeIt(n: number, fn: () => void): number {
  const t0 = getTime();
  for (let i = 0; i < n; i++) fn();
  return ((getTime() - t0) * 1000) / n;
}

/**
 * On-device benchmark: X25519, ChaCha20-Poly1305 at 64 and 1420 bytes, BLAKE2s, and a full
 * handshake as the device runs it (precompute, initiation, response processing) with the
 * device's `Initiator` against an in-memory `Engine` responder (only the bench builds carry it).
 * Prints `WGJS {"event":"bench",…}` and returns the object.
 */
function bench(opts?: { handshake?: boolean; crypto?: string }): Record<string, unknown> {
  const o = opts || {};
  const mem0 = G.process && G.process.memory ? G.process.memory().usage : -1;
  const cr = makeSuite(o.crypto);
  const nat = cr.m;
  const c = cr.s;
  const hs = c.handshake();
  const a = new Uint8Array(32);
  const b = new Uint8Array(32);
  const r = new Uint8Array(32);
  for (let i = 0; i < 32; i++) a[i] = (i * 29 + 7) & 255;
  hs.x25519(b, a, null);
  const res: Record<string, unknown> = { event: 'bench', version: VERSION, crypto: nat ? 'native' : 'portable' };
  res.x25519Ms = Math.round(timeIt(1, function (): void { hs.x25519(r, a, b); }));
  const key = new Uint8Array(32);
  const buf = new Uint8Array(1420 + 16);
  res.aead64KBs = Math.round(64 / timeIt(4, function (): void { c.aead(key, 1, 0, null, 0, buf, 0, 64, false); }) * 100) / 100;
  res.aead1420KBs = Math.round(1420 / timeIt(1, function (): void { c.aead(key, 2, 0, null, 0, buf, 0, 1420, false); }) * 100) / 100;
  res.blake2s64Ms = Math.round(timeIt(4, function (): void { hs.hashInit(32, null, 0); hs.hashUpdate(buf, 0, 64); hs.hashFinal(r, 0); }) * 10) / 10;
  if (o.handshake !== false) {
    let wire: Uint8Array | null = null;
    const sink = {
      send: function (d: Uint8Array, off: number, len: number): void { wire = new Uint8Array(len); wire.set(d.subarray(off, off + len)); },
      deliver: function (): void { /* nothing */ },
    };
    const rnd = function (d: Uint8Array, off: number, len: number): void {
      for (let i = 0; i < len; i++) d[off + i] = (E && E.hwRand ? E.hwRand() : Math.random() * 256) & 255;
    };
    const ka = new Uint8Array(32);
    const kb = new Uint8Array(32);
    rnd(ka, 0, 32);
    rnd(kb, 0, 32);
    const srv = new Engine({ privateKey: kb, crypto: createPortableProvider(), random: rnd, wallTime: Date.now, maxPeers: 1, maxSessions: 4, maxAllowedIPs: 2, mtu: 576, maxStaged: 1, rateLimiterSize: 16, replayWindowWords: 2 }, sink);
    const memHs = G.process && G.process.memory ? G.process.memory().usage : -1;
    const dev = new Initiator({ privateKey: ka, peerPublicKey: srv.publicKey, allowedIPs: ['10.0.0.1/32'], suite: c, random: rnd, wallTime: Date.now, mtu: 576 }, sink);
    res.varsInitiator = memHs >= 0 ? G.process.memory().usage - memHs : -1;
    srv.addPeer({ publicKey: dev.publicKey, allowedIPs: ['10.0.0.2/32'] });
    dev.endpoint = '192.0.2.1:51820';
    const t0 = getTime();
    dev.precompute();
    const t1 = getTime();
    dev.connect(1000, false);
    const t2 = getTime();
    const init = wire as unknown as Uint8Array;
    srv.receive(1000, init, 0, init.length, '192.0.2.2:51820');
    const resp = wire as unknown as Uint8Array;
    const t3 = getTime();
    dev.receive(1001, resp, 0, resp.length, '192.0.2.1:51820');
    const t4 = getTime();
    res.precomputeMs = Math.round((t1 - t0) * 1000);
    res.initiationMs = Math.round((t2 - t1) * 1000);
    res.responseMs = Math.round((t4 - t3) * 1000);
    res.handshakeMs = Math.round((t4 - t3 + t2 - t0) * 1000);
    res.handshakeOk = dev.status(1001).hasSession;
    dev.wipe();
    srv.wipe();
  }
  res.varsUsed = mem0;
  print(res);
  return res;
}

// ------------------------------------------------------------------ the global API

/** The `wgjs` global. Assigned explicitly: esbuild's IIFE exports do not work on Espruino. */
const wgjs = new Device();

const W = wgjs as unknown as Record<string, unknown>;
// Left out of the per-board builds (with everything only they use).
if (WGJS_BENCH) W.bench = bench;
/** The library inside the build, for tests of the bundled code (not an application API). */
if (WGJS_CORE) {
  W._core = {
    Engine: Engine, Noise: Noise, HandshakeState: HandshakeState, createPortableProvider: createPortableProvider,
    Initiator: Initiator, jsSuite: jsSuite, nativeSuite: nativeSuite,
    /** The running device (memory probes: scripts/espruino-run.ts --probe). */
    device: function (): Device | null { return wgjs.running ? wgjs : null; },
  };
}

G.wgjs = wgjs;
