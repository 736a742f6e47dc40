/**
 * The cost model as a module of its own for the device (`dist/wgjs-cost.js`): not part of the
 * peer's build, so it costs no RAM until an application loads it —
 *   eval(require('Storage').read('wgjs-cost.js'));
 *   print(wgjsCost({ keepalive: 25, natTimeout: 30, reportInterval: 900, reportBytes: 64 }));
 * — and can be dropped again (`delete global.wgjsCost`). The same `dailyCost` as `wgjs cost`.
 */
import { dailyCost } from '@wgjs/core/cost';

const G = global as unknown as Record<string, unknown>;
G.wgjsCost = dailyCost;
