/**
 * `pnpm bench --quick` keeps working: it completes within its budget, writes a valid JSON document
 * (plus the markdown and SVG) where every section that ran is populated, prints the reason for
 * every part it skipped, and leaves the committed results and the README alone. This is how CI
 * runs the quick benchmark once, so it cannot rot.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { which } from '../../node-tun/test/lab/netns.js';
import type { BenchResults } from '../src/report.js';
import { BENCH_DIR, TSX } from '../src/run-child.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const out = mkdtempSync(path.join(tmpdir(), 'wgjs-bench-quick-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

const mtime = (f: string): number | null => (existsSync(f) ? statSync(f).mtimeMs : null);

describe('pnpm bench --quick', () => {
  it('completes in under 90 s with every section populated or skipped with a printed reason', () => {
    const readme = path.join(BENCH_DIR, 'README.md');
    const latest = path.join(BENCH_DIR, 'results/latest.json');
    const before = { readme: mtime(readme), latest: mtime(latest) };
    // The root script when pnpm is on PATH (checks the wiring too), else the same entry point.
    const pnpm = which('pnpm');
    const args = ['--quick', '--out', out, '--no-espruino'];
    const t0 = performance.now();
    const r = pnpm
      ? spawnSync(pnpm, ['bench', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 85_000, killSignal: 'SIGKILL' })
      : spawnSync(process.execPath, ['--import', TSX, 'src/index.ts', ...args], { cwd: BENCH_DIR, encoding: 'utf8', timeout: 85_000, killSignal: 'SIGKILL' });
    const seconds = (performance.now() - t0) / 1000;
    const log = `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}`;
    expect(r.status, log).toBe(0);
    expect(seconds).toBeLessThan(85);

    const res = JSON.parse(readFileSync(path.join(out, 'quick.json'), 'utf8')) as BenchResults;
    expect(res.schema).toBe('wgjs-bench/1');
    expect(res.mode).toBe('quick');
    expect(res.machine.cores).toBeGreaterThan(0);
    expect(res.machine.cpuModel).not.toBe('');

    const positive = (x: number): void => {
      expect(Number.isFinite(x) && x > 0, `expected a positive number, got ${x}`).toBe(true);
    };
    const s = res.sections;
    // Crypto: every operation for every implementation.
    expect(s.crypto.status).toBe('ok');
    if (s.crypto.status === 'ok') {
      expect(s.crypto.rows).toHaveLength(7 * 4);
      for (const row of s.crypto.rows) positive(row.opsPerSecond.median);
    }
    // Engine: throughput at three sizes, handshakes by role, memory at 1k peers, AllowedIPs.
    expect(s.engine.status).toBe('ok');
    if (s.engine.status === 'ok') {
      expect(s.engine.throughput.map((x) => x.size)).toEqual([64, 512, 1420]);
      for (const t of s.engine.throughput) {
        positive(t.packetsPerSecond.median);
        expect(Number.isInteger(t.gcEvents)).toBe(true);
      }
      expect(s.engine.handshakes.map((h) => h.provider)).toEqual(['portable', 'host']);
      for (const h of s.engine.handshakes) {
        positive(h.initiatorPerSecond.median);
        positive(h.responderPerSecond.median);
      }
      const measured = s.engine.memory.filter((m) => !('status' in m));
      expect(measured.length).toBeGreaterThan(0);
      for (const m of measured) positive((m as { bytesPerPeer: number }).bytesPerPeer);
      expect(s.engine.allowedIps).toHaveLength(2);
      for (const a of s.engine.allowedIps) positive(a.nsPerLookup.median);
    }
    // Tunnels never run in quick mode.
    expect(s.tunnels.status).toBe('skipped');
    // On-device: the bundle in Node when the espruino shim is there; no board here.
    if (s.device.status !== 'skipped') {
      if (s.device.node.status === 'ok') {
        positive(s.device.node.x25519Ms.median);
        positive(s.device.node.aead1420KBs.median);
        expect(s.device.node.handshakeOk).toBe(true);
      }
      expect(s.device.board.status).toBe('skipped');
    }
    // Every skipped part has a reason, and that reason was printed while running.
    expect(res.skipped.length).toBeGreaterThan(0);
    for (const k of res.skipped) {
      expect(k.reason.length).toBeGreaterThan(5);
      expect(r.stderr, `reason for ${k.what} not printed`).toContain(k.reason);
    }
    expect(r.stderr).toContain('SKIP tunnels: quick mode');
    // Goals are evaluated (reported, never asserted).
    expect(res.goals.length).toBe(6);

    const md = readFileSync(path.join(out, 'quick.md'), 'utf8');
    expect(md).toContain('### Engine');
    expect(md).toContain('### Crypto');
    const svg = readFileSync(path.join(out, 'quick.svg'), 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.trim().endsWith('</svg>')).toBe(true);
    // A quick run leaves the committed results and the README alone.
    expect({ readme: mtime(readme), latest: mtime(latest) }).toEqual(before);
  }, 90_000);
});
