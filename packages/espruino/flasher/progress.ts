// wgjs:host-only
/** A one-line upload progress bar on a TTY stream; silent elsewhere (logs, pipes, CI). */
export class ProgressBar {
  private last = '';
  private shown = false;
  constructor(private readonly out: { write(s: string): unknown; isTTY?: boolean }, private readonly enabled: boolean) {}

  /** Redraws the bar (bytes done of total, percent, current file). */
  update(done: number, total: number, file: string): void {
    if (!this.enabled || !this.out.isTTY || total <= 0) return;
    const width = 30;
    const frac = Math.min(1, done / total);
    const fill = Math.round(frac * width);
    const line = `[${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${String(Math.floor(frac * 100)).padStart(3)}% ${(done / 1024).toFixed(1)}/${(total / 1024).toFixed(1)} KiB ${file}`;
    if (line === this.last) return;
    this.last = line;
    this.shown = true;
    this.out.write(`\r\x1b[K${line}`);
  }

  /** Removes the bar so the next message starts on a clean line. */
  clear(): void {
    if (!this.shown) return;
    this.out.write('\r\x1b[K');
    this.shown = false;
    this.last = '';
  }
}
