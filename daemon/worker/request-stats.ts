// Counts a worker's answered requests by status class and duration bucket, for the heartbeat (and so
// for the master's /metrics). Runs in each HTTP worker, on every request: a few increments, no allocation.

import { DURATION_BUCKETS_SECONDS, STATUS_CLASSES, type RequestCounts } from '../contracts/request-counts.js';

const BOUNDS = Float64Array.from(DURATION_BUCKETS_SECONDS);
const LAST_CLASS = STATUS_CLASSES.length - 1;

/** Adds one; the index is always in range (the ?? only satisfies the type checker, and V8 inlines it). */
function increment(counts: Float64Array, index: number): void {
  counts[index] = (counts[index] ?? 0) + 1;
}

export class RequestStats {
  readonly #byClass = new Float64Array(STATUS_CLASSES.length);
  readonly #buckets = new Float64Array(BOUNDS.length + 1);
  #sumSeconds = 0;

  /** A response ended at `now`: both are performance.now() values (connection-tracker.ts reads them), `startedAt` when its request arrived. */
  record(statusCode: number, startedAt: number, now: number): void {
    const seconds = (now - startedAt) / 1000;
    const index = ((statusCode / 100) | 0) - 1;
    increment(this.#byClass, index < 0 || index > LAST_CLASS ? LAST_CLASS : index);
    // Prometheus buckets count observations <= their bound; most requests stop at the first one.
    let bucket = 0;
    while (bucket < BOUNDS.length && seconds > (BOUNDS[bucket] ?? Infinity)) bucket += 1;
    increment(this.#buckets, bucket);
    this.#sumSeconds += seconds;
  }

  /** A request handed to an 'upgrade' or 'connect' listener: counted as 1xx, with no duration. */
  recordUpgrade(): void {
    increment(this.#byClass, 0);
  }

  /** A copy for the heartbeat (once per interval, not per request). */
  snapshot(): RequestCounts {
    return { byClass: Array.from(this.#byClass), durationBuckets: Array.from(this.#buckets), durationSumSeconds: this.#sumSeconds };
  }
}
