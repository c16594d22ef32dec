// When the master collects its own heap: after workers have exited, at most once a second, never while
// the daemon stops. The collection itself is daemon/master/heap-compaction.ts. Run by the appd master,
// inside the arbiter loop (one reconcile pass checks it once).

/** Worker churn (a crash loop, back-to-back reloads) costs at most one full collection per interval. */
export const HEAP_UPKEEP_INTERVAL_MS = 1000;

/** The collection, and whether this Node could run it (false: never asked again). */
export type CompactHeap = () => boolean;

export class HeapUpkeep {
  #compact: CompactHeap | null;
  /** A worker exited since the last collection: what it left is garbage now, and its survivors grew V8's young generation. */
  #owed = false;
  /** The monotonic time of the last collection. */
  #lastAt: number | null = null;

  constructor(compact: CompactHeap | null) {
    this.#compact = compact;
  }

  workerExited(): void {
    this.#owed = true;
  }

  /** Once per reconcile pass, after its work: collects when owed and the interval has passed since the last one. */
  check(now: number, stopping: boolean): void {
    if (!this.#owed || stopping || this.#compact === null) return;
    if (this.#lastAt !== null && now - this.#lastAt < HEAP_UPKEEP_INTERVAL_MS) return;
    this.#owed = false;
    this.#lastAt = now;
    if (!this.#compact()) this.#compact = null;
  }
}
