/**
 * wg-quick / wg configuration files: parsing with errors that name the file and line, and
 * serialisation in `wg showconf` / `wg-quick save` layout.
 *
 * ```ts
 * const cfg = parseConfig(readFileSync('/etc/wireguard/wg0.conf', 'utf8'), '/etc/wireguard/wg0.conf');
 * for (const w of cfg.warnings) console.warn(w);
 * ```
 *
 * Syntax follows wg(8) and wg-quick(8): sections and keys are case-insensitive, `#` starts a
 * comment anywhere on a line, list keys (Address, DNS, AllowedIPs) take comma-separated values
 * and may repeat, and the wg-quick hooks (PreUp, PostUp, PreDown, PostDown) are kept verbatim
 * for the CLI to run.
 */
import net from 'node:net';
import {
  createPortableProvider, formatKey, parseCidr, parseKey, publicKeyOf, wgError,
} from '@wgjs/core';

/** `PersistentKeepalive`: seconds (0 = off) or 'auto' (adaptive keepalive, handled by the CLI). */
export type KeepaliveSetting = number | 'auto';

/** The `[Interface]` section. Unset values are null (or empty lists). */
export interface InterfaceConfig {
  /** Base64 private key, canonical form; null if absent (only allowed with requirePrivateKey false). */
  privateKey: string | null;
  listenPort: number | null;
  /** FwMark; null when absent or `off`. Parsed but has no effect in wgjs (warned about). */
  fwMark: number | null;
  /** wg-quick Address entries as written (validated), e.g. "10.0.0.1/24". */
  addresses: string[];
  /** wg-quick DNS entries: IP addresses and search domains, in order. */
  dns: string[];
  mtu: number | null;
  /** wg-quick Table: "off", "auto", a number or a routing table name. */
  table: string | null;
  saveConfig: boolean;
  preUp: string[];
  postUp: string[];
  preDown: string[];
  postDown: string[];
  /** Line of the `[Interface]` header (0 if the file has none). */
  line: number;
}

/** One `[Peer]` section. */
export interface PeerConfigEntry {
  /** Base64 public key, canonical form. */
  publicKey: string;
  presharedKey: string | null;
  /** Prefixes as written (validated), e.g. "10.0.0.2/32". */
  allowedIPs: string[];
  /** "host:port" or "[v6]:port"; host may be a name, resolved by the device. */
  endpoint: string | null;
  /** Seconds (0 = off) or 'auto'. */
  persistentKeepalive: KeepaliveSetting;
  /**
   * wgjs extension `KeepaliveResponder = 10.0.0.1:51821`: the probe responder inside the tunnel
   * that lets `PersistentKeepalive = auto` learn NAT lifetimes beyond 10 s. null if absent.
   */
  keepaliveResponder: string | null;
  /** Line of the `[Peer]` header. */
  line: number;
}

/** Result of {@link parseConfig}. */
export interface ParsedConfig {
  interface: InterfaceConfig;
  peers: PeerConfigEntry[];
  /** Human-readable warnings, each starting with `file:line:`. */
  warnings: string[];
}

export interface ParseOptions {
  /**
   * Require `PrivateKey` in `[Interface]` (default true, as `up` needs one). Set false for files
   * used like `wg setconf`/`syncconf` input, where the key may be set separately.
   */
  requirePrivateKey?: boolean;
}

/** Input of {@link serializeConfig}: a parsed config, or any subset of its fields. */
export interface SerializableConfig {
  interface: Partial<InterfaceConfig>;
  peers: Array<Partial<PeerConfigEntry> & { publicKey: string }>;
}

type Section = 'interface' | 'peer';

/** Canonical spelling of every key we know, by lowercase name, and the section it belongs to. */
const KEYS: Record<string, { name: string; section: Section }> = {};
for (const k of ['PrivateKey', 'ListenPort', 'FwMark', 'Address', 'DNS', 'MTU', 'Table', 'SaveConfig',
  'PreUp', 'PostUp', 'PreDown', 'PostDown']) KEYS[k.toLowerCase()] = { name: k, section: 'interface' };
for (const k of ['PublicKey', 'PresharedKey', 'AllowedIPs', 'Endpoint', 'PersistentKeepalive', 'KeepaliveResponder']) {
  KEYS[k.toLowerCase()] = { name: k, section: 'peer' };
}

/** Keys that accumulate (lists, hooks); every other key is single-valued. */
const REPEATABLE = new Set(['address', 'dns', 'allowedips', 'preup', 'postup', 'predown', 'postdown']);

const HOSTNAME_RE = /^(?=.{1,253}\.?$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?$/;
const TABLE_NAME_RE = /^[A-Za-z0-9_.-]+$/;

function decimal(text: string, max: number): number | null {
  if (!/^\d{1,10}$/.test(text)) return null;
  const n = Number(text);
  return n <= max ? n : null;
}

/**
 * Checks an endpoint "host:port" / "[v6]:port" (host an IP literal or a DNS name) and returns
 * it trimmed; otherwise returns a sentence saying what is wrong.
 */
export function checkEndpoint(ep: string): { ok: true; host: string; port: number } | { ok: false; problem: string } {
  let host: string;
  let portText: string;
  if (ep.startsWith('[')) {
    const end = ep.indexOf(']');
    if (end < 0 || ep[end + 1] !== ':') return { ok: false, problem: `Endpoint "${ep}" must look like [ipv6-address]:port` };
    host = ep.slice(1, end);
    portText = ep.slice(end + 2);
    const bare = host.split('%')[0];
    if (!net.isIPv6(bare)) return { ok: false, problem: `Endpoint "${ep}": "${host}" is not an IPv6 address` };
  } else {
    const i = ep.lastIndexOf(':');
    if (i < 0) return { ok: false, problem: `Endpoint "${ep}" has no port: write it as host:port, e.g. vpn.example.com:51820` };
    host = ep.slice(0, i);
    portText = ep.slice(i + 1);
    if (host.includes(':')) {
      return { ok: false, problem: `Endpoint "${ep}": put an IPv6 address in brackets, e.g. [2001:db8::1]:51820` };
    }
    if (host === '') return { ok: false, problem: `Endpoint "${ep}" has no host` };
    // All digits and dots: meant as an IPv4 address, so it must be a valid one.
    if (/^[\d.]+$/.test(host) ? !net.isIPv4(host) : !HOSTNAME_RE.test(host)) {
      return { ok: false, problem: `Endpoint "${ep}": "${host}" is neither an IP address nor a valid host name` };
    }
  }
  const port = decimal(portText, 65535);
  if (port === null || port === 0) {
    return { ok: false, problem: `Endpoint "${ep}" has an invalid port "${portText}" (must be 1..65535)` };
  }
  return { ok: true, host, port };
}

/**
 * Parses a wg-quick (or plain wg) configuration file. Throws wgError('EINVAL',
 * `${fileName}:${line}: ...`) for anything that cannot be used; unknown keys and unsupported
 * settings become `warnings` instead.
 */
export function parseConfig(text: string, fileName: string, opts: ParseOptions = {}): ParsedConfig {
  const warnings: string[] = [];
  const fail = (line: number, msg: string): never => {
    throw wgError('EINVAL', `${fileName}:${line}: ${msg}`);
  };
  const iface: InterfaceConfig = {
    privateKey: null, listenPort: null, fwMark: null, addresses: [], dns: [], mtu: null, table: null,
    saveConfig: false, preUp: [], postUp: [], preDown: [], postDown: [], line: 0,
  };
  const peers: PeerConfigEntry[] = [];
  const peerHasKey: boolean[] = [];
  let section: Section | null = null;
  let peer: PeerConfigEntry | null = null;
  // Where each single-valued key of the current section was last set, to warn on repeats.
  let seen = new Map<string, number>();

  const lines = text.replace(/^\uFEFF/, '').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const hash = lines[i].indexOf('#');
    const line = (hash >= 0 ? lines[i].slice(0, hash) : lines[i]).trim();
    if (line === '') continue;

    if (line.startsWith('[')) {
      if (!line.endsWith(']')) fail(lineNo, `section header "${line}" is missing its closing "]"`);
      const name = line.slice(1, -1).trim().toLowerCase();
      seen = new Map();
      if (name === 'interface') {
        if (iface.line !== 0) fail(lineNo, `second [Interface] section (the first is at line ${iface.line}); a file configures one interface`);
        iface.line = lineNo;
        section = 'interface';
        peer = null;
      } else if (name === 'peer') {
        section = 'peer';
        peer = { publicKey: '', presharedKey: null, allowedIPs: [], endpoint: null, persistentKeepalive: 0, keepaliveResponder: null, line: lineNo };
        peers.push(peer);
        peerHasKey.push(false);
      } else {
        fail(lineNo, `unknown section "${line}" (expected [Interface] or [Peer])`);
      }
      continue;
    }

    const eq = line.indexOf('=');
    if (eq < 0) fail(lineNo, `expected "Key = Value" or a [Section] header, got "${line}"`);
    const rawKey = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    const lk = rawKey.toLowerCase();
    if (section === null) fail(lineNo, `"${rawKey}" appears before any section: put it under [Interface] or [Peer]`);
    const known = KEYS[lk];
    if (!known) {
      warnings.push(`${fileName}:${lineNo}: unknown key "${rawKey}" ignored`);
      continue;
    }
    if (known.section !== section) {
      fail(lineNo, `${known.name} belongs in ${known.section === 'peer' ? 'a [Peer]' : 'the [Interface]'} section, not [${section === 'peer' ? 'Peer' : 'Interface'}]`);
    }
    if (!REPEATABLE.has(lk)) {
      const prev = seen.get(lk);
      if (prev !== undefined) warnings.push(`${fileName}:${lineNo}: ${known.name} set again; this value overrides line ${prev}`);
      seen.set(lk, lineNo);
      if (value === '') fail(lineNo, `${known.name} has no value`);
    }
    const key = (what: string): string => {
      try {
        return formatKey(parseKey(value, what));
      } catch {
        return fail(lineNo, `${what} is not a valid WireGuard key (expected 44 base64 characters encoding 32 bytes, as printed by "wg genkey")`);
      }
    };
    const list = (): string[] => value.split(',').map((s) => s.trim()).filter((s) => s !== '');

    switch (lk) {
      case 'privatekey':
        iface.privateKey = key('PrivateKey');
        break;
      case 'listenport': {
        const port = decimal(value, 65535);
        if (port === null) fail(lineNo, `ListenPort "${value}" is not a port number (0..65535)`);
        iface.listenPort = port;
        break;
      }
      case 'fwmark': {
        let mark: number | null;
        if (value.toLowerCase() === 'off') mark = 0;
        else if (/^0x[0-9a-f]{1,8}$/i.test(value)) mark = parseInt(value.slice(2), 16);
        else mark = decimal(value, 0xffffffff);
        if (mark === null) fail(lineNo, `FwMark "${value}" must be "off" or a number (decimal or 0x hex, up to 32 bits)`);
        iface.fwMark = mark === 0 ? null : mark;
        if (mark !== 0) warnings.push(`${fileName}:${lineNo}: FwMark is not supported by wgjs (its UDP socket cannot be marked) and has no effect`);
        break;
      }
      case 'address':
        for (const a of list()) {
          try {
            parseCidr(a);
          } catch {
            fail(lineNo, `Address "${a}" is not an IP address with optional prefix length (e.g. 10.0.0.1/24 or fd00::1/64)`);
          }
          iface.addresses.push(a);
        }
        break;
      case 'dns':
        for (const d of list()) {
          const looksIp = d.includes(':') || /^[\d.]+$/.test(d);
          if (looksIp ? net.isIP(d) === 0 : !HOSTNAME_RE.test(d)) {
            fail(lineNo, `DNS "${d}" is neither an IP address nor a search domain`);
          }
          iface.dns.push(d);
        }
        break;
      case 'mtu': {
        const mtu = decimal(value, 65535);
        if (mtu === null || mtu < 576) fail(lineNo, `MTU "${value}" must be a whole number from 576 to 65535`);
        iface.mtu = mtu;
        break;
      }
      case 'table': {
        const t = value.toLowerCase();
        if (t === 'off' || t === 'auto') iface.table = t;
        else if (/^\d+$/.test(value) ? decimal(value, 0xffffffff) !== null : TABLE_NAME_RE.test(value)) iface.table = value;
        else fail(lineNo, `Table "${value}" must be "off", "auto", a table number or a table name`);
        break;
      }
      case 'saveconfig': {
        const v = value.toLowerCase();
        if (v !== 'true' && v !== 'false') fail(lineNo, `SaveConfig must be "true" or "false", got "${value}"`);
        iface.saveConfig = v === 'true';
        break;
      }
      case 'preup':
        if (value !== '') iface.preUp.push(value);
        break;
      case 'postup':
        if (value !== '') iface.postUp.push(value);
        break;
      case 'predown':
        if (value !== '') iface.preDown.push(value);
        break;
      case 'postdown':
        if (value !== '') iface.postDown.push(value);
        break;
      case 'publickey':
        (peer as PeerConfigEntry).publicKey = key('PublicKey');
        peerHasKey[peers.length - 1] = true;
        break;
      case 'presharedkey':
        (peer as PeerConfigEntry).presharedKey = key('PresharedKey');
        break;
      case 'allowedips':
        for (const a of list()) {
          try {
            parseCidr(a);
          } catch {
            fail(lineNo, `AllowedIPs entry "${a}" is not an IP prefix (e.g. 10.0.0.2/32, 0.0.0.0/0 or fd00::/64)`);
          }
          (peer as PeerConfigEntry).allowedIPs.push(a);
        }
        break;
      case 'endpoint': {
        const r = checkEndpoint(value);
        if (!r.ok) fail(lineNo, r.problem);
        (peer as PeerConfigEntry).endpoint = value;
        break;
      }
      case 'persistentkeepalive': {
        const v = value.toLowerCase();
        let k: KeepaliveSetting | null;
        if (v === 'off') k = 0;
        else if (v === 'auto') k = 'auto';
        else k = decimal(value, 65535);
        if (k === null) fail(lineNo, `PersistentKeepalive "${value}" must be "off", "auto" or a number of seconds (1..65535)`);
        (peer as PeerConfigEntry).persistentKeepalive = k as KeepaliveSetting;
        break;
      }
      case 'keepaliveresponder': {
        const r = checkEndpoint(value);
        if (!r.ok || !net.isIP(r.host)) {
          fail(lineNo, `KeepaliveResponder "${value}" must be an IP address and port inside the tunnel, e.g. 10.0.0.1:51821`);
        }
        (peer as PeerConfigEntry).keepaliveResponder = value;
        break;
      }
    }
  }

  if (iface.line === 0) {
    if (opts.requirePrivateKey !== false || peers.length === 0) throw wgError('EINVAL', `${fileName}: no [Interface] section`);
  } else if (iface.privateKey === null && opts.requirePrivateKey !== false) {
    fail(iface.line, 'this [Interface] has no PrivateKey (generate one with "wg genkey")');
  }
  const ownPublic = iface.privateKey === null ? null
    : formatKey(publicKeyOf(createPortableProvider(), parseKey(iface.privateKey, 'PrivateKey')));
  const byKey = new Map<string, number>();
  for (let i = 0; i < peers.length; i++) {
    const p = peers[i];
    if (!peerHasKey[i]) fail(p.line, 'this [Peer] has no PublicKey');
    const dup = byKey.get(p.publicKey);
    if (dup !== undefined) fail(p.line, `this [Peer] has the same PublicKey as the [Peer] at line ${dup}`);
    byKey.set(p.publicKey, p.line);
    if (p.publicKey === ownPublic) fail(p.line, "this [Peer]'s PublicKey is the interface's own public key (from its PrivateKey)");
    if (p.allowedIPs.length === 0) {
      warnings.push(`${fileName}:${p.line}: peer ${p.publicKey} has no AllowedIPs: no traffic will be sent to or accepted from it`);
    }
    if (p.keepaliveResponder !== null) {
      if (p.persistentKeepalive !== 'auto') {
        warnings.push(`${fileName}:${p.line}: KeepaliveResponder has an effect only with PersistentKeepalive = auto`);
      }
      const fam = checkEndpoint(p.keepaliveResponder);
      const v6 = fam.ok && fam.host.includes(':');
      if (!iface.addresses.some((a) => parseCidr(a).family === (v6 ? 6 : 4))) {
        fail(p.line, `KeepaliveResponder ${p.keepaliveResponder} needs an IPv${v6 ? 6 : 4} Address in [Interface] to send probes from`);
      }
    }
  }
  return { interface: iface, peers, warnings };
}

/**
 * Writes a configuration in the layout of `wg-quick save`: the wg-quick settings first, then
 * what `wg showconf` prints (ListenPort, FwMark, PrivateKey, then each peer). Fields that are
 * absent, null, empty or off are left out.
 */
export function serializeConfig(cfg: SerializableConfig): string {
  const i = cfg.interface;
  const out: string[] = ['[Interface]'];
  for (const a of i.addresses ?? []) out.push(`Address = ${a}`);
  for (const d of i.dns ?? []) out.push(`DNS = ${d}`);
  if (i.mtu) out.push(`MTU = ${i.mtu}`);
  if (i.table) out.push(`Table = ${i.table}`);
  if (i.saveConfig) out.push('SaveConfig = true');
  for (const c of i.preUp ?? []) out.push(`PreUp = ${c}`);
  for (const c of i.postUp ?? []) out.push(`PostUp = ${c}`);
  for (const c of i.preDown ?? []) out.push(`PreDown = ${c}`);
  for (const c of i.postDown ?? []) out.push(`PostDown = ${c}`);
  if (i.listenPort) out.push(`ListenPort = ${i.listenPort}`);
  if (i.fwMark) out.push(`FwMark = 0x${i.fwMark.toString(16)}`);
  if (i.privateKey) out.push(`PrivateKey = ${i.privateKey}`);
  for (const p of cfg.peers) {
    out.push('', '[Peer]', `PublicKey = ${p.publicKey}`);
    if (p.presharedKey) out.push(`PresharedKey = ${p.presharedKey}`);
    if (p.allowedIPs && p.allowedIPs.length > 0) out.push(`AllowedIPs = ${p.allowedIPs.join(', ')}`);
    if (p.endpoint) out.push(`Endpoint = ${p.endpoint}`);
    if (p.persistentKeepalive) out.push(`PersistentKeepalive = ${p.persistentKeepalive}`);
    if (p.keepaliveResponder) out.push(`KeepaliveResponder = ${p.keepaliveResponder}`);
  }
  return out.join('\n') + '\n';
}
