/**
 * A wgjs peer in library mode, run as a child process inside a test namespace
 * (`ip netns exec NS node --import tsx wgjs-peer.ts '<json config>'`). It speaks JSON lines:
 * commands on stdin, events on stdout. Used by the interop tests against wireguard-go.
 *
 * Commands: {"cmd":"ping","dst":ip,"count":n}, {"cmd":"udp","dst":ip,"port":n,"data":text},
 * {"cmd":"connect","peer":pub}, {"cmd":"peer","config":{...}} (add/update a peer),
 * {"cmd":"report","dst":ip,"port":n,"data":text} (report and sleep), {"cmd":"sleep","peer":pub}, {"cmd":"rebind","peer":pub,"newPort":bool} (the path changed:
 * optionally a new UDP socket, then a handshake at once, past the one-per-REKEY_TIMEOUT limit),
 * {"cmd":"status"}, {"cmd":"quit"}.
 * Events: ready, handshake, pong, udp, status, error.
 *
 * Config extras for NAT scenarios: `clockStartMs` makes the device's wall clock its uptime
 * (clockStartMs + ms since the process started), as on a device without a real-time clock;
 * `timestampFile` persists the handshake timestamp there after each handshake and (unless
 * `restoreTimestamp` is false) restores it at start.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { WgDevice, type DevicePeerConfig } from '../../src/device.js';

interface Config {
  privateKey: string;
  listenPort: number;
  bindAddress?: string;
  address: string[];
  peers: DevicePeerConfig[];
  clockStartMs?: number;
  timestampFile?: string;
  restoreTimestamp?: boolean;
  timeScale?: number;
}

const out = (o: object): void => {
  process.stdout.write(JSON.stringify(o) + '\n');
};

async function main(): Promise<void> {
  const cfg = JSON.parse(process.argv[2]) as Config;
  const start = cfg.clockStartMs;
  const wallTime = start === undefined ? undefined : () => start + performance.now();
  const dev = await WgDevice.create({ privateKey: cfg.privateKey, listenPort: cfg.listenPort, bindAddress: cfg.bindAddress, address: cfg.address, wallTime, timeScale: cfg.timeScale });
  const tsFile = cfg.timestampFile;
  if (tsFile && cfg.restoreTimestamp !== false && existsSync(tsFile)) dev.restoreTimestamp(readFileSync(tsFile));
  // Registered before addPeer, which may already start a handshake.
  dev.on('initiation', () => {
    if (tsFile) writeFileSync(tsFile, dev.saveTimestamp());
  });
  dev.on('handshake', (peer: string) => out({ event: 'handshake', peer }));
  for (const p of cfg.peers) await dev.addPeer(p);
  dev.on('pong', (p: { src: string; seq: number }) => out({ event: 'pong', src: p.src, seq: p.seq }));
  dev.on('udp', (m: { src: string; srcPort: number; dstPort: number; payload: Uint8Array }) =>
    out({ event: 'udp', src: m.src, srcPort: m.srcPort, dstPort: m.dstPort, data: Buffer.from(m.payload).toString() }));
  dev.on('error', (e: Error) => out({ event: 'error', message: e.message }));
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    let c: { cmd: string; dst?: string; count?: number; port?: number; data?: string; peer?: string; newPort?: boolean };
    try {
      c = JSON.parse(line);
    } catch {
      out({ event: 'error', message: 'bad command' });
      return;
    }
    if (c.cmd === 'ping') {
      const n = c.count ?? 1;
      for (let i = 0; i < n; i++) setTimeout(() => dev.ping(c.dst!, 77, i + 1), i * 200);
    } else if (c.cmd === 'udp') {
      dev.sendUdp(c.dst!, c.port!, Buffer.from(c.data ?? ''), c.port!);
    } else if (c.cmd === 'connect') {
      dev.connect(c.peer!);
    } else if (c.cmd === 'rebind') {
      void (c.newPort ? dev.setListenPort(0) : Promise.resolve()).then(() => {
        dev.connect(c.peer!, true);
        out({ event: 'rebound', port: dev.listenPort });
      }, (e: Error) => out({ event: 'error', message: e.message }));
    } else if (c.cmd === 'report') {
      out({ event: 'reported', result: dev.reportUdp(c.dst!, c.port!, Buffer.from(c.data ?? ''), c.port!) });
    } else if (c.cmd === 'sleep') {
      dev.sleepPeer(c.peer!);
      out({ event: 'asleep' });
    } else if (c.cmd === 'peer') {
      // Add or update a peer (e.g. turn its keepalive on later).
      void dev.addPeer((c as unknown as { config: DevicePeerConfig }).config).then(
        () => out({ event: 'peer' }), (e: Error) => out({ event: 'error', message: e.message }));
    } else if (c.cmd === 'status') {
      out({ event: 'status', status: dev.status() });
    } else if (c.cmd === 'quit') {
      void dev.close().then(() => process.exit(0));
    }
  });
  rl.on('close', () => void dev.close().then(() => process.exit(0)));
  process.on('SIGTERM', () => void dev.close().then(() => process.exit(0)));
  out({ event: 'ready', publicKey: dev.publicKey, port: dev.listenPort });
}

main().catch((e) => {
  out({ event: 'error', message: (e as Error).message });
  process.exit(1);
});
