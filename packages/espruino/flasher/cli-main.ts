// wgjs:host-only
/** `pnpm --filter @wgjs/espruino flash -- <args>`: runs the CLI. */
import { run } from './cli.js';

await run();
