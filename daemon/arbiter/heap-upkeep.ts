// When the master collects its own heap: after workers have exited, never while the daemon stops, and
// with at most 2% of a core over time. The collection itself is daemon/master/heap-compaction.ts. Run by
// the appd master, inside the arbiter loop (each reconcile pass checks it once).

/** Worker churn (a crash loop, back-to-back reloads) gets at most one collection per interval... */
export const HEAP_UPKEEP_INTERVAL_MS = 1000;
/** ...and the next one waits this many times as long as the last took: at most 2% of a core. */
export const HEAP_UPKEEP_SPACING = 50;

/** What a collection request did: collected, or why this process cannot collect (asked once, never again). */
export type HeapCompaction = { readonly collected: true } | { readonly collected: false; readonly why: string };
export type CompactHeap = () => HeapCompaction;

export class HeapUpkeep {
  #compact: CompactHeap | null;
  readonly #now: () => number;
  readonly #say: (line: string) => void;
  /**
   * A worker exited since the last collection: its ChildProcess, pipes and stream state are garbage,
   * and V8 keeps the pages they took until a full collection. The first collection can run in
   * the pass that reaps the exit, before the child's pipes have closed ('close' follows 'exit'): those
   * few objects wait for the next collection; nothing is lost but a little of this one's effect.
   */
  #owed = false;
  /** The monotonic time before which no collection runs (the interval, or 50 times the last one's duration). */
  #nextAt: number | null = null;

  constructor(compact: CompactHeap | null, now: () => number, say: (line: string) => void) {
    this.#compact = compact;
    this.#now = now;
    this.#say = say;
  }

  workerExited(): void {
    this.#owed = true;
  }

  /** Once per reconcile pass, after its work: collects when owed and the spacing since the last one has passed. */
  check(stopping: boolean): void {
    const compact = this.#compact;
    if (!this.#owed || stopping || compact === null) return;
    const startedAt = this.#now();
    if (this.#nextAt !== null && startedAt < this.#nextAt) return;
    this.#owed = false;
    // Off until it answers: a collection that throws (reconcile logs it) is never asked for again.
    this.#compact = null;
    const result = compact();
    if (!result.collected) return this.#say(`the master will not collect its heap after workers exit: ${result.why}`);
    this.#compact = compact;
    this.#nextAt = startedAt + Math.max(HEAP_UPKEEP_INTERVAL_MS, (this.#now() - startedAt) * HEAP_UPKEEP_SPACING);
  }
}
