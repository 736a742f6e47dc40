// wgjs:host-only
/**
 * Board profiles (`hardware/<board>/profile.json`) and the device config (`wgjs.cfg`): parsed from
 * a wg-quick-style file plus a `[Modem]` section, overridable by flags; the private key comes from
 * the file, a key file, or is generated here (and then only its public key is ever shown).
 */
import { randomFillSync } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPortableProvider } from '@wgjs/core/crypto/portable';
import { parseCidr } from '@wgjs/core/ipaddr';
import { formatKey, generatePrivateKey, parseKey, publicKeyOf } from '@wgjs/core/keys';
import { FlashError } from './errors.js';
import { Secret } from './redact.js';

/** Repository root (this file is packages/espruino/flasher/config.ts). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/**
 * Modem dialects the device build understands: simcom (SIM7070/SIM7080/SIM7090 "CA" commands),
 * sim7000 (SIM7000 CIPSTART family), sim7600 (SIM7500/SIM7600 NETOPEN/CIPOPEN), quectel, espat.
 */
export const DIALECTS = ['simcom', 'sim7000', 'sim7600', 'quectel', 'espat'] as const;
export type Dialect = (typeof DIALECTS)[number];

/** An Espruino pin: a name such as "D17" or "B6", or a pin number. */
export type Pin = string | number;

/** Modem wiring and parameters, as the profile gives them. */
export interface ModemProfile {
  dialect: Dialect;
  serial: string;
  baud: number;
  tx: Pin;
  rx: Pin;
  pwrkey?: Pin;
  reset?: Pin;
}

/** `hardware/<board>/profile.json`. */
export interface BoardProfile {
  name: string;
  /** `process.env.BOARD` the firmware reports. */
  board: string;
  minFirmware: string;
  jsVars: number;
  storageBytes: number;
  modem: ModemProfile;
  notes?: string | string[];
  /** Path of the profile file (set when loaded). */
  file?: string;
}

/** The device config JSON written to `wgjs.cfg` (the contract with the device build). */
export interface DeviceConfigJson {
  privateKey: string;
  address: string;
  peer: {
    publicKey: string;
    presharedKey?: string;
    endpoint: string;
    allowedIPs: string[];
    persistentKeepalive: number | 'auto';
  };
  modem: ModemProfile & { apn?: string; ssid?: string; wifiPassword?: string };
  app?: Record<string, unknown>;
}

function fail(msg: string): never {
  throw new FlashError('E_CONFIG', msg);
}

function isPin(v: unknown): v is Pin {
  return (typeof v === 'string' && /^[A-Za-z]*\d+$/.test(v)) || (typeof v === 'number' && Number.isInteger(v) && v >= 0);
}

/** Validates a modem section (from a profile after overrides). `where` names it in messages. */
export function validateModem(m: Record<string, unknown>, where: string): ModemProfile {
  if (!DIALECTS.includes(m.dialect as Dialect)) fail(`${where}: modem dialect must be one of ${DIALECTS.join(', ')} (got ${JSON.stringify(m.dialect)})`);
  if (typeof m.serial !== 'string' || !/^(Serial\d|LoopbackA|LoopbackB)$/.test(m.serial)) fail(`${where}: modem serial must be an Espruino UART name like "Serial1" (got ${JSON.stringify(m.serial)})`);
  if (typeof m.baud !== 'number' || !Number.isInteger(m.baud) || m.baud < 300 || m.baud > 4_000_000) fail(`${where}: modem baud must be an integer (got ${JSON.stringify(m.baud)})`);
  for (const k of ['tx', 'rx'] as const) if (!isPin(m[k])) fail(`${where}: modem ${k} must be a pin name like "D17" or a pin number (got ${JSON.stringify(m[k])})`);
  for (const k of ['pwrkey', 'reset'] as const) if (m[k] !== undefined && !isPin(m[k])) fail(`${where}: modem ${k} must be a pin (got ${JSON.stringify(m[k])})`);
  const out: ModemProfile = { dialect: m.dialect as Dialect, serial: m.serial, baud: m.baud, tx: m.tx as Pin, rx: m.rx as Pin };
  if (m.pwrkey !== undefined) out.pwrkey = m.pwrkey as Pin;
  if (m.reset !== undefined) out.reset = m.reset as Pin;
  return out;
}

/**
 * Loads a board profile from a directory (`hardware/esp32-sim7000`), a file, or a bare name
 * looked up in the repository's `hardware/`.
 */
export function loadProfile(ref: string): BoardProfile {
  const candidates = [ref, path.join(REPO_ROOT, ref), path.join(REPO_ROOT, 'hardware', ref)];
  let file: string | null = null;
  for (const c of candidates) {
    if (!existsSync(c)) continue;
    file = statSync(c).isDirectory() ? path.join(c, 'profile.json') : c;
    break;
  }
  if (!file || !existsSync(file)) fail(`board profile "${ref}" not found (give a folder of hardware/, e.g. hardware/esp32-sim7000, or its profile.json)`);
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    fail(`board profile ${file} is not valid JSON: ${(e as Error).message}`);
  }
  const where = `board profile ${file}`;
  for (const k of ['name', 'board', 'minFirmware'] as const) if (typeof raw[k] !== 'string' || !raw[k]) fail(`${where}: "${k}" must be a non-empty string`);
  if (!/^\d+v\d+/.test(raw.minFirmware as string)) fail(`${where}: minFirmware must look like "2v20"`);
  for (const k of ['jsVars', 'storageBytes'] as const) if (typeof raw[k] !== 'number' || (raw[k] as number) <= 0) fail(`${where}: "${k}" must be a positive number`);
  if (!raw.modem || typeof raw.modem !== 'object') fail(`${where}: "modem" section missing`);
  return {
    name: raw.name as string,
    board: raw.board as string,
    minFirmware: raw.minFirmware as string,
    jsVars: raw.jsVars as number,
    storageBytes: raw.storageBytes as number,
    modem: validateModem(raw.modem as Record<string, unknown>, where),
    notes: raw.notes as string | string[] | undefined,
    file,
  };
}

/** One `[Section]` of an INI-like wg-quick file: repeated keys keep every value. */
type Section = { name: string; entries: Map<string, string[]> };

/** Parses wg-quick syntax: `[Section]`, `Key = Value`, `#` comments; keys are case-insensitive. */
export function parseIni(text: string, file: string): Section[] {
  const sections: Section[] = [];
  let cur: Section | null = null;
  text.split(/\r?\n/).forEach((rawLine, i) => {
    const line = rawLine.replace(/\s*#.*$/, '').trim();
    if (!line) return;
    const sec = /^\[([A-Za-z]+)\]$/.exec(line);
    if (sec) {
      cur = { name: sec[1].toLowerCase(), entries: new Map() };
      sections.push(cur);
      return;
    }
    const kv = /^([A-Za-z0-9]+)\s*=\s*(.*)$/.exec(line);
    if (!kv) fail(`${file}:${i + 1}: expected "Key = Value" or "[Section]"`);
    if (!cur) fail(`${file}:${i + 1}: "${kv[1]}" appears before any [Section]`);
    const k = kv[1].toLowerCase();
    const list = cur.entries.get(k) ?? [];
    list.push(kv[2].trim());
    cur.entries.set(k, list);
  });
  return sections;
}

/** Device settings gathered from a config file and flags, before validation. */
export interface ConfigInput {
  privateKey?: Secret;
  address?: string;
  peerPublicKey?: string;
  presharedKey?: Secret;
  endpoint?: string;
  allowedIPs?: string[];
  persistentKeepalive?: string;
  modem: Record<string, unknown>;
  apn?: string;
  ssid?: string;
  wifiPassword?: Secret;
  app?: Record<string, unknown>;
}

/** Reads a wg-quick-style device file into a ConfigInput. Unknown keys are errors (typos). */
export function readConfigFile(file: string, warn: (m: string) => void): ConfigInput {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    fail(`cannot read device config ${file}: ${(e as Error).message}`);
  }
  const out: ConfigInput = { modem: {} };
  const sections = parseIni(text, file);
  if (sections.filter((s) => s.name === 'peer').length > 1) fail(`${file}: a device has exactly one [Peer] (the server); found several`);
  for (const s of sections) {
    const one = (k: string): string | undefined => {
      const v = s.entries.get(k);
      if (v && v.length > 1) fail(`${file}: ${k} appears more than once in [${s.name}]`);
      return v?.[0];
    };
    const known = (keys: string[], ignored: string[] = []): void => {
      for (const k of s.entries.keys()) {
        if (ignored.includes(k)) warn(`${file}: [${s.name}] ${k} is not used on the device; ignored`);
        else if (!keys.includes(k)) fail(`${file}: unknown key "${k}" in [${s.name}] (known: ${keys.join(', ')})`);
      }
    };
    if (s.name === 'interface') {
      known(['privatekey', 'address'], ['listenport', 'dns', 'mtu', 'table', 'preup', 'postup', 'predown', 'postdown', 'saveconfig', 'fwmark']);
      const pk = one('privatekey');
      if (pk) out.privateKey = new Secret(pk);
      const addr = s.entries.get('address');
      if (addr) out.address = addr.join(',');
    } else if (s.name === 'peer') {
      known(['publickey', 'presharedkey', 'endpoint', 'allowedips', 'persistentkeepalive']);
      out.peerPublicKey = one('publickey');
      const psk = one('presharedkey');
      if (psk) out.presharedKey = new Secret(psk);
      out.endpoint = one('endpoint');
      const a = s.entries.get('allowedips');
      if (a) out.allowedIPs = a.join(',').split(',').map((x) => x.trim()).filter(Boolean);
      out.persistentKeepalive = one('persistentkeepalive');
    } else if (s.name === 'modem') {
      known(['dialect', 'serial', 'baud', 'tx', 'rx', 'pwrkey', 'reset', 'apn', 'ssid', 'wifipassword']);
      for (const k of ['dialect', 'serial', 'tx', 'rx', 'pwrkey', 'reset'] as const) {
        const v = one(k);
        if (v !== undefined) out.modem[k] = k === 'dialect' || k === 'serial' ? v : pinValue(v);
      }
      const baud = one('baud');
      if (baud !== undefined) out.modem.baud = Number(baud);
      out.apn = one('apn') ?? out.apn;
      out.ssid = one('ssid') ?? out.ssid;
      const pw = one('wifipassword');
      if (pw !== undefined) out.wifiPassword = new Secret(pw);
    } else if (s.name === 'app') {
      known(['json']);
      const j = one('json');
      if (j !== undefined) out.app = parseAppJson(j, `${file} [App] Json`);
    } else {
      fail(`${file}: unknown section [${s.name}] (expected [Interface], [Peer], [Modem], [App])`);
    }
  }
  return out;
}

/** A pin given as text: digits become a number (ESP32 GPIO numbers), names stay strings. */
export function pinValue(v: string): Pin {
  return /^\d+$/.test(v) ? Number(v) : v;
}

/** Parses the optional application object. */
export function parseAppJson(text: string, where: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(text);
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    /* reported below */
  }
  fail(`${where}: must be a JSON object`);
}

/** Reads a text file for the config; a missing or unreadable file is a config error. */
export function readText(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    fail(`cannot read ${what} ${file}: ${(e as Error).message}`);
  }
}

/** Reads a base64 key from a file (first non-comment line), as `wg genkey > file` writes it. */
export function readKeyFile(file: string, what: string): Secret {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    fail(`cannot read ${what} file ${file}: ${(e as Error).message}`);
  }
  const line = text.split(/\r?\n/).map((l) => l.trim()).find((l) => l && !l.startsWith('#'));
  if (!line) fail(`${what} file ${file} is empty`);
  return new Secret(line);
}

/** Result of resolving the device's key. */
export interface DeviceKey {
  privateKey: Secret;
  publicKey: string;
  /** How the key was obtained, for the summary. */
  source: 'config' | 'key-file' | 'generated' | 'generated-saved';
}

/**
 * The device key: from the config file, else from `keyFile` if it exists, else generated (with
 * node:crypto randomness) and saved to `keyFile` (mode 0600) when one was named.
 */
export function resolveDeviceKey(input: ConfigInput, keyFile: string | undefined): DeviceKey {
  const crypto = createPortableProvider();
  const pub = (priv: Secret): string => {
    let k: Uint8Array;
    try {
      k = parseKey(priv.reveal(), 'the device PrivateKey');
    } catch (e) {
      fail((e as Error).message);
    }
    const p = formatKey(publicKeyOf(crypto, k));
    k.fill(0);
    return p;
  };
  if (input.privateKey) {
    if (keyFile) fail('the device config has a PrivateKey and --key-file was given: use one of them');
    return { privateKey: input.privateKey, publicKey: pub(input.privateKey), source: 'config' };
  }
  if (keyFile && existsSync(keyFile)) {
    const k = readKeyFile(keyFile, 'private key');
    return { privateKey: k, publicKey: pub(k), source: 'key-file' };
  }
  const raw = generatePrivateKey((buf, off, len) => {
    randomFillSync(buf, off, len);
  });
  const priv = new Secret(formatKey(raw));
  raw.fill(0);
  if (keyFile) {
    try {
      writeFileSync(keyFile, priv.reveal() + '\n', { mode: 0o600, flag: 'wx' });
    } catch (e) {
      fail(`cannot create the key file ${keyFile}: ${(e as Error).message}`);
    }
    return { privateKey: priv, publicKey: pub(priv), source: 'generated-saved' };
  }
  return { privateKey: priv, publicKey: pub(priv), source: 'generated' };
}

function checkKey(text: string, what: string): string {
  try {
    parseKey(text, what);
  } catch (e) {
    fail((e as Error).message);
  }
  return text.trim();
}

function checkV4Prefix(text: string, what: string): string {
  let c;
  try {
    c = parseCidr(text);
  } catch (e) {
    fail(`${what}: ${(e as Error).message}`);
  }
  if (c.family !== 4) fail(`${what}: "${text}" is IPv6; the device tunnel address must be IPv4`);
  return text.includes('/') ? text.trim() : `${text.trim()}/32`;
}

/** Validates `host:port` (or `[v6]:port`). */
export function checkEndpoint(text: string): string {
  const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(text.trim());
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) fail(`Endpoint "${text}" must be host:port, e.g. vpn.example.com:51820`);
  return text.trim();
}

/** Builds and validates the device config from gathered input, the profile and the key. */
export function buildDeviceConfig(input: ConfigInput, profile: BoardProfile, key: DeviceKey, warn: (m: string) => void): DeviceConfigJson {
  if (!input.address) fail('the device tunnel address is missing: set Address in [Interface] or pass --address 10.0.0.2/32');
  const addrs = input.address.split(',').map((a) => a.trim()).filter(Boolean);
  const v4 = addrs.filter((a) => !a.includes(':'));
  if (v4.length !== 1) fail(`Address must contain exactly one IPv4 address for the device (got "${input.address}")`);
  if (addrs.length > 1) warn(`only the IPv4 address ${v4[0]} is used on the device; ignored: ${addrs.filter((a) => a !== v4[0]).join(', ')}`);
  if (!input.peerPublicKey) fail('the server public key is missing: set PublicKey in [Peer] or pass --peer-public-key');
  if (!input.endpoint) fail('the server endpoint is missing: set Endpoint in [Peer] or pass --endpoint host:port');
  if (!input.allowedIPs || input.allowedIPs.length === 0) fail('AllowedIPs is missing: set AllowedIPs in [Peer] or pass --allowed-ips 10.0.0.0/24');
  const allowedIPs = input.allowedIPs.map((a) => {
    try {
      parseCidr(a);
    } catch (e) {
      fail(`AllowedIPs: ${(e as Error).message}`);
    }
    return a;
  });
  let keepalive: number | 'auto' = 'auto';
  const ka = input.persistentKeepalive?.trim().toLowerCase();
  if (ka !== undefined && ka !== 'auto') {
    if (ka === 'off') keepalive = 0;
    else if (/^\d+$/.test(ka) && Number(ka) <= 65535) keepalive = Number(ka);
    else fail(`PersistentKeepalive must be seconds (0–65535), "off" or "auto" (got "${input.persistentKeepalive}")`);
  }
  const modem = validateModem({ ...profile.modem, ...input.modem }, 'modem settings');
  const cfg: DeviceConfigJson = {
    privateKey: key.privateKey.reveal(),
    address: checkV4Prefix(v4[0], 'Address'),
    peer: {
      publicKey: checkKey(input.peerPublicKey, 'the server PublicKey'),
      endpoint: checkEndpoint(input.endpoint),
      allowedIPs,
      persistentKeepalive: keepalive,
    },
    modem: { ...modem },
  };
  if (input.presharedKey) cfg.peer.presharedKey = checkKey(input.presharedKey.reveal(), 'PresharedKey');
  if (cfg.peer.publicKey === key.publicKey) fail('the [Peer] PublicKey is the device\'s own public key: it must be the server\'s');
  if (input.apn !== undefined) cfg.modem.apn = input.apn;
  if (input.ssid !== undefined) cfg.modem.ssid = input.ssid;
  if (input.wifiPassword !== undefined) cfg.modem.wifiPassword = input.wifiPassword.reveal();
  if (modem.dialect === 'espat' && !cfg.modem.ssid) fail('the espat (Wi-Fi) modem needs an SSID: set SSID in [Modem] or pass --ssid');
  if (modem.dialect !== 'espat' && cfg.modem.apn === undefined) warn('no APN given (APN in [Modem] or --apn): the modem will use its default PDP context');
  if (input.app) cfg.app = input.app;
  return cfg;
}

/** The `[Peer]` block the server needs for this device. */
export function serverPeerBlock(cfg: DeviceConfigJson, publicKey: string, profile: BoardProfile): string {
  const ip = cfg.address.split('/')[0];
  const lines = [
    '[Peer]',
    `# wgjs device: ${profile.name}`,
    `PublicKey = ${publicKey}`,
  ];
  if (cfg.peer.presharedKey) lines.push('# PresharedKey = <the same PresharedKey as in the device config>');
  lines.push(`AllowedIPs = ${ip}/32`);
  return lines.join('\n') + '\n';
}
