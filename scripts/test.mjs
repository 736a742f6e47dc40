#!/usr/bin/env node
// `pnpm test`: runs `vitest run` with the default reporter (streamed) plus a JSON report, then
// prints "N passed, N failed[, N skipped]" alone on the last line and exits non-zero when
// anything failed or no test ran. Extra arguments are passed through to vitest. No dependencies.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const require = createRequire(join(root, 'package.json'));
const vitestEntry = join(dirname(require.resolve('vitest/package.json')), 'vitest.mjs');

const extra = process.argv.slice(2);
if (extra[0] === '--') extra.shift(); // `pnpm test -- <args>`

const jsonFile = join(tmpdir(), `wgjs-vitest-${process.pid}-${randomBytes(4).toString('hex')}.json`);
const args = [vitestEntry, 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${jsonFile}`, ...extra];

const child = spawn(process.execPath, args, { cwd: root, stdio: 'inherit' });

// Ctrl-C reaches vitest through the process group; stay alive to print the summary.
process.on('SIGINT', () => {});
process.on('SIGTERM', () => child.kill('SIGTERM'));

const code = await new Promise((resolve) => {
  child.on('error', (err) => {
    console.error(`cannot start vitest: ${err.message}`);
    resolve(1);
  });
  child.on('exit', (c, signal) => resolve(c ?? (signal ? 128 : 1)));
});

let passed = 0;
let failed = 0;
let skipped = 0;
let report = null;
if (existsSync(jsonFile)) {
  try {
    report = JSON.parse(readFileSync(jsonFile, 'utf8'));
  } catch (err) {
    console.error(`cannot read vitest JSON report ${jsonFile}: ${err.message}`);
  }
  rmSync(jsonFile, { force: true });
}

if (report) {
  passed = report.numPassedTests ?? 0;
  failed = report.numFailedTests ?? 0;
  skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
  // A file that failed to load or whose hooks failed has no failed test of its own: count it.
  for (const file of report.testResults ?? []) {
    const anyFailedTest = (file.assertionResults ?? []).some((t) => t.status === 'failed');
    if (file.status === 'failed' && !anyFailedTest) {
      console.error(`test file failed outside its tests: ${file.name}: ${file.message ?? ''}`);
      failed += 1;
    }
  }
} else {
  console.error('vitest wrote no JSON report');
}

let exitCode = code;
if (exitCode !== 0 && failed === 0) {
  // e.g. unhandled errors or a crashed worker: vitest failed without a failing test.
  console.error(`vitest exited with code ${exitCode} although no test failed; counting the run as 1 failure`);
  failed = 1;
}
if (passed + failed === 0) {
  console.error('no test ran');
  if (exitCode === 0) exitCode = 1;
}
if (failed > 0 && exitCode === 0) exitCode = 1;

console.log(`${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`);
process.exit(exitCode);
