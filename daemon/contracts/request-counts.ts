// The request counts an HTTP worker sends with each heartbeat (by status class, and a duration
// histogram with fixed buckets), and the master's check of them. Imported by the master and its workers.

/** Status classes, in the order of RequestCounts.byClass; 1xx counts upgraded requests (WebSocket, CONNECT). */
export const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;

/** Upper bounds of the duration histogram in seconds (Prometheus' defaults); one more bucket counts the rest (+Inf). */
export const DURATION_BUCKETS_SECONDS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Totals since the worker started; they only grow within one worker process. */
export interface RequestCounts {
  /** Requests answered, by STATUS_CLASSES. */
  readonly byClass: readonly number[];
  /** Requests per duration bucket, not cumulative: DURATION_BUCKETS_SECONDS.length + 1 entries. */
  readonly durationBuckets: readonly number[];
  readonly durationSumSeconds: number;
}

/** A count a worker may claim: an integer from 0 to 2^53 (a worker is untrusted: garbage must not reach a metric). */
function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function countsOfLength(value: unknown, length: number): value is number[] {
  return Array.isArray(value) && value.length === length && value.every(isCount);
}

/** The counts in a heartbeat's stats if they have the expected shape, else null (an older worker, or a hostile one). */
export function readRequestCounts(stats: unknown): RequestCounts | null {
  if (typeof stats !== 'object' || stats === null || !('counts' in stats)) return null;
  const counts: unknown = stats.counts;
  if (typeof counts !== 'object' || counts === null) return null;
  const { byClass, durationBuckets, durationSumSeconds } = counts as Record<string, unknown>;
  if (!countsOfLength(byClass, STATUS_CLASSES.length) || !countsOfLength(durationBuckets, DURATION_BUCKETS_SECONDS.length + 1)) return null;
  if (typeof durationSumSeconds !== 'number' || !Number.isFinite(durationSumSeconds) || durationSumSeconds < 0) return null;
  return { byClass: [...byClass], durationBuckets: [...durationBuckets], durationSumSeconds };
}
