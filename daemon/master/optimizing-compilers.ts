// Switches V8's optimizing compilers (Maglev, TurboFan) off in the master on Node 22 and later, before
// any of its code can get hot. Run by the appd master: the first module daemon/main.ts imports.
//
// Why: the master's JavaScript is never hot (under load it spends ~0.3% of its workers' CPU), but its
// start-up is busy enough that V8 >= 12 (Node 22, 24) compiles a few functions with Maglev (Node's own
// path.normalize, diagnostics_channel getters) at any pool size. Running a compiler once brings its code
// pages of the node binary into the master for the life of the process: +2.2 MB RSS on Node 24 with 2
// workers (binary pages 37.5 -> 35.3 MB, the same as an idle node:cluster primary's). Functions still
// run in the interpreter and the Sparkplug baseline compiler. Node 20 (V8 11) compiles nothing with 2
// workers and node:v8 costs it 0.4 MB, so it is left alone.
// V8 reads these two flags each time it considers optimizing a function, so setting them at run time
// works before any function is queued (test/daemon/master-footprint.test.ts checks with --trace-opt).

const FIRST_V8_WITH_MAGLEV = 12;

if (Number(process.versions.v8.split('.')[0]) >= FIRST_V8_WITH_MAGLEV) {
  // process.getBuiltinModule (Node 22.3): node:v8 without node:module; Node 22.0-22.2 keep their compilers.
  process.getBuiltinModule?.('node:v8').setFlagsFromString('--no-maglev --no-turbofan');
}

export {};
