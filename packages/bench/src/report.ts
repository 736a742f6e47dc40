/**
 * The outputs of a run: the JSON document's shape, the markdown tables, the SVG chart (written
 * here as plain SVG text, no dependencies) and the README block.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { Machine } from './machine.js';
import { machineLine } from './machine.js';
import { CRYPTO_IMPLS, CRYPTO_OPS, type CryptoSection } from './sections/crypto.js';
import type { DeviceSection, BenchTarget } from './sections/device.js';
import type { EngineSection } from './sections/engine.js';
import type { SetupResult, TunnelSection } from './sections/tunnels.js';
import { fmt, fmtSummary, type Skipped, type Summary } from './stats.js';

export interface Goal {
  goal: string;
  target: string;
  measured: string;
  /** null when the measurement is missing (section skipped). */
  met: boolean | null;
}

export interface BenchResults {
  schema: 'wgjs-bench/1';
  mode: 'full' | 'quick';
  command: string;
  startedAt: string;
  durationSeconds: number;
  machine: Machine;
  /** Per section: seconds taken and the machine's 1-minute load average before and after (noise). */
  timing: Record<string, { seconds: number; loadAverageStart: number; loadAverageEnd: number }>;
  sections: {
    crypto: CryptoSection | Skipped;
    engine: EngineSection | Skipped;
    tunnels: TunnelSection | Skipped;
    device: DeviceSection | Skipped;
  };
  goals: Goal[];
  /** Every part that did not run, with the reason (also printed while running). */
  skipped: Array<{ what: string; reason: string }>;
}

// ---------------------------------------------------------------------------------------------
// Goals

function setupOf(t: TunnelSection | Skipped, name: string): SetupResult | undefined {
  return t.status === 'skipped' ? undefined : t.setups.find((s) => s.setup === name && s.status === 'ok');
}

/** The issue's goals, held against this run's numbers (reported, never asserted). */
export function goals(r: Omit<BenchResults, 'goals' | 'skipped'>): Goal[] {
  const out: Goal[] = [];
  const e = r.sections.engine;
  const tp = e.status === 'ok' ? e.throughput.find((x) => x.size === 1420) : undefined;
  out.push({
    goal: 'Engine packets/s per core at 1420 B (encrypt → decrypt, both ends on one core)',
    target: '≥ 100,000',
    measured: tp ? fmtSummary(tp.packetsPerSecond) : 'not measured',
    met: tp ? tp.packetsPerSecond.median >= 100_000 : null,
  });
  out.push({
    goal: 'GC events per 1e6 packets during the stream (1420 B)',
    target: '0',
    measured: tp ? `${fmt(tp.gcPerMillionPackets, 2)} (${tp.gcEvents} in ${fmt(tp.packetsPerRound.reduce((a, x) => a + x, 0))} packets)` : 'not measured',
    met: tp ? tp.gcEvents === 0 : null,
  });
  const t = r.sections.tunnels;
  const jj = setupOf(t, 'wgjs ↔ wgjs');
  const jg = setupOf(t, 'wgjs ↔ wg-go');
  const gg = setupOf(t, 'wg-go ↔ wg-go');
  const jp = setupOf(t, 'wgjs ↔ wgjs, portable AEAD');
  out.push({
    goal: 'wgjs ↔ wgjs TCP (1 stream) vs wireguard-go ↔ wireguard-go, same run',
    target: '≥ 2×',
    measured: jj && gg
      ? `${fmtSummary(jj.vsWireguardGo.tcp1, 1, 2)}× (${fmt(jj.tcp1Mbps.median)} vs ${fmt(gg.tcp1Mbps.median)} Mbit/s)` +
        (jp ? `; with the portable AEAD ${fmtSummary(jp.vsWireguardGo.tcp1, 1, 2)}× (${fmt(jp.tcp1Mbps.median)} Mbit/s)` : '')
      : 'not measured',
    met: jj && gg ? jj.vsWireguardGo.tcp1.median >= 2 : null,
  });
  out.push({
    goal: 'wgjs ↔ wireguard-go TCP (1 stream) vs wireguard-go ↔ wireguard-go',
    target: '≥ 1×',
    measured: jg && gg ? `${fmtSummary(jg.vsWireguardGo.tcp1, 1, 2)}× (${fmt(jg.tcp1Mbps.median)} vs ${fmt(gg.tcp1Mbps.median)} Mbit/s)` : 'not measured',
    met: jg && gg ? jg.vsWireguardGo.tcp1.median >= 1 : null,
  });
  const hs = e.status === 'ok' ? e.handshakes.find((h) => h.provider === 'host') : undefined;
  out.push({
    goal: 'Responder handshakes/s per core, host provider',
    target: '≥ 2,500',
    measured: hs ? fmtSummary(hs.responderPerSecond) : 'not measured',
    met: hs ? hs.responderPerSecond.median >= 2500 : null,
  });
  const mem = e.status === 'ok' ? e.memory.find((m) => m.peers === 10_000 && m.profile === 'default' && !('status' in m)) : undefined;
  const memS = e.status === 'ok' ? e.memory.find((m) => m.peers === 10_000 && m.profile === 'server' && !('status' in m)) : undefined;
  const bpp = (m: unknown): number => (m as { bytesPerPeer: number }).bytesPerPeer;
  out.push({
    goal: 'Engine state per peer with 10k peers',
    target: '≤ 1 KB (1,024 B)',
    measured: mem ? `${fmt(bpp(mem))} B (default capacities)${memS ? `, ${fmt(bpp(memS))} B (2 prefixes/peer)` : ''}` : 'not measured',
    met: mem ? Math.min(bpp(mem), memS ? bpp(memS) : Infinity) <= 1024 : null,
  });
  return out;
}

// ---------------------------------------------------------------------------------------------
// Markdown

function table(head: string[], rows: string[][]): string {
  return [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

const mark = (m: boolean | null): string => (m === null ? '– (not measured)' : m ? '✅ met' : '❌ not met');

function tunnelsMd(t: TunnelSection): string {
  const ok = t.setups;
  const row = (s: SetupResult): string[] => s.status !== 'ok'
    ? [s.setup, `${s.status}: ${s.reason ?? ''}`, '', '', '', '', '', '', '']
    : [
      s.setup,
      fmtSummary(s.tcp1Mbps),
      fmtSummary(s.tcp2Mbps),
      fmtSummary(s.udpMbps),
      fmtSummary(s.pingIdleMs, 1, 3),
      fmtSummary(s.pingLoadedMs, 1, 2),
      s.setup === 'veth' ? 'kernel' : `${fmt(s.senderCpuPercent.median, 0)} / ${fmt(s.receiverCpuPercent.median, 0)}`,
      s.setup === 'veth' ? 'kernel' : `${fmt(s.senderCpuSecondsPerGB.median, 2)} / ${fmt(s.receiverCpuSecondsPerGB.median, 2)}`,
      s.setup === 'veth' ? '–' : `${fmt(s.senderRssMiB.median, 0)} / ${fmt(s.receiverRssMiB.median, 0)}`,
    ];
  const ratios = (s: SetupResult): string[] => [
    s.setup,
    fmtSummary(s.vsWireguardGo.tcp1, 1, 2), fmtSummary(s.vsWireguardGo.tcp2, 1, 2), fmtSummary(s.vsWireguardGo.udp, 1, 2),
    fmtSummary(s.vsVeth.tcp1, 1, 2), fmtSummary(s.vsVeth.tcp2, 1, 2), fmtSummary(s.vsVeth.udp, 1, 2),
  ];
  const busy = ok.filter((s) => s.status === 'ok').map((s) => `${s.setup} ${fmt(summaryOf(s.rounds.map((r) => r.systemBusyPercent)), 0)} %`).join(', ');
  return [
    `Median (min–max) over ${t.repeats} interleaved round${t.repeats > 1 ? 's' : ''}; Mbit/s of payload received by iperf3.`,
    '',
    table(['setup (A → B)', 'TCP 1 stream', 'TCP 2 streams', 'UDP, < 1 % loss', 'ping idle ms', 'ping under load ms', 'CPU % sender / receiver', 'CPU s per GB snd / rcv', 'RSS MiB snd / rcv'], ok.map(row)),
    '',
    'Ratios, per round against the reference measured in the same round, then the median (min–max):',
    '',
    table(['setup', 'TCP×1 vs wg-go', 'TCP×2 vs wg-go', 'UDP vs wg-go', 'TCP×1 vs veth', 'TCP×2 vs veth', 'UDP vs veth'], ok.filter((s) => s.status === 'ok').map(ratios)),
    '',
    `Whole-machine CPU busy during the 1-stream TCP run (median): ${busy}.`,
    '',
    `Setups: ${ok.filter((s) => s.detail).map((s) => `${s.setup} — ${s.detail}`).join('; ')}.`,
  ].join('\n');
}

function summaryOf(xs: number[]): number {
  const v = xs.filter(Number.isFinite).sort((a, b) => a - b);
  return v.length ? v[v.length >> 1]! : NaN;
}

function engineMd(e: EngineSection): string {
  const parts: string[] = [];
  parts.push('Packets through two engines (A seals, B opens in place; portable provider; both ends on one core):', '');
  parts.push(table(['packet size', 'packets/s', 'MB/s', 'GC events (per 1e6 packets)', 'heap growth during the stream'], e.throughput.map((x) => [
    `${x.size} B`, fmtSummary(x.packetsPerSecond), fmtSummary(x.megabytesPerSecond), `${x.gcEvents} (${fmt(x.gcPerMillionPackets, 2)})`, `${fmtSummary({ ...x.heapGrowthBytes, median: x.heapGrowthBytes.median / 1024, min: x.heapGrowthBytes.min / 1024, max: x.heapGrowthBytes.max / 1024 }, 1, 1)} KiB`,
  ])));
  parts.push('', 'Handshakes per second (one core), by role:', '');
  parts.push(table(['provider', 'as initiator', 'as responder', 'complete (both roles)'], e.handshakes.map((h) => [h.provider, fmtSummary(h.initiatorPerSecond), fmtSummary(h.responderPerSecond), fmtSummary(h.fullPerSecond)])));
  parts.push('', 'Engine memory per peer (heap + ArrayBuffers, after full GCs):', '');
  parts.push(table(['peers', 'capacities', 'bytes per peer', 'constructor', 'addPeer', 'of which replay windows', 'of which AllowedIPs table', 'time to add the peers'], e.memory.map((m) => 'status' in m
    ? [fmt(m.peers), m.profile, `skipped: ${m.reason}`, '', '', '', '', '']
    : [fmt(m.peers), m.profile === 'server' ? 'server (2 prefixes/peer)' : 'default', fmt(m.bytesPerPeer), fmt(m.constructorBytesPerPeer), fmt(m.addPeerBytesPerPeer), fmt(m.replayWindowsBytesPerPeer), fmt(m.allowedIpsBytesPerPeer), `${fmt(m.addPeersMs / 1000, 1)} s`])));
  parts.push('', 'AllowedIPs longest-prefix match:', '');
  parts.push(table(['family', 'prefixes', 'ns per lookup', 'lookups that matched'], e.allowedIps.map((a) => [`IPv${a.family}`, fmt(a.prefixes), fmtSummary(a.nsPerLookup, 1, 0), `${fmt(a.matchedFraction * 100, 0)} %`])));
  return parts.join('\n');
}

function cryptoMd(c: CryptoSection): string {
  const rows = CRYPTO_OPS.map((op) => {
    const cell = (impl: string): string => {
      const r = c.rows.find((x) => x.op === op.id && x.impl === impl);
      if (!r) return '–';
      return `${fmtSummary(r.opsPerSecond)}${r.megabytesPerSecond ? ` · ${fmt(r.megabytesPerSecond.median, 0)} MB/s` : ''}`;
    };
    const get = (impl: string): number => c.rows.find((x) => x.op === op.id && x.impl === impl)?.opsPerSecond.median ?? NaN;
    return [op.label, ...CRYPTO_IMPLS.map(cell), `${fmt(get('portable') / get('noble (direct)'), 2)}× / ${fmt(get('host') / get('node:crypto (direct)'), 2)}×`];
  });
  return [
    `Operations per second, median (min–max) over ${c.repeats} interleaved round${c.repeats > 1 ? 's' : ''} of ${c.secondsPerMeasurement} s each:`,
    '',
    table(['operation', ...CRYPTO_IMPLS, 'portable / noble · host / node:crypto'], rows),
  ].join('\n');
}

function deviceMd(d: DeviceSection): string {
  const targets: Array<[string, BenchTarget | Skipped]> = [['board', d.board], ['Espruino (Linux build)', d.espruinoLinux], ['Node (espruino shim)', d.node]];
  const row = ([name, t]: [string, BenchTarget | Skipped]): string[] => t.status !== 'ok'
    ? [name, `skipped: ${t.reason}`, '', '', '', '', '', '']
    : [
      t.target + (t.info.version ? ` (${String(t.info.version)}${t.info.board ? `, ${String(t.info.board)}` : ''})` : ''),
      fmtSummary(t.x25519Ms, 1, 0), fmtSummary(t.aead64KBs, 1, 1), fmtSummary(t.aead1420KBs, 1, 1), fmtSummary(t.blake2s64Ms, 1, 1),
      `${fmtSummary(t.handshakeMs, 1, 0)} (${fmt(t.precomputeMs.median, 0)} + ${fmt(t.initiationMs.median, 0)} + ${fmt(t.responseMs.median, 0)})${t.handshakeOk ? '' : ' FAILED'}`,
      `${fmt(t.varsUsed.median, 0)}${typeof (t.info.memory as { total?: unknown } | undefined)?.total === 'number' ? ` of ${fmt((t.info.memory as { total: number }).total, 0)}` : ''}`,
      fmt(t.varsInitiator.median, 0),
    ];
  return [
    `Bundle: ${d.bundle.source}, ${fmt(d.bundle.bytes)} B, CRC-32 ${d.bundle.crc32.toString(16)}.`,
    '',
    table(['target', 'X25519 ms', 'AEAD 64 B KB/s', 'AEAD 1420 B KB/s', 'BLAKE2s 64 B ms', 'handshake ms (precompute + initiation + response)', 'JsVars used', 'JsVars of the device engine'], targets.map(row)),
  ].join('\n');
}

/** The whole markdown report (without a title when `embedded`, for the README). */
export function markdown(r: BenchResults, embedded = false): string {
  const s = r.sections;
  const out: string[] = [];
  if (!embedded) out.push(`# wgjs benchmark (${r.mode})`, '');
  out.push(`Run ${r.startedAt} in ${fmt(r.durationSeconds, 0)} s with \`${r.command}\` on: ${machineLine(r.machine)}.`, '');
  const loads = Object.entries(r.timing).map(([k, v]) => `${k} ${fmt(v.seconds, 0)} s (load ${v.loadAverageStart} → ${v.loadAverageEnd})`);
  if (loads.length) out.push(`Sections: ${loads.join(', ')}. A load average above 0 before a section means other work shared the machine.`, '');
  out.push('![benchmark chart](latest.svg)'.replace('latest.svg', embedded ? 'results/latest.svg' : `${r.mode === 'full' ? 'latest' : 'quick'}.svg`), '');
  out.push('### Goals', '', 'Held against this run, not asserted anywhere.', '');
  out.push(table(['goal', 'target', 'measured', ''], r.goals.map((g) => [g.goal, g.target, g.measured, mark(g.met)])));
  out.push('', '### Tunnels (network namespaces)', '');
  out.push(s.tunnels.status === 'skipped' ? `Skipped: ${s.tunnels.reason}` : tunnelsMd(s.tunnels));
  out.push('', '### Engine', '');
  out.push(s.engine.status === 'skipped' ? `Skipped: ${s.engine.reason}` : engineMd(s.engine));
  out.push('', '### Crypto', '');
  out.push(s.crypto.status === 'skipped' ? `Skipped: ${s.crypto.reason}` : cryptoMd(s.crypto));
  out.push('', '### On-device', '');
  out.push(s.device.status === 'skipped' ? `Skipped: ${s.device.reason}` : deviceMd(s.device));
  if (r.skipped.length) {
    out.push('', '### Skipped', '');
    for (const k of r.skipped) out.push(`- ${k.what}: ${k.reason}`);
  }
  const notes = [s.tunnels, s.engine, s.crypto, s.device].flatMap((x) => ('notes' in x ? x.notes : []));
  if (notes.length) {
    out.push('', '### How these were measured', '');
    for (const n of notes) out.push(`- ${n}`);
  }
  return out.join('\n') + '\n';
}

// ---------------------------------------------------------------------------------------------
// SVG

interface Bar { label: string; value: number; min?: number; max?: number; color: string }
/** `cap`: the scale's top; longer bars are drawn broken (marked ≫) so one huge value does not flatten the rest. */
interface Panel { title: string; unit: string; bars: Bar[]; cap?: number }

const COLORS: Record<string, string> = {
  veth: '#9e9e9e',
  'wg-go ↔ wg-go': '#00897b',
  'wgjs ↔ wgjs': '#f9a825',
  'wgjs ↔ wg-go': '#6d4c41',
  'wgjs ↔ wgjs, portable AEAD': '#c62828',
  portable: '#f9a825',
  host: '#ef6c00',
  'noble (direct)': '#5c6bc0',
  'node:crypto (direct)': '#00897b',
};

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function short(n: number): string {
  if (!Number.isFinite(n)) return '–';
  const a = Math.abs(n);
  if (a >= 1e6) return `${(n / 1e6).toFixed(a >= 1e7 ? 1 : 2)}M`;
  if (a >= 1e4) return `${(n / 1e3).toFixed(a >= 1e5 ? 0 : 1)}k`;
  return fmt(n);
}

/** Horizontal bar panels stacked vertically: one scale per panel, whiskers at min and max. */
export function svgChart(panels: Panel[], title: string, subtitle: string): string {
  const W = 900;
  const LABEL = 300;
  const RIGHT = 90;
  const BAR = 16;
  const GAP = 6;
  let y = 72;
  const body: string[] = [];
  for (const p of panels.filter((x) => x.bars.length > 0)) {
    body.push(`<text x="16" y="${y}" class="panel">${esc(p.title)}</text>`);
    body.push(`<text x="16" y="${y + 15}" class="unit">${esc(p.unit)}</text>`);
    y += 24;
    const top = p.cap ?? Math.max(...p.bars.map((b) => Math.max(b.value, b.max ?? 0)).filter(Number.isFinite), 1e-9);
    const scale = (v: number): number => (Math.min(Math.max(0, v), top) / top) * (W - LABEL - RIGHT);
    const y0 = y;
    for (const b of p.bars) {
      const w = Number.isFinite(b.value) ? scale(b.value) : 0;
      body.push(`<text x="${LABEL - 8}" y="${y + BAR - 4}" class="label" text-anchor="end">${esc(b.label)}</text>`);
      body.push(`<rect x="${LABEL}" y="${y}" width="${w.toFixed(1)}" height="${BAR}" fill="${b.color}" rx="2"><title>${esc(`${b.label}: ${fmt(b.value)} ${p.unit}`)}</title></rect>`);
      const broken = b.value > top * 1.12;
      if (broken) {
        // A white double slash across the bar: not to scale.
        const bx = LABEL + scale(top * 0.95);
        body.push(`<path d="M${(bx - 4).toFixed(1)} ${y + BAR + 1}L${(bx + 2).toFixed(1)} ${y - 1}M${(bx + 3).toFixed(1)} ${y + BAR + 1}L${(bx + 9).toFixed(1)} ${y - 1}" stroke="#fff" stroke-width="2.5"/>`);
      }
      if (!broken && b.min !== undefined && b.max !== undefined && Number.isFinite(b.min) && Number.isFinite(b.max) && b.max > b.min) {
        const x1 = LABEL + scale(b.min);
        const x2 = LABEL + scale(b.max);
        const cy = y + BAR / 2;
        body.push(`<path d="M${x1.toFixed(1)} ${cy}H${x2.toFixed(1)}M${x1.toFixed(1)} ${cy - 4}V${cy + 4}M${x2.toFixed(1)} ${cy - 4}V${cy + 4}" class="whisker"/>`);
      }
      const tx = LABEL + Math.max(w, !broken && b.max !== undefined && Number.isFinite(b.max) ? scale(b.max) : 0) + 6;
      body.push(`<text x="${tx.toFixed(1)}" y="${y + BAR - 4}" class="value">${esc(Number.isFinite(b.value) ? short(b.value) + (broken ? ' ≫' : '') : 'n/a')}</text>`);
      y += BAR + GAP;
    }
    body.push(`<line x1="${LABEL}" y1="${y0 - 2}" x2="${LABEL}" y2="${y - GAP + 2}" class="axis"/>`);
    y += 22;
  }
  const H = y + 4;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif">`,
    '<style>.title{font-size:18px;font-weight:600;fill:#222}.sub{font-size:11px;fill:#555}.panel{font-size:14px;font-weight:600;fill:#222}.label{font-size:12px;fill:#333}.value{font-size:11px;fill:#222}.unit{font-size:11px;fill:#666}.axis{stroke:#888;stroke-width:1}.whisker{stroke:#222;stroke-width:1.2;fill:none}</style>',
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="16" y="26" class="title">${esc(title)}</text>`,
    `<text x="16" y="42" class="sub">${esc(subtitle)}</text>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}

function barOf(label: string, s: Summary, color: string, scale = 1): Bar {
  return { label, value: s.median * scale, min: s.min * scale, max: s.max * scale, color };
}

/** The chart of a run: tunnel throughput, engine packets/s, handshakes, crypto. */
export function chartFor(r: BenchResults): string {
  const s = r.sections;
  const panels: Panel[] = [];
  if (s.tunnels.status !== 'skipped') {
    const bars: Bar[] = [];
    for (const t of s.tunnels.setups.filter((x) => x.status === 'ok')) {
      const c = COLORS[t.setup] ?? '#888';
      bars.push(barOf(`${t.setup} · TCP ×1`, t.tcp1Mbps, c), barOf(`${t.setup} · TCP ×2`, t.tcp2Mbps, c), barOf(`${t.setup} · UDP <1% loss`, t.udpMbps, c));
    }
    // veth's rates are many times any tunnel's: scale to the tunnels and break veth's long bars.
    const tunnelTop = Math.max(...bars.filter((b) => !b.label.startsWith('veth ·')).map((b) => Math.max(b.value, Number.isFinite(b.max) ? b.max! : 0)).filter(Number.isFinite), 1);
    panels.push({ title: 'Tunnel throughput, iperf3 in network namespaces (≫: veth, not to scale)', unit: 'Mbit/s (median, whiskers min–max); ×1, ×2 = TCP streams', bars, cap: tunnelTop * 1.15 });
  }
  if (s.engine.status === 'ok') {
    panels.push({ title: 'Engine: packets/s, encrypt → decrypt on one core', unit: 'packets/s', bars: s.engine.throughput.map((x) => barOf(`${x.size} B packets`, x.packetsPerSecond, '#f9a825')) });
    panels.push({
      title: 'Handshakes per second, one core',
      unit: 'handshakes/s',
      bars: s.engine.handshakes.flatMap((h) => [barOf(`${h.provider} · as initiator`, h.initiatorPerSecond, COLORS[h.provider] ?? '#888'), barOf(`${h.provider} · as responder`, h.responderPerSecond, COLORS[h.provider] ?? '#888')]),
    });
  }
  if (s.crypto.status === 'ok') {
    const c = s.crypto;
    const row = (op: string, impl: string) => c.rows.find((x) => x.op === op && x.impl === impl);
    panels.push({ title: 'ChaCha20-Poly1305 seal, 1420 B', unit: 'MB/s', bars: CRYPTO_IMPLS.map((i) => barOf(i, row('seal1420', i)!.megabytesPerSecond!, COLORS[i] ?? '#888')) });
    panels.push({ title: 'X25519 shared secret', unit: 'operations/s', bars: CRYPTO_IMPLS.map((i) => barOf(i, row('x25519', i)!.opsPerSecond, COLORS[i] ?? '#888')) });
  }
  const m = r.machine;
  return svgChart(panels, `wgjs benchmark (${r.mode}), ${r.startedAt.slice(0, 10)}`, `${m.cpuModel}, ${m.cores} cores${m.hypervisor ? ` (${m.hypervisor} VM)` : ''}, kernel ${m.kernel}, Node ${m.node}, wireguard-go ${m.wireguardGo ?? 'n/a'}`);
}

// ---------------------------------------------------------------------------------------------
// README

export const README_START = '<!-- bench:latest:start (generated by `pnpm bench`; edits inside are overwritten) -->';
export const README_END = '<!-- bench:latest:end -->';

/** Replaces the generated block of the README (creating the file, or appending the block, as needed). */
export function updateReadme(file: string, r: BenchResults, intro: string): void {
  const block = `${README_START}\n${markdown(r, true)}${README_END}`;
  if (!existsSync(file)) {
    writeFileSync(file, `${intro}\n${block}\n`);
    return;
  }
  const text = readFileSync(file, 'utf8');
  const i = text.indexOf(README_START.slice(0, 26));
  const j = text.indexOf(README_END);
  if (i >= 0 && j > i) writeFileSync(file, text.slice(0, i) + block + text.slice(j + README_END.length));
  else writeFileSync(file, `${text.trimEnd()}\n\n## Latest results\n\n${block}\n`);
}
