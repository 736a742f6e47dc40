/**
 * Runs a task of src/child.ts in a fresh Node process (bounded) and returns its JSON result.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const TSX = createRequire(path.join(BENCH_DIR, 'package.json')).resolve('tsx');

const live = new Set<ChildProcess>();

/** Kills every child task still running (SIGKILL); used on SIGINT and at exit. */
export function killChildTasks(): void {
  for (const c of live) {
    try {
      c.kill('SIGKILL');
    } catch {
      // gone
    }
  }
  live.clear();
}

/** `node --import tsx src/child.ts <task> <json>`; rejects on a non-zero exit or after timeoutMs. */
export function runChildTask<T>(task: string, args: object, timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', TSX, path.join(BENCH_DIR, 'src/child.ts'), task, JSON.stringify(args)], {
      cwd: BENCH_DIR,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    live.add(child);
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      live.delete(child);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      live.delete(child);
      const last = out.trim().split('\n').pop() ?? '';
      if (code === 0 && (last.startsWith('{') || last.startsWith('['))) {
        try {
          resolve(JSON.parse(last) as T);
          return;
        } catch {
          // fall through
        }
      }
      const why = signal === 'SIGKILL' ? `killed after ${timeoutMs} ms` : `exit ${code ?? signal}`;
      reject(new Error(`child task ${task} failed (${why}): ${(err || out).trim().slice(-1500)}`));
    });
  });
}
