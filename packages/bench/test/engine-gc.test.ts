/**
 * The transport data path allocates nothing: 200k packets through two engines (seal, open,
 * routing, replay window, timers) must run without a single GC event and without heap growth.
 * Runs `src/engine-throughput.ts --check-gc` in a child process, so the measured heap holds only
 * the benchmark, not vitest's own work.
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const BENCH_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TSX = createRequire(path.join(BENCH_DIR, 'package.json')).resolve('tsx');

function checkGc(size: number): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, ['--import', TSX, 'src/engine-throughput.ts',
    '--packets', '200000', '--size', String(size), '--check-gc'], {
    cwd: BENCH_DIR,
    encoding: 'utf8',
    timeout: 55_000,
    killSignal: 'SIGKILL',
  });
  return { status: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}

describe('engine data path', () => {
  it('200k packets of 1420 B: 0 GC events, no heap growth', () => {
    const r = checkGc(1420);
    expect(r.out).toContain('GC events during the stream: 0;');
    expect(r.out).toContain('check-gc: OK');
    expect(r.status).toBe(0);
  }, 60_000);

  it('200k packets of 64 B: 0 GC events, no heap growth', () => {
    const r = checkGc(64);
    expect(r.out).toContain('GC events during the stream: 0;');
    expect(r.out).toContain('check-gc: OK');
    expect(r.status).toBe(0);
  }, 60_000);
});
