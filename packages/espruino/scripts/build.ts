/**
 * The device build: `src/device.ts` (engine, portable crypto with the core's device variants, the
 * modem drivers, the device API) bundled and minified with the subset checker's
 * `deviceBuildOptions` into one file,
 * `dist/wgjs.js`, which the flasher writes to Storage and `.boot0` evals from flash. The output is
 * then scanned for every construct Espruino lacks (the same AST scan as `check-device`); any
 * violation fails the build and nothing is written.
 *
 * CLI: `tsx scripts/build.ts [--dialect D] [--out FILE]` (`pnpm --filter @wgjs/espruino build`):
 * `dist/wgjs.js` with every modem driver, or `dist/wgjs-<dialect>.js` with one (smaller, for boards
 * with little Storage). Prints the size raw and gzipped.
 */
import { existsSync, mkdirSync, realpathSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import * as esbuild from 'esbuild';
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
  violations: Violation[];
}

/** Dialects of the drivers in src/modem (the flasher's list). */
export const DIALECTS = ['simcom', 'sim7000', 'sim7600', 'quectel', 'espat'];

/** packages/core/src/crypto: modules with a device variant in its `device/` folder. */
const CRYPTO_DIR = path.join(REPO_ROOT, 'packages/core/src/crypto');

/**
 * Swaps in the core's device variants: an import of `crypto/<name>.js` from inside crypto/ takes
 * `crypto/device/<name>.ts` when that exists — the ChaCha20-Poly1305 tuned for the interpreter, and
 * the small loop fallback for X25519 on firmware without E.convolve instead of ~5 KB of unrolled
 * JS (packages/core/test/crypto-device-variant.test.ts runs the vectors on them).
 */
const deviceVariants: esbuild.Plugin = {
  name: 'wgjs-device-variants',
  setup(build) {
    build.onResolve({ filter: /^\.\/[\w-]+\.js$/ }, (args) => {
      if (path.dirname(args.importer) !== CRYPTO_DIR) return undefined;
      const dev = path.join(CRYPTO_DIR, 'device', path.basename(args.path, '.js') + '.ts');
      return existsSync(dev) ? { path: dev } : undefined;
    });
  },
};

/**
 * Builds the device bundle. Throws with a file:line report if esbuild fails or the output holds
 * anything Espruino cannot run. Writes atomically (temp file + rename), so concurrent builds (tests)
 * never read a half-written file.
 */
export async function buildDevice(opts: { out?: string; write?: boolean; dialect?: string } = {}): Promise<DeviceBuild> {
  const base = deviceBuildOptions();
  const dialect = opts.dialect ?? '';
  if (dialect && !DIALECTS.includes(dialect)) throw new Error(`unknown dialect ${dialect} (${DIALECTS.join(', ')})`);
  const result = await esbuild.build({
    ...base,
    entryPoints: [DEVICE_ENTRY],
    // A single-dialect build: the other drivers become dead code and are dropped.
    define: { WGJS_DIALECT: JSON.stringify(dialect) },
    metafile: true,
    plugins: [deviceVariants, ...(base.plugins ?? [])],
  });
  const code = result.outputFiles![0]!.text;
  const violations = scanBundleText(code, 'wgjs.js');
  for (const w of result.warnings) {
    violations.push({ file: w.location?.file ?? 'wgjs.js', line: w.location?.line ?? 0, column: w.location?.column ?? 0, rule: 'esbuild', message: `warning: ${w.text}` });
  }
  if (violations.length) throw new Error(`device build has constructs Espruino cannot run:\n${formatViolations(violations)}`);
  let file: string | null = null;
  if (opts.write !== false) {
    file = opts.out ?? (dialect ? DEVICE_OUT.replace(/\.js$/, `-${dialect}.js`) : DEVICE_OUT);
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
    inputs: Object.keys(Object.values(result.metafile!.outputs)[0]!.inputs),
    violations,
  };
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

if (invokedDirectly()) {
  const i = process.argv.indexOf('--out');
  const j = process.argv.indexOf('--dialect');
  const base = process.env['INIT_CWD'] ?? process.cwd();
  const out = i > 0 && process.argv[i + 1] ? path.resolve(base, process.argv[i + 1]!) : undefined;
  buildDevice({ out, dialect: j > 0 ? process.argv[j + 1] : undefined }).then(
    (b) => {
      process.stdout.write(`${path.relative(base, b.file!) || b.file}: ${b.bytes} B raw, ${b.gzipBytes} B gzip (subset check OK)\n`);
    },
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
