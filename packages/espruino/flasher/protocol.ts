// wgjs:host-only
/**
 * The lines the flasher types into the Espruino REPL, and the parser for the board's answers.
 *
 * Every command is one line starting with DLE (0x10), which tells Espruino not to echo that line
 * (src/jsinteractive.c, `jsiHandleConsoleChar`: "DLE on the start of a line ... executed without
 * echo"); the session also runs `echo(0)`, after which results and prompts are not printed either,
 * so the only output is what commands `print`. Each query evaluates one expression on the board
 * and prints it framed as `<wf{id} {json} {crc32 of json}>`: the id pairs an answer with its
 * request (stale answers to retried commands are ignored), the CRC rejects answers damaged by line
 * noise. Data travel base64-encoded (`atob`), so every byte of the build is safe on the wire.
 *
 * The emulator (emulator/repl.ts) recognises exactly these shapes; change both together.
 */
import { crc32, crc32Latin1 } from './crc32.js';

/** Data Link Escape: at the start of a line, Espruino executes the line without echoing it. */
export const DLE = '\x10';
/** Ctrl-C: Espruino clears the input line (and interrupts running code). */
export const CTRL_C = '\x03';

/** A JSON-safe string literal for a board-side expression (file names, never secrets). */
function lit(s: string): string {
  return JSON.stringify(s);
}

/** Wraps an expression so the board prints its JSON value framed with `id` and a CRC. */
export function framed(id: number, expr: string): string {
  return `${DLE}(function(p){print("<wf${id} "+p+" "+E.CRC32(p)+">")})(JSON.stringify(${expr}))\n`;
}

/** `echo(0)`: no echo, no `=result`, no prompt from now until the next reset. */
export function echoOff(): string {
  return `${DLE}echo(0)\n`;
}

/** A no-op query used to find the framing in a noisy stream: answers `1`. */
export function syncExpr(): string {
  return '1';
}

/** The files whose sizes the probe reports, in this order. */
export const PROBE_FILES = ['wgjs.js', 'wgjs.cfg', '.boot0', '.bootcde'] as const;

/**
 * Board facts: firmware version and board name (`process.env`), Storage free bytes and statistics
 * (`getStats` is absent on SAVE_ON_FLASH builds, hence the guard), free/total JsVars, and the size
 * of each file in PROBE_FILES (-1 when absent).
 */
export function probeExpr(): string {
  return (
    '(function(s,m){return{v:process.env.VERSION,b:process.env.BOARD,f:s.getFree(),' +
    't:s.getStats?s.getStats():null,m:{free:m.free,total:m.total},' +
    `e:${JSON.stringify(PROBE_FILES)}.map(function(n){var f=s.read(n);return f===undefined?-1:f.length})}})` +
    '(require("Storage"),process.memory())'
  );
}

/** The probe's answer. */
export interface ProbeResult {
  v: string;
  b: string;
  f: number;
  t: { totalBytes?: number; freeBytes?: number; fileBytes?: number; trashBytes?: number } | null;
  m: { free: number; total: number };
  e: number[];
}

/** Size and per-chunk CRC-32 of a file on the board (`null` when it does not exist). */
export function chunkStateExpr(name: string, chunkSize: number): string {
  return (
    '(function(s,n,C){var f=s.read(n),r=[],o;if(f===undefined)return null;' +
    'for(o=0;o<f.length;o+=C)r.push(E.CRC32(s.read(n,o,Math.min(C,f.length-o))));return{l:f.length,c:r}})' +
    `(require("Storage"),${lit(name)},${chunkSize})`
  );
}

/** Answer of `chunkStateExpr`. */
export interface ChunkState {
  l: number;
  c: number[];
}

/** Size and CRC-32 of a whole file on the board (`null` when it does not exist). */
export function fileCrcExpr(name: string): string {
  return (
    '(function(s,n){var f=s.read(n);return f===undefined?null:{l:f.length,c:E.CRC32(f)}})' +
    `(require("Storage"),${lit(name)})`
  );
}

/** Answer of `fileCrcExpr`. */
export interface FileCrc {
  l: number;
  c: number;
}

/** Erases a file (no error when absent); answers 1. */
export function eraseExpr(name: string): string {
  return `(require("Storage").erase(${lit(name)}),1)`;
}

/**
 * Writes one chunk at `offset` of a file of `total` bytes. The board first checks a CRC over
 * name, offset, total and data (`k`), so a line damaged in transit writes nothing ("bad"). Offset
 * 0 creates the file (Espruino recreates it unless it exists with that size and is still erased:
 * src/jsflash.c `jsfWriteFile`). At a later offset, a chunk already present is acknowledged
 * without writing ("same": a retry after a lost answer), because flash cannot be rewritten in place
 * and Espruino refuses with "File already written with different data".
 * Answers "ok", "same", "bad", "fail" or "err <message>".
 */
export function chunkExpr(name: string, offset: number, total: number, data: Uint8Array): string {
  const k = chunkKey(name, offset, total, data);
  const b64 = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64');
  return (
    '(function(n,o,t,k,d){var s=require("Storage"),r;if(E.CRC32(n+o+","+t+d)!=k)r="bad";' +
    'else if(o&&s.read(n,o,d.length)==d)r="same";' +
    'else try{r=s.write(n,d,o,t)?"ok":"fail"}catch(e){r="err "+e.message}return r})' +
    `(${lit(name)},${offset},${total},${k},atob("${b64}"))`
  );
}

/** The CRC the chunk command checks: over `name + offset + "," + total` then the data bytes. */
export function chunkKey(name: string, offset: number, total: number, data: Uint8Array): number {
  return crc32(data, crc32Latin1(`${name}${offset},${total}`));
}

/** `load()`: restart the interpreter and run the boot files, like a power cycle without USB loss. */
export function loadLine(): string {
  return `${DLE}load()\n`;
}

/** `reset()`: clear RAM and stop running code without running boot files. */
export function resetLine(): string {
  return `${DLE}reset()\n`;
}

/** One framed answer found in the board's output. */
export interface Frame {
  id: number;
  /** Parsed JSON value. */
  value: unknown;
}

const FRAME_RE = /<wf(\d+) (.*) (\d+)>/;

/** Finds a framed answer in one output line; `null` if none or if its CRC is wrong (noise). */
export function parseFrame(line: string): Frame | null {
  const m = FRAME_RE.exec(line);
  if (!m) return null;
  const payload = m[2];
  if (crc32Latin1(payload) !== Number(m[3])) return null;
  if (payload === 'undefined') return { id: Number(m[1]), value: undefined };
  try {
    return { id: Number(m[1]), value: JSON.parse(payload) };
  } catch {
    return null;
  }
}

/** A `WGJS {json}` status line printed by the device build; `null` for any other line. */
export function parseStatusLine(line: string): Record<string, unknown> | null {
  const i = line.indexOf('WGJS {');
  if (i < 0) return null;
  try {
    const v: unknown = JSON.parse(line.slice(i + 5).trim());
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** True if the line is part of the banner Espruino prints when it (re)starts. */
export function isBannerLine(line: string): boolean {
  return /\|_\| espruino\.com/.test(line) || /^\s*\|____\|___\|/.test(line);
}

/** Parses an Espruino version like `2v20`, `2v25.13` (cutting edge) into comparable numbers. */
export function parseVersion(v: string): [number, number, number] | null {
  const m = /^(\d+)v(\d+)(?:\.(\d+))?/.exec(v.trim());
  return m ? [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] : null;
}

/** -1, 0 or 1 as version a is older than, equal to or newer than b (null if unparsable). */
export function compareVersions(a: string, b: string): number | null {
  const x = parseVersion(a);
  const y = parseVersion(b);
  if (!x || !y) return null;
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i] < y[i] ? -1 : 1;
  return 0;
}
