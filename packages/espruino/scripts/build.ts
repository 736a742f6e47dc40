/**
 * The device build: `src/device.ts` (engine, portable crypto with the core's device variants, the
 * modem drivers, the device API) bundled and minified with the subset checker's
 * `deviceBuildOptions` into one file,
 * `dist/wgjs.js`, which the flasher writes to Storage and `.boot0` evals from flash. The output is
 * then scanned for every construct Espruino lacks (the same AST scan as `check-device`); any
 * violation fails the build and nothing is written.
 *
 * Per-board builds (`dialect`): one modem driver, no `wgjs.bench()`, no `wgjs._core` test hook,
 * class methods nothing calls removed — what a board runs (RAM is the constraint: every function
 * costs JsVars, see README "Measured"). Every build shortens internal property names and inlines
 * top-level numeric constants (scripts/mangle.ts).
 *
 * CLI (`pnpm --filter @wgjs/espruino build [-- …]`):
 *   build.ts                             dist/wgjs.js (every driver, bench, test hook: tests and
 *                                        packages/bench use it) and dist/wgjs-<dialect>.js for each
 *                                        dialect (what the flasher uploads for a board profile)
 *   build.ts --dialect D [--bench] [--out FILE]
 *                                        one board build; --bench adds wgjs.bench()
 *                                        (dist/wgjs-D-bench.js)
 * Prints each file's size raw and gzipped.
 */
import { mkdirSync, realpathSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import * as esbuild from 'esbuild';
import { inlineConstants, interfaceMembers, mangleableProps, pruneDeadMethods } from './mangle.js';
import { REPO_ROOT, deviceBuildOptions, formatViolations, scanBundleText, type Violation } from './check-device.js';

/** The device entry and the default output. */
export const DEVICE_ENTRY = path.join(REPO_ROOT, 'packages/espruino/src/device.ts');
export const DEVICE_OUT = path.join(REPO_ROOT, 'packages/espruino/dist/wgjs.js');

export interface DeviceBuild {
  code: string;
  bytes: number;
  gzipBytes: number;
  /** Where it was written (null with `write: false`). */
  file: string | null;
  /** Source files in the bundle, relative to the repository root. */
  inputs: string[];
  /** Property names shortened (see scripts/mangle.ts). */
  mangled: string[];
  /** Class methods removed as uncallable (see scripts/mangle.ts, `pruneDeadMethods`). */
  pruned: string[];
  /** Top-level numeric constants inlined (see scripts/mangle.ts, `inlineConstants`). */
  inlined: number;
  violations: Violation[];
}

/** What to build. */
export interface BuildOptions {
  /** Output file (default `dist/wgjs.js`, or `dist/wgjs-<dialect>[-bench].js`). */
  out?: string;
  /** false: only return the code. */
  write?: boolean;
  /** One modem driver only ('' or absent: every driver). */
  dialect?: string;
  /** Include `wgjs.bench()` (default: only in the all-dialect build). */
  bench?: boolean;
  /** Include the `wgjs._core` test hook (default: only in the all-dialect build). */
  core?: boolean;
  /** Shorten internal property names (scripts/mangle.ts; default true). */
  mangle?: boolean;
  /** Remove class methods nothing in the bundle calls (default: when the `_core` hook is off). */
  prune?: boolean;
  /** Inline top-level numeric constants (default true). */
  inline?: boolean;
  /** esbuild option overrides (analysis, e.g. `{ minify: false, minifyIdentifiers: true, minifySyntax: true }` keeps the module comments). */
  esbuild?: esbuild.BuildOptions;
}

/** Dialects of the drivers in src/modem (the flasher's list). */
export const DIALECTS = ['simcom', 'sim7000', 'sim7600', 'quectel', 'espat'];

/**
 * Builds the device bundle. Throws with a file:line report if esbuild fails or the output holds
 * anything Espruino cannot run. Writes atomically (temp file + rename), so concurrent builds (tests)
 * never read a half-written file.
 */
export async function buildDevice(opts: BuildOptions = {}): Promise<DeviceBuild> {
  const base = deviceBuildOptions();
  const dialect = opts.dialect ?? '';
  if (dialect && !DIALECTS.includes(dialect)) throw new Error(`unknown dialect ${dialect} (${DIALECTS.join(', ')})`);
  const bench = opts.bench ?? !dialect;
  const core = opts.core ?? !dialect;
  const build = (extra: esbuild.BuildOptions): Promise<esbuild.BuildResult & { metafile: esbuild.Metafile }> => esbuild.build({
    ...base,
    ...opts.esbuild,
    ...extra,
    entryPoints: [DEVICE_ENTRY],
    // A single-dialect build: the other drivers become dead code and are dropped; so do the bench
    // and the test hook when they are off.
    define: { WGJS_DIALECT: JSON.stringify(dialect), WGJS_BENCH: String(bench), WGJS_CORE: String(core) },
    metafile: true,
  });
  let result = await build({});
  let mangled: string[] = [];
  if (opts.mangle !== false) {
    // Second pass: shorten the property names scripts/mangle.ts proves internal to the bundle.
    mangled = mangleableProps(Object.keys(result.metafile.inputs).map((f) => path.resolve(REPO_ROOT, f)));
    if (mangled.length) result = await build({ mangleProps: new RegExp(`^(?:${mangled.join('|')})$`) });
  }
  let code = result.outputFiles![0]!.text;
  let pruned: string[] = [];
  if (opts.prune ?? !core) {
    // Class methods nothing calls (engine API the device does not use): each costs RAM on the device.
    // The device is the `wgjs` global: its API methods are called from outside the bundle.
    const p = pruneDeadMethods(code, interfaceMembers(path.join(REPO_ROOT, 'packages/espruino/src/device.ts'), 'WgjsApi'));
    code = p.code;
    pruned = p.pruned;
  }
  let inlined = 0;
  if (opts.inline !== false) {
    // Top-level numeric constants esbuild left as variables (each one costs RAM on the device).
    const c = inlineConstants(code);
    code = c.code;
    inlined = c.inlined;
  }
  const violations = scanBundleText(code, 'wgjs.js');
  for (const w of result.warnings) {
    violations.push({ file: w.location?.file ?? 'wgjs.js', line: w.location?.line ?? 0, column: w.location?.column ?? 0, rule: 'esbuild', message: `warning: ${w.text}` });
  }
  if (violations.length) throw new Error(`device build has constructs Espruino cannot run:\n${formatViolations(violations)}`);
  let file: string | null = null;
  if (opts.write !== false) {
    file = opts.out ?? buildFileName(dialect, dialect ? bench : false);
    mkdirSync(path.dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.${Math.random().toString(36).substring(2)}.tmp`;
    writeFileSync(tmp, code);
    renameSync(tmp, file);
  }
  return {
    code,
    bytes: Buffer.byteLength(code, 'utf8'),
    gzipBytes: gzipSync(Buffer.from(code, 'utf8'), { level: 9 }).length,
    file,
    inputs: Object.keys(Object.values(result.metafile.outputs)[0]!.inputs),
    mangled,
    pruned,
    inlined,
    violations,
  };
}

export const COST_ENTRY = path.join(REPO_ROOT, 'packages/espruino/src/cost.ts');
export const COST_OUT = path.join(REPO_ROOT, 'packages/espruino/dist/wgjs-cost.js');

/**
 * Builds `dist/wgjs-cost.js`: the cost model (`dailyCost`, defining global `wgjsCost`) for the
 * device, loaded from Storage only when an application wants it. Subset-checked like the peer.
 */
export async function buildCostModule(out: string = COST_OUT): Promise<{ code: string; bytes: number; file: string }> {
  const base = deviceBuildOptions();
  const result = await esbuild.build({ ...base, entryPoints: [COST_ENTRY], define: {} });
  const code = inlineConstants(result.outputFiles![0]!.text).code;
  const violations = scanBundleText(code, 'wgjs-cost.js');
  if (violations.length) throw new Error(`cost module has constructs Espruino cannot run:\n${formatViolations(violations)}`);
  mkdirSync(path.dirname(out), { recursive: true });
  const tmp = `${out}.${process.pid}.tmp`;
  writeFileSync(tmp, code);
  renameSync(tmp, out);
  return { code, bytes: Buffer.byteLength(code, 'utf8'), file: out };
}

function invokedDirectly(): boolean {
  const arg = process.argv[1];
  if (!arg) return false;
  try {
    return realpathSync(path.resolve(arg)) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

/** The file a build is written to by default: `dist/wgjs.js`, `dist/wgjs-<dialect>[-bench].js`. */
export function buildFileName(dialect: string, bench?: boolean): string {
  if (!dialect) return DEVICE_OUT;
  return DEVICE_OUT.replace(/\.js$/, `-${dialect}${bench ? '-bench' : ''}.js`);
}

if (invokedDirectly()) {
  const argv = process.argv.slice(2).filter((a) => a !== '--');
  const val = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 && argv[i + 1] && !argv[i + 1]!.startsWith('--') ? argv[i + 1] : undefined;
  };
  const base = process.env['INIT_CWD'] ?? process.cwd();
  const dialect = val('dialect');
  const bench = argv.includes('--bench');
  const outArg = val('out');
  const unknown = argv.filter((a, i) => a.startsWith('--') ? !['--dialect', '--out', '--bench', '--help'].includes(a) : !['--dialect', '--out'].includes(argv[i - 1] ?? ''));
  if (argv.includes('--help') || unknown.length || (bench && !dialect)) {
    process.stdout.write(
      'usage: build.ts                      dist/wgjs.js (every driver, bench, test hook) and dist/wgjs-<dialect>.js for each dialect\n' +
      '       build.ts --dialect D [--bench] [--out FILE]   one board build (D: ' + DIALECTS.join(', ') + '); --bench adds wgjs.bench()\n',
    );
    process.exitCode = unknown.length || bench ? 2 : 0;
  } else {
    // Without --dialect: the all-dialect build (tests, bench) and every board build (the flasher's).
    const jobs: BuildOptions[] = dialect
      ? [{ dialect, bench, out: outArg ? path.resolve(base, outArg) : buildFileName(dialect, bench) }]
      : [{ out: outArg ? path.resolve(base, outArg) : undefined }, ...(outArg ? [] : DIALECTS.map((d) => ({ dialect: d })))];
    // (--out without --dialect: only the all-dialect build, to that file.)
    (async () => {
      for (const job of jobs) {
        const b = await buildDevice(job);
        process.stdout.write(`${path.relative(base, b.file!) || b.file}: ${b.bytes} B raw, ${b.gzipBytes} B gzip (subset check OK)\n`);
      }
      if (!dialect && !outArg) {
        const c = await buildCostModule();
        process.stdout.write(`${path.relative(base, c.file)}: ${c.bytes} B raw (cost model, loaded on demand; subset check OK)\n`);
      }
    })().catch((err: unknown) => {
      process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    });
  }
}
