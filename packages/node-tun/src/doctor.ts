/**
 * `wgjs doctor`: walks the layers a WireGuard troubleshooter checks, from the outside in — is the
 * interface there and addressed, is traffic routed into it, does each peer have an endpoint and a
 * recent handshake, are both rx and tx moving, which packets were dropped and why, do peers'
 * AllowedIPs overlap — and prints findings a person can act on.
 *
 * The analysis (`diagnose`) is a pure function of facts gathered beforehand, so it is tested
 * without a network; `gatherFacts` collects them from a running interface.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { parseCidr, REJECT_AFTER_TIME } from '@wgjs/core';
import { requestControl, type HostStatus } from './host.js';

const run = promisify(execFile);

export type Severity = 'ok' | 'warn' | 'fail';

export interface Finding {
  severity: Severity;
  layer: string;
  message: string;
}

export interface Facts {
  /** Two status snapshots taken `intervalMs` apart (counters are compared). */
  before: HostStatus;
  after: HostStatus;
  intervalMs: number;
  now: number;
  link: { exists: boolean; up: boolean; addresses: string[] };
  /** For each AllowedIPs prefix: the interface `ip route get` picks for its first address. */
  routes: Array<{ prefix: string; dev: string | null }>;
}

/** What each drop reason usually means, and what to do about it. */
const DROP_ADVICE: Record<string, string> = {
  bad_length: 'datagrams of the wrong size for their type reached the port: something other than WireGuard sends to it',
  unknown_type: 'non-WireGuard datagrams reached the port',
  bad_mac1: 'handshakes addressed to a different public key: a peer has an old or wrong public key for this interface',
  unknown_index: 'packets for sessions we do not have: normal right after a restart; if it persists, the peer keeps an old session (it will re-handshake within 3 minutes)',
  auth_failed: 'packets that failed authentication: corrupted in transit, or forged',
  replay: 'duplicated or very late packets (a looping or duplicating path)',
  source_not_allowed: 'a peer sent packets from addresses outside its AllowedIPs here: widen AllowedIPs for that peer, or fix the Address on the peer',
  no_route: 'packets routed into the interface for addresses no peer\'s AllowedIPs cover: add the prefix to a peer\'s AllowedIPs, or fix the route',
  rate_limited: 'handshakes from one source exceeded 20/s while under load',
  handshake_failed: 'handshakes that did not decrypt: mismatched PresharedKey, or a peer configured with a wrong key',
  unknown_peer: 'a public key that is not configured here tried to connect: add it as a [Peer], or remove this endpoint from that machine',
  stale_timestamp: 'replayed handshake initiations, or a peer whose clock went backwards',
  initiation_flood: 'a peer sent handshake initiations faster than 50 per second',
  expired_session: 'packets on a session older than 3 minutes (the peer will re-handshake)',
  bad_inner_packet: 'decrypted packets that were not IPv4/IPv6 (wgjs probes count here on a wgjs peer)',
  no_endpoint: 'traffic for a peer that has no endpoint and has not contacted us: set Endpoint on one side',
  staged_overflow: 'packets waiting for a handshake overflowed the queue: the handshake is not completing',
  bad_cookie_reply: 'cookie replies that did not decrypt',
  unexpected_response: 'handshake responses without a matching initiation',
  too_large: 'packets larger than the MTU: lower the MTU of the sending side or enable PMTU discovery',
  no_slot: 'no free session slot (capacity)',
  handshake_gave_up: 'packets discarded after 90 s of unanswered handshakes: the peer is unreachable',
};

function contains(outer: string, inner: string): boolean {
  const a = parseCidr(outer);
  const b = parseCidr(inner);
  if (a.family !== b.family || a.cidr > b.cidr) return false;
  for (let bit = 0; bit < a.cidr; bit++) {
    const byte = bit >> 3;
    const mask = 0x80 >> (bit & 7);
    if ((a.ip[byte] & mask) !== (b.ip[byte] & mask)) return false;
  }
  return true;
}

function ago(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/** The analysis: facts in, findings out, in the order a troubleshooter walks the layers. */
export function diagnose(f: Facts): Finding[] {
  const out: Finding[] = [];
  const add = (severity: Severity, layer: string, message: string) => out.push({ severity, layer, message });
  const name = f.after.name;

  // 1. The interface.
  if (!f.link.exists) add('fail', 'interface', `${name} does not exist in the kernel although wgjs runs (pid ${f.after.pid}): restart it with wgjs down ${name}; wgjs up ${name}`);
  else if (!f.link.up) add('fail', 'interface', `${name} is down: ip link set up dev ${name}`);
  else add('ok', 'interface', `${name} is up (mtu ${f.after.mtu}, UDP port ${f.after.listenPort}, ${f.after.transport} transport)`);
  if (f.link.exists && f.link.addresses.length === 0) add('warn', 'interface', `${name} has no address: add Address = ... to [Interface] (or ip address add ... dev ${name})`);

  // 2. Routing into the interface.
  const misrouted = f.routes.filter((r) => r.dev !== name);
  for (const r of misrouted) {
    add('fail', 'routing', r.dev === null
      ? `no route for ${r.prefix}: ip route add ${r.prefix} dev ${name}`
      : `traffic for ${r.prefix} is routed to ${r.dev}, not ${name}: a more specific route wins; ip route add ${r.prefix} dev ${name} (or remove the other route)`);
  }
  if (f.routes.length > 0 && misrouted.length === 0) add('ok', 'routing', `all ${f.routes.length} AllowedIPs prefixes are routed into ${name}`);
  if (f.after.peers.length === 0) add('warn', 'peers', 'no peers configured');

  // 3. Per peer: endpoint, handshake, counters.
  for (const p of f.after.peers) {
    const short = p.publicKey.slice(0, 8) + '…';
    const before = f.before.peers.find((q) => q.publicKey === p.publicKey);
    if (!p.endpoint) {
      add(p.lastHandshakeWall ? 'ok' : 'warn', `peer ${short}`, p.lastHandshakeWall
        ? 'no endpoint configured; it is learned from the peer'
        : 'no endpoint, and the peer has never contacted us: set Endpoint = host:port here, or on the peer for this host');
    }
    if (!p.lastHandshakeWall) {
      if (p.endpoint) add('fail', `peer ${short}`, `no handshake yet with ${p.endpoint}: check that its UDP port is reachable (firewall, NAT, right port), that each side has the other's public key, and the PresharedKey matches`);
    } else {
      const age = f.now - p.lastHandshakeWall;
      if (age > REJECT_AFTER_TIME) add('warn', `peer ${short}`, `last handshake ${ago(age)} ago: the tunnel is idle or the peer stopped answering (sessions last 3 min without a new handshake)`);
      else add('ok', `peer ${short}`, `handshake ${ago(age)} ago with ${p.endpoint}`);
    }
    if (before) {
      const dtx = p.txBytes - before.txBytes;
      const drx = p.rxBytes - before.rxBytes;
      const secs = (f.intervalMs / 1000).toFixed(0);
      if (dtx > 0 && drx === 0) add('fail', `peer ${short}`, `sent ${dtx} B in ${secs} s but received nothing: the peer drops our packets or its replies cannot reach us (firewall/NAT on the way back, or the peer routes replies elsewhere)`);
      else if (drx > 0 && dtx === 0) add('warn', `peer ${short}`, `received ${drx} B in ${secs} s but sent nothing back: are replies routed into ${name}?`);
      else if (drx > 0 && dtx > 0) add('ok', `peer ${short}`, `rx and tx both moving (${drx} B in, ${dtx} B out in ${secs} s)`);
    }
  }

  // 4. Drops, by reason.
  for (const [reason, n] of Object.entries(f.after.drops)) {
    const delta = n - (f.before.drops[reason] ?? 0);
    add(delta > 0 ? 'warn' : 'ok', 'drops', `${n} dropped as ${reason}${delta > 0 ? ` (${delta} just now)` : ''}: ${DROP_ADVICE[reason] ?? 'see the engine documentation'}`);
  }
  if (f.after.tun.txDropped > 0) add('warn', 'interface', `${f.after.tun.txDropped} decrypted packets dropped because the TUN queue was full (the system cannot keep up)`);

  // 5. AllowedIPs overlaps between peers.
  const prefixes = f.after.peers.flatMap((p) => p.allowedIPs.map((c) => ({ c, peer: p.publicKey.slice(0, 8) + '…' })));
  for (const a of prefixes) {
    for (const b of prefixes) {
      if (a.peer !== b.peer && a.c !== b.c && contains(a.c, b.c)) {
        add('warn', 'allowed ips', `${a.c} (peer ${a.peer}) contains ${b.c} (peer ${b.peer}): traffic for ${b.c} goes to ${b.peer}, and ${a.peer} may not send from it`);
      }
    }
  }
  return out;
}

/** Collects the facts from a running interface (two status snapshots `intervalMs` apart). */
export async function gatherFacts(iface: string, intervalMs: number): Promise<Facts> {
  const before = (await requestControl(iface, 'status')) as unknown as HostStatus;
  await new Promise((r) => setTimeout(r, intervalMs));
  const after = (await requestControl(iface, 'status')) as unknown as HostStatus;
  const link = { exists: false, up: false, addresses: [] as string[] };
  try {
    const { stdout } = await run('ip', ['-j', 'address', 'show', 'dev', iface]);
    const j = JSON.parse(stdout)[0];
    link.exists = true;
    link.up = (j.flags as string[]).includes('UP');
    link.addresses = (j.addr_info as Array<{ local: string; prefixlen: number }>).map((a) => `${a.local}/${a.prefixlen}`);
  } catch {
    // does not exist
  }
  const routes: Facts['routes'] = [];
  for (const p of after.peers) {
    for (const prefix of p.allowedIPs) {
      const c = parseCidr(prefix);
      if (c.cidr === 0) continue;
      try {
        const { stdout } = await run('ip', ['-j', c.family === 6 ? '-6' : '-4', 'route', 'get', prefix.split('/')[0]]);
        routes.push({ prefix, dev: JSON.parse(stdout)[0]?.dev ?? null });
      } catch {
        routes.push({ prefix, dev: null });
      }
    }
  }
  return { before, after, intervalMs, now: Date.now(), link, routes };
}

/** Renders findings for a terminal. */
export function formatFindings(findings: Finding[]): string {
  const mark: Record<Severity, string> = { ok: '  ok ', warn: ' WARN', fail: ' FAIL' };
  return findings.map((f) => `${mark[f.severity]}  [${f.layer}] ${f.message}`).join('\n') + '\n';
}
