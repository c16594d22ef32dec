// Loads the built-in modules the master uses before it sets its V8 flags, so they come from the code
// cache inside Node. Run by the appd master: the first module daemon/main.ts imports.
//
// The flags (optimizing-compilers.ts, young-generation.ts) change V8's flag hash, after which Node
// compiled the 38 built-ins the master loads from source (shared/builtins-before-flags.ts says why).

import { loadBuiltins } from '../../shared/builtins-before-flags.js';

/**
 * With what they bring: streams, node:net's socket internals, node:cluster's and node:child_process's.
 * Only what an idle master loads anyway (node:vm, for its heap collection after exits, waits for one).
 */
loadBuiltins([
  'node:net',
  'node:child_process',
  'node:cluster',
  'node:os',
  'node:stream/promises',
  'node:diagnostics_channel',
  'node:string_decoder',
]);
