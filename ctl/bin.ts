#!/usr/bin/env node
// appctl's bin (dist/ctl/appctl.cjs): runs appctl's bundle (appctl-main.cjs, main.ts and what it imports)
// from the V8 code cache the build made beside it. Run by every appctl command.

import { fileURLToPath } from 'node:url';
import { runBundle } from '../shared/code-cache.js';

// Compiling appctl's code was a fifth of what `appctl status` costs beyond `node -e 0` (Node 20: 15 of
// 58 million instructions, and 2-3 ms of wall time, median of 81 interleaved runs; Node 24: 18 of 49
// million). Without a usable cache (another Node built it, or none was made) it compiles as before.
runBundle(fileURLToPath(new URL('appctl-main.cjs', import.meta.url)));
