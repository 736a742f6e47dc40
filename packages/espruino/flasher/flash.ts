// wgjs:host-only
/**
 * The flash procedure: get the REPL's attention, check the board (firmware, board type, free RAM
 * and Storage), upload the files in verified chunks, resume after any interruption from what the
 * board already holds, arm the boot file, restart, and wait for the device's first handshake.
 */
import { crc32 } from './crc32.js';
import { FlashError } from './errors.js';
import {
  CTRL_C,
  chunkExpr,
  chunkStateExpr,
  compareVersions,
  echoOff,
  eraseExpr,
  fileCrcExpr,
  framed,
  loadLine,
  parseStatusLine,
  PROBE_FILES,
  probeExpr,
  resetLine,
  syncExpr,
  type ChunkState,
  type FileCrc,
  type ProbeResult,
} from './protocol.js';
import { BoardResetError, delay, QueryTimeoutError, type ReplSession } from './session.js';

/** Storage file names (the contract with the device build). */
export const BUILD_FILE = 'wgjs.js';
export const CONFIG_FILE = 'wgjs.cfg';
export const BOOT_FILE = '.boot0';
/** Boot code: runs the build from Storage (code stays in flash) and starts it with the config. */
export const BOOT_CODE = "eval(require('Storage').read('wgjs.js'));wgjs.start(require('Storage').readJSON('wgjs.cfg',1));";

/** One file to put in Storage. */
export interface FlashFile {
  name: string;
  data: Buffer;
  /** Holds secrets (the config): never logged, redacted in dry runs unless asked. */
  secret: boolean;
}

/** Tunables; the defaults suit real boards, tests shorten the timeouts. */
export interface FlashSettings {
  /** Payload bytes per chunk line (the Espruino IDE uses 1024). */
  chunkSize: number;
  /** Timeout for a query or chunk answer. */
  queryTimeoutMs: number;
  /** Timeout for the first chunk of a file: creating it erases flash pages (up to seconds). */
  createTimeoutMs: number;
  /** Retries of one chunk (timeouts, damaged lines) before a resynchronising round. */
  chunkRetries: number;
  /** Rounds (sync, compare with the board, resume) before giving up. */
  rounds: number;
  /** Read-back mismatches of one file tolerated (each followed by a full rewrite). */
  verifyRetries: number;
  syncTimeoutMs: number;
  syncAttempts: number;
  /** `reset()` before probing: stops running code, so free RAM is measured on a clean slate. */
  resetFirst: boolean;
  /** Refuse a board whose `process.env.BOARD` differs from the profile. */
  checkBoard: boolean;
  /** Free JsVars needed after reset() for the build to run. */
  minFreeVars: number;
  /** Wait for the first handshake after restarting (else stop after `load()`). */
  waitHandshake: boolean;
  handshakeTimeoutMs: number;
}

export const DEFAULT_SETTINGS: FlashSettings = {
  chunkSize: 1024,
  queryTimeoutMs: 3000,
  createTimeoutMs: 20000,
  chunkRetries: 5,
  rounds: 5,
  verifyRetries: 1,
  syncTimeoutMs: 1500,
  syncAttempts: 5,
  resetFirst: true,
  checkBoard: true,
  minFreeVars: 3000,
  waitHandshake: true,
  handshakeTimeoutMs: 300_000,
};

/** What the flasher reports while it works. */
export interface FlashEvents {
  info(msg: string): void;
  warn(msg: string): void;
  /** Upload progress over all files of this round. */
  progress(done: number, total: number, file: string): void;
  /** Files are on the board and the board is restarting: time to show the server's [Peer] block. */
  uploaded?(): void;
  /** A `WGJS {json}` line from the device. */
  deviceEvent?(ev: Record<string, unknown>): void;
}

/** Board facts and the outcome. */
export interface FlashResult {
  version: string;
  board: string;
  freeVars: number;
  storageFree: number;
  /** Per file: bytes written this run (0 = already on the board), and whether it was resumed. */
  files: { name: string; size: number; written: number; resumed: boolean; crc: number }[];
  handshake: { peer?: string; ms?: number } | null;
}

/** What must be written for one file, from comparing the board's chunk CRCs with ours. */
export interface FilePlan {
  file: FlashFile;
  /** The file must be (re)created from offset 0. */
  recreate: boolean;
  /** Indexes of the chunks to send (all of them when recreating). */
  chunks: number[];
}

/** Splits `data` into chunks. */
export function chunkCount(size: number, chunkSize: number): number {
  return Math.ceil(size / chunkSize);
}

/**
 * Compares the board's state of a file with the local data. Flash can only be written where it is
 * erased, so a chunk is reusable if equal, writable in place if erased (all 0xFF), and otherwise
 * forces recreating the file; so does a wrong size or a wrong first chunk (rewriting offset 0
 * recreates the file in Espruino).
 */
export function planFile(file: FlashFile, state: ChunkState | null, chunkSize: number): FilePlan {
  const n = chunkCount(file.data.length, chunkSize);
  const all = Array.from({ length: n }, (_, i) => i);
  if (!state || state.l !== file.data.length || state.c.length !== n) return { file, recreate: true, chunks: all };
  const todo: number[] = [];
  for (let i = 0; i < n; i++) {
    const part = file.data.subarray(i * chunkSize, Math.min(file.data.length, (i + 1) * chunkSize));
    if (state.c[i] === crc32(part)) continue;
    if (i === 0 || state.c[i] !== crc32(Buffer.alloc(part.length, 0xff))) return { file, recreate: true, chunks: all };
    todo.push(i);
  }
  return { file, recreate: false, chunks: todo };
}

/** Raised inside a round to start the next one (resync, re-compare, resume). */
class RoundError extends Error {}

/** Upload state kept across rounds. */
interface RunState {
  probe: ProbeResult | null;
  written: Map<string, number>;
  resumed: Map<string, boolean>;
  verifyFailures: Map<string, number>;
  bootErased: boolean;
}

function round4(n: number): number {
  return (n + 3) & ~3;
}

/** Storage bytes a file occupies: data rounded to 4 plus a 32-byte header (src/jsflash.h). */
export function storageCost(size: number): number {
  return round4(size) + 32;
}

/** Checks the probe against the profile and settings; throws the clear error for each failure. */
export function checkProbe(p: ProbeResult, profile: { name: string; board: string; minFirmware: string; jsVars: number }, s: FlashSettings, ev: FlashEvents): void {
  const cmp = compareVersions(String(p.v), profile.minFirmware);
  if (cmp === null) throw new FlashError('E_FIRMWARE', `the board reports firmware version "${p.v}", which is not an Espruino version (expected e.g. 2v20)`);
  if (cmp < 0) {
    throw new FlashError(
      'E_FIRMWARE',
      `the board runs Espruino ${p.v}, older than ${profile.minFirmware} which ${profile.name} needs: update the firmware (https://www.espruino.com/Firmware+Update) and retry`,
    );
  }
  if (p.b !== profile.board) {
    const msg = `the board reports BOARD=${p.b} but the profile ${profile.name} is for ${profile.board}`;
    if (s.checkBoard) throw new FlashError('E_BOARD', `${msg}: pick the matching --board profile (or pass --skip-board-check)`);
    ev.warn(msg);
  }
  if (p.m.free < s.minFreeVars) {
    throw new FlashError(
      'E_RAM',
      `not enough RAM: ${p.m.free} JsVars free after reset() (of ${p.m.total}); the build needs about ${s.minFreeVars}. ` +
        'Remove saved code (reset(true)) or choose a board with more JsVars (see hardware/README.md); --min-free-vars changes the threshold',
    );
  }
  if (p.m.total !== profile.jsVars) ev.warn(`the board has ${p.m.total} JsVars; the profile says ${profile.jsVars}`);
  if (p.e[PROBE_FILES.indexOf('.bootcde')] >= 0) ev.warn('the board also has saved code (.bootcde) that runs at boot; clear it with reset(true) if it is not wanted');
}

/** Verifies there is room for the files that must be (re)created; throws E_STORAGE if not. */
export function checkStorage(p: ProbeResult, plans: FilePlan[], profileName: string): void {
  let needed = 0;
  let reclaim = p.t?.trashBytes ?? 0;
  for (const pl of plans) {
    if (!pl.recreate) continue;
    needed += storageCost(pl.file.data.length);
    const old = p.e[PROBE_FILES.indexOf(pl.file.name as (typeof PROBE_FILES)[number])];
    if (old !== undefined && old >= 0) reclaim += storageCost(old);
  }
  const available = p.f + reclaim;
  if (needed > available) {
    throw new FlashError(
      'E_STORAGE',
      `not enough Storage on the board: the files need ${needed} bytes, ${available} are available ` +
        `(${p.f} free${reclaim ? ` + ${reclaim} reclaimable` : ''}${p.t?.totalBytes ? ` of ${p.t.totalBytes}` : ''}). ` +
        `Erase unneeded files (require("Storage").list() shows them) or choose a board with more Storage than ${profileName} (see hardware/README.md)`,
    );
  }
}

/** Runs the whole procedure on an open session. */
export async function runFlash(session: ReplSession, files: FlashFile[], profile: { name: string; board: string; minFirmware: string; jsVars: number }, s: FlashSettings, ev: FlashEvents): Promise<FlashResult> {
  const st: RunState = { probe: null, written: new Map(), resumed: new Map(), verifyFailures: new Map(), bootErased: false };
  const crcs = new Map(files.map((f) => [f.name, crc32(f.data)]));
  let lastProblem = '';

  if (s.resetFirst) {
    await session.send(CTRL_C);
    await delay(100);
    await session.send(resetLine());
    await delay(600);
  }
  for (let round = 1; ; round++) {
    try {
      await session.sync({ timeoutMs: s.syncTimeoutMs, attempts: s.syncAttempts });
      // Probed every round: Storage numbers change as the upload proceeds.
      const probe = await session.query<ProbeResult>(probeExpr(), { timeoutMs: s.queryTimeoutMs, retries: 3, what: 'the board probe' });
      if (!st.probe) {
        ev.info(`board: Espruino ${probe.v} on ${probe.b}, ${probe.m.free}/${probe.m.total} JsVars free, ${probe.f} bytes of Storage free`);
        checkProbe(probe, profile, s, ev);
      }
      st.probe = probe;
      await uploadRound(session, files, s, ev, st, round === 1);
      break;
    } catch (e) {
      if (e instanceof FlashError && e.code === 'E_NO_REPL' && round > 1) {
        throw new FlashError(
          'E_UPLOAD',
          `the board stopped answering during the upload (after: ${lastProblem}). Check the cable and power (a modem drawing current bursts from a weak USB port can brown out the board); ` +
            'running the same command again resumes where it stopped',
        );
      }
      if (e instanceof FlashError) throw e;
      if (!(e instanceof RoundError || e instanceof BoardResetError || e instanceof QueryTimeoutError)) throw e;
      lastProblem = e instanceof BoardResetError ? 'the board restarted during the upload' : e.message;
      if (round >= s.rounds) {
        throw new FlashError('E_UPLOAD', `upload failed after ${round} rounds: ${lastProblem}.${session.lastUncaught ? ` The board said: ${session.lastUncaught}.` : ''} Check the cable and --baud; running the same command again resumes where it stopped`);
      }
      ev.warn(`${lastProblem}; resynchronising and resuming (round ${round + 1} of ${s.rounds})`);
      await delay(200);
    }
  }

  const result: FlashResult = {
    version: st.probe!.v,
    board: st.probe!.b,
    freeVars: st.probe!.m.free,
    storageFree: st.probe!.f,
    files: files.map((f) => ({ name: f.name, size: f.data.length, written: st.written.get(f.name) ?? 0, resumed: st.resumed.get(f.name) ?? false, crc: crcs.get(f.name)! })),
    handshake: null,
  };
  ev.uploaded?.();
  if (!s.waitHandshake) {
    await session.send(loadLine());
    return result;
  }
  result.handshake = await restartAndWait(session, s, ev);
  return result;
}

/** One round: compare with the board, check space, erase the boot file, write and verify. */
async function uploadRound(session: ReplSession, files: FlashFile[], s: FlashSettings, ev: FlashEvents, st: RunState, first: boolean): Promise<void> {
  const plans: FilePlan[] = [];
  for (const f of files) {
    const state = await session.query<ChunkState | null>(chunkStateExpr(f.name, s.chunkSize), { timeoutMs: s.queryTimeoutMs, retries: 3, what: `the state of ${f.name}` });
    const pl = planFile(f, state, s.chunkSize);
    const n = chunkCount(f.data.length, s.chunkSize);
    if (!pl.recreate && pl.chunks.length > 0 && pl.chunks.length < n) {
      st.resumed.set(f.name, true);
      ev.info(`${f.name}: ${n - pl.chunks.length} of ${n} chunks already on the board; resuming`);
    }
    plans.push(pl);
  }
  checkStorage(st.probe!, plans, 'this board');
  if (plans.every((p) => p.chunks.length === 0)) {
    if (first) ev.info('all files are already on the board');
    return;
  }
  // Disarm the boot file first, so a reset mid-upload cannot boot a half-written build.
  const bootPlan = plans.find((p) => p.file.name === BOOT_FILE);
  const bootOnBoard = (st.probe!.e[PROBE_FILES.indexOf(BOOT_FILE)] ?? -1) >= 0;
  if (!st.bootErased && bootOnBoard && plans.some((p) => p.file.name !== BOOT_FILE && p.chunks.length > 0)) {
    await session.query(eraseExpr(BOOT_FILE), { timeoutMs: s.queryTimeoutMs, retries: 3, what: `erasing ${BOOT_FILE}` });
    st.bootErased = true;
    if (bootPlan) {
      bootPlan.recreate = true;
      bootPlan.chunks = Array.from({ length: chunkCount(bootPlan.file.data.length, s.chunkSize) }, (_, i) => i);
    }
  }
  const total = plans.reduce((a, p) => a + p.chunks.reduce((b, i) => b + Math.min(s.chunkSize, p.file.data.length - i * s.chunkSize), 0), 0);
  let done = 0;
  ev.progress(0, total, plans[0].file.name);
  for (const pl of plans) {
    const f = pl.file;
    for (const i of pl.chunks) {
      const off = i * s.chunkSize;
      const part = f.data.subarray(off, Math.min(f.data.length, off + s.chunkSize));
      await writeChunk(session, f, off, part, s, pl.recreate && i === 0);
      st.written.set(f.name, (st.written.get(f.name) ?? 0) + part.length);
      done += part.length;
      ev.progress(done, total, f.name);
    }
    if (pl.chunks.length > 0) await verifyFile(session, f, s, ev, st);
  }
}

/** Sends one chunk until the board acknowledges it. */
async function writeChunk(session: ReplSession, f: FlashFile, off: number, part: Buffer, s: FlashSettings, creates: boolean): Promise<void> {
  const expr = chunkExpr(f.name, off, f.data.length, part);
  const what = `the chunk at ${off} of ${f.name}`;
  for (let attempt = 0; ; attempt++) {
    let r: unknown;
    try {
      r = await session.query<string>(expr, { timeoutMs: creates ? s.createTimeoutMs : s.queryTimeoutMs, retries: 0, what, secret: f.secret, chunkBytes: part.length, clearFirst: attempt > 0 });
    } catch (e) {
      if (!(e instanceof QueryTimeoutError) || attempt >= s.chunkRetries) throw e;
      session.stats.retries++;
      continue;
    }
    if (r === 'ok' || r === 'same') return;
    if (r === 'bad') {
      // The line was damaged in transit; nothing was written.
      if (attempt >= s.chunkRetries) throw new RoundError(`${what} kept arriving damaged`);
      session.stats.retries++;
      continue;
    }
    const msg = String(r);
    if (off === 0 || /space|full/i.test(msg)) {
      throw new FlashError('E_STORAGE', `the board could not create ${f.name} (${f.data.length} bytes): ${msg.replace(/^err /, '')}. Storage is probably full: erase unneeded files or run require("Storage").compact()`);
    }
    throw new RoundError(`the board refused ${what} (${msg.replace(/^err /, '')})`);
  }
}

/** Compares the board's CRC of a whole file with ours. */
async function verifyFile(session: ReplSession, f: FlashFile, s: FlashSettings, ev: FlashEvents, st: RunState): Promise<void> {
  const got = await session.query<FileCrc | null>(fileCrcExpr(f.name), { timeoutMs: s.createTimeoutMs, retries: 3, what: `the checksum of ${f.name}` });
  const want = crc32(f.data);
  if (got && got.l === f.data.length && got.c >>> 0 === want) {
    ev.info(`${f.name}: ${f.data.length} bytes, CRC32 ${hex(want)} verified on the board`);
    return;
  }
  const n = (st.verifyFailures.get(f.name) ?? 0) + 1;
  st.verifyFailures.set(f.name, n);
  const detail = got ? `board has ${got.l} bytes with CRC32 ${hex(got.c >>> 0)}, expected ${f.data.length} bytes with ${hex(want)}` : 'the file is missing on the board';
  if (n > s.verifyRetries) {
    let where = '';
    try {
      const state = await session.query<ChunkState | null>(chunkStateExpr(f.name, s.chunkSize), { timeoutMs: s.queryTimeoutMs, retries: 2, what: `the state of ${f.name}` });
      const bad = state ? state.c.findIndex((c, i) => c !== crc32(f.data.subarray(i * s.chunkSize, Math.min(f.data.length, (i + 1) * s.chunkSize)))) : -1;
      if (bad >= 0) where = ` (first difference in bytes ${bad * s.chunkSize}–${Math.min(f.data.length, (bad + 1) * s.chunkSize) - 1})`;
    } catch {
      /* the detail is optional */
    }
    throw new FlashError(
      'E_VERIFY',
      `verification failed for ${f.name}: ${detail}${where}, after ${n} full write(s). The flash may be worn or Storage corrupted: ` +
        'try require("Storage").compact() or, after backing up, require("Storage").eraseAll(), then flash again',
    );
  }
  ev.warn(`verification of ${f.name} failed (${detail}); rewriting it`);
  throw new RoundError(`verification of ${f.name} failed`);
}

/** `load()`s the board (runs .boot0) and waits for the device's first `handshake` event. */
async function restartAndWait(session: ReplSession, s: FlashSettings, ev: FlashEvents): Promise<{ peer?: string; ms?: number }> {
  const recent: string[] = [];
  let resolveFn!: (v: { peer?: string; ms?: number }) => void;
  const got = new Promise<{ peer?: string; ms?: number }>((r) => (resolveFn = r));
  const off = session.onLine((line) => {
    const evt = parseStatusLine(line);
    if (evt) {
      ev.deviceEvent?.(evt);
      if (evt.event === 'handshake') resolveFn({ peer: typeof evt.peer === 'string' ? evt.peer : undefined, ms: typeof evt.ms === 'number' ? evt.ms : undefined });
      else if (evt.event === 'error') recent.push(`error: ${String(evt.message)}`);
      else recent.push(line.slice(line.indexOf('WGJS ')));
    } else if (/Uncaught /.test(line)) {
      recent.push(line.trim());
      ev.warn(`device: ${line.trim()}`);
    }
    if (recent.length > 5) recent.shift();
  });
  ev.info(`restarting the board (load()) and waiting up to ${Math.round(s.handshakeTimeoutMs / 1000)} s for the first handshake`);
  await session.send(loadLine());
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<null>((r) => (timer = setTimeout(() => r(null), s.handshakeTimeoutMs)));
  try {
    const r = await Promise.race([got, timeout]);
    if (r) return r;
  } finally {
    clearTimeout(timer);
    off();
  }
  throw new FlashError(
    'E_HANDSHAKE',
    `the files are on the board and it restarted, but no handshake was reported within ${Math.round(s.handshakeTimeoutMs / 1000)} s.` +
      (recent.length ? ` Last device messages: ${recent.join(' | ')}.` : ' The device printed no WGJS status line.') +
      ' Check the modem wiring and power (see the board\'s hardware/ README), the SIM and APN, that the server endpoint is reachable over UDP, ' +
      'and that the server has the [Peer] block printed above. `wgjs-flash monitor` shows the device console',
  );
}

function hex(n: number): string {
  return '0x' + (n >>> 0).toString(16).padStart(8, '0');
}

/**
 * The bytes a full flash of a fresh board would send, for `--dry-run`. Lines of secret files are
 * replaced by a DLE-prefixed comment unless `includeSecrets` (DLE lines are harmless to replay).
 */
export function renderDryRun(files: FlashFile[], s: FlashSettings, header: string[], includeSecrets: boolean): string {
  let id = 1;
  const out: string[] = header.map((h) => `\x10// ${h}\n`);
  out.push(CTRL_C, `\x10reset()\n`, CTRL_C, echoOff(), framed(id++, syncExpr()), framed(id++, probeExpr()));
  for (const f of files) out.push(framed(id++, chunkStateExpr(f.name, s.chunkSize)));
  out.push(framed(id++, eraseExpr(BOOT_FILE)));
  for (const f of files) {
    const n = chunkCount(f.data.length, s.chunkSize);
    if (f.secret && !includeSecrets) {
      out.push(`\x10// ${f.name}: ${f.data.length} bytes in ${n} chunk(s) not shown: they contain the device private key (use --dry-run-secrets to include them)\n`);
      id += n;
    } else {
      for (let i = 0; i < n; i++) {
        const off = i * s.chunkSize;
        out.push(framed(id++, chunkExpr(f.name, off, f.data.length, f.data.subarray(off, Math.min(f.data.length, off + s.chunkSize)))));
      }
    }
    out.push(framed(id++, fileCrcExpr(f.name)));
  }
  out.push(loadLine());
  return out.join('');
}
