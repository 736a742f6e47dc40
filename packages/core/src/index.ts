/**
 * @wgjs/core: a sans-I/O, allocation-free WireGuard engine.
 *
 * ```ts
 * const engine = new Engine({ privateKey, crypto: createPortableProvider(), random, wallTime: Date.now }, sink);
 * const peer = engine.addPeer({ publicKey, allowedIPs: ['10.0.0.2/32'], endpoint: '192.0.2.1:51820' });
 * engine.receive(now, datagram, 0, datagram.length, '192.0.2.1:51820');
 * engine.sendPacket(now, ipPacket, 0, ipPacket.length);
 * engine.tick(now); // at engine.nextDeadline()
 * ```
 */
export * from './constants.js';
export * from './crypto/provider.js';
export { createPortableProvider } from './crypto/portable.js';
export * from './engine.js';
export * from './drops.js';
export * from './errors.js';
export * from './bytes.js';
export * from './ipaddr.js';
export * from './ip.js';
export { AllowedIps } from './allowedips.js';
export { ReplayPool, REPLAY_WINDOW_SIZE } from './replay.js';
export { Noise, HandshakeState } from './noise.js';
export { TimestampGuard } from './tai64n.js';
export * from './keys.js';
export * from './probe.js';
export { AdaptiveKeepalive, type AdaptiveKeepaliveOptions, type AdaptiveStatus } from './keepalive.js';
export * from './cost.js';
