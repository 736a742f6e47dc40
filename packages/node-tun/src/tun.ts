/**
 * A Linux TUN device (IFF_TUN | IFF_NO_PI: raw IPv4/IPv6 packets, no header) through the
 * native addon. Reading drains up to `slots` packets per wake-up into one preallocated slab
 * and calls the handler once per batch; writing is a synchronous write(2) that drops (and
 * counts) a packet when the kernel queue is full. Addresses, routes and link state are not
 * set here: run `ip` for that (the device is created down).
 *
 * ```ts
 * const tun = TunDevice.open('wg0', 1420);
 * tun.onPackets((slab, offsets, lengths, count) => {
 *   for (let i = 0; i < count; i++) engine.sendPacket(now, slab, offsets[i], lengths[i]);
 * });
 * tun.write(packet, 0, packet.length);
 * ```
 */
import { codedError, errnoName, loadNative, nativeLoadError, type NativeAddon } from './native.js';

/**
 * Called once per batch: packet i is `slab[offsets[i], offsets[i] + lengths[i])`, i < count.
 * All four are reused for the next batch: copy what must outlive the call.
 */
export type PacketBatchHandler = (slab: Uint8Array, offsets: Int32Array, lengths: Int32Array, count: number) => void;

/** Options for {@link TunDevice.open}. */
export interface TunOptions {
  /** Packets read per wake-up at most (default 64, at most 1024). */
  slots?: number;
  /**
   * Bytes per slot (default: max(mtu, 2048) rounded up to 64). A packet longer than this (the
   * MTU was raised behind our back) is dropped and counted in `rxTruncated`.
   */
  slotSize?: number;
}

/** Device counters. */
export interface TunStats {
  rxPackets: number;
  rxBytes: number;
  rxBatches: number;
  rxTruncated: number;
  txPackets: number;
  txBytes: number;
  /** Writes dropped because the kernel queue was full (EAGAIN). */
  txDropped: number;
  /** Other write errors (e.g. EIO while the link is down); the last one is in lastTxError. */
  txErrors: number;
  lastTxError: string | null;
}

const RX_PACKETS = 0;
const RX_BYTES = 1;
const RX_BATCHES = 2;
const RX_TRUNCATED = 3;
const TX_PACKETS = 4;
const TX_BYTES = 5;
const TX_DROPPED = 6;
const TX_ERRORS = 7;

const EAGAIN = -11;

/** Throws the error TUN users see when the addon is missing. */
function requireAddon(): NativeAddon {
  const addon = loadNative();
  if (!addon) {
    throw codedError(
      `TUN unavailable: the native addon of @wgjs/node-tun did not load: ${nativeLoadError()}. ` +
        'Library mode (WgDevice) works without it.',
      'ENOTSUP',
    );
  }
  return addon;
}

/** An open TUN device. */
export class TunDevice {
  /** The interface name the kernel gave (differs from the request for patterns like "tun%d"). */
  readonly name: string;
  readonly fd: number;
  /** The MTU set at open (0: left as the kernel default). */
  readonly mtu: number;
  private addon: NativeAddon;
  private closed: boolean;
  private refed: boolean;
  private handler: PacketBatchHandler | null;
  private errorHandler: ((err: Error) => void) | null;
  private slots: number;
  private slotSize: number;
  private slab: Uint8Array;
  private offsets: Int32Array;
  private lengths: Int32Array | null;
  private counters: Float64Array;
  private lastTxError: string | null;
  private onBatch: (count: number, lengths: Int32Array) => void;

  private constructor(addon: NativeAddon, fd: number, name: string, mtu: number, opts: TunOptions) {
    this.addon = addon;
    this.fd = fd;
    this.name = name;
    this.mtu = mtu;
    this.closed = false;
    this.refed = true;
    this.handler = null;
    this.errorHandler = null;
    this.slots = Math.max(1, Math.min(opts.slots ?? 64, addon.MAX_SLOTS));
    this.slotSize = opts.slotSize ?? Math.ceil(Math.max(mtu, 2048) / 64) * 64;
    this.slab = new Uint8Array(this.slots * this.slotSize);
    this.offsets = new Int32Array(this.slots);
    this.lengths = null;
    this.counters = new Float64Array(8);
    this.lastTxError = null;
    this.onBatch = (count: number, lengths: Int32Array): void => this.dispatch(count, lengths);
  }

  /**
   * Creates (or attaches to a persistent) TUN device `name` (at most 15 characters; "tun%d"
   * lets the kernel pick) and sets its MTU when given. Needs root or CAP_NET_ADMIN. Throws
   * with code ENOENT (no /dev/net/tun), EPERM, EBUSY (name in use) or ENOTSUP (no addon).
   */
  static open(name: string, mtu?: number, opts: TunOptions = {}): TunDevice {
    const addon = requireAddon();
    const r = addon.tunOpen(name, mtu ?? null);
    return new TunDevice(addon, r.fd, r.name, mtu ?? 0, opts);
  }

  /** Sets the batch handler and starts reading. */
  onPackets(cb: PacketBatchHandler): void {
    if (this.closed) throw codedError(`TUN ${this.name} is closed`, 'EBADF');
    const first = this.handler === null;
    this.handler = cb;
    if (first) {
      this.lengths = this.addon.tunStartReading(this.fd, this.slab, this.slotSize, this.slots, this.onBatch);
      if (!this.refed) this.addon.setReaderRef(this.fd, false);
    }
  }

  /** Called with a read error (the reader has then stopped). Without a handler it is printed. */
  onError(cb: (err: Error) => void): void {
    this.errorHandler = cb;
  }

  private dispatch(count: number, lengths: Int32Array): void {
    const c = this.counters;
    if (count < 0) {
      const err = codedError(`TUN ${this.name}: read failed: ${errnoName(count)}; reading stopped`, errnoName(count));
      if (this.errorHandler) this.errorHandler(err);
      else if (!this.closed) console.error(`[wgjs] ${err.message}`);
      return;
    }
    // Compact: offsets of the packets that fit their slot (all of them, normally).
    const offsets = this.offsets;
    const slotSize = this.slotSize;
    let n = 0;
    for (let i = 0; i < count; i++) {
      const len = lengths[i];
      if (len < 0) {
        c[RX_TRUNCATED]++;
        continue;
      }
      offsets[n] = i * slotSize;
      lengths[n] = len;
      c[RX_BYTES] += len;
      n++;
    }
    c[RX_PACKETS] += n;
    c[RX_BATCHES]++;
    if (n > 0) this.handler!(this.slab, offsets, lengths, n);
  }

  /**
   * Writes one IP packet `buf[off, off+len)`. Returns true if the kernel took it, false if it
   * was dropped (queue full) or failed (counted in {@link stats}).
   */
  write(buf: Uint8Array, off: number, len: number): boolean {
    if (this.closed) return false;
    const r = this.addon.tunWrite(this.fd, buf, off, len);
    if (r >= 0) {
      this.counters[TX_PACKETS]++;
      this.counters[TX_BYTES] += len;
      return true;
    }
    if (r === EAGAIN) this.counters[TX_DROPPED]++;
    else {
      this.counters[TX_ERRORS]++;
      this.lastTxError = errnoName(r);
    }
    return false;
  }

  /** Whether the reader keeps the event loop alive (default yes, once reading). */
  ref(): void {
    this.refed = true;
    if (!this.closed) this.addon.setReaderRef(this.fd, true);
  }

  unref(): void {
    this.refed = false;
    if (!this.closed) this.addon.setReaderRef(this.fd, false);
  }

  stats(): TunStats {
    const c = this.counters;
    return {
      rxPackets: c[RX_PACKETS],
      rxBytes: c[RX_BYTES],
      rxBatches: c[RX_BATCHES],
      rxTruncated: c[RX_TRUNCATED],
      txPackets: c[TX_PACKETS],
      txBytes: c[TX_BYTES],
      txDropped: c[TX_DROPPED],
      txErrors: c[TX_ERRORS],
      lastTxError: this.lastTxError,
    };
  }

  /** Stops reading and closes the fd (a non-persistent device then disappears). Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.addon.tunClose(this.fd);
  }
}
