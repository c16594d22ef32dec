// Switches V8's optimizing compilers (Maglev, TurboFan) and its Sparkplug baseline compiler off in the
// master, before any of its code can get hot. Run by the appd master: the first module daemon/main.ts imports.
//
// Why: the master's JavaScript is never hot (under load it spends ~0.3% of its workers' CPU), but its
// start-up is busy enough that V8 >= 12 (Node 22, 24) compiles a few functions with Maglev (Node's own
// path.normalize, diagnostics_channel getters) at any pool size, and V8 11 (Node 20) has TurboFan compile
// reconcile's per-slot filters from about 8 workers on. Running a compiler once brings its code pages of
// the node binary into the master for the life of the process: +2.2 MB RSS on Node 24 with 2 workers
// (binary pages 37.5 -> 35.3 MB, the same as an idle node:cluster primary's), +3.5 MB on Node 20 with 16
// workers, and more on a master polled by `appctl status`. Sparkplug's machine code and its pages of the
// binary cost another 0.4-0.5 MB (2 workers, median of 5 starts: Node 20 47.26 -> 46.89 MB, Node 24
// 52.26 -> 51.81); its price is the master's JavaScript running in the interpreter only: relaying an
// access log line costs it ~14% more CPU (Node 20, 7.8 -> 8.9 µs).
// V8 reads these flags each time it considers compiling a function, so setting them at run time works
// for every function not yet queued (test/daemon/master-footprint.test.ts checks with V8's traces).

import { MODERN_V8, setV8Flags } from './v8-flags.js';

// Node 22.0-22.2 (no process.getBuiltinModule) keep their compilers.
setV8Flags(MODERN_V8 ? '--no-maglev --no-turbofan --no-sparkplug' : '--no-turbofan --no-sparkplug');
