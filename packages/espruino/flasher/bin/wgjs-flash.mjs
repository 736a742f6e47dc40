#!/usr/bin/env node
// Runs the TypeScript CLI through tsx, resolved from this package (no build step for a host tool).
import { register } from 'tsx/esm/api';

register();
await import('../cli-main.ts');
