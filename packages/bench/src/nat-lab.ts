/**
 * The NAT lab (issue #5) as a benchmark: runs every scenario of
 * packages/node-tun/test/lab/nat-scenarios.ts against wireguard-go and against `wgjs up` as the
 * server, prints a markdown table and writes results/nat-lab.json and results/nat-lab.md.
 *
 *   pnpm --filter @wgjs/bench exec tsx src/nat-lab.ts [--only name,name] [--servers wgjs] [--jobs N]
 *
 * Root, wireguard-go, wg, nft, conntrack and ping are needed. Scenarios run one at a time by
 * default (`--jobs N` runs N at once: faster, but timings get CPU contention), ≈ 3 minutes.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { requireTools } from '../../node-tun/test/lab/netns.js';
import {
  NAT_TIMEOUT_S, PROBE_INTERVAL_MS, SCENARIOS, SERVER_KINDS, deviceReboot, resultsTable, type ScenarioResult, type ServerKind,
} from '../../node-tun/test/lab/nat-scenarios.js';
import { describeMachine, machineLine } from './machine.js';

const RESULTS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../results');

/** The test suite's scenarios, plus the no-persist reboot waited out long enough to see how it ends. */
const ALL = [...SCENARIOS];
ALL.splice(ALL.findIndex((s) => s.name === 'device-reboot-no-persist') + 1, 0, {
  name: 'device-reboot-no-persist-25s',
  run: deviceReboot(false, 25_000),
});

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
  const queue = ALL.filter((s) => !only || only.includes(s.name)).flatMap((s) => servers.map((server) => ({ s, server })));
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
