/** `wgjs genkey|pubkey|genpsk` are byte-compatible with `wg` (compared against the real tool when present). */
import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { which } from './lab/netns.js';

const bin = fileURLToPath(new URL('../bin/wgjs.js', import.meta.url));
const wgjs = (args: string[], input?: string) => spawnSync(process.execPath, [bin, ...args], { input, encoding: 'utf8' });
const wg = which('wg');
if (!wg) console.warn('[cli-keys] `wg` not installed: comparing against wg skipped');

describe('wgjs key commands', () => {
  it('genkey prints a clamped 32-byte key in base64 with a newline', () => {
    const r = wgjs(['genkey']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^[A-Za-z0-9+/]{43}=\n$/);
    const k = Buffer.from(r.stdout.trim(), 'base64');
    expect(k[0] & 7).toBe(0);
    expect(k[31] & 0xc0).toBe(0x40);
  });

  it('genpsk prints 32 random bytes', () => {
    const a = wgjs(['genpsk']).stdout;
    const b = wgjs(['genpsk']).stdout;
    expect(a).toMatch(/^[A-Za-z0-9+/]{43}=\n$/);
    expect(a).not.toBe(b);
  });

  it.skipIf(!wg)('pubkey matches `wg pubkey` for keys from both tools', () => {
    for (let i = 0; i < 5; i++) {
      for (const priv of [wgjs(['genkey']).stdout, execFileSync(wg!, ['genkey'], { encoding: 'utf8' })]) {
        const ours = wgjs(['pubkey'], priv);
        expect(ours.status).toBe(0);
        expect(ours.stdout).toBe(execFileSync(wg!, ['pubkey'], { input: priv, encoding: 'utf8' }));
      }
    }
  });

  it('pubkey rejects a malformed key like wg does', () => {
    for (const bad of ['nope\n', '', 'AAAA\n', 'x'.repeat(44)]) {
      const r = wgjs(['pubkey'], bad);
      expect(r.status).toBe(1);
      expect(r.stderr).toContain('Key is not the correct length or format');
      expect(r.stdout).toBe('');
    }
  });

  it('unknown commands fail with usage', () => {
    const r = wgjs(['frobnicate']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('unknown command');
  });
});
