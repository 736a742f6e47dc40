/**
 * Crypto on the Espruino interpreter: correctness, speed and RAM (JsVars) of the portable
 * provider, run on an Espruino binary you built yourself (none is shipped or built here; see
 * shared/ESPRUINO.md).
 *
 *   npx tsx packages/bench/src/espruino-crypto.ts --espruino /path/to/espruino
 *     [--variant device|node] [--x25519-stub] [--reps 20] [--crypto-dir packages/core/src/crypto]
 *
 * `--variant device` (default) bundles the device crypto (src/crypto/device/, swapped in by
 * `deviceCryptoPlugin()`, exactly as a device build should); `node` bundles the Node variant.
 *
 * 1. Self-test: seal/open/xseal/X25519/BLAKE2s results on the interpreter must equal the ones
 *    computed here on Node (exit code 1 otherwise).
 * 2. Speed, with the code in RAM (the Linux build emulates flash with a file read per access, so
 *    code run from Storage is far slower there than on a board): best of `--reps` runs.
 * 3. RAM: the crypto bundle is written to Storage and eval'd from it, as a device would run it;
 *    JsVars (`process.memory().usage`) after loading, after creating a provider, and the peak
 *    while doing a handshake's worth of crypto (2 X25519, 20 BLAKE2s, 4 small AEAD).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { createPortableProvider } from '@wgjs/core/crypto/portable';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf('--' + name);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : def;
}

/** packages/core/src/crypto. */
export const CORE_CRYPTO_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../core/src/crypto');

/**
 * esbuild plugin for device builds: resolves the crypto modules' `./chacha20poly1305.js` import to
 * its device variant, crypto/device/chacha20poly1305.ts (same exports). With `x25519Stub`, also
 * `./x25519-unrolled.js` to crypto/device/x25519-unrolled.ts: loop versions of the products that
 * Espruino never calls (it has E.convolve), ~2 KB less flash, but no RAM saved when the code runs
 * from Storage (measured +2 JsVars), so it is off by default. esbuild's `alias` option only
 * rewrites package paths, not relative ones, hence a plugin.
 */
export function deviceCryptoPlugin(opts?: { cryptoDir?: string; x25519Stub?: boolean }): esbuild.Plugin {
  const dir = path.resolve(opts && opts.cryptoDir ? opts.cryptoDir : CORE_CRYPTO_DIR);
  const filter = opts && opts.x25519Stub
    ? /^\.\/(chacha20poly1305|x25519-unrolled)\.js$/
    : /^\.\/chacha20poly1305\.js$/;
  return {
    name: 'wgjs-device-crypto',
    setup(build) {
      build.onResolve({ filter }, (args) => {
        if (path.resolve(args.resolveDir) !== dir) return undefined;
        return { path: path.join(dir, 'device', args.path.slice(2).replace(/\.js$/, '.ts')) };
      });
    },
  };
}

/**
 * The crypto sources bundled for the interpreter; `--crypto-dir` points elsewhere (e.g. an older
 * copy, to measure before/after on the same machine at the same time).
 */
const CRYPTO_DIR = path.resolve(arg('crypto-dir', CORE_CRYPTO_DIR));

const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

/** Deterministic filler (no randomness needed: the point is agreement with Node). */
function fill(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

/** Expected results, computed on Node with the (vector-tested) Node variant. */
function expectations(): Record<string, string> {
  const p = createPortableProvider();
  const key = fill(32, 1), ad = fill(16, 2), nonce = fill(24, 3), priv = fill(32, 4);
  const e: Record<string, string> = {};
  for (const len of [0, 1, 63, 64, 65, 1420]) {
    const out = new Uint8Array(len + 16);
    p.seal(key, -1, 7, ad, 0, 16, fill(len, 5), 0, len, out, 0);
    e['seal' + len] = hex(out);
    p.xseal(key, nonce, 0, ad, 0, 16, fill(len, 5), 0, len, out, 0);
    e['xseal' + len] = hex(out);
  }
  const pub = new Uint8Array(32), shared = new Uint8Array(32), h = new Uint8Array(32);
  p.x25519Base(pub, priv);
  p.x25519(shared, priv, fill(32, 6));
  e.pub = hex(pub);
  e.shared = hex(shared);
  p.hashInit(32, key, 32);
  p.hashUpdate(fill(200, 7), 0, 200);
  p.hashFinal(h, 0);
  e.blake = hex(h);
  return e;
}

/** The on-device part (plain JS inside the bundle; `WGC` is the provider factory). */
const DEVICE_CODE = String.raw`
function hx(b) { var s = ''; for (var i = 0; i < b.length; i++) s += (b[i] < 16 ? '0' : '') + b[i].toString(16); return s; }
function fl(n, seed) { var b = new Uint8Array(n), x = seed; for (var i = 0; i < n; i++) { x = (x * 1103515245 + 12345) >>> 0; b[i] = x >>> 24; } return b; }
function selftest(P, E) {
  var key = fl(32, 1), ad = fl(16, 2), nonce = fl(24, 3), priv = fl(32, 4), bad = [];
  [0, 1, 63, 64, 65, 1420].forEach(function (len) {
    var out = new Uint8Array(len + 16), back = new Uint8Array(len);
    P.seal(key, -1, 7, ad, 0, 16, fl(len, 5), 0, len, out, 0);
    if (hx(out) !== E['seal' + len]) bad.push('seal' + len);
    if (!P.open(key, -1, 7, ad, 0, 16, out, 0, len, back, 0) || hx(back) !== hx(fl(len, 5))) bad.push('open' + len);
    out[len] ^= 1;
    if (P.open(key, -1, 7, ad, 0, 16, out, 0, len, back, 0)) bad.push('forgery' + len);
    P.xseal(key, nonce, 0, ad, 0, 16, fl(len, 5), 0, len, out, 0);
    if (hx(out) !== E['xseal' + len]) bad.push('xseal' + len);
  });
  var pub = new Uint8Array(32), sh = new Uint8Array(32), h = new Uint8Array(32);
  P.x25519Base(pub, priv); if (hx(pub) !== E.pub) bad.push('x25519Base');
  P.x25519(sh, priv, fl(32, 6)); if (hx(sh) !== E.shared) bad.push('x25519');
  P.hashInit(32, key, 32); P.hashUpdate(fl(200, 7), 0, 200); P.hashFinal(h, 0);
  if (hx(h) !== E.blake) bad.push('blake2s');
  return bad;
}
function best(reps, f) { var b = 1e9; for (var i = 0; i < reps; i++) { var t = getTime(); f(); t = getTime() - t; if (t < b) b = t; } return b * 1000; }
function speed(P, reps) {
  var key = fl(32, 1), buf = new Uint8Array(1436), sealed = new Uint8Array(1436), ad = fl(16, 2);
  var priv = fl(32, 4), pub = new Uint8Array(32), out = new Uint8Array(32), d = fl(64, 8), ctr = 0;
  P.seal(key, 9, 0, null, 0, 0, buf, 0, 1420, sealed, 0);
  var r = {};
  r.seal1420_ms = best(reps, function () { P.seal(key, ctr++, 0, null, 0, 0, buf, 0, 1420, buf, 0); });
  r.open1420_ms = best(reps, function () { buf.set(sealed); if (!P.open(key, 9, 0, null, 0, 0, buf, 0, 1420, buf, 0)) throw new Error('open'); });
  r.seal64_ms = best(reps, function () { P.seal(key, ctr++, 0, null, 0, 0, buf, 0, 64, buf, 0); });
  r.blake2s64_ms = best(reps, function () { P.hashInit(32, null, 0); P.hashUpdate(d, 0, 64); P.hashFinal(out, 0); });
  r.x25519Base_ms = best(2, function () { P.x25519Base(pub, priv); });
  r.x25519_ms = best(2, function () { P.x25519(out, priv, pub); });
  r.seal_KBps = 1420 / r.seal1420_ms;
  r.open_KBps = 1420 / r.open1420_ms;
  return r;
}
`;

/**
 * The RAM measurement, as top-level statements: code eval'd inside a function is charged more
 * JsVars (each function it defines keeps the deeper scope chain), so a device loader, like this,
 * evaluates the bundle at the top level.
 */
const MEMORY_CODE = String.raw`
var S = require('Storage');
S.eraseAll();
S.write('c.js', require('fs').readFileSync(FILE).toString());
var m0 = process.memory().usage;
eval(S.read('c.js'));
var m1 = process.memory().usage;
var P = WGC();
var m2 = process.memory().usage;
var priv = fl(32, 4), pub = new Uint8Array(32), out = new Uint8Array(32), h = new Uint8Array(32), buf = new Uint8Array(64), ad = fl(32, 9);
var m3 = process.memory().usage, peak = m3;
function sample() { var u = process.memory().usage; if (u > peak) peak = u; }
P.x25519Base(pub, priv); sample();
P.x25519(out, priv, pub); sample();
for (var k = 0; k < 20; k++) { P.hashInit(32, k & 1 ? h : null, k & 1 ? 32 : 0); P.hashUpdate(buf, 0, 64); P.hashUpdate(ad, 0, 32); P.hashFinal(h, 0); sample(); }
P.seal(h, 0, 0, ad, 0, 32, buf, 0, 32, buf, 0); sample();
if (!P.open(h, 0, 0, ad, 0, 32, buf, 0, 32, buf, 0)) throw new Error('open');
sample();
P.seal(h, 1, 0, ad, 0, 32, buf, 0, 12, buf, 0); sample();
P.seal(h, 2, 0, ad, 0, 32, buf, 0, 0, buf, 0); sample();
console.log('MEM ' + JSON.stringify({ loaded: m1 - m0, withProvider: m2 - m0, handshakePeak: peak - (m3 - m2) - m0, blocksize: process.memory().blocksize }));
quit();
`;

/** Runs `file` on the interpreter (stdin must not be /dev/null: a fifo-like pipe is used). */
function runEspruino(bin: string, file: string, cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, [file], { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 600_000);
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    child.on('error', reject);
    child.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
  });
}

async function bundle(entry: string, outfile: string, device: boolean): Promise<void> {
  await esbuild.build({
    stdin: { contents: entry, resolveDir: CRYPTO_DIR, sourcefile: 'entry.ts', loader: 'ts' },
    bundle: true, format: 'iife', target: 'es2015', minify: true, outfile, logLevel: 'warning',
    plugins: device ? [deviceCryptoPlugin({ cryptoDir: CRYPTO_DIR, x25519Stub: process.argv.includes('--x25519-stub') })] : [],
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const bin = arg('espruino', process.env.ESPRUINO ?? '');
  if (!bin) {
    console.error('usage: espruino-crypto.ts --espruino /path/to/espruino [--variant device|node] [--reps 20]');
    process.exit(2);
  }
  const variant = arg('variant', 'device');
  const reps = Number(arg('reps', '20'));
  const dir = mkdtempSync(path.join(tmpdir(), 'wgjs-espruino-crypto-'));
  try {
    const device = variant === 'device';
    // The provider factory as a global (esbuild's globalName export does not work on Espruino).
    const cryptoEntry = "import { createPortableProvider } from './portable.js';\n" +
      'declare const global: { WGC: unknown };\nglobal.WGC = createPortableProvider;\n';
    const cryptoFile = path.join(dir, 'crypto.js');
    await bundle(cryptoEntry, cryptoFile, device);
    const expected = JSON.stringify(expectations());
    // Speed and self-test: crypto code in RAM.
    const speedFile = path.join(dir, 'speed.js');
    writeFileSync(speedFile, readFileSync(cryptoFile, 'utf8') + '\n' + DEVICE_CODE +
      `var P = WGC(); var bad = selftest(P, ${expected});\n` +
      `console.log('SELFTEST ' + JSON.stringify(bad));\n` +
      `console.log('SPEED ' + JSON.stringify(speed(P, ${reps})));\nquit();\n`);
    const speedOut = await runEspruino(bin, speedFile, dir);
    // Memory: crypto code from Storage.
    const memFile = path.join(dir, 'mem.js');
    writeFileSync(memFile, DEVICE_CODE + `var FILE = ${JSON.stringify(cryptoFile)};\n` + MEMORY_CODE);
    const memOut = await runEspruino(bin, memFile, dir);
    const line = (out: string, tag: string): string | null => {
      const m = out.split('\n').find((l) => l.startsWith(tag + ' '));
      return m ? m.slice(tag.length + 1).trim() : null;
    };
    const st = line(speedOut, 'SELFTEST');
    const sp = line(speedOut, 'SPEED');
    const mem = line(memOut, 'MEM');
    console.log(`espruino crypto (${variant} variant, ${bin})`);
    const oom = st === null && speedOut.includes('OUT OF MEMORY');
    console.log(`  self-test: ${st === '[]' ? 'OK' : oom ? 'not run: out of memory with the whole bundle in RAM (memory below still measured)' : 'FAILED ' + (st ?? speedOut.slice(-500))}`);
    console.log(`  speed (code in RAM, best of ${reps}): ${sp ?? 'n/a'}`);
    console.log(`  JsVars (code from Storage): ${mem ?? 'n/a ' + memOut.slice(-500)}`);
    if ((st !== '[]' && !oom) || !mem) process.exitCode = 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
