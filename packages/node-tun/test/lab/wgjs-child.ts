/** Test-side handle on a wgjs-peer child process in a namespace. */
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import type { Lab } from './netns.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '../../../..');

export interface PeerEvent {
  event: string;
  [k: string]: unknown;
}

export class WgjsChild {
  events: PeerEvent[] = [];
  private waiters: Array<() => void> = [];
  private buf = '';
  constructor(readonly proc: ChildProcess, readonly publicKey: string) {}

  static async start(lab: Lab, ns: string, config: object, timeoutMs = 15_000): Promise<WgjsChild> {
    const proc = lab.spawnIn(ns, process.execPath, ['--import', 'tsx', path.join(here, 'wgjs-peer.ts'), JSON.stringify(config)], { cwd: repoRoot, stdio: ['pipe', 'pipe', 'pipe'] });
    const child = new WgjsChild(proc, '');
    let stderr = '';
    proc.stderr!.on('data', (d) => (stderr += d));
    proc.stdout!.on('data', (d: Buffer) => child.onData(d.toString()));
    const ready = await child.waitFor((e) => e.event === 'ready' || e.event === 'error', timeoutMs).catch((e) => {
      throw new Error(`${(e as Error).message}; stderr: ${stderr}`);
    });
    if (ready.event === 'error') throw new Error(`wgjs peer failed to start: ${ready.message}; stderr: ${stderr}`);
    (child as { publicKey: string }).publicKey = ready.publicKey as string;
    return child;
  }

  private onData(s: string): void {
    this.buf += s;
    let i: number;
    while ((i = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, i);
      this.buf = this.buf.slice(i + 1);
      try {
        this.events.push(JSON.parse(line) as PeerEvent);
      } catch {
        this.events.push({ event: 'log', line });
      }
    }
    for (const w of this.waiters.splice(0)) w();
  }

  send(cmd: object): void {
    this.proc.stdin!.write(JSON.stringify(cmd) + '\n');
  }

  /** Resolves with the first event (from the start) matching `pred`; bounded by timeoutMs. */
  waitFor(pred: (e: PeerEvent) => boolean, timeoutMs = 10_000): Promise<PeerEvent> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const e = this.events.find(pred);
        if (e) {
          clearTimeout(t);
          resolve(e);
          return true;
        }
        return false;
      };
      const t = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for a wgjs event; got: ${JSON.stringify(this.events.slice(-10))}`)), timeoutMs);
      const loop = (): void => {
        if (!check()) this.waiters.push(loop);
      };
      loop();
    });
  }

  async status(): Promise<{ peers: Array<{ rxBytes: number; txBytes: number; lastHandshakeWall: number; endpoint: string | null }>; drops: Record<string, number> }> {
    const n = this.events.length;
    this.send({ cmd: 'status' });
    const deadline = Date.now() + 5000;
    for (;;) {
      const e = this.events.slice(n).find((x) => x.event === 'status');
      if (e) return e.status as never;
      if (Date.now() > deadline) throw new Error('no status from wgjs peer');
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}
