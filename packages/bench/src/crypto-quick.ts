/**
 * Quick crypto timing: portable vs noble provider.
 * Run: npx tsx packages/bench/src/crypto-quick.ts [seconds-per-case, default 0.5]
 * Prints the best of 5 rounds for each case (the box may be shared, so best-of, not mean).
 */
import { createPortableProvider } from '@wgjs/core/crypto/portable';
import { createNobleProvider } from '@wgjs/core/crypto/noble';
import type { CryptoProvider } from '@wgjs/core/crypto/provider';

const budget = Number(process.argv[2] ?? '0.5') * 1000;

/** Runs `f` in batches for about `budget` ms per round, 5 rounds; returns the best ops/s. */
function measure(f: () => void): number {
  let batch = 1;
  for (;;) {
    const t = performance.now();
    for (let i = 0; i < batch; i++) f();
    const dt = performance.now() - t;
    if (dt > 20) break;
    batch *= 2;
  }
  let best = 0;
  for (let round = 0; round < 5; round++) {
    let n = 0;
    const t0 = performance.now();
    let dt = 0;
    while (dt < budget / 5) {
      for (let i = 0; i < batch; i++) f();
      n += batch;
      dt = performance.now() - t0;
    }
    best = Math.max(best, (n / dt) * 1000);
  }
  return best;
}

function fill(n: number, v: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + v) & 255;
  return b;
}

type Case = { name: string; bytes: number; run: (p: CryptoProvider) => () => void };

const key = fill(32, 1);
const ad = fill(16, 2);
const cases: Case[] = [
  {
    name: 'seal 64 B', bytes: 64, run: (p) => {
      const buf = fill(64 + 16, 3);
      let ctr = 0;
      return () => p.seal(key, ctr++, 0, null, 0, 0, buf, 0, 64, buf, 0);
    },
  },
  {
    name: 'seal 1420 B', bytes: 1420, run: (p) => {
      const buf = fill(1420 + 16, 3);
      let ctr = 0;
      return () => p.seal(key, ctr++, 0, null, 0, 0, buf, 0, 1420, buf, 0);
    },
  },
  {
    name: 'open 1420 B', bytes: 1420, run: (p) => {
      const pt = fill(1420, 4);
      const sealed = new Uint8Array(1420 + 16);
      p.seal(key, 7, 0, null, 0, 0, pt, 0, 1420, sealed, 0);
      const out = new Uint8Array(1420);
      return () => {
        if (!p.open(key, 7, 0, null, 0, 0, sealed, 0, 1420, out, 0)) throw new Error('open failed');
      };
    },
  },
  {
    name: 'seal+open 1420 B (pair)', bytes: 1420, run: (p) => {
      const buf = fill(1420 + 16, 5);
      let ctr = 0;
      return () => {
        p.seal(key, ctr, 0, ad, 0, 16, buf, 0, 1420, buf, 0);
        if (!p.open(key, ctr++, 0, ad, 0, 16, buf, 0, 1420, buf, 0)) throw new Error('open failed');
      };
    },
  },
  {
    name: 'blake2s 64 B', bytes: 64, run: (p) => {
      const data = fill(64, 6);
      const out = new Uint8Array(32);
      return () => {
        p.hashInit(32, null, 0);
        p.hashUpdate(data, 0, 64);
        p.hashFinal(out, 0);
      };
    },
  },
  {
    name: 'x25519 (shared secret)', bytes: 0, run: (p) => {
      const s = fill(32, 7);
      const pub = new Uint8Array(32);
      p.x25519Base(pub, fill(32, 8));
      const out = new Uint8Array(32);
      return () => {
        p.x25519(out, s, pub);
      };
    },
  },
  {
    name: 'x25519Base (public key)', bytes: 0, run: (p) => {
      const s = fill(32, 9);
      const out = new Uint8Array(32);
      return () => p.x25519Base(out, s);
    },
  },
];

const only = process.argv[3];
const providers = [createPortableProvider(), createNobleProvider()];
const pad = (s: string, n: number): string => (s.length >= n ? s : s + ' '.repeat(n - s.length));
console.log(`${pad('case', 26)}${pad('provider', 10)}${pad('ops/s', 12)}MB/s`);
for (const c of cases) {
  if (only && !c.name.startsWith(only)) continue;
  for (const p of providers) {
    const ops = measure(c.run(p));
    const mb = c.bytes ? ((ops * c.bytes) / 1e6).toFixed(1) : '-';
    console.log(`${pad(c.name, 26)}${pad(p.name, 10)}${pad(ops.toFixed(0), 12)}${mb}`);
  }
}
