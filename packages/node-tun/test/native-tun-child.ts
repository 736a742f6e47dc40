/**
 * Child process for native.test.ts, run inside a test namespace (`ip netns exec`): opens a
 * TunDevice and reports what it reads as JSON lines on stdout; answers IPv4 pings through
 * the TUN; takes JSON-line commands on stdin (write a packet, try another open, stats, close).
 *
 *   node --import tsx native-tun-child.ts <ifname> <mtu> [slotSize]
 */
import { createInterface } from 'node:readline';
import { TunDevice } from '../src/tun.js';

const name = process.argv[2] ?? 'wgjs-tun0';
const mtu = Number(process.argv[3] ?? '1400');
const slotSize = process.argv[4] ? Number(process.argv[4]) : undefined;
/** UDP to this port is only counted (the flood test), not reported packet by packet. */
const FLOOD_PORT = 9998;

function out(o: object): void {
  process.stdout.write(JSON.stringify(o) + '\n');
}

function checksum(b: Uint8Array, off: number, len: number, initial = 0): number {
  let s = initial;
  for (let i = 0; i + 1 < len; i += 2) s += (b[off + i]! << 8) | b[off + i + 1]!;
  if (len & 1) s += b[off + len - 1]! << 8;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

function ip4(b: Uint8Array, o: number): string {
  return `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;
}

function ip6(b: Uint8Array, o: number): string {
  const parts: string[] = [];
  for (let i = 0; i < 16; i += 2) parts.push(((b[o + i]! << 8) | b[o + i + 1]!).toString(16));
  return parts.join(':');
}

let tun: TunDevice;
try {
  tun = TunDevice.open(name, mtu, { slotSize });
} catch (err) {
  const e = err as Error & { code?: string };
  out({ event: 'error', code: e.code, message: e.message });
  process.exit(1);
}

let floodCount = 0;
let batches = 0;
let maxBatch = 0;
let echoReplies = 0;

tun.onPackets((slab, offsets, lengths, count) => {
  batches++;
  if (count > maxBatch) maxBatch = count;
  for (let i = 0; i < count; i++) {
    const o = offsets[i]!;
    const len = lengths[i]!;
    const v = slab[o]! >> 4;
    if (v === 4) {
      const ihl = (slab[o]! & 15) * 4;
      const proto = slab[o + 9]!;
      const src = ip4(slab, o + 12);
      const dst = ip4(slab, o + 16);
      if (proto === 17) {
        const sport = (slab[o + ihl]! << 8) | slab[o + ihl + 1]!;
        const dport = (slab[o + ihl + 2]! << 8) | slab[o + ihl + 3]!;
        if (dport === FLOOD_PORT) {
          floodCount++;
          continue;
        }
        const data = Buffer.from(slab.subarray(o + ihl + 8, o + len)).toString('base64');
        out({ event: 'packet', v, proto, src, dst, sport, dport, len, data });
      } else if (proto === 1 && slab[o + ihl] === 8) {
        // Echo request: turn it into the reply in a copy and write it back.
        const p = Uint8Array.from(slab.subarray(o, o + len));
        p.set(slab.subarray(o + 16, o + 20), 12);
        p.set(slab.subarray(o + 12, o + 16), 16);
        p[10] = 0;
        p[11] = 0;
        const hc = checksum(p, 0, ihl);
        p[10] = hc >> 8;
        p[11] = hc & 255;
        p[ihl] = 0; // echo reply
        p[ihl + 2] = 0;
        p[ihl + 3] = 0;
        const ic = checksum(p, ihl, len - ihl);
        p[ihl + 2] = ic >> 8;
        p[ihl + 3] = ic & 255;
        if (tun.write(p, 0, len)) echoReplies++;
        out({ event: 'packet', v, proto, src, dst, len, icmpType: 8 });
      } else {
        out({ event: 'packet', v, proto, src, dst, len });
      }
    } else if (v === 6) {
      const next = slab[o + 6]!;
      const src = ip6(slab, o + 8);
      const dst = ip6(slab, o + 24);
      if (next === 17) {
        const sport = (slab[o + 40]! << 8) | slab[o + 41]!;
        const dport = (slab[o + 42]! << 8) | slab[o + 43]!;
        const data = Buffer.from(slab.subarray(o + 48, o + len)).toString('base64');
        out({ event: 'packet', v, proto: next, src, dst, sport, dport, len, data });
      } else {
        // Router solicitations, MLD reports...: the kernel's own chatter on a new link.
        out({ event: 'packet', v, proto: next, src, dst, len });
      }
    } else {
      out({ event: 'packet', v, len });
    }
  }
});
tun.onError((err) => out({ event: 'tunError', message: err.message }));

createInterface({ input: process.stdin }).on('line', (line) => {
  const cmd = JSON.parse(line) as { cmd: string; hex?: string; name?: string };
  if (cmd.cmd === 'write') {
    const p = Buffer.from(cmd.hex!, 'hex');
    // Write from an offset inside a larger buffer, as the host peer will.
    const big = new Uint8Array(p.length + 7);
    big.set(p, 7);
    out({ event: 'written', ok: tun.write(big, 7, p.length) });
  } else if (cmd.cmd === 'open2') {
    try {
      TunDevice.open(cmd.name!).close();
      out({ event: 'open2', ok: true });
    } catch (err) {
      const e = err as Error & { code?: string };
      out({ event: 'open2', ok: false, code: e.code, message: e.message });
    }
  } else if (cmd.cmd === 'stats') {
    out({ event: 'stats', floodCount, batches, maxBatch, echoReplies, ...tun.stats() });
  } else if (cmd.cmd === 'close') {
    tun.close();
    out({ event: 'closed' });
    process.exit(0);
  }
}).on('close', () => process.exit(0)); // the test went away

out({ event: 'ready', name: tun.name, fd: tun.fd });
