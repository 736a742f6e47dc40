// wgjs:host-only — runs the device build on an Espruino interpreter built for Linux (not in CI).
/**
 * Runs a device build (default `dist/wgjs.js`) on a real Espruino interpreter as a board runs it: the build is written to
 * Storage, then a fresh interpreter evals it from Storage and starts it with a config, its Serial1
 * on a socat pty to a modem emulator (115200 baud, 32-byte chunks), the emulator's UDP socket
 * talking to an in-process wgjs engine on 127.0.0.1 as the server.
 *
 *   tsx scripts/espruino-run.ts --espruino /path/to/espruino [--mode measure|bench] [--dialect quectel]
 *       [--bundle dist/wgjs.js] [--handshakes 3] [--timeout 300] [--probe]
 *
 * `--bundle dist/wgjs-quectel.js` measures what a board with that modem runs (the per-board build;
 * `--mode bench` needs `wgjs.bench()`: dist/wgjs.js or a `--bench` build).
 *
 * `--ram` evals a RAM copy instead (faster on the Linux build, whose "flash" is a file).
 * `measure` prints one JSON object: JsVars (process.memory().usage) before the build is loaded,
 * after eval from Storage (`loaded`), after start (`started`), the highest sampled by a 50 ms timer
 * while idle (`peakFirstHandshake`, `peakAll`) and inside the X25519 computations (`peakCompute`:
 * E.convolve is wrapped to sample every 256th call, which slows them a little), at rest after the
 * handshakes (`rest`) and after a UDP send (`afterUdp`); handshake times; the device's status.
 * `--probe` adds the sizes of the device's fields (all-dialect build only, see below). `bench`
 * prints the device's bench JSON (`wgjs.bench()`). The Espruino binary is yours: this script
 * neither builds nor ships one (shared/ESPRUINO.md says how to build it). Needs socat.
 */
import { spawn } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import dgram from 'node:dgram';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Engine, createPortableProvider, generatePrivateKey, toBase64 } from '@wgjs/core';
import { createEmulator, socatPair } from '../emulator/index.js';
import { DEVICE_OUT } from './build.js';

function arg(name: string, def?: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1] : def;
}

const espruino = path.resolve(arg('espruino', process.env['ESPRUINO'] ?? '/tmp/espruino-bin')!);
const mode = arg('mode', 'measure')!;
const dialect = arg('dialect', 'quectel')!;
const bundleFile = path.resolve(arg('bundle', DEVICE_OUT)!);
const handshakes = Number(arg('handshakes', '3'));
const timeoutS = Number(arg('timeout', '300'));
const probe = process.argv.includes('--probe');
/**
 * --probe: E.getSizeOf of each field of the device, its engine, AT engine and modem driver at rest
 * (needs the `wgjs._core.device` hook: the all-dialect build). Shared objects count in each field
 * that reaches them.
 */
const PROBE = `
      var seen = [], fns = [];
      var walk = function (v, depth, out, path) {
        if (typeof v === 'function') { if (seen.indexOf(v) < 0) { seen.push(v); fns.push(path); } return 0; }
        if (v === null || typeof v !== 'object') return E.getSizeOf(v);
        if (seen.indexOf(v) >= 0) return 0;
        seen.push(v);
        if (ArrayBuffer.isView ? ArrayBuffer.isView(v) : v.buffer !== undefined && v.BYTES_PER_ELEMENT) return E.getSizeOf(v);
        var n = 1;
        for (var k in v) {
          if (!v.hasOwnProperty(k)) continue;
          var c = 1 + walk(v[k], depth + 1, out, path + '.' + k);
          if (depth < 2 && c > 8) out[path + '.' + k] = c;
          n += c;
        }
        return n;
      };
      var dv = wgjs._core && wgjs._core.device ? wgjs._core.device() : null;
      if (dv) { var out = {}; M.probeTotal = walk(dv, 0, out, 'device'); M.probe = out; M.probeFns = fns; }`;
if (!existsSync(espruino)) throw new Error(`no Espruino binary at ${espruino} (--espruino PATH)`);
if (!existsSync(bundleFile)) throw new Error(`no build at ${bundleFile}: run pnpm --filter @wgjs/espruino build`);

const random = (b: Uint8Array, o: number, n: number): void => { randomFillSync(b, o, n); };
const dir = mkdtempSync(path.join(os.tmpdir(), 'wgjs-espruino-'));

/** Runs a script on the interpreter (cwd = dir, where it keeps its flash file); resolves with its output. */
function runEspruino(script: string, onLine: (l: string) => void, limitS: number): Promise<string> {
  const file = path.join(dir, `s${Math.random().toString(36).substring(2)}.js`);
  writeFileSync(file, script);
  return new Promise((resolve, reject) => {
    // stdin must stay open (not /dev/null): a pipe we never close until it exits.
    const p = spawn(espruino, [file], { cwd: dir, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let buf = '';
    const t = setTimeout(() => { p.kill('SIGKILL'); reject(new Error(`espruino timed out after ${limitS} s:\n${out.slice(-3000)}`)); }, limitS * 1000);
    const take = (d: Buffer): void => {
      const s = d.toString('latin1');
      out += s;
      buf += s;
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        onLine(buf.slice(0, i).replace(/\r$/, ''));
        buf = buf.slice(i + 1);
      }
    };
    p.stdout.on('data', take);
    p.stderr.on('data', take);
    p.on('exit', () => { clearTimeout(t); resolve(out); });
  });
}

async function main(): Promise<void> {
  // 1. The build into Storage (what the flasher does over the REPL), in its own interpreter run.
  // In 2 KB chunks, as the flasher writes: a small-memory build cannot hold the whole file in RAM.
  const size = readFileSync(bundleFile).length;
  const store = await runEspruino(
    `var f = E.openFile(${JSON.stringify(bundleFile)}, 'r'), S = require('Storage'), off = 0, c;\n` +
    `while (off < ${size}) { c = f.read(2048); if (off === 0) S.write('wgjs.js', c, 0, ${size}); else S.write('wgjs.js', c, off); off += c.length; }\n` +
    `f.close();\nconsole.log('STORED ' + S.read('wgjs.js').length);\nquit();\n`,
    () => {},
    60,
  );
  if (!/STORED \d+/.test(store)) throw new Error(`could not write the build to Storage:\n${store}`);
  const bytes = readFileSync(bundleFile).length;

  if (mode === 'bench') {
    let result = '';
    // --ram: eval a copy in RAM instead of the flash string (on the Linux build, reading code from
    // its fake flash goes through file I/O and is slower than a board's memory-mapped flash).
    const src = process.argv.includes('--ram') ? `E.toString(require('fs').readFileSync(${JSON.stringify(bundleFile)}))` : 'require("Storage").read("wgjs.js")';
    await runEspruino(
      `eval(${src});\nwgjs.bench();\nquit();\n`,
      (l) => { const i = l.indexOf('WGJS {"event":"bench"'); if (i >= 0) result = l.substring(i + 5); },
      timeoutS,
    );
    process.stdout.write(`${result}\n`);
    return;
  }

  // 2. Server, emulator on a pty, config.
  const pair = await socatPair();
  const emu = createEmulator(dialect, { baud: 115200 });
  emu.attachTty(pair.modem);
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  const devKey = generatePrivateKey(random);
  const devPub = new Uint8Array(32);
  createPortableProvider().x25519Base(devPub, devKey);
  const server = new Engine({ privateKey: generatePrivateKey(random), crypto: createPortableProvider(), random, wallTime: Date.now }, {
    send(b, off, len, ep) {
      const i = ep.lastIndexOf(':');
      sock.send(Buffer.from(b.subarray(off, off + len)), +ep.slice(i + 1), ep.slice(0, i));
    },
    deliver() { /* counted by the device's status */ },
  });
  server.addPeer({ publicKey: devPub, allowedIPs: ['10.0.0.2/32'] });
  sock.on('message', (m, r) => server.receive(performance.now(), m, 0, m.length, `${r.address}:${r.port}`));
  const tick = setInterval(() => server.tick(performance.now()), 100);
  const cfg = {
    privateKey: toBase64(devKey),
    address: '10.0.0.2/32',
    peer: { publicKey: toBase64(server.publicKey), endpoint: `127.0.0.1:${(sock.address() as { port: number }).port}`, allowedIPs: ['10.0.0.0/24'], persistentKeepalive: 0 },
    modem: { dialect, serial: 'Serial1', baud: 115200, path: pair.device, apn: 'iot.test' },
  };
  const script = `
var S = require('Storage');
S.write('wgjs.cfg', ${JSON.stringify(JSON.stringify(cfg))});
function mem() { return process.memory().usage; }
// Everything this script keeps is allocated before M.before is taken (fields and counters preset,
// the sampling interval running), so the numbers below are the peer's own.
var M = { before: 0, loaded: 0, started: 0, startMs: 0, up: 0, peakFirstHandshake: 0, rest: 0, afterUdp: 0, peakAll: 0, peakCompute: 0 };
var hs = [${new Array(handshakes).fill(0).join(', ')}];
var peak = 0, n = 0, t0 = 0.5, tHs = 0.5, phase = 0, peakCpu = 0, nConv = 0;
// The timer cannot sample while a handshake computes (the interpreter is busy for seconds):
// X25519 calls E.convolve thousands of times, so every 256th call samples too.
if (E.convolve) {
  var conv = E.convolve;
  E.convolve = function (a, b, o) { if ((++nConv & 255) === 0) { var u = mem(); if (u > peakCpu) peakCpu = u; } return conv(a, b, o); };
}
// Every 50 ms: the peak; 0.3 s after a handshake the next one (force); 3 s after the last, at rest.
function sample() {
  var u = mem();
  if (u > peak) peak = u;
  var dt = getTime() - tHs;
  if (phase === 1 && dt > 0.3) { phase = 0; wgjs.connect(true); }
  if (phase === 2 && dt > 3) {
    phase = 3;
    M.rest = mem();
    M.handshakeMs = hs;
    M.status = wgjs.status();
    M.sendUdpOk = wgjs.sendUdp('10.0.0.1', 5555, 'reading 21.5');
    tHs = getTime();
  }
  if (phase === 3 && dt > 3) {
    phase = 4;
    M.afterUdp = mem();
    M.peakAll = peak;
    M.peakCompute = peakCpu;
    ${probe ? PROBE : ''}
    console.log('MEASURE ' + JSON.stringify(M));
    quit();
  }
}
function onEv(e) {
  if (e.event === 'status' && e.state === 'up') M.up = mem();
  if (e.event !== 'handshake') return;
  hs[n] = e.ms;
  n++;
  if (n === 1) M.peakFirstHandshake = peak;
  tHs = getTime();
  phase = n < ${handshakes} ? 1 : 2;
}
setInterval(sample, 50);
M.before = mem();
eval(S.read('wgjs.js'));
M.loaded = mem();
t0 = getTime();
wgjs.start(S.readJSON('wgjs.cfg', 1));
M.started = mem();
M.startMs = Math.round((getTime() - t0) * 1000);
wgjs.onEvent(onEv);
`;

  let result = '';
  const lines: string[] = [];
  try {
    await runEspruino(script, (l) => {
      lines.push(l);
      const i = l.indexOf('MEASURE {');
      if (i >= 0) result = l.substring(i + 8);
      if (process.env['VERBOSE']) process.stderr.write(`${l}\n`);
    }, timeoutS);
  } finally {
    clearInterval(tick);
    emu.close();
    sock.close();
    await pair.close();
  }
  if (!result) throw new Error(`no measurement; last output:\n${lines.slice(-30).join('\n')}`);
  const m = JSON.parse(result) as Record<string, unknown>;
  process.stdout.write(`${JSON.stringify({ espruino, dialect, bundle: bundleFile, bundleBytes: bytes, ...m })}\n`);
}

main().then(
  () => { rmSync(dir, { recursive: true, force: true }); process.exit(0); },
  (e: unknown) => {
    rmSync(dir, { recursive: true, force: true });
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
