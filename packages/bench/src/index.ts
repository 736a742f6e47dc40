/**
 * `pnpm bench`: the whole benchmark suite in one command.
 *
 *   pnpm bench                 full run (≈ 6–8 minutes on 2 cores): crypto, engine, tunnels in
 *                              network namespaces, on-device; writes results/latest.{json,md,svg}
 *                              and the results block of packages/bench/README.md
 *   pnpm bench --quick         < 1 minute, no namespaces; writes results/tmp/quick.{json,md,svg}
 *
 * Options: --repeats N, --only crypto,engine,tunnels,device, --skip …, --out DIR, --port /dev/ttyUSB0
 * [--baud 115200] [--upload] (a board for the on-device section), --espruino PATH (Espruino's Linux
 * build) or --no-espruino, --cpu-prof DIR (profiles of the wgjs processes in the tunnel runs),
 * --no-readme; --render FILE.json re-renders the markdown, SVG (and, for results/latest.json, the
 * README block) from a saved run without measuring anything. Progress goes to stderr; each skipped
 * part prints why; the exit code is 0 unless a section crashed.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describeMachine } from './machine.js';
import { chartFor, goals, markdown, updateReadme, type BenchResults } from './report.js';
import { BENCH_DIR, killChildTasks } from './run-child.js';
import { runCrypto, type CryptoSection } from './sections/crypto.js';
import { runDevice } from './sections/device.js';
import { runEngine } from './sections/engine.js';
import { runTunnels } from './sections/tunnels.js';
import { elapsed, progress, skipped, type Skipped } from './stats.js';

export const SECTIONS = ['crypto', 'engine', 'tunnels', 'device'] as const;
type Section = (typeof SECTIONS)[number];

export interface BenchArgs {
  quick: boolean;
  repeats: number;
  sections: Section[];
  /** Output directory and base name. */
  out: string;
  name: string;
  readme: boolean;
  port?: string;
  baud: number;
  upload: boolean;
  espruino: string | null | false;
  cpuProf?: string;
  command: string;
}

const RESULTS = path.join(BENCH_DIR, 'results');

/** Parses argv (relative paths are taken from where the command was typed: pnpm's INIT_CWD). */
export function parseArgs(argv: string[]): BenchArgs {
  const a = argv.filter((x) => x !== '--');
  const base = process.env.INIT_CWD ?? process.cwd();
  const val = (name: string): string | undefined => {
    const i = a.indexOf(`--${name}`);
    if (i < 0) return undefined;
    const v = a[i + 1];
    if (v === undefined || v.startsWith('--')) throw new Error(`--${name} needs a value`);
    return v;
  };
  const known = new Set(['--quick', '--repeats', '--only', '--skip', '--out', '--port', '--baud', '--upload', '--espruino', '--no-espruino', '--cpu-prof', '--no-readme', '--render', '--help']);
  for (let i = 0; i < a.length; i++) {
    if (!a[i]!.startsWith('--')) continue;
    if (!known.has(a[i]!)) throw new Error(`unknown option ${a[i]} (see the top of packages/bench/src/index.ts)`);
  }
  const quick = a.includes('--quick');
  const list = (v: string | undefined): Section[] | undefined => {
    if (!v) return undefined;
    const xs = v.split(',').map((s) => s.trim()).filter(Boolean);
    for (const x of xs) if (!(SECTIONS as readonly string[]).includes(x)) throw new Error(`unknown section ${x} (${SECTIONS.join(', ')})`);
    return xs as Section[];
  };
  const only = list(val('only'));
  const skip = list(val('skip')) ?? [];
  const sections = (only ?? [...SECTIONS]).filter((s) => !skip.includes(s));
  const complete = !only && skip.length === 0;
  const name = quick ? 'quick' : complete ? 'latest' : 'partial';
  const outArg = val('out');
  const out = outArg ? path.resolve(base, outArg) : name === 'latest' ? RESULTS : path.join(RESULTS, 'tmp');
  const repeats = Number(val('repeats') ?? (quick ? 1 : 3));
  if (!(repeats >= 1 && repeats <= 20 && repeats % 1 === 0)) throw new Error('--repeats must be 1..20');
  const port = val('port');
  const esp = val('espruino');
  return {
    quick,
    repeats,
    sections,
    out,
    name,
    readme: name === 'latest' && !outArg && !a.includes('--no-readme'),
    port,
    baud: Number(val('baud') ?? 115200),
    upload: a.includes('--upload'),
    espruino: a.includes('--no-espruino') ? false : esp ? path.resolve(base, esp) : null,
    cpuProf: val('cpu-prof') ? path.resolve(base, val('cpu-prof')!) : undefined,
    command: `pnpm bench${argv.filter((x) => x !== '--').length ? ' ' + argv.filter((x) => x !== '--').join(' ') : ''}`,
  };
}

/** Packets/s estimate for the engine streams, from the crypto section (portable seal + open). */
function estimator(c: CryptoSection | Skipped | undefined): (size: number) => number {
  if (!c || c.status !== 'ok') return (size) => (size <= 64 ? 150_000 : size <= 512 ? 60_000 : 25_000);
  const get = (op: string): number => c.rows.find((r) => r.op === op && r.impl === 'portable')!.opsPerSecond.median;
  // Seconds per packet = seal + open; linear in the size between the 64 and 1420 B points.
  const t64 = 1 / get('seal64') + 1 / get('open64');
  const t1420 = 1 / get('seal1420') + 1 / get('open1420');
  return (size) => 1 / (t64 + ((t1420 - t64) * (size - 64)) / (1420 - 64)) / 1.3;
}

const README_INTRO = `# @wgjs/bench

Honest, repeatable numbers for wgjs, measured side by side with what you would otherwise use, in
one command:

\`\`\`sh
pnpm bench            # full run, ≈ 6–8 minutes on 2 cores (root for the namespace part)
pnpm bench --quick    # < 1 minute, no namespaces (what CI runs, via test/quick.test.ts)
\`\`\`

What it measures:

- **Crypto**: ChaCha20-Poly1305 seal/open at 64 and 1420 B, BLAKE2s, the KDF, X25519 — for each
  wgjs provider (portable, host) and, as references, noble and node:crypto called directly.
- **Engine**: packets/s through two engines (encrypt → decrypt) at 64/512/1420 B with the GC events
  and heap growth during the stream; handshakes/s as initiator and as responder; engine memory
  per peer with 1k and 10k peers; AllowedIPs lookup cost with 10k prefixes.
- **Tunnels** (root, network namespaces, iperf3, wireguard-go): plain veth, wireguard-go ↔
  wireguard-go, wgjs ↔ wgjs, wgjs ↔ wireguard-go (and wgjs ↔ wgjs again with the portable AEAD),
  all up at once and measured in interleaved rounds — iperf3 TCP (1 and 2 streams), the highest
  UDP rate with < 1 % loss, ping RTT idle and under load, CPU and RSS of each peer process — with
  ratios against wireguard-go and veth taken within each round.
- **On-device**: the device build's \`wgjs.bench()\` (X25519, AEAD KB/s, BLAKE2s, a full handshake,
  JsVars) on an Espruino board over its serial port (\`--port /dev/ttyUSB0\`, \`--upload\` to put the
  current build in its Storage), on Espruino's Linux build (\`--espruino path/to/espruino\`), and
  the same bundle in Node through the espruino package's shim.

Every measurement is repeated (full: 3 rounds; \`--repeats N\`) and reported as median (min–max).
A missing prerequisite (not root, no wireguard-go, no iperf3, no board) skips that part with a
printed reason; the rest still runs. Other options: \`--only crypto,engine\`, \`--skip tunnels\`,
\`--out DIR\`, \`--cpu-prof DIR\` (CPU profiles of the \`wgjs up\` processes during the tunnel runs),
\`--no-readme\`, \`--render results/latest.json\` (re-render the markdown, chart and README block from a saved run).

Outputs: \`results/latest.json\` (everything, including every run), \`results/latest.md\` (the tables
below) and \`results/latest.svg\` (the chart); a quick run writes \`results/tmp/quick.*\`
(git-ignored) and never touches these or this README. The goals are held against the numbers,
never asserted in tests.

The sources: \`src/index.ts\` (orchestrator), \`src/sections/*.ts\` (one file per section),
\`src/report.ts\` (JSON, markdown, SVG, this README's results block), \`src/child.ts\` (measurements
that need a fresh process), and the standalone scripts \`src/engine-throughput.ts\`,
\`src/crypto-quick.ts\`, \`src/providers.ts\`, \`src/udp-transports.ts\`.

## Latest results
`;

/** Runs the selected sections and writes the outputs; returns the results document. */
export async function runBench(args: BenchArgs): Promise<BenchResults> {
  const startedAt = new Date().toISOString();
  const machine = describeMachine();
  progress(`wgjs bench (${args.quick ? 'quick' : 'full'}): ${args.sections.join(', ')}; ${args.repeats} repeat(s); ${machine.cpuModel}, ${machine.cores} cores, load ${machine.loadAverageAtStart}`);
  const want = (s: Section): boolean => args.sections.includes(s);
  const notSelected = (s: Section): Skipped => skipped(s, 'not selected (--only/--skip)');
  const timing: BenchResults['timing'] = {};
  const guard = async <T>(name: Section, f: () => Promise<T>): Promise<T | Skipped> => {
    const t = elapsed();
    const load = os.loadavg()[0]!;
    progress(`── ${name} ──`);
    try {
      return await f();
    } catch (e) {
      const msg = (e as Error).stack ?? String(e);
      progress(`${name} FAILED: ${msg}`);
      process.exitCode = 1;
      return { status: 'skipped', reason: `failed: ${(e as Error).message}` };
    } finally {
      timing[name] = { seconds: Math.round((elapsed() - t) * 10) / 10, loadAverageStart: Math.round(load * 100) / 100, loadAverageEnd: Math.round(os.loadavg()[0]! * 100) / 100 };
      progress(`${name} took ${(elapsed() - t).toFixed(1)} s (load average ${timing[name]!.loadAverageStart} → ${timing[name]!.loadAverageEnd})`);
    }
  };
  const q = args.quick;
  const crypto = want('crypto') ? await guard('crypto', () => runCrypto(args.repeats, q ? 0.04 : 0.2)) : notSelected('crypto');
  const engine = want('engine')
    ? await guard('engine', () => runEngine({
      repeats: args.repeats,
      streamSeconds: q ? 0.4 : 3,
      handshakeSeconds: q ? 0.25 : 1,
      memoryPeers: [1000, 10_000],
      maxMemoryPeers: q ? 1000 : 10_000,
      lookupSeconds: q ? 0.1 : 0.3,
      estimate: estimator(crypto),
    }))
    : notSelected('engine');
  const tunnels = !want('tunnels')
    ? notSelected('tunnels')
    : q
      ? skipped('tunnels', 'quick mode runs no namespaces (run `pnpm bench` as root for them)')
      : await guard('tunnels', () => runTunnels({ repeats: args.repeats, tcpSeconds: 4, udpSeconds: 1, udpSteps: 7, idlePings: 25, cpuProfDir: args.cpuProf }));
  const device = want('device')
    ? await guard('device', () => runDevice({ repeats: args.repeats, port: args.port, baud: args.baud, upload: args.upload, espruinoBin: q && args.espruino === null ? 'quick' : args.espruino }))
    : notSelected('device');
  const partial = { schema: 'wgjs-bench/1' as const, mode: (q ? 'quick' : 'full') as 'quick' | 'full', command: args.command, startedAt, durationSeconds: elapsed(), machine, timing, sections: { crypto, engine, tunnels, device } };
  const results: BenchResults = { ...partial, goals: goals(partial), skipped: collectSkipped(partial.sections) };
  mkdirSync(args.out, { recursive: true });
  const file = (ext: string): string => path.join(args.out, `${args.name}.${ext}`);
  writeFileSync(file('json'), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(file('md'), markdown(results));
  writeFileSync(file('svg'), chartFor(results));
  if (args.readme) updateReadme(path.join(BENCH_DIR, 'README.md'), results, README_INTRO);
  progress(`wrote ${file('json')}, .md, .svg${args.readme ? ' and README.md' : ''} in ${elapsed().toFixed(0)} s`);
  return results;
}

/** Every skipped section or part, with its reason. */
function collectSkipped(s: BenchResults['sections']): BenchResults['skipped'] {
  const out: BenchResults['skipped'] = [];
  for (const [k, v] of Object.entries(s)) {
    if (v.status === 'skipped') {
      out.push({ what: k, reason: v.reason });
      continue;
    }
    if (k === 'engine' && 'memory' in v) for (const m of v.memory) if ('status' in m) out.push({ what: `engine memory, ${m.peers} peers (${m.profile})`, reason: m.reason });
    if (k === 'tunnels' && 'setups' in v) for (const x of v.setups) if (x.status !== 'ok') out.push({ what: `tunnels: ${x.setup}`, reason: `${x.status}: ${x.reason ?? ''}` });
    if (k === 'device' && 'board' in v) {
      for (const [n, t] of [['board', v.board], ['Espruino (Linux build)', v.espruinoLinux], ['Node (espruino shim)', v.node]] as const) {
        if (t.status === 'skipped') out.push({ what: `device: ${n}`, reason: t.reason });
      }
    }
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  let args: BenchArgs;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`pnpm bench: ${(e as Error).message}\n`);
    process.exit(2);
  }
  const ri = process.argv.indexOf('--render');
  if (ri >= 0) {
    const file = path.resolve(process.env.INIT_CWD ?? process.cwd(), process.argv[ri + 1] ?? '');
    const res = JSON.parse(readFileSync(file, 'utf8')) as BenchResults;
    const base = file.replace(/\.json$/, '');
    writeFileSync(`${base}.md`, markdown(res));
    writeFileSync(`${base}.svg`, chartFor(res));
    const readme = file === path.join(RESULTS, 'latest.json') && !process.argv.includes('--no-readme');
    if (readme) updateReadme(path.join(BENCH_DIR, 'README.md'), res, README_INTRO);
    process.stderr.write(`rendered ${base}.md and .svg${readme ? ' and README.md' : ''} from ${file}\n`);
    process.exit(0);
  }
  if (process.argv.includes('--help')) {
    process.stdout.write('usage: pnpm bench [--quick] [--repeats N] [--only a,b] [--skip a,b] [--out DIR] [--port TTY --baud N --upload] [--espruino BIN | --no-espruino] [--cpu-prof DIR] [--no-readme] | --render FILE.json\n');
    process.exit(0);
  }
  // Ctrl-C: stop the child measurements; the namespace lab's exit hook removes its namespaces
  // and processes (Lab.cleanupSync) when the process exits.
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      process.stderr.write(`\n[bench] ${sig}: stopping, cleaning up namespaces and processes\n`);
      killChildTasks();
      process.exit(130);
    });
  }
  await runBench(args);
}
