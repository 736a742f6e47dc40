import { wgSeal, wgOpen } from './src/crypto/chacha20poly1305.ts';
const key = new Uint8Array(32).fill(7); const buf = new Uint8Array(1420 + 16); const out = new Uint8Array(1436); const ad = new Uint8Array(16);
function time(name: string, f: () => void, n: number) { for (let i = 0; i < n / 5; i++) f(); let best = 0; for (let r = 0; r < 7; r++) { const t = process.cpuUsage(); for (let i = 0; i < n; i++) f(); const u = process.cpuUsage(t); best = Math.max(best, n / (u.user + u.system) * 1e6); } console.log(name.padEnd(16), best.toFixed(0)); }
const w = process.argv[2];
let ctr = 0;
if (w === 'a') time('pair inplace ad', () => { wgSeal(key, ctr, 0, ad, 0, 16, buf, 0, 1420, buf, 0); if (!wgOpen(key, ctr++, 0, ad, 0, 16, buf, 0, 1420, buf, 0)) throw 1; }, 10000);
if (w === 'b') time('pair oop noad', () => { wgSeal(key, ctr, 0, null, 0, 0, buf, 0, 1420, out, 0); if (!wgOpen(key, ctr++, 0, null, 0, 0, out, 0, 1420, buf, 0)) throw 1; }, 10000);
if (w === 'c') time('seal only', () => { wgSeal(key, ctr++, 0, ad, 0, 16, buf, 0, 1420, buf, 0); }, 10000);
if (w === 'd') { wgSeal(key, 0, 0, ad, 0, 16, buf, 0, 1420, out, 0); time('open only', () => { if (!wgOpen(key, 0, 0, ad, 0, 16, out, 0, 1420, buf, 0)) throw 1; }, 10000); }
