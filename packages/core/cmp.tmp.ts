// usage: tsx cmp.ts modA modB  — compares chacha20Xor and poly1305 from two module files
const [A, B] = [await import(process.argv[2]), await import(process.argv[3])];
const key = new Uint8Array(32).fill(7); const nonce = new Uint8Array(12); const buf = new Uint8Array(1420 + 32); buf.fill(3); const tag = new Uint8Array(16);
function time(f: () => void, n: number) { const t = process.cpuUsage(); for (let i = 0; i < n; i++) f(); const u = process.cpuUsage(t); return n / (u.user + u.system) * 1e6; }
const fs: Record<string, () => void> = {
  'A chacha': () => A.chacha20Xor(key, 0, nonce, 0, 1, buf, 0, 1420, buf, 0),
  'B chacha': () => B.chacha20Xor(key, 0, nonce, 0, 1, buf, 0, 1420, buf, 0),
  'A poly': () => A.poly1305(key, 0, buf, 0, 1420, tag, 0),
  'B poly': () => B.poly1305(key, 0, buf, 0, 1420, tag, 0),
  'A seal+open': () => { A.wgSeal(key, 1, 0, null, 0, 0, buf, 0, 1400, buf, 0); A.wgOpen(key, 1, 0, null, 0, 0, buf, 0, 1400, buf, 0); },
  'B seal+open': () => { B.wgSeal(key, 1, 0, null, 0, 0, buf, 0, 1400, buf, 0); B.wgOpen(key, 1, 0, null, 0, 0, buf, 0, 1400, buf, 0); },
};
const best: Record<string, number> = {};
for (const k in fs) time(fs[k], 5000);
for (let r = 0; r < 6; r++) for (const k in fs) best[k] = Math.max(best[k] ?? 0, time(fs[k], 10000));
for (const k in best) console.log(k.padEnd(14), best[k].toFixed(0));
