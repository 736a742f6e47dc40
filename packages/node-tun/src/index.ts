/** @wgjs/node-tun: the Node host peer — library mode (`WgDevice`), wg-quick configs, the `wg` UAPI. */
export * from './device.js';
export * from './config.js';
export * from './uapi.js';
export * from './uapi-device.js';
