#!/usr/bin/env node
// Builds the native addon (wgjs_native.node) with node-gyp against the headers of the Node that
// runs this script. Run by `pnpm install` (the `install` script of @wgjs/node-tun) and by
// `pnpm --filter @wgjs/node-tun build:native`.
//
// It never downloads anything: node-gyp only fetches headers when it has no --nodedir, and this
// script always passes one (or fails, naming what is missing). Set WGJS_SKIP_NATIVE=1 to skip the
// build; then the TUN path is unavailable and UDP falls back to node:dgram.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const log = (msg) => console.log(`[@wgjs/node-tun native] ${msg}`);

if (process.env.WGJS_SKIP_NATIVE === '1') {
  log('WGJS_SKIP_NATIVE=1: not building the addon (TUN unavailable, UDP uses node:dgram)');
  process.exit(0);
}
if (process.platform !== 'linux') {
  log(`platform ${process.platform}: the addon is Linux-only, not building (UDP uses node:dgram)`);
  process.exit(0);
}

/** Version in <dir>/include/node/node_version.h, or null if the headers are not there. */
function headerVersion(dir) {
  const h = join(dir, 'include', 'node', 'node_version.h');
  if (!existsSync(h) || !existsSync(join(dir, 'include', 'node', 'node_api.h'))) return null;
  const text = readFileSync(h, 'utf8');
  const part = (name) => new RegExp(`#define\\s+NODE_${name}_VERSION\\s+(\\d+)`).exec(text)?.[1];
  return `${part('MAJOR')}.${part('MINOR')}.${part('PATCH')}`;
}

// The running node's own prefix first (e.g. /usr for /usr/bin/node from the nodejs .deb,
// /usr/local for the official tarball), then an explicit npm_config_nodedir, then the prefix
// node was configured with.
const candidates = [
  dirname(dirname(process.execPath)),
  process.env.npm_config_nodedir,
  process.config.variables.node_prefix,
].filter((d) => typeof d === 'string' && d !== '');
let nodedir = null;
let version = null;
for (const dir of candidates) {
  version = headerVersion(dir);
  if (version) {
    nodedir = dir;
    break;
  }
}
if (!nodedir) {
  console.error(
    `[@wgjs/node-tun native] Node ${process.version} headers not found (looked for include/node/node_api.h under ` +
      `${[...new Set(candidates)].join(', ')}). They ship with the official Node tarball and the nodejs .deb; ` +
      'install them, or set npm_config_nodedir=<prefix>, or WGJS_SKIP_NATIVE=1 to go without the addon. ' +
      'Not downloading them.',
  );
  process.exit(1);
}
// N-API is ABI-stable, so other headers still build a working addon; say so anyway.
if (version !== process.versions.node) log(`note: headers in ${nodedir} are ${version}, node is ${process.versions.node}`);

// The pinned devDependency; failing that (a production install), the node-gyp that npm/pnpm
// bundle and announce in npm_config_node_gyp.
let gyp = null;
try {
  gyp = require.resolve('node-gyp/bin/node-gyp.js');
} catch {
  const bundled = process.env.npm_config_node_gyp;
  if (bundled && existsSync(bundled)) gyp = bundled;
}
if (!gyp) {
  console.error('[@wgjs/node-tun native] node-gyp not found (it is a devDependency of @wgjs/node-tun); install it, or set WGJS_SKIP_NATIVE=1');
  process.exit(1);
}
log(`node-gyp rebuild --nodedir=${nodedir} (headers ${version})`);
const r = spawnSync(process.execPath, [gyp, 'rebuild', `--nodedir=${nodedir}`, '--directory', here], {
  stdio: 'inherit',
  env: { ...process.env, npm_config_nodedir: nodedir },
});
if (r.status !== 0) {
  console.error(`[@wgjs/node-tun native] node-gyp failed (${r.error?.message ?? `exit ${r.status}`}); see above.`);
  process.exit(1);
}
const out = join(here, 'build', 'Release', 'wgjs_native.node');
try {
  const addon = require(out);
  if (typeof addon.tunOpen !== 'function') throw new Error('missing exports');
} catch (err) {
  console.error(`[@wgjs/node-tun native] built ${out} but cannot load it: ${err.message}`);
  process.exit(1);
}
log(`built ${out}`);
