// Keeps a worker's own start from arming V8's memory reducer, which would leave the worker slower for
// the rest of its life. Runs in each HTTP worker, before the runtime: bin.ts's first import in worker-bin.cjs
// for an app module; for a --script worker, as memory-reducer.cjs preloaded with node --require.
//
// Why: V8 arms its memory reducer when the old generation grows by 1 MB over its size after bootstrap
// before the first full collection (--memory-reducer-for-small-heaps, on by default in Node 20 and 24).
// Loading appd's worker runtime and an app does that; a bare node server with a small app does not. ~8 s
// later, if the worker is idle (as a freshly started worker is, until traffic comes), V8 runs two
// "Mark-Compact (reduce)" collections, and every request served after them cost 13-27% more CPU
// (measured: one worker pinned to a core, wrk on the other, 3-second runs from 12 s after the start,
// against node:cluster's SCHED_NONE worker: appd 1.155x-1.275x in four runs, 1.02x when loaded before
// the reducer fired; a node:cluster worker that retains 3 MB at its start: 1.127x, with the reducer
// off 1.027x). The cost stayed through 10 rounds of load; what the reducer gives back is ~1 MB of an
// idle worker's heap. Measured on Node 20: Node 24's V8 ran no reduce collection in a worker this size
// within 30 s with the trigger on (CI), so there this changes nothing seen.
//
// Only the small-heap trigger is switched off: a worker whose heap grows and is collected still has the
// reducer V8 arms after a full collection. A user's own --node-args choice about the reducer wins.
// A --script worker loads it with --require, not in its --import preload: Node's ES module loader, which
// runs that preload, had already armed the reducer (measured); a CommonJS preload runs before the loader
// starts. Not as a command-line flag, which a Node whose V8 lacks it refuses (exit 9, no worker).
// The built-ins every worker loads before it is ready are loaded first, from Node's own code cache,
// which the flag would turn off for them (shared/builtins-before-flags.ts says why).

import { setFlagsFromString } from 'node:v8';
import { loadBuiltins } from '../../shared/builtins-before-flags.js';

/** V8's flags that say what the memory reducer does; a worker started with any of them is left as told. */
const REDUCER_FLAG = /^--(no-)?memory[-_]reducer/;

/**
 * What every HTTP worker loads before it is ready: node:http (with node:net and streams), node:vm (the
 * code cache runs the worker's runtime through it) and node:cluster (node:net's listen() loads it). Node's
 * IPC bootstrap has loaded node:v8 and node:net's own dependencies already.
 */
const BUILTINS_WORKERS_LOAD = ['node:vm', 'node:http', 'node:cluster'] as const;

if (!process.execArgv.some((argument) => REDUCER_FLAG.test(argument))) {
  loadBuiltins(BUILTINS_WORKERS_LOAD);
  // Read by V8 each time the old generation grows, so setting it now, before the runtime and the app load,
  // is in time. A V8 without the flag prints one line to stderr and goes on. execArgv holds the pool's node-args.
  setFlagsFromString('--no-memory-reducer-for-small-heaps');
}
