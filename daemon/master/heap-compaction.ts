// The master's full, memory-reducing garbage collection, run when the arbiter's heap upkeep asks for it
// (daemon/arbiter/heap-upkeep.ts): V8's own trigger never gives the memory back. Run by the appd master.
//
// Why: every worker the master starts and reaps leaves objects that live through a scavenge or two
// (its ChildProcess, pipes, stream state, log lines). V8 doubles its young generation each time the bytes
// that survived scavenges add up to its size, up to 2 x 16 MB (Node 20) or 2 x 64 MB (Node 24), and shrinks
// it again only in a garbage collection that runs while allocation is slow or memory is to be reduced. An
// idle master allocates almost nothing, so that collection never comes: after 300 back-to-back reloads a
// Node 20 master held 39 MB of anonymous memory against 12 at start, and kept it while idle.
// A forced full collection after worker churn shrinks the young generation back (300 reloads: RSS stays at
// 48 MB on Node 20, 50.6 on Node 24). Node 20's V8 shrinks it in any forced collection; V8 12 and later
// only in a "last resort" one, which also runs the collection again while that frees more.

import { MODERN_V8, setV8Flags } from './v8-flags.js';

type Collect = (options?: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void;

/** V8's gc(), taken once from a context made after --expose-gc is set (the master's own context has none). */
let collect: Collect | null | undefined;

function collector(): Collect | null {
  if (collect !== undefined) return collect;
  const vm = process.getBuiltinModule?.('node:vm');
  // Node before 20.16 (no process.getBuiltinModule): the master keeps V8's own behaviour.
  collect = vm && setV8Flags('--expose-gc') ? (vm.runInNewContext('gc') as Collect) : null;
  return collect;
}

/** One full collection that gives back what V8 can; false when this Node offers no way to ask for it. */
export function compactHeap(): boolean {
  const gc = collector();
  if (gc === null) return false;
  if (MODERN_V8) gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  else gc();
  return true;
}
