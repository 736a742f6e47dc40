// wgjs:host-only
/**
 * `wgjs-flash monitor`: shows the device console, with `WGJS {json}` status lines rendered as
 * readable events, and keeps a status summary (last handshake, errors). On a TTY, keys typed go to
 * the REPL; Ctrl-] quits.
 */
import { parseStatusLine } from './protocol.js';
import type { Transport } from './transport.js';

/** Monitor options. */
export interface MonitorOptions {
  /** Stop after this many milliseconds (0 = until Ctrl-] or the port closes). */
  durationMs: number;
  /** Print lines as received, without rendering WGJS events. */
  raw: boolean;
  /** Forward keystrokes to the board (when stdin is a TTY). */
  interactive: boolean;
}

/** What the monitor saw. */
export interface MonitorSummary {
  lines: number;
  handshakes: number;
  errors: number;
  lastStatus: Record<string, unknown> | null;
}

function short(k: unknown): string {
  return typeof k === 'string' && k.length > 12 ? k.slice(0, 8) + '…' : String(k);
}

/** Renders a device event as one human line. */
export function describeEvent(ev: Record<string, unknown>): string {
  switch (ev.event) {
    case 'handshake':
      return `handshake with ${short(ev.peer)}${typeof ev.ms === 'number' ? ` (${ev.ms} ms)` : ''}`;
    case 'error':
      return `ERROR ${String(ev.message ?? '')}`;
    case 'status': {
      const rest = Object.entries(ev).filter(([k]) => k !== 'event').map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`);
      return `status ${rest.join(' ')}`;
    }
    default:
      return `${String(ev.event)} ${JSON.stringify(ev)}`;
  }
}

/** Streams the console of the board behind `t` to `out` until the duration ends or Ctrl-]. */
export async function runMonitor(
  t: Transport,
  out: { write(s: string): unknown },
  opts: MonitorOptions,
  stdin?: NodeJS.ReadStream,
): Promise<MonitorSummary> {
  const sum: MonitorSummary = { lines: 0, handshakes: 0, errors: 0, lastStatus: null };
  let buf = '';
  let finish!: () => void;
  const done = new Promise<void>((r) => (finish = r));
  t.onData((chunk) => {
    buf += chunk;
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i).replace(/\r$/, '');
      buf = buf.slice(i + 1);
      sum.lines++;
      const ev = parseStatusLine(line);
      if (ev) {
        if (ev.event === 'handshake') sum.handshakes++;
        if (ev.event === 'error') sum.errors++;
        if (ev.event === 'status') sum.lastStatus = ev;
      }
      const stamp = new Date().toISOString().slice(11, 23);
      out.write(opts.raw || !ev ? `${line}\n` : `${stamp} wgjs ${describeEvent(ev)}\n`);
    }
  });
  t.onClose(() => finish());
  let onKey: ((d: Buffer) => void) | null = null;
  if (opts.interactive && stdin?.isTTY) {
    stdin.setRawMode(true);
    stdin.resume();
    onKey = (d: Buffer) => {
      if (d.includes(0x1d)) return finish(); // Ctrl-]
      void t.write(d.toString('latin1'));
    };
    stdin.on('data', onKey);
  }
  const timer = opts.durationMs > 0 ? setTimeout(finish, opts.durationMs) : undefined;
  await done;
  clearTimeout(timer);
  if (onKey && stdin) {
    stdin.off('data', onKey);
    stdin.setRawMode(false);
    stdin.pause();
  }
  if (buf) out.write(buf + '\n');
  return sum;
}
