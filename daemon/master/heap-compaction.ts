// The master's full garbage collection, run when the arbiter's heap upkeep asks for it
// (daemon/arbiter/heap-upkeep.ts): V8's own triggers never give the memory back. Run by the appd master.
//
// Why: every worker the master starts and reaps leaves objects that live through a scavenge or two (its
// ChildProcess, pipes, stream state, log lines). V8 doubles its young generation each time the bytes that
// survived scavenges add up to its size, up to 2 x 16 MB (Node 20) or 2 x 64 MB (Node 24), and shrinks it
// only in a collection that runs while allocation is slow or memory is to be reduced. An idle master
// allocates almost nothing, so that collection never comes: over 300 back-to-back reloads of one worker a
// Node 20 master went from 53.6 to 74.1 MB RSS (anonymous memory 17.9 -> 38.3 MB), and kept it while idle.
// With this collection it stays at 48-53 MB (Node 24: 54.1 -> 66.5 MB without, 51-52 MB with).
// - V8 12 and later (Node 22, 24): gc({flavor: 'last-resort'}) is V8's memory-reducing collection, which
//   shrinks the young generation; it repeats itself while that frees more (2 passes seen, at most 7):
//   43 ms for both passes once on Node 24. A plain gc() there left the growth in place (+0.8 MB per 50 reloads).
// - V8 11 (Node 20) reads no such option (an options object other than {type: 'minor'} or {execution:
//   'async'} falls back to a young-generation collection, which did not shrink it); its plain gc() is a
//   full collection (13 ms once), after which V8 shrinks the young generation only if allocation happens
//   to be slow at that moment, which back-to-back reloads prevent (1,000 of them: 47.9 -> 59.3 MB).
//   The arbiter's upkeep keeps their CPU under 2% of a core whatever they cost.
// Since young-generation.ts the young generation keeps its start size on every version (Node 20 over
// 1,000 reloads: 46.8 -> 49.0 MB); this collection still gives back what worker churn leaves in the rest
// of the heap.

import type { HeapCompaction } from '../arbiter/heap-upkeep.js';
import { MODERN_V8, setV8Flags } from './v8-flags.js';

type Collect = (options?: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void;

/**
 * V8's gc(), once found. A failure is not kept: the arbiter's heap upkeep never asks again after one
 * (heap-upkeep.ts), so it is one place that says "asked once".
 */
let collect: Collect | undefined;

function collector(): Collect | { readonly why: string } {
  if (collect !== undefined) return collect;
  // Under `node --expose-gc` (leak hunts, README "Fault injection") the master already has it.
  const exposed = (globalThis as { gc?: unknown }).gc;
  if (typeof exposed === 'function') return (collect = exposed as Collect);
  const vm = process.getBuiltinModule?.('node:vm');
  if (!vm) return { why: `Node ${process.version} has no process.getBuiltinModule (Node >= 20.16, >= 22.3)` };
  // False on Node 20 when its process.binding is refused (the permission model), since nodeBinding.
  if (!setV8Flags('--expose-gc')) return { why: `Node ${process.version} lets the master set no V8 flag (process.binding refused)` };
  try {
    // gc exists only in contexts made while the flag is on (the master's own context predates it).
    const made: unknown = vm.runInNewContext('typeof gc === "function" ? gc : null');
    if (typeof made !== 'function') return { why: 'V8 gave no gc() with --expose-gc (is node run with --expose-gc-as?)' };
    return (collect = made as Collect);
  } catch (error) {
    return { why: `V8's gc() could not be had: ${error instanceof Error ? error.message : String(error)}` };
  } finally {
    // Only that one context has it: a context made later in the master (a hook's vm, a library) gets none.
    setV8Flags('--no-expose-gc');
  }
}

/** One full collection that gives back what V8 can, or why this Node cannot run one. */
export function compactHeap(): HeapCompaction {
  const found = collector();
  if (typeof found !== 'function') return { collected: false, why: found.why };
  if (MODERN_V8) found({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  else found();
  return { collected: true };
}
