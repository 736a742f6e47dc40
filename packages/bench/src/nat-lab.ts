/**
 * The NAT lab (issue #5) as a benchmark: runs every scenario of
 * packages/node-tun/test/lab/nat-scenarios.ts against wireguard-go and against `wgjs up` as the
 * server, prints a markdown table and writes results/nat-lab.json and results/nat-lab.md.
 *
 *   pnpm --filter @wgjs/bench exec tsx src/nat-lab.ts [--only name,name] [--servers wgjs] [--jobs N]
 *
 * Root, wireguard-go, wg, nft, conntrack and ping are needed. Scenarios run one at a time by
 * default (`--jobs N` runs N at once: faster, but timings get CPU contention); `--jobs 4` ≈ 10 minutes.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { requireTools } from '../../node-tun/test/lab/netns.js';
import {
  ADAPTIVE_SCENARIOS, NAT_TIMEOUT_S, PROBE_INTERVAL_MS, SCENARIOS, SERVER_KINDS, deviceReboot, idleCostModel, resultsTable, serverRestart, sleepAndWake, stuckRekey,
  type Scenario, type ScenarioResult, type ServerKind,
} from '../../node-tun/test/lab/nat-scenarios.js';
import { dailyCost } from '@wgjs/core';
import { describeMachine, machineLine } from './machine.js';

const RESULTS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../results');

/**
 * The test suites' scenarios, plus what takes too long for CI: the no-persist reboot waited out,
 * and the stock baselines of the server-restart and stuck-rekey scenarios.
 */
const ALL: Array<{ name: string; run: Scenario; servers?: readonly ServerKind[] }> = [...SCENARIOS, ...ADAPTIVE_SCENARIOS];
ALL.splice(ALL.findIndex((s) => s.name === 'device-reboot-no-persist') + 1, 0, {
  name: 'device-reboot-no-persist-25s',
  run: deviceReboot(false, 25_000),
});
ALL.push({ name: 'sleep-and-wake-125s', run: sleepAndWake(125) });
ALL.splice(ALL.findIndex((s) => s.name === 'server-restart-auto') + 1, 0, { name: 'server-restart-stock', run: serverRestart(false, 150_000) });
ALL.splice(ALL.findIndex((s) => s.name === 'stuck-rekey-stock-device'), 1, { name: 'stuck-rekey-stock-device', run: stuckRekey(false, 200_000) });

/**
 * Wire bytes of one echo verification probe at idle ≥ 10 s: request (80 + 28) up, the server's
 * passive keepalive (60) down, our refresh (60) up, the reply (80 + 28) down, our answer (60) up.
 */
const ECHO_PROBE_UP = 108 + 60 + 60;
const ECHO_PROBE_DOWN = 60 + 108;

/** Real NAT timeouts (s) for the idle-day table. */
const REAL_TAUS = [20, 30, 60, 120];

/**
 * Idle-day cost of stock 25 s vs the adaptive keepalive at real NAT timeouts, from `dailyCost`
 * (checked in CI against the engine byte for byte and against this lab's router counts): the
 * adaptive interval is the interval/timeout ratio the lab measured, its verification probes (one
 * per 30 min) cost what the lab's verification probes cost.
 */
function idleDay(ok: ScenarioResult[]): string[] {
  const learn = ok.filter((r) => r.name.startsWith('adaptive-learning-'));
  if (learn.length === 0) return [];
  const ratio = learn.reduce((a, r) => a + r.metrics.intervalMs! / r.metrics.tauMs!, 0) / learn.length;
  const idle = ok.filter((r) => r.name.startsWith('idle-cost-'));
  const rows = REAL_TAUS.map((tau) => {
    const stock = dailyCost({ keepalive: 25, natTimeout: tau });
    const ka = Math.round(ratio * tau * 10) / 10;
    const auto = dailyCost({ keepalive: ka, natTimeout: tau, refreshOnReceive: false, probe: { every: 1800, upBytes: ECHO_PROBE_UP, downBytes: ECHO_PROBE_DOWN } });
    const kb = (b: number): string => (b / 1000).toFixed(0);
    return `| ${tau} s | ${kb(stock.totalBytes)} kB${stock.reachable ? '' : ` (unreachable ${(stock.unreachableFraction * 100).toFixed(0)} % of the day)`} | ${ka} s | ${kb(auto.totalBytes)} kB | ${(stock.totalBytes / auto.totalBytes).toFixed(2)}× |`;
  });
  return [
    '',
    '## Idle day: stock 25 s keepalive vs adaptive',
    '',
    `The lab's adaptive keepalive settled at ${(ratio * 100).toFixed(0)} % of the NAT timeout (mean over the learning runs). Bytes per idle day`,
    '(IPv4, both directions, handshakes every ~2 minutes included) from `dailyCost`, which CI checks against two engines byte for',
    'byte and, below, against the router\'s counts; adaptive includes one verification probe per 30 minutes.',
    '',
    '| NAT timeout | stock 25 s | adaptive interval | adaptive | stock / adaptive |',
    '|---:|---:|---:|---:|---:|',
    ...rows,
    '',
    ...idle.map((r) => {
      const m = idleCostModel(r);
      return `Lab check (${r.name}, ${r.server}): ${r.metrics.windowS} s idle, keepalive every ${r.metrics.intervalS!.toFixed(2)} s: router counted ${r.upBytes} B up / ${r.downBytes} B down; model ${m.up} / ${m.down}.`;
    }),
  ];
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<number> {
  const skip = requireTools('wireguard-go', 'wg', 'nft', 'conntrack', 'ping');
  if (skip) {
    process.stderr.write(`nat-lab: cannot run: ${skip}\n`);
    return 1;
  }
  const only = arg('--only')?.split(',');
  const servers = (arg('--servers')?.split(',') ?? SERVER_KINDS) as ServerKind[];
  const jobs = Math.max(1, Number(arg('--jobs') ?? 1));
  const unknown = (only ?? []).filter((n) => !ALL.some((s) => s.name === n));
  if (unknown.length) {
    process.stderr.write(`nat-lab: unknown scenario(s) ${unknown.join(', ')}; known: ${ALL.map((s) => s.name).join(', ')}\n`);
    return 1;
  }
  const machine = describeMachine();
  const started = Date.now();
  const queue = ALL.filter((s) => !only || only.includes(s.name))
    .flatMap((s) => servers.filter((v) => !s.servers || s.servers.includes(v)).map((server) => ({ s, server })));
  const results: Array<ScenarioResult | { name: string; server: ServerKind; error: string }> = [];
  const log = (l: string): void => {
    process.stderr.write(`${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s  ${l}\n`);
  };
  const worker = async (): Promise<void> => {
    for (let job = queue.shift(); job; job = queue.shift()) {
      try {
        results.push(await job.s.run({ server: job.server, log }));
      } catch (err) {
        log(`${job.s.name} against ${job.server} failed: ${(err as Error).message}`);
        results.push({ name: job.s.name, server: job.server, error: (err as Error).message.split('\n')[0]! });
      }
    }
  };
  await Promise.all(Array.from({ length: jobs }, worker));
  const order = (r: { name: string; server: ServerKind }): number =>
    ALL.findIndex((s) => s.name === r.name) * 2 + SERVER_KINDS.indexOf(r.server);
  results.sort((a, b) => order(a) - order(b));
  const ok = results.filter((r): r is ScenarioResult => !('error' in r));
  const failed = results.filter((r) => 'error' in r) as Array<{ name: string; server: ServerKind; error: string }>;
  const durationSeconds = Math.round((Date.now() - started) / 100) / 10;

  const md = [
    '# NAT lab',
    '',
    `How a wgjs device (library mode) behind a NAT recovers from NAT events, against wireguard-go and \`wgjs up\` as the server.`,
    `Router: nft masquerade, conntrack UDP timeouts ${NAT_TIMEOUT_S} s. Recovery: ms from the fault (or the device's action, see notes)`,
    `to the first reply to the server's ping of the device (one every ${PROBE_INTERVAL_MS} ms). Bytes: nftables counters on the router's`,
    'forward chain (what passed the NAT each way) during the scenario, the probe pings excluded.',
    '',
    `Run ${new Date(started).toISOString()}, ${durationSeconds} s, ${jobs} at a time. Machine: ${machineLine(machine)}.`,
    '',
    resultsTable(ok),
    ...idleDay(ok),
    ...(failed.length ? ['', 'Failed:', '', ...failed.map((f) => `- ${f.name} against ${f.server}: ${f.error}`)] : []),
    '',
  ].join('\n');
  process.stdout.write(`\n${md}`);
  mkdirSync(RESULTS, { recursive: true });
  const doc = {
    schema: 'wgjs-nat-lab/1',
    command: `tsx src/nat-lab.ts ${process.argv.slice(2).join(' ')}`.trim(),
    startedAt: new Date(started).toISOString(),
    durationSeconds,
    jobs,
    natTimeoutSeconds: NAT_TIMEOUT_S,
    probeIntervalMs: PROBE_INTERVAL_MS,
    machine,
    results,
  };
  writeFileSync(path.join(RESULTS, 'nat-lab.json'), JSON.stringify(doc, null, 2) + '\n');
  writeFileSync(path.join(RESULTS, 'nat-lab.md'), md);
  process.stderr.write(`wrote ${path.join(RESULTS, 'nat-lab.json')} and nat-lab.md\n`);
  return failed.length ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`nat-lab: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  },
);
