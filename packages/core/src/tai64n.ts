/**
 * TAI64N timestamps for handshake initiations (whitepaper 5.1), and the guard that keeps them
 * strictly increasing. A responder rejects an initiation whose timestamp is not greater than the
 * last one it accepted from that peer, so a node whose wall clock went backwards (no RTC, reboot,
 * NTP step) must never send a smaller one: it continues from the last value it sent, which the
 * application can persist (`TimestampGuard.save`) and restore after a reboot.
 */
import { compareBE, writeU32BE } from './bytes.js';

/** 2^62 + 10: the TAI64 label of the Unix epoch (as wireguard-go and the kernel use). */
const TAI64_HIGH = 0x40000000;
const TAI64_LOW_OFFSET = 10;
/**
 * Nanoseconds are rounded down to a multiple of 2^24 ns (~16.8 ms), as the kernel and wireguard-go
 * do, so the timestamp does not leak fine-grained timing; it also bounds the initiation rate a
 * responder will accept to about 60 per second.
 */
const WHITENER = 0x1000000;

/** Adds one whitening step to the nanosecond field, carrying into the seconds. */
function incrementNanos(t: Uint8Array): void {
  let nanos = ((t[8] << 24) | (t[9] << 16) | (t[10] << 8) | t[11]) >>> 0;
  nanos += WHITENER;
  if (nanos >= 1e9) {
    nanos = 0;
    // Carry one second into the 64-bit big-endian seconds.
    for (let i = 7; i >= 0; i--) {
      t[i] = (t[i] + 1) & 255;
      if (t[i] !== 0) break;
    }
  }
  writeU32BE(t, 8, nanos);
}

export class TimestampGuard {
  /** The last timestamp produced (12 bytes). */
  readonly last: Uint8Array;
  private next: Uint8Array;
  constructor() {
    this.last = new Uint8Array(12);
    this.next = new Uint8Array(12);
  }

  /**
   * Writes a TAI64N timestamp for wall-clock time `wallMs` (ms since the Unix epoch) into
   * out[off, off+12), never smaller than or equal to the previous one.
   */
  stamp(wallMs: number, out: Uint8Array, off: number): void {
    const n = this.next;
    const secs = Math.floor(wallMs / 1000);
    const nanos = Math.floor(((wallMs - secs * 1000) * 1e6) / WHITENER) * WHITENER;
    writeU32BE(n, 0, TAI64_HIGH + Math.floor((secs + TAI64_LOW_OFFSET) / 4294967296));
    writeU32BE(n, 4, (secs + TAI64_LOW_OFFSET) >>> 0);
    writeU32BE(n, 8, nanos);
    if (compareBE(n, 0, this.last, 0, 12) <= 0) {
      // Clock went backwards or did not advance: continue one whitening step after the last value.
      n.set(this.last);
      incrementNanos(n);
    }
    this.last.set(n);
    for (let i = 0; i < 12; i++) out[off + i] = n[i];
  }

  /** Copies of the last value, for persisting across reboots. */
  save(): Uint8Array {
    const out = new Uint8Array(12);
    out.set(this.last);
    return out;
  }

  /** Restores a persisted value; later stamps are greater than it. Ignores a smaller value. */
  restore(saved: Uint8Array): void {
    if (saved.length !== 12) return;
    if (compareBE(saved, 0, this.last, 0, 12) > 0) this.last.set(saved);
  }
}
