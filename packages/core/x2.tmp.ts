const m = await import(process.argv[2]);
const k = Buffer.from('a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4', 'hex');
const u = Buffer.from('e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c', 'hex');
const o = new Uint8Array(32);
for (let i = 0; i < 200; i++) m.x25519(o, k, u);
let best = 1e9;
for (let r = 0; r < 5; r++) { const t0 = process.cpuUsage(); for (let i = 0; i < 300; i++) m.x25519(o, k, u); const dt = process.cpuUsage(t0); best = Math.min(best, (dt.user + dt.system) / 1000 / 300); }
console.log(process.argv[2], 'x25519 ms', best.toFixed(4));
