/**
 * The device build (`pnpm --filter @wgjs/espruino build`): one minified file that passes the
 * Espruino subset scan (buildDevice throws otherwise), defines the `wgjs` API when evaluated, and
 * single-dialect (per-board) variants that leave the other drivers, the bench and the test hook
 * out (test/device.test.ts runs each of them end to end).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEVICE_OUT, DIALECTS, buildCostModule, buildDevice, buildFileName } from '../scripts/build.js';
import { dailyCost, type CostInput } from '@wgjs/core';
import { scanBundleText } from '../scripts/check-device.js';
import { EspruinoShim } from '../shim/espruino.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'wgjs-build-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A command string each driver sends and no other does. */
const MARKER: Record<string, string> = {
  simcom: 'AT+CAOPEN=',
  sim7000: 'AT+CSTT=',
  sim7600: 'AT+NETOPEN',
  quectel: 'AT+QIOPEN=',
  espat: 'AT+CIPDINFO=1',
};

describe('device build', () => {
  it('writes dist/wgjs.js: minified, subset-clean, defining the wgjs API', async () => {
    const b = await buildDevice();
    expect(b.file).toBe(DEVICE_OUT);
    expect(readFileSync(DEVICE_OUT, 'utf8')).toBe(b.code);
    expect(b.violations).toEqual([]);
    expect(scanBundleText(b.code, 'wgjs.js')).toEqual([]);
    expect(b.code.split('\n').length).toBeLessThan(20); // minified
    expect(b.gzipBytes).toBeLessThan(b.bytes);
    console.log(`device build: ${b.bytes} B raw, ${b.gzipBytes} B gzip`);
    for (const d of DIALECTS) expect(b.code).toContain(MARKER[d]);
    // The device runs the Initiator on the cipher suite; the portable provider and Engine are
    // in this build only for the bench and the _core test hook.
    expect(b.inputs).toContain('packages/core/src/initiator.ts');
    expect(b.inputs).toContain('packages/core/src/crypto/suite.ts');
    expect(b.code).not.toMatch(/globalThis/);
    const shim = new EspruinoShim();
    shim.run(b.code, 'wgjs.js');
    for (const k of ['start', 'stop', 'sendUdp', 'onUdp', 'onEvent', 'status', 'connect', 'bench']) expect(typeof shim.wgjs[k]).toBe('function');
    // Distinct functions (esbuild's IIFE exports would make every name call the same function).
    expect(new Set(['start', 'stop', 'sendUdp', 'status'].map((k) => shim.wgjs[k])).size).toBe(4);
    expect(shim.wgjs.status()).toBe(null);
    shim.close();
  });

  it.each(DIALECTS)('builds a %s-only variant without the other drivers', async (d) => {
    const out = path.join(tmp, `wgjs-${d}.js`);
    const b = await buildDevice({ dialect: d, out });
    expect(existsSync(out)).toBe(true);
    expect(b.code).toContain(MARKER[d]);
    for (const other of DIALECTS) if (other !== d) expect(b.code).not.toContain(MARKER[other]);
    const full = await buildDevice({ write: false });
    expect(b.bytes).toBeLessThan(full.bytes);
  });

  it('per-board builds leave out the bench and the test hook unless asked; default file names', async () => {
    const plain = await buildDevice({ dialect: 'quectel', write: false });
    const withBench = await buildDevice({ dialect: 'quectel', bench: true, write: false });
    expect(withBench.bytes).toBeGreaterThan(plain.bytes);
    // What a board runs: the Initiator on the suite, not the many-peer Engine or the provider.
    expect(plain.inputs).toContain('packages/core/src/initiator.ts');
    expect(plain.inputs).not.toContain('packages/core/src/engine.ts');
    expect(plain.inputs).not.toContain('packages/core/src/crypto/portable.ts');
    for (const [b, hasBench] of [[plain, false], [withBench, true]] as const) {
      const shim = new EspruinoShim();
      shim.run(b.code, 'wgjs.js');
      expect(typeof shim.wgjs.bench).toBe(hasBench ? 'function' : 'undefined');
      expect(shim.wgjs._core).toBeUndefined();
      shim.close();
    }
    // The all-dialect build keeps every engine method (tests call them through wgjs._core).
    const full = await buildDevice({ write: false });
    expect(full.pruned).toEqual([]);
    expect(plain.pruned.length).toBeGreaterThan(0);
    expect(full.mangled.length).toBeGreaterThan(0);
    expect(buildFileName('')).toBe(DEVICE_OUT);
    expect(buildFileName('sim7000')).toBe(DEVICE_OUT.replace(/wgjs\.js$/, 'wgjs-sim7000.js'));
    expect(buildFileName('sim7000', true)).toBe(DEVICE_OUT.replace(/wgjs\.js$/, 'wgjs-sim7000-bench.js'));
  });

  it('refuses an unknown dialect', async () => {
    await expect(buildDevice({ dialect: 'sim900', write: false })).rejects.toThrow(/unknown dialect/);
  });
});

describe('cost module (dist/wgjs-cost.js)', () => {
  it('is subset-clean and gives the same answers as dailyCost on Node', async () => {
    const c = await buildCostModule(path.join(tmp, 'wgjs-cost.js'));
    expect(scanBundleText(c.code, 'wgjs-cost.js')).toEqual([]);
    const shim = new EspruinoShim();
    shim.run(c.code, 'wgjs-cost.js');
    const fn = (shim.context as Record<string, unknown>).wgjsCost;
    expect(typeof fn).toBe('function');
    const inputs: CostInput[] = [
      { keepalive: 25, natTimeout: 30 },
      { keepalive: 54, natTimeout: 60, refreshOnReceive: false, reportInterval: 300, reportBytes: 64 },
      { mode: 'sleep', keepalive: 0, natTimeout: 30, reportInterval: 900, reportBytes: 64 },
    ];
    for (const i of inputs) expect(JSON.parse(JSON.stringify((fn as typeof dailyCost)(i)))).toEqual(JSON.parse(JSON.stringify(dailyCost(i))));
    shim.close();
  });
});
