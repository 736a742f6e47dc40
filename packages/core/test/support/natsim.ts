/**
 * A simulated NAT, a simulated probe responder and a virtual-clock runner, shared by the adaptive
 * keepalive tests of `Engine` (keepalive.test.ts) and of `Initiator` (initiator.test.ts). They
 * work on any network that delivers `Datagram`s through `nat` / `filter` hooks and any devices
 * with `nextDeadline()` / `tick(now)`.
 */
import type { Datagram } from './harness.js';
import { parseUdp, writeUdp } from '../../src/ip.js';
import { PROBE_REPLY, PROBE_REQUEST, PROBE_SIZE, PROBE_TYPE_OFFSET, parseProbe, probeDelayMs } from '../../src/probe.js';

/** The NAT's public address. */
export const PUB = '198.51.100.7';

/** What the simulations need of a virtual network (harness.ts VirtualNet, or a test's own). */
export interface SimNet<N> {
  now: number;
  /** Receivers by address; the NAT adds and removes its public mappings here. */
  nodes: Map<string, N>;
  nat: (d: Datagram) => string;
  filter: (d: Datagram) => boolean;
  /** Delivers every datagram in flight. */
  pump(): number;
}

/** Something with timers: an Engine or an Initiator. */
export interface Timed {
  nextDeadline(): number;
  tick(now: number): void;
}

/**
 * A NAT in front of the device at `inside` (whose receiver is `node`): a mapping lives `timeout`
 * ms after the last packet (inbound too if `inboundRefresh`).
 */
export class NatSim<N> {
  port = 40000;
  expires = -Infinity;
  /** Every mapping that expired with traffic pending is counted when the next outbound needs a new one. */
  rebinds = 0;
  dropped = 0;
  constructor(private net: SimNet<N>, private inside: string, private node: N, public timeout: number, public inboundRefresh = true) {
    net.nat = (d) => (d.from === inside ? this.outbound() : d.from);
    net.filter = (d) => (d.to.startsWith(PUB + ':') ? this.inbound(d) : true);
  }
  private key(): string {
    return `${PUB}:${this.port}`;
  }
  private outbound(): string {
    const now = this.net.now;
    if (now >= this.expires) {
      this.net.nodes.delete(this.key());
      if (this.expires > -Infinity) this.rebinds++;
      this.port++;
      this.net.nodes.set(this.key(), this.node);
    }
    this.expires = now + this.timeout;
    return this.key();
  }
  private inbound(d: Datagram): boolean {
    const now = this.net.now;
    if (d.to !== this.key() || now >= this.expires) {
      this.dropped++;
      return false;
    }
    if (this.inboundRefresh) this.expires = now + this.timeout;
    return true;
  }
}

function udpPorts(pkt: Uint8Array): { srcPort: number; dstPort: number; payloadOff: number } {
  const ihl = (pkt[0] & 15) * 4;
  return { srcPort: (pkt[ihl] << 8) | pkt[ihl + 1], dstPort: (pkt[ihl + 2] << 8) | pkt[ihl + 3], payloadOff: ihl + 8 };
}

/**
 * The probe responder (UDP port 51821) behind the server: answers the IPv4 requests the server
 * delivers (`delivered()`) after their delay, through `send` (the server's sendPacket). The reply
 * goes from the request's destination back to its source.
 */
export class ResponderSim {
  seen = 0;
  pending: Array<{ at: number; pkt: Uint8Array }> = [];
  answered = 0;
  constructor(private delivered: () => Uint8Array[], private send: (now: number, pkt: Uint8Array) => void) {}
  collect(now: number): void {
    const d = this.delivered();
    for (; this.seen < d.length; this.seen++) {
      const pkt = d[this.seen];
      if (parseUdp(pkt, 0, pkt.length) !== PROBE_SIZE) continue;
      const u = udpPorts(pkt);
      if (u.dstPort !== 51821 || parseProbe(pkt, u.payloadOff, PROBE_SIZE) !== PROBE_REQUEST) continue;
      const reply = new Uint8Array(28 + PROBE_SIZE);
      const payload = pkt.slice(u.payloadOff, u.payloadOff + PROBE_SIZE);
      payload[PROBE_TYPE_OFFSET] = PROBE_REPLY;
      writeUdp(reply, 0, 4, pkt.slice(16, 20), 51821, pkt.slice(12, 16), u.srcPort, payload, 0, PROBE_SIZE);
      this.pending.push({ at: now + probeDelayMs(pkt, u.payloadOff), pkt: reply });
    }
  }
  nextAt(): number {
    let t = Infinity;
    for (const x of this.pending) t = Math.min(t, x.at);
    return t;
  }
  fire(now: number): void {
    for (const x of this.pending.filter((y) => y.at <= now)) {
      this.send(now, x.pkt);
      this.answered++;
    }
    this.pending = this.pending.filter((y) => y.at > now);
  }
}

/**
 * Runs the virtual network until `until`, firing timers (`timed()`, asked afresh every step) and
 * responder replies in order. `hook` runs after every step; returning true stops the run there.
 */
export function runSim(net: SimNet<unknown>, timed: () => Timed[], until: number, r?: ResponderSim, hook?: (now: number) => boolean | void): void {
  net.pump();
  for (let guard = 0; guard < 2_000_000; guard++) {
    r?.collect(net.now);
    let next = r ? r.nextAt() : Infinity;
    const all = timed();
    for (const n of all) next = Math.min(next, n.nextDeadline());
    if (next > until) break;
    net.now = Math.max(net.now, next);
    r?.fire(net.now);
    net.pump();
    for (const n of all) if (n.nextDeadline() <= net.now) n.tick(net.now);
    net.pump();
    if (hook?.(net.now) === true) return;
  }
  net.now = until;
  net.pump();
  r?.collect(net.now);
}
