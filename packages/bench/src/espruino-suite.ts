/**
 * crypto/suite.ts on the Espruino interpreter: correctness against noble (computed here on Node),
 * speed, and RAM (JsVars) of the code run from Storage, next to the host's portable provider
 * (crypto/portable.ts, what the device ran before) measured the same way. Needs an Espruino binary you built yourself (none is
 * shipped or built here; see shared/ESPRUINO.md).
 *
 *   npx tsx packages/bench/src/espruino-suite.ts --espruino /path/to/espruino [--reps 10] [--no-compare]
 *
 * Both bundles are built with the device build options (`deviceBuildOptions()`: minified, the
 * Espruino feature set, the device import guard) and scanned with the device subset scan. Speed
 * is measured with the code in RAM (the Linux build emulates flash with a file read per access),
 * best of `--reps` runs (X25519: best of 3). RAM: the bundle is written to Storage and eval'd
 * from it at the top level, as a device loader does; `loaded` is the JsVars it leaves (the code's
 * function objects, the module-level tables and scratch arrays; plus the export object: 7 JsVars
 * for the suite's, 1 for the provider factory), `withState` adds a provider instance (the suite
 * has no per-instance state), `peak` is the most used during a handshake's worth of crypto.
 *
 * Prints human-readable lines on stderr and one JSON line on stdout; exit code 1 if a self-test
 * fails or the subset scan finds anything.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as esbuild from 'esbuild';
import { chacha20poly1305, xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { blake2s } from '@noble/hashes/blake2.js';
import { x25519 as nobleX25519 } from '@noble/curves/ed25519.js';
import { fileURLToPath } from 'node:url';
import { deviceBuildOptions, scanBundleText } from '../../espruino/scripts/check-device.js';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf('--' + name);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : def;
}

/** packages/core/src/crypto. */
const CORE_CRYPTO_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../core/src/crypto');
const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

/** Deterministic filler, the same as the on-device `fl` below. */
function fill(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

const LENGTHS = [0, 1, 63, 64, 65, 1420];
/** An order-8 point: X25519 must give all zeros (false). */
const LOW_ORDER = 'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800';

/** Expected results, computed on Node with noble (independent of the code under test). */
function expectations(): Record<string, string> {
  const key = fill(32, 1), ad = fill(16, 2), nonce = fill(24, 3), priv = fill(32, 4);
  const wg = new Uint8Array(12);
  new DataView(wg.buffer).setUint32(4, 0xffffffff, true);
  new DataView(wg.buffer).setUint32(8, 7, true);
  const e: Record<string, string> = {};
  for (const len of LENGTHS) {
    e['seal' + len] = hex(chacha20poly1305(key, wg, ad).encrypt(fill(len, 5)));
    e['x' + len] = hex(xchacha20poly1305(key, nonce, ad).encrypt(fill(len, 5)));
  }
  const pub = nobleX25519.getPublicKey(priv);
  e.pub = hex(pub);
  e.shared = hex(nobleX25519.scalarMult(priv, fill(32, 6)));
  e.blake = hex(blake2s(fill(200, 7), { key, dkLen: 32 }));
  e.blake16 = hex(blake2s(fill(64, 8), { dkLen: 16 }));
  return e;
}

/** On-device helpers (plain ES5 inside the test files). */
const COMMON = String.raw`
function hx(b) { var s = ''; for (var i = 0; i < b.length; i++) s += (b[i] < 16 ? '0' : '') + b[i].toString(16); return s; }
function fl(n, seed) { var b = new Uint8Array(n), x = seed; for (var i = 0; i < n; i++) { x = (x * 1103515245 + 12345) >>> 0; b[i] = x >>> 24; } return b; }
function le32(b, o) { return (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0; }
function unhex(s) { var b = new Uint8Array(s.length / 2); for (var i = 0; i < b.length; i++) b[i] = parseInt(s.substr(2 * i, 2), 16); return b; }
function best(reps, f) { var b = 1e9; for (var i = 0; i < reps; i++) { var t = getTime(); f(); t = getTime() - t; if (t < b) b = t; } return b * 1000; }
`;

/** Self-test and speed of the suite (`S` = the exported functions). */
const SUITE_CODE = String.raw`
function selftest(S, E) {
  var key = fl(32, 1), ad = fl(16, 2), nonce = fl(24, 3), priv = fl(32, 4), bad = [];
  var sub = new Uint8Array(32);
  S.hchacha(sub, key, nonce, 0);
  LENGTHS.forEach(function (len) {
    var buf = new Uint8Array(len + 16);
    buf.set(fl(len, 5));
    S.aead(key, -1, 7, ad, 16, buf, 0, len, false);
    if (hx(buf) !== E['seal' + len]) bad.push('seal' + len);
    if (!S.aead(key, 0xffffffff, 7, ad, 16, buf, 0, len, true) || hx(buf.subarray(0, len)) !== hx(fl(len, 5))) bad.push('open' + len);
    S.aead(key, -1, 7, ad, 16, buf, 0, len, false);
    buf[len] ^= 1;
    var before = hx(buf);
    if (S.aead(key, -1, 7, ad, 16, buf, 0, len, true) || hx(buf) !== before) bad.push('forgery' + len);
    buf.set(fl(len, 5));
    S.aead(sub, le32(nonce, 16), le32(nonce, 20), ad, 16, buf, 0, len, false);
    if (hx(buf) !== E['x' + len]) bad.push('xchacha' + len);
  });
  var pub = new Uint8Array(32), sh = new Uint8Array(32), h = new Uint8Array(32), h16 = new Uint8Array(16);
  if (!S.x25519(pub, priv, null) || hx(pub) !== E.pub) bad.push('x25519 base');
  if (!S.x25519(sh, priv, fl(32, 6)) || hx(sh) !== E.shared) bad.push('x25519');
  if (S.x25519(sh, priv, unhex(LOW_ORDER)) || hx(sh) !== hx(new Uint8Array(32))) bad.push('x25519 low order');
  var m = fl(200, 7);
  S.hashInit(32, key, 32); S.hashUpdate(m, 0, 50); S.hashUpdate(m, 50, 0); S.hashUpdate(m, 50, 150); S.hashFinal(h, 0);
  if (hx(h) !== E.blake) bad.push('blake2s keyed');
  S.hashInit(16, null, 0); S.hashUpdate(fl(64, 8), 0, 64); S.hashFinal(h16, 0);
  if (hx(h16) !== E.blake16) bad.push('blake2s');
  return bad;
}
function speed(S, reps) {
  var key = fl(32, 1), buf = new Uint8Array(1436), sealed = new Uint8Array(1436), d = fl(64, 8);
  var priv = fl(32, 4), pub = new Uint8Array(32), out = new Uint8Array(32), ctr = 0, r = {};
  S.aead(key, 9, 0, null, 0, sealed, 0, 1420, false);
  r.seal64_ms = best(reps, function () { S.aead(key, ctr++, 0, null, 0, buf, 0, 64, false); });
  r.seal1420_ms = best(reps, function () { S.aead(key, ctr++, 0, null, 0, buf, 0, 1420, false); });
  r.open1420_ms = best(reps, function () { buf.set(sealed); if (!S.aead(key, 9, 0, null, 0, buf, 0, 1420, true)) throw new Error('open'); });
  r.blake2s64_ms = best(reps, function () { S.hashInit(32, null, 0); S.hashUpdate(d, 0, 64); S.hashFinal(out, 0); });
  r.x25519Base_ms = best(3, function () { S.x25519(pub, priv, null); });
  r.x25519_ms = best(3, function () { S.x25519(out, priv, pub); });
  r.seal64_KBps = 64 / r.seal64_ms;
  r.seal1420_KBps = 1420 / r.seal1420_ms;
  r.open1420_KBps = 1420 / r.open1420_ms;
  return r;
}
function handshake(S, sample) {
  var priv = fl(32, 4), pub = new Uint8Array(32), out = new Uint8Array(32), h = new Uint8Array(32), buf = new Uint8Array(64), ad = fl(32, 9);
  sample(true);
  S.x25519(pub, priv, null); sample();
  S.x25519(out, priv, pub); sample();
  for (var k = 0; k < 20; k++) { S.hashInit(32, k & 1 ? h : null, k & 1 ? 32 : 0); S.hashUpdate(buf, 0, 64); S.hashUpdate(ad, 0, 32); S.hashFinal(h, 0); sample(); }
  S.aead(h, 0, 0, ad, 32, buf, 0, 32, false); sample();
  if (!S.aead(h, 0, 0, ad, 32, buf, 0, 32, true)) throw new Error('open');
  sample();
  S.aead(h, 1, 0, ad, 32, buf, 0, 12, false); sample();
  S.aead(h, 2, 0, ad, 32, buf, 0, 0, false); sample();
}
`;

/** The same speed and handshake for the portable provider (`P` = a provider instance). */
const PORTABLE_CODE = String.raw`
function speed(P, reps) {
  var key = fl(32, 1), buf = new Uint8Array(1436), sealed = new Uint8Array(1436), d = fl(64, 8);
  var priv = fl(32, 4), pub = new Uint8Array(32), out = new Uint8Array(32), ctr = 0, r = {};
  P.seal(key, 9, 0, null, 0, 0, buf, 0, 1420, sealed, 0);
  r.seal64_ms = best(reps, function () { P.seal(key, ctr++, 0, null, 0, 0, buf, 0, 64, buf, 0); });
  r.seal1420_ms = best(reps, function () { P.seal(key, ctr++, 0, null, 0, 0, buf, 0, 1420, buf, 0); });
  r.open1420_ms = best(reps, function () { buf.set(sealed); if (!P.open(key, 9, 0, null, 0, 0, buf, 0, 1420, buf, 0)) throw new Error('open'); });
  r.blake2s64_ms = best(reps, function () { P.hashInit(32, null, 0); P.hashUpdate(d, 0, 64); P.hashFinal(out, 0); });
  r.x25519Base_ms = best(3, function () { P.x25519Base(pub, priv); });
  r.x25519_ms = best(3, function () { P.x25519(out, priv, pub); });
  r.seal64_KBps = 64 / r.seal64_ms;
  r.seal1420_KBps = 1420 / r.seal1420_ms;
  r.open1420_KBps = 1420 / r.open1420_ms;
  return r;
}
function handshake(P, sample) {
  var priv = fl(32, 4), pub = new Uint8Array(32), out = new Uint8Array(32), h = new Uint8Array(32), buf = new Uint8Array(64), ad = fl(32, 9);
  sample(true);
  P.x25519Base(pub, priv); sample();
  P.x25519(out, priv, pub); sample();
  for (var k = 0; k < 20; k++) { P.hashInit(32, k & 1 ? h : null, k & 1 ? 32 : 0); P.hashUpdate(buf, 0, 64); P.hashUpdate(ad, 0, 32); P.hashFinal(h, 0); sample(); }
  P.seal(h, 0, 0, ad, 0, 32, buf, 0, 32, buf, 0); sample();
  if (!P.open(h, 0, 0, ad, 0, 32, buf, 0, 32, buf, 0)) throw new Error('open');
  sample();
  P.seal(h, 1, 0, ad, 0, 32, buf, 0, 12, buf, 0); sample();
  P.seal(h, 2, 0, ad, 0, 32, buf, 0, 0, buf, 0); sample();
}
`;

/**
 * RAM from Storage, as top-level statements (code eval'd inside a function is charged more
 * JsVars). `INST` makes the object the handshake runs on (the suite, or a provider instance).
 * The handshake's own buffers are allocated before the baseline sample, so the peak is the
 * crypto's transient use.
 */
const MEMORY_CODE = String.raw`
var St = require('Storage');
St.eraseAll();
St.write('c.js', require('fs').readFileSync(FILE).toString());
var m0 = process.memory().usage;
eval(St.read('c.js'));
var m1 = process.memory().usage;
var X = INST();
var m2 = process.memory().usage;
var base = 0, peak = 0;
handshake(X, function (start) { var u = process.memory().usage; if (start) { base = u; peak = u; } else if (u > peak) peak = u; });
console.log('MEM ' + JSON.stringify({ loaded: m1 - m0, withState: m2 - m0, peak: m2 - m0 + peak - base, blocksize: process.memory().blocksize }));
quit();
`;

/** Runs `file` on the interpreter (stdin must not be /dev/null: a pipe is used). */
function runEspruino(bin: string, file: string, cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, [file], { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 900_000);
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    child.on('error', reject);
    child.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
  });
}

/** Bundles `contents` (TypeScript, resolved in packages/core/src/crypto) as a device build. */
async function bundle(contents: string, extra: esbuild.Plugin[]): Promise<string> {
  const base = deviceBuildOptions();
  const result = await esbuild.build({
    ...base,
    stdin: { contents, resolveDir: CORE_CRYPTO_DIR, sourcefile: 'entry.ts', loader: 'ts' },
    plugins: [...(base.plugins ?? []), ...extra],
  });
  return result.outputFiles![0]!.text;
}

function line(out: string, tag: string): unknown {
  const m = out.split('\n').find((l) => l.startsWith(tag + ' '));
  return m ? JSON.parse(m.slice(tag.length + 1)) : null;
}

interface Measured { bytes: number; scan: number; selftest?: unknown; speed: unknown; mem: unknown; error?: string }

async function measure(
  dir: string, name: string, code: string, bin: string, reps: number, deviceCode: string, inst: string, selftest: string,
): Promise<Measured> {
  const file = path.join(dir, name + '.js');
  writeFileSync(file, code);
  // Speed (and self-test): code in RAM.
  const speedFile = path.join(dir, name + '-speed.js');
  writeFileSync(speedFile, code + '\n' + COMMON + deviceCode + `var X = (${inst})();\n` + selftest +
    `console.log('SPEED ' + JSON.stringify(speed(X, ${reps})));\nquit();\n`);
  const speedOut = await runEspruino(bin, speedFile, dir);
  // Memory: code from Storage.
  const memFile = path.join(dir, name + '-mem.js');
  writeFileSync(memFile, COMMON + deviceCode + `var FILE = ${JSON.stringify(file)};\nvar INST = function () { return (${inst})(); };\n` + MEMORY_CODE);
  const memOut = await runEspruino(bin, memFile, dir);
  const r: Measured = {
    bytes: Buffer.byteLength(code, 'utf8'),
    scan: scanBundleText(code, name).length,
    speed: line(speedOut, 'SPEED'),
    mem: line(memOut, 'MEM'),
  };
  if (selftest) r.selftest = line(speedOut, 'SELFTEST');
  if (!r.speed || !r.mem) r.error = (r.speed ? '' : speedOut.slice(-400)) + (r.mem ? '' : memOut.slice(-400));
  return r;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const bin = arg('espruino', process.env.ESPRUINO ?? '');
  if (!bin) {
    console.error('usage: espruino-suite.ts --espruino /path/to/espruino [--reps 10] [--no-compare]');
    process.exit(2);
  }
  const reps = Number(arg('reps', '10'));
  const dir = mkdtempSync(path.join(tmpdir(), 'wgjs-espruino-suite-'));
  try {
    // The exports as one global object (esbuild's globalName does not work on Espruino).
    const suiteCode = await bundle(
      "import { aead, handshakeSuite } from './suite.js';\n" +
      'declare const global: { WGS: unknown };\n' +
      'const h = handshakeSuite();\n' +
      'global.WGS = { x25519: h.x25519, aead: aead, hchacha: h.hchacha, hashInit: h.hashInit, hashUpdate: h.hashUpdate, hashFinal: h.hashFinal };\n',
      [],
    );
    const expected = JSON.stringify(expectations());
    const suite = await measure(dir, 'suite', suiteCode, bin, reps,
      SUITE_CODE + `var LENGTHS = ${JSON.stringify(LENGTHS)}, LOW_ORDER = ${JSON.stringify(LOW_ORDER)};\n`,
      'function () { return WGS; }',
      `console.log('SELFTEST ' + JSON.stringify(selftest(X, ${expected})));\n`);
    const st = suite.selftest;
    const ok = Array.isArray(st) && st.length === 0;
    console.error(`espruino suite (${bin})`);
    console.error(`  self-test vs noble: ${ok ? 'OK' : 'FAILED ' + JSON.stringify(st ?? suite.error)}`);
    console.error(`  bundle ${suite.bytes} B, subset scan: ${suite.scan === 0 ? 'OK' : suite.scan + ' violation(s)'}`);
    console.error(`  speed (code in RAM, best of ${reps}): ${JSON.stringify(suite.speed)}`);
    console.error(`  JsVars (code from Storage): ${JSON.stringify(suite.mem)}`);
    let portable: Measured | null = null;
    if (!process.argv.includes('--no-compare')) {
      const portableCode = await bundle(
        "import { createPortableProvider } from './portable.js';\n" +
        'declare const global: { WGC: unknown };\nglobal.WGC = createPortableProvider;\n',
        [],
      );
      portable = await measure(dir, 'portable', portableCode, bin, reps, PORTABLE_CODE, 'function () { return WGC(); }', '');
      console.error(`portable provider (for comparison)`);
      console.error(`  bundle ${portable.bytes} B`);
      console.error(`  speed (code in RAM, best of ${reps}): ${JSON.stringify(portable.speed)}`);
      console.error(`  JsVars (code from Storage): ${JSON.stringify(portable.mem)}`);
    }
    console.log(JSON.stringify({ espruino: bin, reps, suite, portable }));
    if (!ok || suite.scan !== 0 || !suite.mem || (portable && !portable.mem)) process.exitCode = 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
