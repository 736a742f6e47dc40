/**
 * {@link UapiTarget} for a library-mode {@link WgDevice}: `wg show`/`wg set`/`wg setconf`/
 * `wg syncconf` on a wgjs interface.
 *
 * ```ts
 * const dev = await WgDevice.create({ privateKey, listenPort: 51820 });
 * const uapi = await serveUapi(dev, 'wg0'); // /var/run/wireguard/wg0.sock
 * // later
 * await uapi.close();
 * await dev.close();
 * ```
 *
 * A `set` request is validated and planned in full before anything changes (see planUapiSet),
 * then applied at once, so a request that fails leaves the device as it was.
 */
import { createPortableProvider, publicKeyOf, wgError, type PeerStatus } from '@wgjs/core';
import type { WgDevice } from './device.js';
import {
  planUapiSet, UapiServer, type UapiDeviceState, type UapiOp, type UapiPlan, type UapiServerOptions, type UapiTarget,
} from './uapi.js';

const EMPTY = new Uint8Array(0);

/**
 * A peer's byte counters. Engine.peerStatus returns numbers (rxBytes/txBytes) while its
 * PeerStatus type currently declares one-element Float64Arrays (rx/tx): read either.
 */
function counters(s: PeerStatus): { rx: number; tx: number } {
  const x = s as unknown as { rxBytes?: number; txBytes?: number; rx?: Float64Array; tx?: Float64Array };
  return { rx: x.rxBytes ?? (x.rx ? x.rx[0] : 0), tx: x.txBytes ?? (x.tx ? x.tx[0] : 0) };
}

/** Adapts a WgDevice to the UAPI server. */
export class WgDeviceUapi implements UapiTarget {
  readonly device: WgDevice;
  /**
   * The fwmark set over UAPI. Stored and reported (so `wg showconf` round-trips) but not
   * applied: node:dgram cannot set SO_MARK. Setting a non-zero mark emits a device 'warning'.
   */
  fwmark = 0;
  /** False after `private_key` was set to all zeros (wireguard-go then reports no key). */
  private hasPrivateKey = true;
  private crypto = createPortableProvider();

  constructor(device: WgDevice) {
    this.device = device;
  }

  get(): UapiDeviceState {
    const e = this.device.engine;
    return {
      privateKey: this.hasPrivateKey ? e.privateKeyCopy() : null,
      listenPort: this.device.listenPort,
      fwmark: this.fwmark,
      peers: e.peerIds().map((id) => {
        const s = e.peerStatus(id);
        const n = counters(s);
        return {
          publicKey: s.publicKey,
          presharedKey: e.presharedKeyOf(id),
          endpoint: s.endpoint,
          lastHandshakeMs: s.lastHandshakeWall,
          txBytes: n.tx,
          rxBytes: n.rx,
          // UAPI has no "auto": the adaptive keepalive's current interval is the closest truth.
          persistentKeepalive: s.adaptive ? Math.max(1, Math.round(s.adaptive.interval / 1000)) : s.persistentKeepalive,
          allowedIPs: s.allowedIPs,
        };
      }),
    };
  }

  async set(ops: UapiOp[]): Promise<void> {
    const dev = this.device;
    const e = dev.engine;
    const derive = (k: Uint8Array): Uint8Array => publicKeyOf(this.crypto, k);
    // The engine's tables are fixed at construction (wireguard-go's grow): refuse what does not
    // fit before changing anything.
    const fits = (p: UapiPlan): UapiPlan => {
      if (p.peerCount > e.maxPeers) {
        throw wgError('ENOSPC', `${p.peerCount} peers requested, but this device holds at most ${e.maxPeers} (maxPeers)`);
      }
      if (p.allowedIPCount > e.allowedIPs.capacity) {
        throw wgError('ENOSPC', `${p.allowedIPCount} allowed IPs requested, but this device holds at most ${e.allowedIPs.capacity}`);
      }
      return p;
    };
    let plan = fits(planUapiSet(this.get(), ops, derive));
    if (plan.listenPort !== undefined && plan.listenPort !== dev.listenPort) {
      // The only step that can fail for reasons outside the request: do it first. wireguard-go
      // answers every bind failure with EADDRINUSE, and so do we (the message keeps the cause).
      try {
        await dev.setListenPort(plan.listenPort);
      } catch (err) {
        throw wgError('EADDRINUSE', `cannot listen on UDP port ${plan.listenPort}: ${(err as Error).message}`);
      }
      // Traffic may have moved things (roaming) while we waited: plan on the current state.
      plan = fits(planUapiSet(this.get(), ops, derive));
    }
    if (plan.fwmark !== undefined && plan.fwmark !== this.fwmark) {
      this.fwmark = plan.fwmark;
      if (plan.fwmark !== 0) dev.emit('warning', `fwmark ${plan.fwmark} recorded but not applied: wgjs cannot mark its UDP socket`);
    }
    if (plan.privateKey !== undefined) {
      e.setPrivateKey(plan.privateKey ?? new Uint8Array(32));
      this.hasPrivateKey = plan.privateKey !== null;
    }
    for (const k of plan.remove) dev.removePeer(k);
    // Prefixes leave their old owners before anyone gets them: the table never overflows and
    // no insert silently steals a prefix the plan moves elsewhere.
    for (const c of plan.update) {
      const id = e.findPeer(c.publicKey);
      for (const a of c.removeAllowedIPs) e.removeAllowedIP(id, a);
    }
    for (const c of plan.update) {
      const id = e.findPeer(c.publicKey);
      // An explicit keepalive from `wg set` replaces an adaptive one.
      e.updatePeer(id, {
        presharedKey: c.presharedKey, persistentKeepalive: c.persistentKeepalive,
        adaptiveKeepalive: c.persistentKeepalive === undefined ? undefined : null,
      });
      for (const a of c.addAllowedIPs) e.addAllowedIP(id, a);
      // Through the device, so a hostname endpoint it re-resolves is forgotten. IP literals
      // resolve without I/O: this await does not let packets in mid-way.
      if (c.endpoint !== undefined) await dev.addPeer({ publicKey: c.publicKey, endpoint: c.endpoint });
    }
    for (const p of plan.add) {
      e.addPeer({
        publicKey: p.publicKey, presharedKey: p.presharedKey, endpoint: p.endpoint,
        persistentKeepalive: p.persistentKeepalive, allowedIPs: p.allowedIPs,
      });
    }
    const now = dev.now();
    for (const k of plan.keepalive) {
      const id = e.findPeer(k);
      // As wireguard-go's SendKeepalive: a keepalive now, or a handshake first if no session.
      if (id >= 0 && e.peerStatus(id).endpoint !== null) e.sendToPeer(now, id, EMPTY, 0, 0);
    }
    dev.schedule();
  }
}

/** Serves the UAPI for `device` on `/var/run/wireguard/<iface>.sock` (see UapiServer.listen). */
export function serveUapi(device: WgDevice, iface: string, opts?: UapiServerOptions): Promise<UapiServer> {
  return UapiServer.listen(iface, new WgDeviceUapi(device), opts);
}
