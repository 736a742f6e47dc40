/**
 * On-device section: the device build's own benchmark, `wgjs.bench()` (X25519, AEAD KB/s,
 * BLAKE2s, a full handshake, JsVars used), which prints `WGJS {"event":"bench",…}`:
 *
 *  - on an Espruino board over its serial port (`--port`), through the flasher's REPL session:
 *    the build must be in the board's Storage as `wgjs.js` (flashed with wgjs-flash, or uploaded
 *    here with `--upload`); the board is `reset()` (its gateway code stops), the build is evaluated
 *    from Storage, `wgjs.bench()` runs, and `load()` restarts the board's normal boot at the end;
 *  - on Espruino's Linux build when one is given (`--espruino <binary>` or `espruino` on PATH):
 *    the same REPL protocol over the interpreter's stdin/stdout, with the build uploaded into a
 *    throwaway flash file (the interpreter runs in a temp directory);
 *  - in Node: the same bundle in the espruino package's shim (a `vm` context with the Espruino
 *    APIs), for comparison.
 *
 * The bundle is built in memory from the current sources (scripts/build.ts, nothing written);
 * if that fails, dist/wgjs.js is used, and the report says which.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { which } from '../../../node-tun/test/lab/netns.js';
import { BENCH_DIR } from '../run-child.js';
import { progress, skipped, summarize, type Skipped, type Summary } from '../stats.js';

const ESPRUINO_DIR = path.resolve(BENCH_DIR, '../espruino');

export interface DeviceOptions {
  repeats: number;
  /** Serial port of a board. */
  port?: string;
  baud: number;
  /** Upload the build to the board's Storage when it is missing or differs. */
  upload: boolean;
  /** Espruino Linux binary (null: look for `espruino` on PATH; false: do not run it; 'quick': only if given explicitly). */
  espruinoBin?: string | null | false | 'quick';
}

/** The fields of a `WGJS {"event":"bench"}` line, summarised over repeats. */
export interface BenchTarget {
  status: 'ok';
  target: string;
  /** Firmware / environment facts (version, board, JsVars). */
  info: Record<string, unknown>;
  runs: Array<Record<string, unknown>>;
  x25519Ms: Summary;
  aead64KBs: Summary;
  aead1420KBs: Summary;
  blake2s64Ms: Summary;
  handshakeMs: Summary;
  precomputeMs: Summary;
  initiationMs: Summary;
  responseMs: Summary;
  varsUsed: Summary;
  varsInitiator: Summary;
  handshakeOk: boolean;
}

export interface DeviceSection {
  status: 'ok' | 'partial';
  bundle: { source: string; bytes: number; crc32: number };
  node: BenchTarget | Skipped;
  espruinoLinux: BenchTarget | Skipped;
  board: BenchTarget | Skipped;
  notes: string[];
}

const FIELDS = ['x25519Ms', 'aead64KBs', 'aead1420KBs', 'blake2s64Ms', 'handshakeMs', 'precomputeMs', 'initiationMs', 'responseMs', 'varsUsed', 'varsInitiator'] as const;

function target(name: string, info: Record<string, unknown>, runs: Array<Record<string, unknown>>): BenchTarget {
  const s = (k: string): Summary => summarize(runs.map((r) => (typeof r[k] === 'number' ? (r[k] as number) : NaN)));
  const out = { status: 'ok', target: name, info, runs, handshakeOk: runs.every((r) => r.handshakeOk === true) } as BenchTarget;
  for (const k of FIELDS) (out as unknown as Record<string, Summary>)[k] = s(k);
  return out;
}

async function bundle(): Promise<{ code: string; source: string }> {
  try {
    const { buildDevice } = await import('../../../espruino/scripts/build.js');
    const b = await buildDevice({ write: false });
    return { code: b.code, source: 'built from packages/espruino/src (in memory)' };
  } catch (e) {
    const dist = path.join(ESPRUINO_DIR, 'dist/wgjs.js');
    if (!existsSync(dist)) throw new Error(`cannot build the device bundle (${(e as Error).message.slice(0, 300)}) and ${dist} does not exist`);
    progress(`device: building the bundle failed (${(e as Error).message.slice(0, 200)}); using dist/wgjs.js`);
    return { code: readFileSync(dist, 'utf8'), source: 'packages/espruino/dist/wgjs.js (the in-memory build failed)' };
  }
}

async function inNode(code: string, repeats: number): Promise<BenchTarget | Skipped> {
  let Shim: typeof import('../../../espruino/shim/espruino.js').EspruinoShim;
  try {
    Shim = (await import('../../../espruino/shim/espruino.js')).EspruinoShim;
  } catch (e) {
    return skipped('device: Node (shim)', `the espruino package's shim (packages/espruino/shim/espruino.ts) did not load: ${(e as Error).message}`);
  }
  const runs: Array<Record<string, unknown>> = [];
  for (let r = 0; r < repeats; r++) {
    progress(`device: wgjs.bench() in Node (espruino shim), run ${r + 1}/${repeats}`);
    const shim = new Shim({});
    try {
      shim.run(code, 'wgjs.js');
      const bench = shim.wgjs.bench as unknown as () => Record<string, unknown>;
      if (typeof bench !== 'function') return skipped('device: Node (shim)', 'the device build has no wgjs.bench()');
      bench();
      const ev = shim.events.find((e) => e.event === 'bench');
      if (!ev) throw new Error(`no WGJS bench event; output: ${shim.lines.slice(-5).join(' | ')}`);
      // process.memory() is a constant in the shim: JsVars mean nothing here.
      delete ev.varsUsed;
      delete ev.varsInitiator;
      runs.push(ev);
    } finally {
      shim.close();
    }
    await new Promise((res) => setImmediate(res));
  }
  return target('Node (espruino shim)', { node: process.version, note: 'process.memory() is a constant in the shim: JsVars are not meaningful here' }, runs);
}

// ---------------------------------------------------------------------------------------------
// Over a REPL (board or Linux interpreter)

type Transport = import('../../../espruino/flasher/transport.js').Transport;

/**
 * Runs wgjs.bench() `repeats` times over a REPL session: checks (and with `upload`, writes)
 * `wgjs.js` in Storage, resets, evaluates it from Storage, benchmarks; `load()` at the end when
 * `restart` (a board returns to its own boot code).
 */
async function benchOverRepl(t: Transport, name: string, code: string, o: { repeats: number; upload: boolean; restart: boolean; benchTimeoutMs: number }): Promise<BenchTarget | Skipped> {
  const { ReplSession } = await import('../../../espruino/flasher/session.js');
  const proto = await import('../../../espruino/flasher/protocol.js');
  const { crc32 } = await import('../../../espruino/flasher/crc32.js');
  const data = Buffer.from(code, 'utf8');
  const want = { l: data.length, c: crc32(data) };
  const session = new ReplSession(t);
  await session.sync({ timeoutMs: 2000, attempts: 3 });
  const probe = await session.query<{ v: string; b: string; m: { free: number; total: number } }>(proto.probeExpr(), { timeoutMs: 5000, retries: 2, what: 'probe' });
  const have = await session.query<{ l: number; c: number } | null>(proto.fileCrcExpr('wgjs.js'), { timeoutMs: 30_000, retries: 1, what: 'the CRC of wgjs.js' });
  let same = !!have && have.l === want.l && have.c === want.c;
  if (!same) {
    if (!o.upload) {
      if (!have) return skipped(`device: ${name}`, 'no wgjs.js in the board\'s Storage: flash it with wgjs-flash (pnpm --filter @wgjs/espruino flash) or pass --upload');
      progress(`device: ${name}: the board's wgjs.js differs from the current build (${have.l} B vs ${want.l} B); benchmarking the board's build (pass --upload to replace it)`);
    } else {
      progress(`device: ${name}: uploading wgjs.js (${data.length} B) to Storage`);
      const CH = 1024;
      for (let off = 0; off < data.length; off += CH) {
        const part = data.subarray(off, Math.min(data.length, off + CH));
        const expr = proto.chunkExpr('wgjs.js', off, data.length, part);
        // As the flasher does: "bad" = the line arrived damaged and nothing was written; resend
        // it after a Ctrl-C (a damaged line may have left a bracket open).
        for (let attempt = 0; ; attempt++) {
          const r = await session.query<string>(expr, { timeoutMs: off === 0 ? 30_000 : 10_000, retries: 3, what: `the chunk at ${off} of wgjs.js`, clearFirst: attempt > 0 });
          if (r === 'ok' || r === 'same') break;
          if (r !== 'bad' || attempt >= 5) throw new Error(`upload of wgjs.js failed at offset ${off}: ${r}`);
        }
      }
      const got = await session.query<{ l: number; c: number } | null>(proto.fileCrcExpr('wgjs.js'), { timeoutMs: 30_000, retries: 1, what: 'the CRC of wgjs.js' });
      same = !!got && got.l === want.l && got.c === want.c;
      if (!same) throw new Error(`wgjs.js in Storage does not match after the upload (${JSON.stringify(got)} vs ${JSON.stringify(want)})`);
    }
  }
  // reset() stops whatever runs (the gateway) and frees RAM; the boot files do not run.
  await session.send(proto.resetLine());
  await new Promise((r) => setTimeout(r, 1500));
  await session.sync({ timeoutMs: 3000, attempts: 3 });
  const loaded = await session.query<string>('(function(){try{eval(require("Storage").read("wgjs.js"));return typeof wgjs==="object"&&typeof wgjs.bench==="function"?"ok":"no wgjs.bench"}catch(e){return "error "+e}})()', { timeoutMs: 60_000, retries: 0, what: 'loading wgjs.js' });
  if (loaded !== 'ok') throw new Error(`evaluating wgjs.js from Storage: ${loaded}`);
  const info = await session.query<Record<string, unknown>>('{version:process.env.VERSION,board:process.env.BOARD,build:wgjs.version,memory:process.memory()}', { timeoutMs: 5000, retries: 1, what: 'facts' });
  const runs: Array<Record<string, unknown>> = [];
  for (let r = 0; r < o.repeats; r++) {
    progress(`device: wgjs.bench() on ${name}, run ${r + 1}/${o.repeats}`);
    const ev = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => { off(); reject(new Error(`no WGJS bench event within ${o.benchTimeoutMs} ms${session.lastUncaught ? `; the board said: ${session.lastUncaught}` : ''}`)); }, o.benchTimeoutMs);
      const off = session.onLine((line) => {
        const e = proto.parseStatusLine(line);
        if (e && e.event === 'bench') {
          clearTimeout(timer);
          off();
          resolve(e);
        }
      });
      session.send(`${proto.DLE}wgjs.bench()\n`).catch(reject);
    });
    runs.push(ev);
  }
  if (o.restart) await session.send(proto.loadLine());
  return target(name, { ...info, probe: { version: probe.v, board: probe.b, jsVars: probe.m }, storageBuildMatches: same }, runs);
}

/** A Transport over an Espruino Linux interpreter's stdin/stdout. */
function processTransport(bin: string, cwd: string): { t: Transport; proc: ChildProcess } {
  const proc = spawn(bin, [], { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
  const closeCbs: Array<(e?: Error) => void> = [];
  proc.on('exit', () => closeCbs.forEach((c) => c(new Error('the interpreter exited'))));
  proc.on('error', (e) => closeCbs.forEach((c) => c(e)));
  proc.stdin!.on('error', () => {});
  const t: Transport = {
    // Ctrl-C is dropped: the Linux build exits on a second one, and a fresh interpreter has no
    // half-typed line to clear.
    write: (d) => new Promise((res) => proc.stdin!.write(Buffer.from(d.replace(/\x03/g, ''), 'latin1'), () => res())),
    onData: (cb) => proc.stdout!.setEncoding('latin1').on('data', cb),
    onClose: (cb) => closeCbs.push(cb),
    close: async () => {
      proc.kill('SIGKILL'); // it ignores SIGTERM
    },
  };
  return { t, proc };
}

async function onEspruinoLinux(code: string, o: DeviceOptions): Promise<BenchTarget | Skipped> {
  if (o.espruinoBin === false) return skipped('device: Espruino (Linux build)', 'disabled (--no-espruino)');
  if (o.espruinoBin === 'quick') return skipped('device: Espruino (Linux build)', 'quick mode runs it only when given with --espruino (a run takes ~1 minute)');
  const bin = o.espruinoBin || which('espruino');
  if (!bin || !existsSync(bin)) return skipped('device: Espruino (Linux build)', 'no Espruino Linux binary: pass --espruino <path> or put `espruino` on PATH (github.com/espruino/Espruino, `make` with BOARD unset)');
  const dir = mkdtempSync(path.join(tmpdir(), 'wgjs-bench-espruino-'));
  const { t, proc } = processTransport(bin, dir);
  try {
    // One run: the interpreter takes ~30 s per wgjs.bench() (X25519 alone ~2 s).
    return await benchOverRepl(t, 'Espruino (Linux build)', code, { repeats: 1, upload: true, restart: false, benchTimeoutMs: 120_000 });
  } finally {
    await t.close();
    await new Promise((r) => (proc.exitCode !== null || proc.signalCode !== null ? r(null) : proc.once('exit', r)));
    rmSync(dir, { recursive: true, force: true });
  }
}

async function onBoard(code: string, o: DeviceOptions): Promise<BenchTarget | Skipped> {
  if (!o.port) return skipped('device: board', 'no board: pass --port /dev/ttyUSB0 (and --baud, --upload) to run wgjs.bench() on an Espruino board');
  let openSerial: typeof import('../../../espruino/flasher/transport.js').openSerial;
  try {
    openSerial = (await import('../../../espruino/flasher/transport.js')).openSerial;
  } catch (e) {
    return skipped('device: board', `the serial transport did not load (serialport): ${(e as Error).message}`);
  }
  let t: Transport;
  try {
    t = await openSerial({ path: o.port, baudRate: o.baud, flowControl: true });
  } catch (e) {
    return skipped('device: board', (e as Error).message);
  }
  try {
    // A board is slow: X25519 alone takes seconds on a microcontroller.
    // One run: a microcontroller takes seconds per X25519, so a full wgjs.bench() takes minutes.
    return await benchOverRepl(t, `board at ${o.port}`, code, { repeats: 1, upload: o.upload, restart: true, benchTimeoutMs: 600_000 });
  } finally {
    await t.close();
  }
}

export async function runDevice(o: DeviceOptions): Promise<DeviceSection | Skipped> {
  let b: { code: string; source: string };
  try {
    progress('device: building the device bundle (in memory)');
    b = await bundle();
  } catch (e) {
    return skipped('device', (e as Error).message);
  }
  const { crc32 } = await import('../../../espruino/flasher/crc32.js');
  const bytes = Buffer.from(b.code, 'utf8');
  const attempt = async (what: string, f: () => Promise<BenchTarget | Skipped>): Promise<BenchTarget | Skipped> => {
    try {
      return await f();
    } catch (e) {
      return skipped(`device: ${what}`, `failed: ${(e as Error).message.slice(0, 400)}`);
    }
  };
  const board = await attempt('board', () => onBoard(b.code, o));
  const espruinoLinux = await attempt('Espruino (Linux build)', () => onEspruinoLinux(b.code, o));
  const node = await attempt('Node (shim)', () => inNode(b.code, o.repeats));
  const all = [board, espruinoLinux, node];
  return {
    status: all.every((x) => x.status === 'ok') ? 'ok' : 'partial',
    bundle: { source: b.source, bytes: bytes.length, crc32: crc32(bytes) },
    node,
    espruinoLinux,
    board,
    notes: [
      'wgjs.bench() is the device build\'s own benchmark (packages/espruino/src/device.ts): X25519 ms (E.convolve field arithmetic, or a native wgcrypto module if the firmware has one), ChaCha20-Poly1305 seal KB/s at 64 and 1420 B, BLAKE2s of 64 B, and a full handshake as the device runs it (precompute + initiation + response processing) against an in-memory responder; varsUsed = JsVars in use before it ran, varsInitiator = JsVars the device engine (Initiator) took.',
      'The board and the Espruino Linux build run wgjs.bench() once (it takes ~30 s on the Linux interpreter, minutes on a microcontroller); Node runs it once per repeat.',
      'Node runs the same bundle in packages/espruino/shim (vm context; E.convolve is a JS loop there), so it shows the interpreter gap, not Node\'s best: see the crypto section for that.',
    ],
  };
}
