/** The whole monorepo typechecks under `strict` (tsc --noEmit), as part of `pnpm test`. */
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { expect, it } from 'vitest';

it('tsc --noEmit passes on every package', () => {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  let out = '';
  try {
    execFileSync(process.execPath, [tsc, '-p', 'tsconfig.json', '--noEmit'], { cwd: new URL('..', import.meta.url).pathname, encoding: 'utf8' });
  } catch (e) {
    out = String((e as { stdout?: string }).stdout ?? e);
  }
  expect(out).toBe('');
}, 120_000);
