/**
 * Loader for the native data-path addon (packages/node-tun/native, built by `pnpm install`).
 * The addon is optional: {@link loadNative} returns null (and {@link nativeLoadError} says why)
 * when it is missing or cannot load, so callers can fall back (UDP → node:dgram) or fail with
 * a clear message (TUN).
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** Bytes per UDP address record: family, 0, port (BE), 16-byte address, scope id (LE). */
export const ADDR_SIZE = 24;

/** The addon's exports (see native/src/wgjs_native.c for the exact contracts). */
export interface NativeAddon {
  readonly ADDR_SIZE: number;
  readonly MAX_SLOTS: number;
  tunOpen(name: string, mtu?: number | null): { fd: number; name: string };
  /** Returns the lengths Int32Array that every callback receives. */
  tunStartReading(
    fd: number,
    slab: Uint8Array,
    slotSize: number,
    slots: number,
    cb: (count: number, lengths: Int32Array) => void,
  ): Int32Array;
  tunWrite(fd: number, buf: Uint8Array, off: number, len: number): number;
  tunClose(fd: number): number;
  udpOpen(
    family: 4 | 6,
    bindAddr: string | null,
    port: number,
    rcvbuf?: number | null,
    sndbuf?: number | null,
  ): { fd: number; port: number };
  udpStartReading(
    fd: number,
    slab: Uint8Array,
    slotSize: number,
    slots: number,
    addrSlab: Uint8Array,
    lengths: Int32Array,
    cb: (count: number) => void,
  ): number;
  udpSend(fd: number, buf: Uint8Array, off: number, len: number, addrs: Uint8Array, addrOff: number): number;
  udpSendBatch(
    fd: number,
    slab: Uint8Array,
    offsets: Int32Array,
    lengths: Int32Array,
    addrs: Uint8Array,
    count: number,
    start?: number,
  ): number;
  udpClose(fd: number): number;
  stopReading(fd: number): boolean;
  setReaderRef(fd: number, ref: boolean): void;
  encodeEndpoint(endpoint: string, sockFamily: 4 | 6, out: Uint8Array, off: number): number;
  formatEndpoint(rec: Uint8Array, off: number): string;
  copyBytes(dst: Uint8Array, dstOff: number, src: Uint8Array, srcOff: number, len: number): void;
}

/** Where the addon is expected (node-gyp's Release output); WGJS_NATIVE_PATH overrides it (tests, other builds). */
export const NATIVE_PATH =
  process.env.WGJS_NATIVE_PATH || fileURLToPath(new URL('../native/build/Release/wgjs_native.node', import.meta.url));

let addon: NativeAddon | null = null;
let loadError: string | null = null;
let tried = false;

/** The addon, loaded once; null if it is unavailable (see {@link nativeLoadError}). */
export function loadNative(): NativeAddon | null {
  if (tried) return addon;
  tried = true;
  if (process.platform !== 'linux') {
    loadError = `the native addon is Linux-only (platform is ${process.platform})`;
    return null;
  }
  try {
    const mod = createRequire(import.meta.url)(NATIVE_PATH) as NativeAddon;
    if (typeof mod.udpSendBatch !== 'function' || mod.ADDR_SIZE !== ADDR_SIZE) throw new Error('unexpected exports (stale build?)');
    addon = mod;
  } catch (err) {
    loadError =
      `cannot load ${NATIVE_PATH}: ${(err as Error).message.split('\n')[0]} ` +
      '(build it with `pnpm --filter @wgjs/node-tun build:native`; it needs python3, make, a C compiler and the Node headers)';
  }
  return addon;
}

/** Why {@link loadNative} returned null, or null if it loaded (or was not tried yet). */
export function nativeLoadError(): string | null {
  loadNative();
  return loadError;
}

/** An Error with `code` set, like Node's system errors. */
export function codedError(message: string, code: string): Error {
  const err = new Error(message) as Error & { code: string };
  err.code = code;
  return err;
}

const ERRNO_NAMES: Record<number, string> = {
  1: 'EPERM', 2: 'ENOENT', 5: 'EIO', 9: 'EBADF', 11: 'EAGAIN', 12: 'ENOMEM', 13: 'EACCES', 19: 'ENODEV',
  22: 'EINVAL', 77: 'EBADFD', 90: 'EMSGSIZE', 97: 'EAFNOSUPPORT', 101: 'ENETUNREACH', 105: 'ENOBUFS',
  111: 'ECONNREFUSED', 113: 'EHOSTUNREACH',
};

/** Name of a (negative or positive) Linux errno, e.g. -11 → "EAGAIN". */
export function errnoName(n: number): string {
  const v = n < 0 ? -n : n;
  return ERRNO_NAMES[v] ?? `errno ${v}`;
}
