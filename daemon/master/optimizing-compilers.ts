// Switches V8's optimizing compilers (Maglev, TurboFan) off in the master, before any of its code can get
// hot. Run by the appd master: the first module daemon/main.ts imports.
//
// Why: the master's JavaScript is never hot (under load it spends ~0.3% of its workers' CPU), but its
// start-up is busy enough that V8 >= 12 (Node 22, 24) compiles a few functions with Maglev (Node's own
// path.normalize, diagnostics_channel getters) at any pool size, and V8 11 (Node 20) has TurboFan compile
// reconcile's per-slot filters from about 8 workers on. Running a compiler once brings its code pages of
// the node binary into the master for the life of the process: +2.2 MB RSS on Node 24 with 2 workers
// (binary pages 37.5 -> 35.3 MB, the same as an idle node:cluster primary's), +3.5 MB on Node 20 with 16
// workers, and more on a master polled by `appctl status`. Functions still run in the interpreter and the
// Sparkplug baseline compiler.
// V8 reads these flags each time it considers optimizing a function, so setting them at run time works
// before any function is queued (test/daemon/master-footprint.test.ts checks with --trace-opt).

const FIRST_V8_WITH_MAGLEV = 12;

/** The one function of Node's internal v8 binding used here (the same one node:v8 calls). */
interface V8Binding {
  setFlagsFromString(flags: string): void;
}

if (Number(process.versions.v8.split('.')[0]) >= FIRST_V8_WITH_MAGLEV) {
  // process.getBuiltinModule (Node 22.3): node:v8 without node:module; Node 22.0-22.2 keep their compilers.
  process.getBuiltinModule?.('node:v8').setFlagsFromString('--no-maglev --no-turbofan');
} else {
  // Node 20 (V8 11, no Maglev): the internal binding through process.binding, deprecated in the documentation
  // only (DEP0111), because loading node:v8 costs Node 20's master 0.4 MB RSS (median of 7 starts), as much
  // as this change saves it with 2 workers. Only here: Node 22 and later give node:v8 cheaply, and Node 24
  // no longer lets process.binding reach v8. Under --pending-deprecation process.binding warns at run
  // time; the warning would be about appd's own access, not the user's code, so it is held back for this
  // one call (a user's own process.binding call still warns: util.deprecate only counts a shown warning).
  const noDeprecation = process.noDeprecation;
  process.noDeprecation = true;
  try {
    (process as unknown as { binding(name: 'v8'): V8Binding }).binding('v8').setFlagsFromString('--no-turbofan');
  } finally {
    process.noDeprecation = noDeprecation;
  }
}

export {};
