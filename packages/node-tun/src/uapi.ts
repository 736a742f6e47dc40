/**
 * The cross-platform userspace API (https://www.wireguard.com/xplatform/): a unix socket at
 * `/var/run/wireguard/<iface>.sock` speaking `get=1` / `set=1` as wireguard-go does, so that
 * wireguard-tools (`wg show`, `wg set`, `wg setconf`, `wg syncconf`, `wg showconf`) manage a
 * wgjs interface exactly as a wireguard-go one.
 *
 * The server is protocol only: it talks to a {@link UapiTarget}, which returns a state snapshot
 * for `get` and applies a parsed, validated list of {@link UapiOp}s for `set`. Targets can use
 * {@link planUapiSet} to turn the operation list into the net change wireguard-go's line-by-line
 * semantics produce, and apply that all at once (see uapi-device.ts for WgDevice).
 *
 * ```ts
 * const server = await UapiServer.listen('wg0', target);
 * // ... `wg show wg0` works now
 * await server.close();
 * ```
 */
import { EventEmitter } from 'node:events';
import { promises as fs, watch, type FSWatcher } from 'node:fs';
import net from 'node:net';
import { constants as osConstants } from 'node:os';
import path from 'node:path';
import {
  formatCidr, formatIp, formatKey, fromHex, parseCidr, parseKey, toHex, wgError,
  type Cidr, type WgError,
} from '@wgjs/core';
import type { ParsedConfig, SerializableConfig } from './config.js';

// ------------------------------------------------------------------------------------- types

/** One peer as `get` reports it. */
export interface UapiPeerState {
  publicKey: Uint8Array;
  /** 32 bytes; all zeros when there is none. */
  presharedKey: Uint8Array;
  /** "a.b.c.d:port" or "[v6]:port", null before it is known. */
  endpoint: string | null;
  /** Wall-clock time of the latest handshake, in ms since the epoch; 0 = never. */
  lastHandshakeMs: number;
  txBytes: number;
  rxBytes: number;
  /** Seconds, 0 = off. */
  persistentKeepalive: number;
  /** Prefixes with host bits cleared, e.g. "10.0.0.0/24". */
  allowedIPs: string[];
}

/** The device as `get` reports it. */
export interface UapiDeviceState {
  /** null when no private key is set (set with an all-zero key). */
  privateKey: Uint8Array | null;
  listenPort: number;
  /** 0 = none. */
  fwmark: number;
  peers: UapiPeerState[];
}

/** One `set` line, parsed and validated. Peer operations apply to the last `public_key`. */
export type UapiOp =
  | { op: 'private_key'; key: Uint8Array | null }
  | { op: 'listen_port'; port: number }
  | { op: 'fwmark'; mark: number }
  | { op: 'replace_peers' }
  | { op: 'public_key'; key: Uint8Array }
  | { op: 'update_only' }
  | { op: 'remove' }
  | { op: 'preshared_key'; key: Uint8Array | null }
  | { op: 'endpoint'; endpoint: string }
  | { op: 'persistent_keepalive_interval'; seconds: number }
  | { op: 'replace_allowed_ips' }
  | { op: 'allowed_ip'; prefix: string; remove: boolean }
  | { op: 'protocol_version' };

/** What the UAPI server configures. Either method may be async; `set` throws wgErrors. */
export interface UapiTarget {
  get(): UapiDeviceState | Promise<UapiDeviceState>;
  /**
   * Applies a `set` request. Throw a wgError whose `code` names an errno (EINVAL, EADDRINUSE,
   * ENOSPC, ...) to make the reply `errno=-<n>`; implementations should leave the device
   * unchanged when they throw.
   */
  set(ops: UapiOp[]): void | Promise<void>;
}

// ------------------------------------------------------------------------------------- errors

/** wireguard-go's fallback errno for unexpected failures (ipc.IpcErrorUnknown = -ENOANO). */
const ERRNO_UNKNOWN = 55;

/** The errno wireguard-go would reply for an error: negative, from the error's `code`. */
export function uapiErrno(err: unknown): number {
  const code = (err as WgError | null)?.code;
  const table = osConstants.errno as Record<string, number>;
  if (code === 'ECAPACITY') return -table.ENOSPC;
  if (typeof code === 'string' && typeof table[code] === 'number') return -table[code];
  return -ERRNO_UNKNOWN;
}

// ------------------------------------------------------------------------------------- get

function hexLine(name: string, key: Uint8Array): string {
  return name + '=' + toHex(key) + '\n';
}

/** The body of a `get` reply in wireguard-go's order (without the final `errno=0`). */
export function formatUapiGet(state: UapiDeviceState): string {
  let s = '';
  if (state.privateKey && !isZeroKey(state.privateKey)) s += hexLine('private_key', state.privateKey);
  if (state.listenPort !== 0) s += `listen_port=${state.listenPort}\n`;
  if (state.fwmark !== 0) s += `fwmark=${state.fwmark}\n`;
  for (const p of state.peers) {
    s += hexLine('public_key', p.publicKey);
    s += hexLine('preshared_key', p.presharedKey);
    s += 'protocol_version=1\n';
    if (p.endpoint) s += `endpoint=${p.endpoint}\n`;
    const ms = p.lastHandshakeMs > 0 ? p.lastHandshakeMs : 0;
    const sec = Math.floor(ms / 1000);
    s += `last_handshake_time_sec=${sec}\n`;
    s += `last_handshake_time_nsec=${Math.floor((ms - sec * 1000) * 1e6)}\n`;
    s += `tx_bytes=${p.txBytes}\n`;
    s += `rx_bytes=${p.rxBytes}\n`;
    s += `persistent_keepalive_interval=${p.persistentKeepalive}\n`;
    for (const a of p.allowedIPs) s += `allowed_ip=${a}\n`;
  }
  return s;
}

// ------------------------------------------------------------------------------------- set: parsing

function isZeroKey(k: Uint8Array): boolean {
  let x = 0;
  for (let i = 0; i < k.length; i++) x |= k[i];
  return x === 0;
}

function invalid(msg: string): WgError {
  return wgError('EINVAL', msg);
}

/** A 32-byte key as 64 hex digits (either case), as wireguard-go's FromHex. */
function hexKey(value: string, what: string): Uint8Array {
  const k = value.length === 64 ? fromHex(value) : null;
  if (!k) throw invalid(`${what}: "${value}" is not 64 hex digits`);
  return k;
}

/** strconv.ParseUint(value, 10, bits). */
function parseUint(value: string, max: number, what: string): number {
  if (!/^\d+$/.test(value) || Number(value) > max) throw invalid(`${what}: "${value}" is not an integer from 0 to ${max}`);
  return Number(value);
}

function trueValue(value: string, what: string): void {
  if (value !== 'true') throw invalid(`${what}: invalid value "${value}" (only "true" is accepted)`);
}

/** Clears the host bits of a prefix and formats it as wireguard-go prints prefixes. */
function canonicalPrefix(c: Cidr): string {
  const ip = new Uint8Array(c.ip.length);
  ip.set(c.ip);
  for (let bit = c.cidr; bit < ip.length * 8; bit++) ip[bit >> 3] &= ~(0x80 >> (bit & 7));
  return formatCidr(ip, 0, c.family, c.cidr);
}

/** netip.ParsePrefix: "addr/bits", no zone, bits without leading zeros. Returns the canonical form. */
export function parseUapiPrefix(text: string): string {
  const slash = text.lastIndexOf('/');
  const bits = slash < 0 ? '' : text.slice(slash + 1);
  const addr = slash < 0 ? text : text.slice(0, slash);
  if (slash < 0 || !/^(0|[1-9]\d{0,2})$/.test(bits) || addr.includes('%') || addr.trim() !== addr) {
    throw invalid(`allowed_ip: "${text}" is not a prefix such as 10.0.0.0/24 or fd00::/64`);
  }
  let c: Cidr;
  try {
    c = parseCidr(text);
  } catch (e) {
    throw invalid(`allowed_ip: ${(e as Error).message}`);
  }
  return canonicalPrefix(c);
}

/**
 * netip.ParseAddrPort: "a.b.c.d:port" or "[v6(%zone)]:port". Returns the endpoint in the
 * engine's canonical form. Port 0 is refused (wireguard-go accepts it, but nothing can be sent
 * there).
 */
export function parseUapiEndpoint(text: string): string {
  const bad = (why: string): WgError => invalid(`endpoint: "${text}" ${why}`);
  const colon = text.lastIndexOf(':');
  if (colon < 0) throw bad('has no port');
  let host = text.slice(0, colon);
  const portText = text.slice(colon + 1);
  const bracketed = host.startsWith('[');
  if (bracketed) {
    if (host.length < 2 || !host.endsWith(']')) throw bad('has an unterminated "["');
    host = host.slice(1, -1);
  }
  let zone = '';
  const pct = host.indexOf('%');
  if (pct >= 0) {
    zone = host.slice(pct);
    host = host.slice(0, pct);
    if (zone.length < 2 || !bracketed) throw bad('has an invalid zone');
  }
  if (host.includes('/') || host === '') throw bad('is not an IP address and port');
  let c: Cidr;
  try {
    c = parseCidr(host);
  } catch {
    throw bad('is not an IP address and port');
  }
  if (c.family === 4 && (bracketed || zone)) throw bad('puts an IPv4 address in square brackets');
  if (c.family === 6 && !bracketed) throw bad('must put the IPv6 address in square brackets');
  const port = parseUint(portText, 65535, `endpoint "${text}" port`);
  if (port === 0) throw bad('has port 0');
  const ip = formatIp(c.ip, 0, c.family);
  return c.family === 4 ? `${ip}:${port}` : `[${ip}${zone}]:${port}`;
}

/**
 * Parses the lines of a `set` request (without `set=1` and the blank line) and validates every
 * value, as wireguard-go's IpcSetOperation does line by line. Throws wgError EPROTO for a line
 * without "=", EINVAL for anything else wireguard-go refuses.
 */
export function parseUapiSet(lines: string[]): UapiOp[] {
  const ops: UapiOp[] = [];
  let deviceSection = true;
  for (const line of lines) {
    const eq = line.indexOf('=');
    if (eq < 0) throw wgError('EPROTO', `failed to parse line "${line}"`);
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1);
    if (key === 'public_key') {
      deviceSection = false;
      ops.push({ op: 'public_key', key: hexKey(value, 'public_key') });
      continue;
    }
    if (deviceSection) {
      switch (key) {
        case 'private_key': {
          const k = hexKey(value, 'private_key');
          ops.push({ op: 'private_key', key: isZeroKey(k) ? null : k });
          break;
        }
        case 'listen_port':
          ops.push({ op: 'listen_port', port: parseUint(value, 65535, 'listen_port') });
          break;
        case 'fwmark':
          ops.push({ op: 'fwmark', mark: parseUint(value, 0xffffffff, 'fwmark') });
          break;
        case 'replace_peers':
          trueValue(value, 'replace_peers');
          ops.push({ op: 'replace_peers' });
          break;
        default:
          throw invalid(`invalid UAPI device key: ${key}`);
      }
      continue;
    }
    switch (key) {
      case 'update_only':
        trueValue(value, 'update_only');
        ops.push({ op: 'update_only' });
        break;
      case 'remove':
        trueValue(value, 'remove');
        ops.push({ op: 'remove' });
        break;
      case 'preshared_key': {
        const k = hexKey(value, 'preshared_key');
        ops.push({ op: 'preshared_key', key: isZeroKey(k) ? null : k });
        break;
      }
      case 'endpoint':
        ops.push({ op: 'endpoint', endpoint: parseUapiEndpoint(value) });
        break;
      case 'persistent_keepalive_interval':
        ops.push({ op: 'persistent_keepalive_interval', seconds: parseUint(value, 65535, 'persistent_keepalive_interval') });
        break;
      case 'replace_allowed_ips':
        trueValue(value, 'replace_allowed_ips');
        ops.push({ op: 'replace_allowed_ips' });
        break;
      case 'allowed_ip': {
        const remove = value.startsWith('-');
        ops.push({ op: 'allowed_ip', prefix: parseUapiPrefix(remove ? value.slice(1) : value), remove });
        break;
      }
      case 'protocol_version':
        if (value !== '1') throw invalid(`invalid protocol version: ${value}`);
        ops.push({ op: 'protocol_version' });
        break;
      default:
        throw invalid(`invalid UAPI peer key: ${key}`);
    }
  }
  return ops;
}

// ------------------------------------------------------------------------------------- set: planning

/** A peer to create, with its whole configuration. */
export interface UapiNewPeer {
  publicKey: Uint8Array;
  presharedKey: Uint8Array | null;
  endpoint: string | null;
  persistentKeepalive: number;
  allowedIPs: string[];
}

/** Changes to a peer that stays; absent fields are unchanged. */
export interface UapiPeerChange {
  publicKey: Uint8Array;
  presharedKey?: Uint8Array | null;
  endpoint?: string;
  persistentKeepalive?: number;
  addAllowedIPs: string[];
  removeAllowedIPs: string[];
}

/**
 * The net effect of a `set` request on a device. Applying it in this order reaches the state
 * wireguard-go reaches: listen port, private key, `remove`, then per-peer removal of prefixes,
 * `update` (other fields and added prefixes), `add`, and finally `keepalive`.
 */
export interface UapiPlan {
  /** Present when the key changes (null: cleared). */
  privateKey?: Uint8Array | null;
  /** Present when a `listen_port` line was sent (even if equal to the current port). */
  listenPort?: number;
  fwmark?: number;
  /** Existing peers to remove (gone, or replaced by a fresh peer of the same key in `add`). */
  remove: Uint8Array[];
  update: UapiPeerChange[];
  add: UapiNewPeer[];
  /** Peers whose persistent keepalive was just turned on: send them a keepalive at once. */
  keepalive: Uint8Array[];
  /** Peers and prefixes in the final configuration, to check capacity before applying. */
  peerCount: number;
  allowedIPCount: number;
}

interface ModelPeer {
  key: Uint8Array;
  hex: string;
  /** Created by this request (new, or re-created after `remove`/`replace_peers`). */
  fresh: boolean;
  psk: Uint8Array | null;
  endpoint: string | null;
  keepalive: number;
  sendKeepalive: boolean;
}

function sameKey(a: Uint8Array | null, b: Uint8Array | null): boolean {
  const za = a === null || isZeroKey(a);
  const zb = b === null || isZeroKey(b);
  if (za || zb) return za === zb;
  return toHex(a as Uint8Array) === toHex(b as Uint8Array);
}

/**
 * Replays `ops` on a model of `state` with wireguard-go's semantics and returns the difference:
 * a new private key removes peers with the matching public key; a peer with our own public key
 * is ignored; `update_only` drops a peer this request created; `remove` and `replace_peers`
 * forget a peer (naming it again creates it afresh); an allowed IP moves from whichever peer had
 * it; `-prefix` removes it only from the selected peer; turning persistent keepalive on (from 0)
 * sends a keepalive. `publicKeyOf` derives a public key (it is given 32 zero bytes when the
 * device has no private key, as wireguard-go computes the public key of the zero key).
 */
export function planUapiSet(state: UapiDeviceState, ops: UapiOp[], publicKeyOf: (priv: Uint8Array) => Uint8Array): UapiPlan {
  const zero = new Uint8Array(32);
  let priv = state.privateKey && !isZeroKey(state.privateKey) ? state.privateKey : null;
  let ownHex = toHex(publicKeyOf(priv ?? zero));
  const peers = new Map<string, ModelPeer>();
  const owner = new Map<string, string>(); // canonical prefix -> peer hex
  for (const p of state.peers) {
    const hex = toHex(p.publicKey);
    peers.set(hex, {
      key: p.publicKey, hex, fresh: false, psk: isZeroKey(p.presharedKey) ? null : p.presharedKey,
      endpoint: p.endpoint, keepalive: p.persistentKeepalive, sendKeepalive: false,
    });
    for (const a of p.allowedIPs) owner.set(canonicalPrefix(parseCidr(a)), hex);
  }
  const forget = (hex: string): void => {
    peers.delete(hex);
    for (const [prefix, h] of owner) if (h === hex) owner.delete(prefix);
  };

  const plan: UapiPlan = { remove: [], update: [], add: [], keepalive: [], peerCount: 0, allowedIPCount: 0 };
  let privateKeyChanged = false;
  let cur: ModelPeer | null = null; // null: a dummy peer (ours, removed, or update_only)
  let created = false;
  let pkaOn = false;
  const endSelection = (): void => {
    if (cur && pkaOn && peers.get(cur.hex) === cur) cur.sendKeepalive = true;
  };

  for (const o of ops) {
    switch (o.op) {
      case 'private_key':
        if (sameKey(o.key, priv)) break;
        priv = o.key;
        privateKeyChanged = true;
        ownHex = toHex(publicKeyOf(priv ?? zero));
        if (peers.has(ownHex)) forget(ownHex);
        break;
      case 'listen_port':
        plan.listenPort = o.port;
        break;
      case 'fwmark':
        plan.fwmark = o.mark;
        break;
      case 'replace_peers':
        for (const hex of [...peers.keys()]) forget(hex);
        break;
      case 'public_key': {
        endSelection();
        pkaOn = false;
        const hex = toHex(o.key);
        created = false;
        if (hex === ownHex) {
          cur = null;
        } else {
          cur = peers.get(hex) ?? null;
          if (!cur) {
            cur = { key: o.key, hex, fresh: true, psk: null, endpoint: null, keepalive: 0, sendKeepalive: false };
            peers.set(hex, cur);
            created = true;
          }
        }
        break;
      }
      case 'update_only':
        if (cur && created) {
          forget(cur.hex);
          cur = null;
        }
        break;
      case 'remove':
        if (cur) forget(cur.hex);
        cur = null;
        break;
      case 'preshared_key':
        if (cur) cur.psk = o.key;
        break;
      case 'endpoint':
        if (cur) cur.endpoint = o.endpoint;
        break;
      case 'persistent_keepalive_interval':
        if (cur) {
          pkaOn = cur.keepalive === 0 && o.seconds !== 0;
          cur.keepalive = o.seconds;
        }
        break;
      case 'replace_allowed_ips':
        if (cur) for (const [prefix, h] of owner) if (h === (cur as ModelPeer).hex) owner.delete(prefix);
        break;
      case 'allowed_ip':
        if (!cur) break;
        if (!o.remove) owner.set(o.prefix, cur.hex);
        else if (owner.get(o.prefix) === cur.hex) owner.delete(o.prefix);
        break;
      case 'protocol_version':
        break;
    }
  }
  endSelection();

  if (privateKeyChanged) plan.privateKey = priv;
  const finalIPs = new Map<string, string[]>();
  for (const [prefix, hex] of owner) {
    let l = finalIPs.get(hex);
    if (!l) finalIPs.set(hex, (l = []));
    l.push(prefix);
  }
  for (const p of state.peers) {
    const m = peers.get(toHex(p.publicKey));
    if (!m || m.fresh) plan.remove.push(p.publicKey);
  }
  for (const p of state.peers) {
    const m = peers.get(toHex(p.publicKey));
    if (!m || m.fresh) continue;
    const before = new Set(p.allowedIPs.map((a) => canonicalPrefix(parseCidr(a))));
    const after = finalIPs.get(m.hex) ?? [];
    const change: UapiPeerChange = {
      publicKey: p.publicKey,
      addAllowedIPs: after.filter((a) => !before.has(a)),
      removeAllowedIPs: [...before].filter((a) => owner.get(a) !== m.hex),
    };
    if (!sameKey(m.psk, p.presharedKey)) change.presharedKey = m.psk;
    if (m.endpoint !== p.endpoint && m.endpoint !== null) change.endpoint = m.endpoint;
    if (m.keepalive !== p.persistentKeepalive) change.persistentKeepalive = m.keepalive;
    if (change.addAllowedIPs.length > 0 || change.removeAllowedIPs.length > 0 || change.presharedKey !== undefined ||
      change.endpoint !== undefined || change.persistentKeepalive !== undefined) plan.update.push(change);
  }
  for (const m of peers.values()) {
    if (m.fresh) {
      plan.add.push({
        publicKey: m.key, presharedKey: m.psk, endpoint: m.endpoint, persistentKeepalive: m.keepalive,
        allowedIPs: finalIPs.get(m.hex) ?? [],
      });
    }
    if (m.sendKeepalive) plan.keepalive.push(m.key);
  }
  plan.peerCount = peers.size;
  plan.allowedIPCount = owner.size;
  return plan;
}

// ------------------------------------------------------------------------------------- config bridges

/**
 * The `set` operations `wg setconf` (replacePeers true, the default) or `wg addconf` (false)
 * sends for a parsed configuration file. `PersistentKeepalive = auto` is not expressible in UAPI
 * and is left out. Endpoints must be IP literals here (resolve names first).
 */
export function uapiOpsFromConfig(cfg: Pick<ParsedConfig, 'interface' | 'peers'>, opts: { replacePeers?: boolean } = {}): UapiOp[] {
  const ops: UapiOp[] = [];
  const i = cfg.interface;
  if (i.privateKey) ops.push({ op: 'private_key', key: parseKey(i.privateKey, 'PrivateKey') });
  if (i.listenPort !== null) ops.push({ op: 'listen_port', port: i.listenPort });
  if (i.fwMark !== null) ops.push({ op: 'fwmark', mark: i.fwMark });
  if (opts.replacePeers !== false) ops.push({ op: 'replace_peers' });
  for (const p of cfg.peers) {
    ops.push({ op: 'public_key', key: parseKey(p.publicKey, 'PublicKey') });
    if (p.presharedKey) ops.push({ op: 'preshared_key', key: parseKey(p.presharedKey, 'PresharedKey') });
    if (p.endpoint) ops.push({ op: 'endpoint', endpoint: parseUapiEndpoint(p.endpoint) });
    if (typeof p.persistentKeepalive === 'number') ops.push({ op: 'persistent_keepalive_interval', seconds: p.persistentKeepalive });
    ops.push({ op: 'replace_allowed_ips' });
    for (const a of p.allowedIPs) ops.push({ op: 'allowed_ip', prefix: canonicalPrefix(parseCidr(a)), remove: false });
  }
  return ops;
}

/** A state snapshot as configuration (what `wg showconf` prints), for {@link serializeConfig}. */
export function configFromUapiState(state: UapiDeviceState): SerializableConfig {
  return {
    interface: {
      privateKey: state.privateKey && !isZeroKey(state.privateKey) ? formatKey(state.privateKey) : null,
      listenPort: state.listenPort || null,
      fwMark: state.fwmark || null,
    },
    peers: state.peers.map((p) => ({
      publicKey: formatKey(p.publicKey),
      presharedKey: isZeroKey(p.presharedKey) ? null : formatKey(p.presharedKey),
      allowedIPs: p.allowedIPs,
      endpoint: p.endpoint,
      persistentKeepalive: p.persistentKeepalive,
    })),
  };
}

// ------------------------------------------------------------------------------------- server

/** Where wireguard-tools look for userspace interfaces on Linux. */
export const UAPI_SOCKET_DIR = '/var/run/wireguard';

/** Interface names wg-quick accepts (and that fit IFNAMSIZ). */
const IFACE_RE = /^[a-zA-Z0-9_=+.-]{1,15}$/;

/** The UAPI socket path of an interface. */
export function uapiSocketPath(iface: string, dir: string = UAPI_SOCKET_DIR): string {
  return path.join(dir, `${iface}.sock`);
}

export interface UapiServerOptions {
  /** Socket directory (default /var/run/wireguard). */
  dir?: string;
}

/** Longest line we buffer (wireguard-go's bufio.Scanner limit is 64 KiB too). */
const MAX_LINE = 65536;

/** Reads '\n'-terminated lines from a socket; `next()` resolves null at end of input. */
class LineReader {
  private buf = '';
  private lines: string[] = [];
  private ended = false;
  private waiter: (() => void) | null = null;

  constructor(private sock: net.Socket) {
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      this.buf += d;
      let nl: number;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        this.lines.push(this.buf.slice(0, nl));
        this.buf = this.buf.slice(nl + 1);
      }
      if (this.buf.length > MAX_LINE) sock.destroy();
      this.wake();
    });
    sock.on('end', () => {
      this.ended = true;
      this.wake();
    });
    sock.on('close', () => {
      this.ended = true;
      this.wake();
    });
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    if (w) w();
  }

  async next(): Promise<string | null> {
    for (;;) {
      const l = this.lines.shift();
      if (l !== undefined) return l;
      if (this.ended) return null;
      await new Promise<void>((r) => (this.waiter = r));
    }
  }
}

function connectable(p: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(p);
    const done = (live: boolean): void => {
      clearTimeout(t);
      s.destroy();
      resolve(live);
    };
    // A live but stuck owner still accepts into its backlog; silence counts as alive.
    const t = setTimeout(() => done(true), 2000);
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

/**
 * A UAPI server on `<dir>/<iface>.sock`. Events: 'warning' (string: a request that failed, as
 * wireguard-go logs it), 'error' (the listening socket failed), 'removed' (someone deleted or
 * replaced the socket file: wireguard-go shuts its interface down then, and `wg-quick down` of a
 * userspace interface relies on that on some platforms).
 */
export class UapiServer extends EventEmitter {
  readonly path: string;
  private server: net.Server;
  private target: UapiTarget;
  private conns = new Set<net.Socket>();
  private queue: Promise<unknown> = Promise.resolve();
  private ino: number;
  private dev: number;
  private closed = false;
  private watcher: FSWatcher | null = null;

  private constructor(p: string, server: net.Server, target: UapiTarget, ino: number, dev: number) {
    super();
    this.path = p;
    this.server = server;
    this.target = target;
    this.ino = ino;
    this.dev = dev;
    server.on('connection', (s) => this.serve(s));
    server.on('error', (e) => this.emit('error', e));
    this.watchRemoval();
  }

  /** Emits 'removed' once when the socket file disappears or is replaced (inotify on the directory). */
  private watchRemoval(): void {
    const name = path.basename(this.path);
    try {
      this.watcher = watch(path.dirname(this.path), { persistent: false }, (_type, file) => {
        if (file !== null && file !== name) return;
        fs.stat(this.path).then((st) => st.ino !== this.ino || st.dev !== this.dev, () => true).then((gone) => {
          if (gone && !this.closed && this.watcher) {
            this.watcher.close();
            this.watcher = null;
            this.emit('removed');
          }
        });
      });
      this.watcher.on('error', () => undefined);
    } catch {
      // No inotify: removal just goes unnoticed.
    }
  }

  /**
   * Creates the socket directory (0755) and the socket (0600) and starts serving. A stale socket
   * left by a dead process is replaced; if another live process answers on it, rejects with
   * EADDRINUSE.
   */
  static async listen(iface: string, target: UapiTarget, opts: UapiServerOptions = {}): Promise<UapiServer> {
    if (!IFACE_RE.test(iface) || iface === '.' || iface === '..') {
      throw wgError('EINVAL', `"${iface}" is not a valid interface name (1-15 characters of a-z A-Z 0-9 _ = + . -)`);
    }
    const dir = opts.dir ?? UAPI_SOCKET_DIR;
    // 0755 whatever the umask, when we create it (an existing directory is left as it is).
    if (await fs.mkdir(dir, { recursive: true, mode: 0o755 }) !== undefined) await fs.chmod(dir, 0o755);
    const p = uapiSocketPath(iface, dir);
    const old = await fs.lstat(p).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return null;
      throw e;
    });
    if (old) {
      if (!old.isSocket()) throw wgError('EEXIST', `${p} exists and is not a socket: remove it, or choose another interface name`);
      if (await connectable(p)) {
        throw wgError('EADDRINUSE', `interface ${iface} already exists: another process serves ${p}`);
      }
      await fs.rm(p, { force: true });
    }
    // Bind inside a private 0700 directory, tighten to 0600, then move into place: the socket is
    // never reachable with looser permissions, whatever the umask.
    const tmpDir = await fs.mkdtemp(path.join(dir, `.${iface}-`));
    const tmp = path.join(tmpDir, 's');
    const server = net.createServer({ allowHalfOpen: true });
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(tmp, () => {
          server.off('error', reject);
          resolve();
        });
      });
      await fs.chmod(tmp, 0o600);
      await fs.rename(tmp, p);
    } catch (e) {
      server.close();
      throw e;
    } finally {
      await fs.rm(tmpDir, { recursive: true, force: true });
    }
    const st = await fs.stat(p);
    return new UapiServer(p, server, target, st.ino, st.dev);
  }

  /** Runs UAPI operations one at a time, as wireguard-go's ipcMutex does. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const r = this.queue.then(fn);
    this.queue = r.catch(() => undefined);
    return r;
  }

  private async serve(sock: net.Socket): Promise<void> {
    this.conns.add(sock);
    sock.on('close', () => this.conns.delete(sock));
    sock.on('error', () => {
      // The client went away; nothing to answer.
    });
    const r = new LineReader(sock);
    try {
      for (;;) {
        const op = await r.next();
        if (op === null) break;
        let reply: string;
        if (op === 'set=1') {
          const lines: string[] = [];
          for (;;) {
            let l = await r.next();
            // Go's bufio.ScanLines drops a trailing \r from set lines (not from the op line).
            if (l !== null && l.endsWith('\r')) l = l.slice(0, -1);
            if (l === null || l === '') break;
            lines.push(l);
          }
          reply = await this.exclusive(() => this.doSet(lines));
        } else if (op === 'get=1') {
          const l = await r.next();
          if (l === null) break;
          if (l !== '') {
            this.emit('warning', 'UAPI: trailing data after get=1');
            if (!sock.destroyed) sock.end(`errno=${uapiErrno(invalid('trailing'))}\n\n`);
            return;
          }
          reply = await this.exclusive(() => this.doGet());
        } else {
          this.emit('warning', `UAPI: invalid operation "${op.slice(0, 100)}"`);
          break;
        }
        if (sock.destroyed) return;
        sock.write(reply);
      }
      if (!sock.destroyed) sock.end();
    } catch (e) {
      this.emit('warning', `UAPI: ${(e as Error).message}`);
      sock.destroy();
    }
  }

  private async doGet(): Promise<string> {
    try {
      return formatUapiGet(await this.target.get()) + 'errno=0\n\n';
    } catch (e) {
      this.emit('warning', `UAPI get failed: ${(e as Error).message}`);
      return `errno=${uapiErrno(e)}\n\n`;
    }
  }

  private async doSet(lines: string[]): Promise<string> {
    try {
      await this.target.set(parseUapiSet(lines));
      return 'errno=0\n\n';
    } catch (e) {
      const errno = uapiErrno(e);
      this.emit('warning', `UAPI set failed (errno=${errno}): ${(e as Error).message}`);
      return `errno=${errno}\n\n`;
    }
  }

  /** Stops serving, drops open connections and removes the socket (if it is still ours). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.watcher?.close();
    this.watcher = null;
    for (const c of this.conns) c.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    const st = await fs.stat(this.path).catch(() => null);
    if (st && st.ino === this.ino && st.dev === this.dev) await fs.rm(this.path, { force: true });
  }
}

/**
 * Sends one raw request (e.g. "get=1\n\n") to a UAPI socket and resolves with the reply up to
 * and including its `errno=` line. For tools and tests; `wg` is the usual client.
 */
export function uapiRequest(socketPath: string, request: string, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(socketPath);
    let data = '';
    const t = setTimeout(() => {
      s.destroy();
      reject(wgError('ETIMEDOUT', `no UAPI reply from ${socketPath} within ${timeoutMs} ms (got "${data}")`));
    }, timeoutMs);
    s.setEncoding('utf8');
    s.on('connect', () => s.write(request));
    s.on('data', (d: string) => {
      data += d;
      if (/(^|\n)errno=-?\d+\n\n$/.test(data)) {
        clearTimeout(t);
        s.destroy();
        resolve(data);
      }
    });
    s.on('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
    s.on('close', () => {
      clearTimeout(t);
      resolve(data);
    });
  });
}

/** Whether `p` is an existing socket file (how wireguard-tools recognise userspace interfaces). */
export async function isUapiSocket(p: string): Promise<boolean> {
  try {
    return (await fs.lstat(p)).isSocket();
  } catch {
    return false;
  }
}
