// Request rate by status class and latency percentiles over the last few seconds, per pool, from the
// master's request totals sampled once a second: the figures of `appctl status --json` and `appctl top`.
// Run by the appd master, from the arbiter loop.

import { DURATION_BUCKETS_SECONDS, STATUS_CLASSES, type RequestCounts } from '../contracts/request-counts.js';

/** The figures cover about this long (one sample a second). */
const WINDOW_MS = 10_000;
const SAMPLE_EVERY_MS = 1000;

export interface PoolRates {
  /** Requests per second by status class ("2xx": 120.5), over `windowMs`. */
  readonly perSecond: Readonly<Record<(typeof STATUS_CLASSES)[number], number>>;
  /** Latency percentiles in milliseconds, estimated from the duration histogram; null without requests. */
  readonly latencyP50Ms: number | null;
  readonly latencyP99Ms: number | null;
  readonly windowMs: number;
}

interface RateSample {
  readonly at: number;
  readonly counts: RequestCounts;
}

/**
 * The q-quantile of the observations in non-cumulative `buckets`, interpolated linearly inside the
 * bucket it falls in (as Prometheus' histogram_quantile does); past the last bound it is that bound.
 */
export function quantileOf(buckets: readonly number[], bounds: readonly number[], q: number): number | null {
  const total = buckets.reduce((sum, count) => sum + count, 0);
  if (total <= 0) return null;
  const rank = q * total;
  let below = 0;
  for (let index = 0; index < buckets.length; index += 1) {
    const count = buckets[index] ?? 0;
    if (below + count >= rank && count > 0) {
      if (index >= bounds.length) return bounds[bounds.length - 1] ?? null;
      const lower = index === 0 ? 0 : (bounds[index - 1] ?? 0);
      const upper = bounds[index] ?? lower;
      return lower + (upper - lower) * ((rank - below) / count);
    }
    below += count;
  }
  return bounds[bounds.length - 1] ?? null;
}

export class RateWindow {
  readonly #samples = new Map<string, RateSample[]>();
  #sampledAt = -Infinity;

  /** Whether a sample is due (about once a second). */
  due(now: number): boolean {
    return now - this.#sampledAt >= SAMPLE_EVERY_MS;
  }

  /** Records every pool's totals at `now`; pools no longer listed are forgotten. */
  sample(now: number, totals: ReadonlyMap<string, RequestCounts>): void {
    this.#sampledAt = now;
    for (const pool of this.#samples.keys()) if (!totals.has(pool)) this.#samples.delete(pool);
    for (const [pool, counts] of totals) {
      const samples = this.#samples.get(pool) ?? [];
      samples.push({ at: now, counts });
      while (samples.length > 2 && now - (samples[1]?.at ?? now) >= WINDOW_MS) samples.shift();
      this.#samples.set(pool, samples);
    }
  }

  /** The pool's figures between its oldest and newest sample; null until there are two. */
  rates(pool: string): PoolRates | null {
    const samples = this.#samples.get(pool);
    const oldest = samples?.[0];
    const newest = samples?.at(-1);
    if (!oldest || !newest || newest.at <= oldest.at) return null;
    const seconds = (newest.at - oldest.at) / 1000;
    const delta = (after: readonly number[], before: readonly number[]): number[] =>
      after.map((value, index) => Math.max(0, value - (before[index] ?? 0)));
    const byClass = delta(newest.counts.byClass, oldest.counts.byClass);
    const buckets = delta(newest.counts.durationBuckets, oldest.counts.durationBuckets);
    const perSecond = Object.fromEntries(
      STATUS_CLASSES.map((name, index) => [name, Math.round(((byClass[index] ?? 0) / seconds) * 10) / 10]),
    ) as PoolRates['perSecond'];
    const milliseconds = (q: number): number | null => {
      const value = quantileOf(buckets, DURATION_BUCKETS_SECONDS, q);
      return value === null ? null : Math.round(value * 1e4) / 10;
    };
    return { perSecond, latencyP50Ms: milliseconds(0.5), latencyP99Ms: milliseconds(0.99), windowMs: newest.at - oldest.at };
  }
}
