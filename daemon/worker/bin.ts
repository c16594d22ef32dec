// What the master starts for an HTTP worker serving an app module: runs worker.cjs (main.ts and all it
// imports) through V8's code cache (shared/compile-cache.ts says why and how it is kept safe). Runs in
// each HTTP worker process.

// First: before the runtime and the app load (memory-reducer.ts says why).
import './memory-reducer.js';
import { runCachedBundle } from '../../shared/compile-cache.js';

// This file runs only as the CommonJS bundle dist/daemon/worker/worker-bin.cjs (tools/bundle.ts), where Node
// defines require, module and __dirname; worker.cjs sits beside it and requires the app from there.
runCachedBundle({
  file: `${__dirname}/worker.cjs`,
  label: 'worker',
  require,
  module,
  // An app that is an ES module is imported by Node's loader, as from this file (compile-cache.ts says why).
  importModule: (specifier) => import(specifier),
});
