/**
 * `wgjs cost`: what a keepalive policy costs per day on a metered link (issue #5), from the cost
 * model in @wgjs/core (`dailyCost`, a simulation checked against the engine byte for byte).
 */
import { dailyCost, type CostInput, type CostResult } from '@wgjs/core';

export const COST_USAGE = `usage: wgjs cost [--keepalive SECONDS|off] [--nat-timeout SECONDS] [--report BYTES@SECONDS]
                 [--server-reply BYTES] [--mode always-on|sleep] [--days N] [--ipv6] [--json]

  --keepalive      keepalive interval (stock rule: received packets restart it too); omitted:
                   compare off, stock 25 s and the adaptive target 0.9 x NAT timeout (sends only)
  --nat-timeout    the NAT's UDP mapping timeout (default 30)
  --report         an application report of BYTES (inner IP packet) every SECONDS
  --server-reply   the server answers each report at once with BYTES
  --mode           always-on (default) or sleep (report, then sleep: no keepalives)
  --days           simulated days (default 1); figures are per day
  --ipv6           IPv6 outer headers (48 bytes instead of 28)
  --json           machine-readable output
`;

/** A usage error: reported in one line, exit code 2. */
class UsageError extends Error {}

interface Policy {
  label: string;
  input: CostInput;
}

function seconds(flag: string, text: string | undefined, min: number): number {
  const n = text === undefined ? NaN : Number(text);
  if (text === undefined || text.trim() === '' || !Number.isFinite(n) || n < min) {
    throw new UsageError(`${flag} needs a number of seconds${min > 0 ? ` of at least ${min}` : ''}, got ${text === undefined ? 'nothing' : `"${text}"`}`);
  }
  return n;
}

function integer(flag: string, text: string | undefined, min: number, max: number): number {
  if (text === undefined || !/^\d+$/.test(text) || Number(text) < min || Number(text) > max) {
    throw new UsageError(`${flag} needs an integer from ${min} to ${max}, got ${text === undefined ? 'nothing' : `"${text}"`}`);
  }
  return Number(text);
}

/** Parses the arguments into the policies to compare (one, or three when --keepalive is omitted). */
export function parseCostArgs(args: string[]): { policies: Policy[]; json: boolean; days: number; nat: number } {
  let keepalive: number | undefined;
  let nat = 30;
  let reportBytes: number | undefined;
  let reportInterval = 0;
  let serverReplyBytes = 0;
  let mode: 'always-on' | 'sleep' = 'always-on';
  let days = 1;
  let ipv6 = false;
  let json = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const eq = a.indexOf('=');
    const flag = a.startsWith('--') && eq > 0 ? a.slice(0, eq) : a;
    const inline = a.startsWith('--') && eq > 0 ? a.slice(eq + 1) : undefined;
    const value = (): string | undefined => (inline !== undefined ? inline : args[++i]);
    switch (flag) {
      case '--keepalive': {
        const v = value();
        keepalive = v === 'off' || v === '0' ? 0 : seconds('--keepalive', v, 1);
        break;
      }
      case '--nat-timeout':
        nat = seconds('--nat-timeout', value(), 1);
        break;
      case '--report': {
        const v = value();
        const m = v === undefined ? null : /^(\d+)@(\d+(?:\.\d+)?)$/.exec(v);
        if (!m) throw new UsageError(`--report needs BYTES@SECONDS, e.g. 64@300, got ${v === undefined ? 'nothing' : `"${v}"`}`);
        reportBytes = integer('--report BYTES', m[1], 1, 1420);
        reportInterval = seconds('--report SECONDS', m[2], 1);
        break;
      }
      case '--server-reply':
        serverReplyBytes = integer('--server-reply', value(), 0, 1420);
        break;
      case '--mode': {
        const v = value();
        if (v !== 'always-on' && v !== 'sleep') throw new UsageError(`--mode is always-on or sleep, got ${v === undefined ? 'nothing' : `"${v}"`}`);
        mode = v;
        break;
      }
      case '--days': {
        const v = value();
        days = v === undefined || v.trim() === '' ? NaN : Number(v);
        if (!(days > 0 && days <= 366)) throw new UsageError(`--days needs a number above 0 and at most 366, got ${v === undefined ? 'nothing' : `"${v}"`}`);
        break;
      }
      case '--ipv6':
        ipv6 = true;
        break;
      case '--json':
        json = true;
        break;
      default:
        throw new UsageError(`unknown argument "${a}"`);
    }
  }
  if (serverReplyBytes > 0 && reportInterval === 0) throw new UsageError('--server-reply answers reports: give --report BYTES@SECONDS too');
  const base: CostInput = {
    mode, keepalive: 0, natTimeout: nat, seconds: Math.round(days * 86400), ipv6,
    reportInterval, reportBytes, serverReplyBytes,
  };
  const policies: Policy[] = [];
  if (mode === 'sleep') {
    if (keepalive !== undefined) throw new UsageError('--keepalive does not apply to --mode sleep (a sleeping device sends no keepalives)');
    if (reportInterval === 0) throw new UsageError('--mode sleep needs --report BYTES@SECONDS (the device wakes only to report)');
    if (reportInterval < 20) throw new UsageError('--mode sleep needs reports at least 20 s apart (a device reporting more often gains nothing from sleeping)');
    policies.push({ label: `sleep, report every ${fmt(reportInterval)} s`, input: base });
  } else if (keepalive !== undefined) {
    policies.push({ label: keepalive === 0 ? 'keepalive off' : `keepalive ${fmt(keepalive)} s`, input: { ...base, keepalive } });
  } else {
    const target = Math.max(1, Math.round(nat * 0.9 * 10) / 10);
    policies.push({ label: 'keepalive off', input: base });
    policies.push({ label: 'stock 25 s', input: { ...base, keepalive: 25 } });
    policies.push({ label: `adaptive ${fmt(target)} s`, input: { ...base, keepalive: target, refreshOnReceive: false } });
  }
  return { policies, json, days, nat };
}

function fmt(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(1);
}

function group(n: number): string {
  return Math.round(n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** The table: one column per policy, figures per day. */
export function formatCostTable(policies: Policy[], results: CostResult[], days: number, nat: number): string {
  const perDay = (n: number) => n / days;
  const p0 = policies[0].input;
  const traffic = p0.reportInterval ? `report ${p0.reportBytes} B every ${fmt(p0.reportInterval)} s` : 'no reports';
  const reply = p0.serverReplyBytes ? `, server reply ${p0.serverReplyBytes} B` : '';
  let out = `wgjs cost: NAT UDP timeout ${fmt(nat)} s, ${p0.ipv6 ? 'IPv6' : 'IPv4'}, ${traffic}${reply}; per day` +
    (days !== 1 ? ` (average over ${fmt(days)} days)` : '') + '\n\n';
  const rows: Array<[string, (r: CostResult) => string]> = [
    ['bytes up', (r) => group(perDay(r.upBytes))],
    ['bytes down', (r) => group(perDay(r.downBytes))],
    ['bytes total', (r) => group(perDay(r.totalBytes))],
    ['kB total', (r) => (perDay(r.totalBytes) / 1e3).toFixed(1)],
    ['MB total', (r) => (perDay(r.totalBytes) / 1e6).toFixed(3)],
    ['MB per 30 days', (r) => (perDay(r.totalBytes) * 30 / 1e6).toFixed(2)],
    ['packets up', (r) => group(perDay(r.upPackets))],
    ['packets down', (r) => group(perDay(r.downPackets))],
    ['keepalives', (r) => group(perDay(r.keepalives))],
    ['handshakes', (r) => group(perDay(r.handshakes))],
    ['reports', (r) => group(perDay(r.reports))],
    ['longest silence', (r) => `${fmt(Math.round(r.longestGap * 10) / 10)} s`],
    ['reachable', (r) => (r.reachable ? 'yes' : `no (${(r.unreachableFraction * 100).toFixed(1)}% of the time)`)],
  ];
  const head = ['', ...policies.map((p) => p.label)];
  const body = rows.map(([name, f]) => [name, ...results.map(f)]);
  const widths = head.map((_, c) => Math.max(...[head, ...body].map((row) => row[c].length)));
  const line = (row: string[]) => row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('   ').trimEnd() + '\n';
  out += line(head);
  for (const row of body) out += line(row);
  out += '\nBytes are on the wire (UDP/IP headers included); 1 kB = 1000 bytes. "reachable": the device\n' +
    'never stayed silent as long as the NAT timeout, so the server can reach it at any time.\n';
  return out;
}

/** `wgjs cost ...`: returns the exit code (2 for usage errors). */
export function costMain(args: string[]): number {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(COST_USAGE);
    return 0;
  }
  let parsed;
  let results: CostResult[];
  try {
    parsed = parseCostArgs(args);
    results = parsed.policies.map((p) => dailyCost(p.input));
  } catch (e) {
    const err = e as Error & { code?: string };
    if (e instanceof UsageError || err.code === 'EINVAL') {
      process.stderr.write(`wgjs cost: ${err.message} (wgjs cost --help)\n`);
      return 2;
    }
    throw e;
  }
  if (parsed.json) {
    // Results are for the whole simulated period (`days` days), unlike the table's per-day figures.
    const out = { days: parsed.days, policies: parsed.policies.map((p, i) => ({ label: p.label, input: p.input, result: results[i] })) };
    process.stdout.write(JSON.stringify(out, null, 2) + '\n');
  } else {
    process.stdout.write(formatCostTable(parsed.policies, results, parsed.days, parsed.nat));
  }
  return 0;
}
