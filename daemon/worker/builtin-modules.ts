// Node's built-in modules for the worker's own code, and a require for the app's file, without
// node:module. Runs in each HTTP worker process.
//
// Why not createRequire(import.meta.url): node:module brings Node's ES module loader and source-map
// support with it, 1.7 ms of CPU of every worker's start (Node 20, CPU profile of a spawn), and each
// call turned a file path into a URL and back. Why not an ES import: on Node 24 an import of node:http
// reads every export, and its lazy WebSocket/MessageEvent getters load undici with http2, tls, crypto and
// zlib (~70 ms of CPU per worker start). process.getBuiltinModule (Node 20.16, 22.3) does neither; an older
// Node runs the worker as its CommonJS bundle (tools/bundle.ts), whose require is Node's own.

interface Builtins {
  'node:http': typeof import('node:http');
  'node:https': typeof import('node:https');
  'node:perf_hooks': typeof import('node:perf_hooks');
  'node:worker_threads': typeof import('node:worker_threads');
}

export function builtinModule<Id extends keyof Builtins>(id: Id): Builtins[Id] {
  const found = process.getBuiltinModule?.(id) as Builtins[Id] | undefined;
  return found ?? (require(id) as Builtins[Id]);
}

/**
 * Requires a file by its absolute path: with the bundle's require, or (the compiled ES modules that the
 * tests import, where there is none) node:module's.
 */
export function requireFile(absolute: string): unknown {
  if (typeof require === 'function') return require(absolute);
  const { createRequire } = process.getBuiltinModule('node:module');
  return createRequire(import.meta.url)(absolute);
}
