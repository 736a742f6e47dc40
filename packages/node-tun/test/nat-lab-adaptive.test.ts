/**
 * The NAT lab, adaptive keepalive (issue #5): learning the conntrack UDP timeout (2, 5, 10, 20 s)
 * with the probe responder, recovery from a server restart and from the captured stuck-rekey
 * state, and idle byte counts checked against the cost model — against wireguard-go and `wgjs up`.
 * The scenarios are in lab/nat-scenarios.ts; tests run concurrently, each in its own namespaces.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Lab, requireTools } from './lab/netns.js';
import { ADAPTIVE_SCENARIOS, SERVER_KINDS, idleCostModel, resultsTable, type ScenarioResult } from './lab/nat-scenarios.js';

const skip = requireTools('wireguard-go', 'wg', 'nft', 'conntrack', 'ping');
if (skip) console.warn(`[nat-lab-adaptive.test] skipping: ${skip}`);

/** Per-scenario checks. */
function check(r: ScenarioResult): void {
  if (r.name.startsWith('adaptive-learning-')) {
    // ±10 % in at most two probe cycles (doubling, then bisection), bounded probe count.
    expect(Math.abs(r.metrics.errorPct!), r.notes).toBeLessThanOrEqual(10);
    expect(r.metrics.intervalMs!).toBeLessThan(r.metrics.tauMs!);
    expect(r.metrics.probes!).toBeLessThanOrEqual(Math.ceil(Math.log2(r.metrics.tauMs! / 2000)) + 5);
    expect(r.recoveryMs, 'the server could not reach the idle device').not.toBeNull();
    expect(r.recoveryMs!).toBeLessThan(1000);
  } else if (r.name === 'nat-shortens') {
    expect(Math.abs(r.metrics.estimateMs! - 2000) / 2000, r.notes).toBeLessThanOrEqual(0.1);
    expect(r.metrics.pingAfterMs, 'the server could not reach the idle device after relearning').not.toBeNull();
  } else if (r.name === 'server-restart-auto') {
    // One verification period (5 s) + the probe's wait (KEEPALIVE_TIMEOUT + 1 s) + a handshake.
    expect(r.recoveryMs, r.notes).not.toBeNull();
    expect(r.recoveryMs!).toBeLessThan(5000 + 11_000 + 3000);
  } else if (r.name === 'server-restart-stock-scaled-10x') {
    // A stock device notices nothing until its own rekey: REKEY_AFTER_TIME after its session
    // began (12 s at 10×) plus up to one keepalive interval (2.5 s); not before ~half of that.
    expect(r.recoveryMs, r.notes).not.toBeNull();
    expect(r.recoveryMs!).toBeGreaterThan(4000);
    expect(r.recoveryMs!).toBeLessThan(12_000 + 2500 + 2000);
  } else if (r.name.startsWith('stuck-rekey-')) {
    expect(r.recoveryMs, r.notes).not.toBeNull();
    expect(r.recoveryMs!).toBeLessThan(25_000);
  } else if (r.name.startsWith('sleep-and-wake-')) {
    // The 13-byte report: 28 + 13 inner bytes padded to 48, + 32 → 80, + 28 outer = 108 B; after a
    // sleep past REKEY_AFTER_TIME − KEEPALIVE_TIMEOUT an initiation (176 B) and its response (120 B) too.
    const long = r.name !== 'sleep-and-wake-5s';
    expect(r.metrics.reportUp, r.notes).toBe(long ? 176 + 108 : 108);
    expect(r.metrics.reportDown).toBe(long ? 120 : 0);
    expect(r.metrics.afterUp, 'the device sent something after its report').toBe(0);
    expect(r.metrics.asleep).toBe(1);
  } else if (r.name.startsWith('idle-cost-')) {
    // The router's count matches the cost model for the same policy and window (±2 keepalives).
    const model = idleCostModel(r);
    expect(Math.abs(r.upBytes - model.up), `${r.notes}: measured ${r.upBytes} B up, model ${model.up}`).toBeLessThanOrEqual(120);
    // Nothing comes back to an idle device: keepalives draw no answer.
    expect(r.downBytes).toBe(model.down);
  }
}

const results: ScenarioResult[] = [];
afterAll(() => {
  if (results.length > 0) console.log(`\nNAT lab (adaptive keepalive) results:\n${resultsTable(results)}\n`);
});

describe.skipIf(skip !== null).concurrent('NAT lab: adaptive keepalive', () => {
  for (const s of ADAPTIVE_SCENARIOS) {
    for (const server of s.servers ?? SERVER_KINDS) {
      it(`${s.name} against ${server}`, { timeout: 400_000 }, async () => {
        const lab = new Lab();
        try {
          const r = await s.run({ server, lab });
          results.push(r);
          check(r);
        } finally {
          await lab.cleanup();
        }
      });
    }
  }
});
