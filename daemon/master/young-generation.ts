// Keeps V8's young generation in the master at the size it starts with. Run by the appd master: the
// second module daemon/main.ts imports, before the master allocates anything of note.
//
// Why: V8 doubles its young generation whenever the bytes that survived its scavenges add up to its
// size, up to 2 x 16 MB (Node 20) or 2 x 64 MB (Node 24), and gives it back only in a collection while
// allocation is slow. In the master the steady allocators are worker churn (reloads, restarts: the heap
// collection after exits, heap-compaction.ts, shrinks it again on Node 22+, not on Node 20) and relayed
// output, which no exit follows: relaying 200,000 lines, the master's committed heap reached 81.8 MB on
// Node 20 and 91.3 MB on Node 24, and stayed. Nothing in the master needs a large young generation: its
// objects are few and live long (workers, slots, sockets) or die at once (frames, lines).
// How: V8 clamps --semi-space-growth-factor to at least 2 only when it sets up the heap, and reads it
// each time it would grow the young generation; set to 1 from here, the young generation keeps its start
// size (test/daemon/master-footprint.test.ts checks V8's own account of it on every Node version).

import { setV8Flags } from './v8-flags.js';

setV8Flags('--semi-space-growth-factor=1');
