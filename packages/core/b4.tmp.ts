import { chacha20Xor, poly1305 } from './src/crypto/chacha20poly1305.ts';
import { chacha20 } from '@noble/ciphers/chacha.js';
import { poly1305 as np } from '@noble/ciphers/_poly1305.js';
const key = new Uint8Array(32).fill(7); const nonce = new Uint8Array(12); const buf = new Uint8Array(1420); const out = new Uint8Array(1420); const tag = new Uint8Array(16);
function time(name: string, f: () => void, n: number) { for (let i = 0; i < n / 5; i++) f(); let best = 0; for (let r = 0; r < 7; r++) { const t = process.cpuUsage(); for (let i = 0; i < n; i++) f(); const u = process.cpuUsage(t); best = Math.max(best, n / (u.user + u.system) * 1e6); } console.log(name.padEnd(16), best.toFixed(0), (best * 1420 / 1e6).toFixed(0), 'MB/s'); }
time('ours chacha', () => chacha20Xor(key, 0, nonce, 0, 1, buf, 0, 1420, out, 0), 20000);
time('noble chacha', () => chacha20(key, nonce, buf, out, 1), 20000);
time('ours poly', () => poly1305(key, 0, buf, 0, 1420, tag, 0), 20000);
time('noble poly', () => np(buf, key), 20000);
