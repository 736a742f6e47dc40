/** `wgjs cost`: the keepalive cost table, JSON output and usage errors (spawns the real CLI). */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { dailyCost } from '@wgjs/core';

const bin = fileURLToPath(new URL('../bin/wgjs.js', import.meta.url));
const wgjs = (args: string[]) => spawnSync(process.execPath, [bin, 'cost', ...args], { encoding: 'utf8', timeout: 30_000 });

describe('wgjs cost', () => {
  it('without --keepalive compares off, stock 25 s and 0.9 x the NAT timeout', () => {
    const r = wgjs(['--nat-timeout', '40', '--report', '64@300']);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
    const head = r.stdout.split('\n').find((l) => l.includes('keepalive off'))!;
    expect(head).toMatch(/keepalive off\s+stock 25 s\s+adaptive 36 s/);
    const total = r.stdout.split('\n').find((l) => l.startsWith('bytes total'))!;
    const expected = [
      dailyCost({ keepalive: 0, natTimeout: 40, reportInterval: 300, reportBytes: 64 }),
      dailyCost({ keepalive: 25, natTimeout: 40, reportInterval: 300, reportBytes: 64 }),
      dailyCost({ keepalive: 36, natTimeout: 40, reportInterval: 300, reportBytes: 64, refreshOnReceive: false }),
    ].map((x) => x.totalBytes.toLocaleString('en-US'));
    expect(total.split(/\s{2,}/).slice(1)).toEqual(expected);
    expect(r.stdout).toMatch(/reachable\s+no \(\d+\.\d% of the time\)\s+yes\s+yes/);
    expect(r.stdout).toContain('MB per 30 days');
  });

  it('one policy with --keepalive; --json gives the model result', () => {
    const r = wgjs(['--keepalive', '25', '--nat-timeout', '30', '--json', '--ipv6', '--days', '2']);
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.days).toBe(2);
    expect(out.policies).toHaveLength(1);
    expect(out.policies[0].result).toEqual(dailyCost({ keepalive: 25, natTimeout: 30, ipv6: true, seconds: 172800 }));
  });

  it('keepalive off and sleep mode', () => {
    const off = wgjs(['--keepalive', 'off']);
    expect(off.status).toBe(0);
    expect(off.stdout).toMatch(/handshakes\s+1\n/);
    const sleep = wgjs(['--mode', 'sleep', '--report', '64@900', '--json']);
    expect(sleep.status).toBe(0);
    expect(JSON.parse(sleep.stdout).policies[0].result)
      .toEqual(dailyCost({ mode: 'sleep', keepalive: 0, natTimeout: 30, reportInterval: 900, reportBytes: 64, serverReplyBytes: 0 }));
  });

  it('usage errors are one line and exit 2', () => {
    for (const args of [
      ['--keepalive', 'soon'], ['--keepalive'], ['--nat-timeout', '-5'], ['--report', '64'], ['--report', '5000@60'],
      ['--mode', 'nap'], ['--mode', 'sleep'], ['--mode', 'sleep', '--report', '64@300', '--keepalive', '25'],
      ['--days', '0'], ['--server-reply', '100'], ['--frobnicate'],
    ]) {
      const r = wgjs(args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(r.stderr).toMatch(/^wgjs cost: /);
    }
  });

  it('--help prints the usage', () => {
    const r = wgjs(['--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('--nat-timeout');
  });
});
