/**
 * Small statistics and progress helpers shared by the benchmark sections.
 */

/** Median, min and max of repeated measurements (plus the raw values, in run order). */
export interface Summary {
  median: number;
  min: number;
  max: number;
  runs: number[];
}

/** Median of a non-empty list (mean of the two middle values for an even count). */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const v = [...xs].sort((x, y) => x - y);
  const m = v.length >> 1;
  return v.length & 1 ? v[m]! : (v[m - 1]! + v[m]!) / 2;
}

/** Median/min/max of the finite values in `xs` (NaN everywhere when there are none). */
export function summarize(xs: readonly number[]): Summary {
  const ok = xs.filter((x) => Number.isFinite(x));
  if (ok.length === 0) return { median: NaN, min: NaN, max: NaN, runs: [...xs] };
  return { median: median(ok), min: Math.min(...ok), max: Math.max(...ok), runs: [...xs] };
}

/** A section or sub-measurement that did not run, and why. */
export interface Skipped {
  status: 'skipped';
  reason: string;
}

const t0 = performance.now();
let quiet = false;

/** Silences progress output (used by the test when it calls the runner in-process). */
export function setQuiet(q: boolean): void {
  quiet = q;
}

/** One progress line on stderr, prefixed with the time since the run started. */
export function progress(msg: string): void {
  if (quiet) return;
  const s = ((performance.now() - t0) / 1000).toFixed(1).padStart(6);
  process.stderr.write(`[bench ${s}s] ${msg}\n`);
}

/** Prints why something was skipped (always on stderr: the reason must be visible). */
export function skipped(what: string, reason: string): Skipped {
  progress(`SKIP ${what}: ${reason}`);
  return { status: 'skipped', reason };
}

/** Seconds since the run started. */
export function elapsed(): number {
  return (performance.now() - t0) / 1000;
}

/** Formats a number with thousands separators and a sensible number of digits. */
export function fmt(n: number, digits?: number): string {
  if (!Number.isFinite(n)) return '–';
  const a = Math.abs(n);
  const d = digits ?? (a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : 3);
  return n.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
}

/** "median (min–max)" of a summary, formatted with `fmt`, scaled by `scale`. */
export function fmtSummary(s: Summary | undefined, scale = 1, digits?: number): string {
  if (!s || !Number.isFinite(s.median)) return '–';
  if (s.runs.length <= 1 || s.min === s.max) return fmt(s.median * scale, digits);
  return `${fmt(s.median * scale, digits)} (${fmt(s.min * scale, digits)}–${fmt(s.max * scale, digits)})`;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
