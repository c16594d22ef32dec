// Loads Node's built-in modules that a process is about to need before it sets V8 flags of its own.
// Run by the appd master (first thing in daemon/main.ts) and by each HTTP worker (memory-reducer.ts).
//
// Why: a V8 flag set differently from Node's defaults (at run time or on the command line) changes V8's
// flag hash, and every built-in module Node loads after that is compiled from source instead of from the
// code cache built into Node: node:net took 6.1-9.3 ms instead of 1.6-3.0 (Node 20, 6 runs each); a
// forked child reached its require('node:http') 3.4 ms later with a flag set first, 0.3 ms later with it
// set after (medians of 30 interleaved forks). Loaded here first, they come from the cache; what loads
// later (an app's own built-ins) is compiled from source, as before.

/**
 * process.getBuiltinModule (Node 20.16, 22.3), not an ES import: on Node 24 an import of node:http reads
 * every export and loads undici with it (daemon/worker/builtin-modules.ts). The callers run as CommonJS
 * bundles, whose require is Node's own on an older Node.
 */
export function loadBuiltins(ids: readonly string[]): void {
  for (const id of ids) {
    if (process.getBuiltinModule?.(id) === undefined && typeof require === 'function') require(id);
  }
}
