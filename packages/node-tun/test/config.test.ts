/**
 * wg-quick configuration files: typical client and server files, every error naming file and
 * line, warnings for unknown and unsupported keys, and serialisation round trips.
 */
import { randomFillSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createPortableProvider, formatKey, generatePrivateKey, publicKeyOf } from '@wgjs/core';
import { parseConfig, serializeConfig, checkEndpoint, type ParsedConfig } from '../src/config.js';

const crypto = createPortableProvider();
const random = (b: Uint8Array, o: number, n: number): void => {
  randomFillSync(b, o, n);
};
function keyPair(): { priv: string; pub: string } {
  const k = generatePrivateKey(random);
  return { priv: formatKey(k), pub: formatKey(publicKeyOf(crypto, k)) };
}
const me = keyPair();
const a = keyPair();
const b = keyPair();
const psk = formatKey(generatePrivateKey(random));

/** The error a parse throws (fails the test if it does not throw). */
function parseError(text: string, file = 'wg0.conf'): { code: string; message: string } {
  try {
    parseConfig(text, file);
  } catch (e) {
    return e as { code: string; message: string };
  }
  throw new Error('expected parseConfig to throw');
}

describe('parseConfig: real-world files', () => {
  it('a typical client (full tunnel, DNS, hostname endpoint, keepalive)', () => {
    const text = [
      '[Interface]',
      '# laptop',
      `PrivateKey = ${me.priv}`,
      'Address = 10.200.200.2/32, fd42:42:42::2/128',
      'DNS = 10.200.200.1, 2606:4700:4700::1111, corp.example',
      'MTU = 1380',
      '',
      '[Peer]',
      `PublicKey = ${a.pub}`,
      `PresharedKey = ${psk}`,
      'AllowedIPs = 0.0.0.0/0, ::/0',
      'Endpoint = vpn.example.com:51820',
      'PersistentKeepalive = 25',
      '',
    ].join('\n');
    const cfg = parseConfig(text, '/etc/wireguard/wg0.conf');
    expect(cfg.warnings).toEqual([]);
    expect(cfg.interface).toEqual({
      privateKey: me.priv, listenPort: null, fwMark: null,
      addresses: ['10.200.200.2/32', 'fd42:42:42::2/128'],
      dns: ['10.200.200.1', '2606:4700:4700::1111', 'corp.example'],
      mtu: 1380, table: null, saveConfig: false, preUp: [], postUp: [], preDown: [], postDown: [], line: 1,
    });
    expect(cfg.peers).toEqual([{
      publicKey: a.pub, presharedKey: psk, allowedIPs: ['0.0.0.0/0', '::/0'], endpoint: 'vpn.example.com:51820',
      persistentKeepalive: 25, keepaliveResponder: null, line: 8,
    }]);
  });

  it('a typical server: several peers, repeated list keys, hooks kept verbatim, mixed case, CRLF', () => {
    const text = [
      '[Interface]',
      'Address = 10.200.200.1/24',
      'Address = fd42:42:42::1/64',
      'ListenPort = 51820',
      `PrivateKey = ${me.priv}   # server key`,
      'SaveConfig = true',
      'Table = off',
      'PreUp = sysctl -w net.ipv4.ip_forward=1',
      'PostUp = iptables -A FORWARD -i %i -j ACCEPT; iptables -t nat -A POSTROUTING -o eth0 -j MASQUERADE',
      'PostDown = iptables -D FORWARD -i %i -j ACCEPT; iptables -t nat -D POSTROUTING -o eth0 -j MASQUERADE',
      'PreDown = logger "wg0 going down"',
      '',
      '[Peer]',
      '# phone',
      `PublicKey = ${a.pub}`,
      'AllowedIPs = 10.200.200.2/32',
      'AllowedIPs = fd42:42:42::2/128',
      '',
      '[peer]',
      `publickey=${b.pub}`,
      'allowedips = 10.200.200.3/32,192.168.10.0/24 ,',
      'ENDPOINT = [2001:db8::5]:51820',
      'persistentKeepalive = off',
    ].join('\r\n');
    const cfg = parseConfig(text, 'server.conf');
    expect(cfg.warnings).toEqual([]);
    expect(cfg.interface.addresses).toEqual(['10.200.200.1/24', 'fd42:42:42::1/64']);
    expect(cfg.interface.listenPort).toBe(51820);
    expect(cfg.interface.privateKey).toBe(me.priv);
    expect(cfg.interface.saveConfig).toBe(true);
    expect(cfg.interface.table).toBe('off');
    expect(cfg.interface.preUp).toEqual(['sysctl -w net.ipv4.ip_forward=1']);
    expect(cfg.interface.postUp).toEqual(['iptables -A FORWARD -i %i -j ACCEPT; iptables -t nat -A POSTROUTING -o eth0 -j MASQUERADE']);
    expect(cfg.interface.postDown).toHaveLength(1);
    expect(cfg.interface.preDown).toEqual(['logger "wg0 going down"']);
    expect(cfg.peers.map((p) => [p.publicKey, p.allowedIPs, p.endpoint, p.persistentKeepalive, p.line])).toEqual([
      [a.pub, ['10.200.200.2/32', 'fd42:42:42::2/128'], null, 0, 13],
      [b.pub, ['10.200.200.3/32', '192.168.10.0/24'], '[2001:db8::5]:51820', 0, 19],
    ]);
  });

  it('a plain `wg` file without PrivateKey when requirePrivateKey is false, and a UTF-8 BOM', () => {
    const text = `\uFEFF[Interface]\nListenPort = 0\n[Peer]\nPublicKey = ${a.pub}\nAllowedIPs = 10.0.0.2/32\n`;
    const cfg = parseConfig(text, 'peers.conf', { requirePrivateKey: false });
    expect(cfg.interface.privateKey).toBeNull();
    expect(cfg.interface.listenPort).toBe(0);
    expect(cfg.peers).toHaveLength(1);
  });

  it('PersistentKeepalive: off, 0, a number and auto', () => {
    const peer = (v: string, k: { pub: string }) => `[Peer]\nPublicKey = ${k.pub}\nAllowedIPs = 10.0.0.0/8\nPersistentKeepalive = ${v}\n`;
    const c = keyPair();
    const text = `[Interface]\nPrivateKey = ${me.priv}\n` + peer('off', a) + peer('25', b) + peer('AUTO', c);
    expect(parseConfig(text, 'x.conf').peers.map((p) => p.persistentKeepalive)).toEqual([0, 25, 'auto']);
    expect(parseError(`[Interface]\nPrivateKey = ${me.priv}\n` + peer('65536', a)).message).toMatch(/^wg0\.conf:6: PersistentKeepalive "65536"/);
    expect(parseError(`[Interface]\nPrivateKey = ${me.priv}\n` + peer('sometimes', a)).message).toMatch(/^wg0\.conf:6: .*"off", "auto" or a number/);
  });

  it('KeepaliveResponder (wgjs): an IP:port in the tunnel, with an Address of its family to probe from', () => {
    const head = `[Interface]\nPrivateKey = ${me.priv}\nAddress = 10.0.0.2/32\n`;
    const peer = (r: string, k = 'auto') => `[Peer]\nPublicKey = ${a.pub}\nAllowedIPs = 10.0.0.0/24\nPersistentKeepalive = ${k}\nKeepaliveResponder = ${r}\n`;
    const cfg = parseConfig(head + peer('10.0.0.1:51821'), 'x.conf');
    expect(cfg.peers[0].keepaliveResponder).toBe('10.0.0.1:51821');
    expect(cfg.warnings).toEqual([]);
    expect(parseConfig(head + peer('10.0.0.1:51821', '25'), 'x.conf').warnings[0]).toMatch(/only with PersistentKeepalive = auto/);
    expect(parseError(head + peer('probe.example:51821')).message).toMatch(/KeepaliveResponder "probe.example:51821" must be an IP address/);
    expect(parseError(head + peer('[fd00::1]:51821')).message).toMatch(/needs an IPv6 Address/);
  });

  it('FwMark is parsed but warned about; unknown keys are warned about and ignored', () => {
    const text = [
      '[Interface]',
      `PrivateKey = ${me.priv}`,
      'FwMark = 0xca6c',
      'Jc = 4',
      '[Peer]',
      `PublicKey = ${a.pub}`,
      'AllowedIPs = 10.0.0.2/32',
      'Frobnicate = yes',
    ].join('\n');
    const cfg = parseConfig(text, 'wg1.conf');
    expect(cfg.interface.fwMark).toBe(0xca6c);
    expect(cfg.warnings).toEqual([
      'wg1.conf:3: FwMark is not supported by wgjs (its UDP socket cannot be marked) and has no effect',
      'wg1.conf:4: unknown key "Jc" ignored',
      'wg1.conf:8: unknown key "Frobnicate" ignored',
    ]);
    expect(parseConfig(text.replace('0xca6c', 'off'), 'wg1.conf').interface.fwMark).toBeNull();
  });

  it('warns about a repeated single-valued key and a peer without AllowedIPs', () => {
    const text = `[Interface]\nPrivateKey = ${me.priv}\nListenPort = 1\nListenPort = 2\n[Peer]\nPublicKey = ${a.pub}\n`;
    const cfg = parseConfig(text, 'w.conf');
    expect(cfg.interface.listenPort).toBe(2);
    expect(cfg.warnings).toEqual([
      'w.conf:4: ListenPort set again; this value overrides line 3',
      `w.conf:5: peer ${a.pub} has no AllowedIPs: no traffic will be sent to or accepted from it`,
    ]);
  });
});

describe('parseConfig: errors name the file and line', () => {
  const head = `[Interface]\nPrivateKey = ${me.priv}\n`;
  const cases: Array<[string, string, RegExp]> = [
    ['bad private key', '[Interface]\nPrivateKey = not-a-key\n', /^wg0\.conf:2: PrivateKey is not a valid WireGuard key/],
    ['bad public key', `${head}[Peer]\nPublicKey = AAAA\nAllowedIPs = 10.0.0.1/32\n`, /^wg0\.conf:4: PublicKey is not a valid WireGuard key .*wg genkey/],
    ['bad preshared key', `${head}[Peer]\nPublicKey = ${a.pub}\nPresharedKey = ${a.pub.slice(1)}\n`, /^wg0\.conf:5: PresharedKey is not a valid/],
    ['endpoint without port', `${head}[Peer]\nPublicKey = ${a.pub}\nEndpoint = vpn.example.com\n`, /^wg0\.conf:5: Endpoint "vpn\.example\.com" has no port/],
    ['endpoint unbracketed IPv6', `${head}[Peer]\nPublicKey = ${a.pub}\nEndpoint = 2001:db8::1:51820\n`, /^wg0\.conf:5: .*put an IPv6 address in brackets/],
    ['endpoint bad port', `${head}[Peer]\nPublicKey = ${a.pub}\nEndpoint = 192.0.2.1:99999\n`, /^wg0\.conf:5: .*invalid port "99999"/],
    ['endpoint bad IPv4', `${head}[Peer]\nPublicKey = ${a.pub}\nEndpoint = 192.0.2.300:51820\n`, /^wg0\.conf:5: .*neither an IP address nor a valid host name/],
    ['bad CIDR', `${head}[Peer]\nPublicKey = ${a.pub}\nAllowedIPs = 10.0.0.0/8, 10.0.0.0/33\n`, /^wg0\.conf:5: AllowedIPs entry "10\.0\.0\.0\/33" is not an IP prefix/],
    ['bad address', `${head}Address = 10.0.0.256/24\n`, /^wg0\.conf:3: Address "10\.0\.0\.256\/24"/],
    ['bad DNS', `${head}DNS = 1.1.1.999\n`, /^wg0\.conf:3: DNS "1\.1\.1\.999" is neither/],
    ['missing PrivateKey', '# c\n[Interface]\nListenPort = 51820\n', /^wg0\.conf:2: this \[Interface\] has no PrivateKey/],
    ['no [Interface]', `[Peer]\nPublicKey = ${a.pub}\n`, /^wg0\.conf: no \[Interface\] section/],
    ['duplicate [Interface]', `${head}\n[Interface]\nListenPort = 1\n`, /^wg0\.conf:4: second \[Interface\] section \(the first is at line 1\)/],
    ['duplicate peer', `${head}[Peer]\nPublicKey = ${a.pub}\n[Peer]\nPublicKey = ${a.pub}\n`, /^wg0\.conf:5: this \[Peer\] has the same PublicKey as the \[Peer\] at line 3/],
    ['peer without PublicKey', `${head}[Peer]\nAllowedIPs = 10.0.0.0/8\n`, /^wg0\.conf:3: this \[Peer\] has no PublicKey/],
    ['own public key as peer', `${head}[Peer]\nPublicKey = ${me.pub}\n`, /^wg0\.conf:3: .*own public key/],
    ['key before any section', `ListenPort = 1\n${head}`, /^wg0\.conf:1: "ListenPort" appears before any section/],
    ['unknown section', `${head}[Peers]\n`, /^wg0\.conf:3: unknown section "\[Peers\]"/],
    ['line without =', `${head}ListenPort 51820\n`, /^wg0\.conf:3: expected "Key = Value"/],
    ['peer key in [Interface]', `${head}AllowedIPs = 10.0.0.0/8\n`, /^wg0\.conf:3: AllowedIPs belongs in a \[Peer\] section, not \[Interface\]/],
    ['interface key in [Peer]', `${head}[Peer]\nPublicKey = ${a.pub}\nListenPort = 5\n`, /^wg0\.conf:5: ListenPort belongs in the \[Interface\] section, not \[Peer\]/],
    ['bad ListenPort', `${head}ListenPort = 65536\n`, /^wg0\.conf:3: ListenPort "65536" is not a port number/],
    ['bad MTU', `${head}MTU = 100\n`, /^wg0\.conf:3: MTU "100" must be a whole number from 576 to 65535/],
    ['bad SaveConfig', `${head}SaveConfig = yes\n`, /^wg0\.conf:3: SaveConfig must be "true" or "false"/],
    ['bad FwMark', `${head}FwMark = 0xfffffffff\n`, /^wg0\.conf:3: FwMark/],
    ['empty value', `${head}ListenPort =\n`, /^wg0\.conf:3: ListenPort has no value/],
    ['unterminated header', `${head}[Peer\n`, /^wg0\.conf:3: section header "\[Peer" is missing its closing "\]"/],
  ];
  for (const [name, text, re] of cases) {
    it(name, () => {
      const e = parseError(text);
      expect(e.code).toBe('EINVAL');
      expect(e.message).toMatch(re);
    });
  }
});

describe('checkEndpoint', () => {
  it('accepts host:port, IPv4, bracketed IPv6 (with zone) and refuses the rest', () => {
    expect(checkEndpoint('vpn.example.com:51820')).toEqual({ ok: true, host: 'vpn.example.com', port: 51820 });
    expect(checkEndpoint('192.0.2.1:1')).toMatchObject({ ok: true, port: 1 });
    expect(checkEndpoint('[2001:db8::1]:51820')).toMatchObject({ ok: true, host: '2001:db8::1' });
    expect(checkEndpoint('[fe80::1%eth0]:51820')).toMatchObject({ ok: true, host: 'fe80::1%eth0' });
    for (const bad of ['[2001:db8::1]', '[nope]:1', 'host:0', 'host:-1', ':51820', 'bad_host!:1', '[2001:db8::1:51820']) {
      expect(checkEndpoint(bad).ok, bad).toBe(false);
    }
  });
});

describe('serializeConfig', () => {
  it('writes wg-quick settings, then the `wg showconf` part, and parses back to the same config', () => {
    const text = [
      '[Interface]',
      `PrivateKey = ${me.priv}`,
      'ListenPort = 51820',
      'Address = 10.0.0.1/24, fd00::1/64',
      'DNS = 10.0.0.53',
      'MTU = 1400',
      'Table = 1234',
      'PostUp = echo up %i',
      'PostDown = echo down %i',
      '[Peer]',
      `PublicKey = ${a.pub}`,
      `PresharedKey = ${psk}`,
      'AllowedIPs = 10.0.0.2/32, fd00::2/128',
      'Endpoint = [::1]:51821',
      'PersistentKeepalive = 25',
      '[Peer]',
      `PublicKey = ${b.pub}`,
      'AllowedIPs = 10.0.0.3/32',
      'PersistentKeepalive = auto',
    ].join('\n');
    const cfg = parseConfig(text, 'a.conf');
    const out = serializeConfig(cfg);
    expect(out).toBe([
      '[Interface]',
      'Address = 10.0.0.1/24',
      'Address = fd00::1/64',
      'DNS = 10.0.0.53',
      'MTU = 1400',
      'Table = 1234',
      'PostUp = echo up %i',
      'PostDown = echo down %i',
      'ListenPort = 51820',
      `PrivateKey = ${me.priv}`,
      '',
      '[Peer]',
      `PublicKey = ${a.pub}`,
      `PresharedKey = ${psk}`,
      'AllowedIPs = 10.0.0.2/32, fd00::2/128',
      'Endpoint = [::1]:51821',
      'PersistentKeepalive = 25',
      '',
      '[Peer]',
      `PublicKey = ${b.pub}`,
      'AllowedIPs = 10.0.0.3/32',
      'PersistentKeepalive = auto',
      '',
    ].join('\n'));
    const again = parseConfig(out, 'b.conf');
    const strip = (c: ParsedConfig) => ({ ...c, interface: { ...c.interface, line: 0 }, peers: c.peers.map((p) => ({ ...p, line: 0 })) });
    expect(strip(again)).toEqual(strip(cfg));
  });

  it('writes FwMark in hex as `wg showconf` does and leaves out what is unset', () => {
    expect(serializeConfig({ interface: { fwMark: 51820 }, peers: [{ publicKey: a.pub, persistentKeepalive: 0, allowedIPs: [] }] }))
      .toBe(`[Interface]\nFwMark = 0xca6c\n\n[Peer]\nPublicKey = ${a.pub}\n`);
  });
});
