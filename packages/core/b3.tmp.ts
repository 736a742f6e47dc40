import { chacha20Xor, poly1305, wgSeal, wgOpen } from './src/crypto/chacha20poly1305.ts';
const key = new Uint8Array(32).fill(7); const nonce = new Uint8Array(12); const buf = new Uint8Array(1420 + 32); buf.fill(3); const tag = new Uint8Array(16);
function time(name: string, f: () => void, n: number) { for (let i = 0; i < n / 5; i++) f(); let best = 0; for (let r = 0; r < 5; r++) { const t = process.cpuUsage(); for (let i = 0; i < n; i++) f(); const u = process.cpuUsage(t); best = Math.max(best, n / (u.user + u.system) * 1e6); } console.log(name.padEnd(16), best.toFixed(0)); }
const which = process.argv[2] ?? 'all';
if (which === 'all' || which === 'c') time('chacha 1420', () => chacha20Xor(key, 0, nonce, 0, 1, buf, 0, 1420, buf, 0), 20000);
if (which === 'all' || which === 'p') time('poly 1420', () => poly1305(key, 0, buf, 0, 1420, tag, 0), 20000);
if (which === 'all' || which === 's') time('seal 1420', () => wgSeal(key, 1, 0, null, 0, 0, buf, 0, 1420, buf, 0), 20000);
if (which === 'all' || which === 'o') { wgSeal(key, 1, 0, null, 0, 0, buf, 0, 1420, buf, 0); time('open 1420', () => wgOpen(key, 1, 0, null, 0, 0, buf, 0, 1420, tag.length ? buf : buf, 0), 20000); }
const ad = new Uint8Array(16).fill(2);
if (which === 'pair') time('pair noad', () => { wgSeal(key, 1, 0, null, 0, 0, buf, 0, 1420, buf, 0); wgOpen(key, 1, 0, null, 0, 0, buf, 0, 1420, buf, 0); }, 20000);
if (which === 'pairad') time('pair ad', () => { wgSeal(key, 1, 0, ad, 0, 16, buf, 0, 1420, buf, 0); if (!wgOpen(key, 1, 0, ad, 0, 16, buf, 0, 1420, buf, 0)) throw 1; }, 20000);
if (which === 'so') { time('seal', () => wgSeal(key, 1, 0, null, 0, 0, buf, 0, 1420, buf, 0), 20000); wgSeal(key, 1, 0, null, 0, 0, buf, 0, 1420, buf, 0); const b2 = buf.slice(); time('open ok', () => { buf.set(b2); if (!wgOpen(key, 1, 0, null, 0, 0, buf, 0, 1420, buf, 0)) throw 1; }, 20000); }
