// The master's counters that must never go down while it runs: requests and their durations summed over
// every worker a pool ever had (a replaced worker's counts stay), restarts by reason, reloads by outcome
// and their durations, each slot's CPU time. Run by the appd master, fed from the arbiter loop.

import { DURATION_BUCKETS_SECONDS, STATUS_CLASSES, readRequestCounts, type RequestCounts } from '../contracts/request-counts.js';
import { RESTART_REASONS, type RestartReason } from '../workers/exit-reason.js';
import type { WorkerHandle } from '../workers/handle.js';
import type { Rollout } from '../pools/pool.js';
import type { Supervisor } from '../workers/supervisor.js';
import { RateWindow, type PoolRates } from './rates.js';

export const RELOAD_OUTCOMES = ['completed', 'rolled_back', 'abandoned', 'failed'] as const;
export type ReloadOutcome = (typeof RELOAD_OUTCOMES)[number];

/** Reload durations in seconds: a reload takes a worker's boot time at least, minutes at most. */
export const RELOAD_BUCKETS_SECONDS: readonly number[] = [0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

export interface Histogram {
  readonly buckets: number[];
  sum: number;
}

function histogram(bounds: readonly number[]): Histogram {
  return { buckets: new Array<number>(bounds.length + 1).fill(0), sum: 0 };
}

function observe(into: Histogram, bounds: readonly number[], value: number): void {
  let bucket = 0;
  while (bucket < bounds.length && value > (bounds[bucket] ?? Infinity)) bucket += 1;
  into.buckets[bucket] = (into.buckets[bucket] ?? 0) + 1;
  into.sum += value;
}

function zeroCounts(): { byClass: number[]; durationBuckets: number[]; durationSumSeconds: number } {
  return {
    byClass: new Array<number>(STATUS_CLASSES.length).fill(0),
    durationBuckets: new Array<number>(DURATION_BUCKETS_SECONDS.length + 1).fill(0),
    durationSumSeconds: 0,
  };
}

function addCounts(into: ReturnType<typeof zeroCounts>, counts: RequestCounts): void {
  counts.byClass.forEach((value, index) => (into.byClass[index] = (into.byClass[index] ?? 0) + value));
  counts.durationBuckets.forEach((value, index) => (into.durationBuckets[index] = (into.durationBuckets[index] ?? 0) + value));
  into.durationSumSeconds += counts.durationSumSeconds;
}

/** Never lower than what was already shown: a worker that reports less than before cannot turn a counter back. */
function atLeast(current: ReturnType<typeof zeroCounts>, shown: ReturnType<typeof zeroCounts>): void {
  current.byClass.forEach((value, index) => (current.byClass[index] = shown.byClass[index] = Math.max(value, shown.byClass[index] ?? 0)));
  current.durationBuckets.forEach(
    (value, index) => (current.durationBuckets[index] = shown.durationBuckets[index] = Math.max(value, shown.durationBuckets[index] ?? 0)),
  );
  current.durationSumSeconds = shown.durationSumSeconds = Math.max(current.durationSumSeconds, shown.durationSumSeconds);
}

class PoolCounters {
  /** Counts of the pool's workers that are gone. */
  readonly retired = zeroCounts();
  /** The highest totals reported so far. */
  readonly shown = zeroCounts();
  readonly restarts = new Map<RestartReason, number>(RESTART_REASONS.map((reason) => [reason, 0]));
  readonly reloads = new Map<ReloadOutcome, number>(RELOAD_OUTCOMES.map((outcome) => [outcome, 0]));
  readonly reloadDurations = histogram(RELOAD_BUCKETS_SECONDS);
  /** CPU seconds of the slot's workers that are gone, by slot. */
  readonly retiredCpu = new Map<number, number>();
  readonly shownCpu = new Map<number, number>();
}

export class MasterCounters {
  readonly #pools = new Map<string, PoolCounters>();
  /** The last CPU time read for each live worker (by worker id), added to its slot when it exits. */
  readonly #workerCpu = new Map<number, number>();
  /** Each pool's rollout as last seen: when it is gone, the reload it belonged to has an outcome. */
  readonly #rollouts = new Map<string, Rollout>();
  readonly #rates = new RateWindow();

  /**
   * Once per pass of the arbiter loop: counts the reloads that ended since the last pass (a rollout
   * gone from its pool, its job telling how it ended), and samples request totals for the rates.
   */
  tick(now: number, supervisor: Supervisor): void {
    for (const [name, rollout] of this.#rollouts) {
      const pool = supervisor.pools.get(name);
      if (pool?.rollout === rollout) continue;
      this.#rollouts.delete(name);
      this.reloadSettled(name, rollout.outcome?.status ?? 'abandoned', (now - rollout.startedAt) / 1000);
    }
    for (const pool of supervisor.pools.values())
      if (pool.rollout && !this.#rollouts.has(pool.name)) this.#rollouts.set(pool.name, pool.rollout);
    if (!this.#rates.due(now)) return;
    const totals = new Map<string, RequestCounts>();
    for (const pool of supervisor.pools.values()) {
      if (pool.settings.kind === 'http') totals.set(pool.name, this.requestTotals(pool.name, supervisor.workersOf(pool.name)));
    }
    this.#rates.sample(now, totals);
  }

  /** Request rate by class and latency percentiles over the last seconds; null for a command pool or until sampled twice. */
  rates(pool: string): PoolRates | null {
    return this.#rates.rates(pool);
  }

  #pool(name: string): PoolCounters {
    let pool = this.#pools.get(name);
    if (!pool) {
      pool = new PoolCounters();
      this.#pools.set(name, pool);
    }
    return pool;
  }

  /** Told of every worker state change: an exited worker's counts join its pool's, its restart reason is counted. */
  workerChanged(worker: WorkerHandle): void {
    if (worker.state !== 'exited') return;
    const pool = this.#pool(worker.pool);
    const counts = readRequestCounts(worker.stats);
    if (counts) addCounts(pool.retired, counts);
    if (worker.exitReason !== null) pool.restarts.set(worker.exitReason, (pool.restarts.get(worker.exitReason) ?? 0) + 1);
    const cpu = this.#workerCpu.get(worker.id);
    if (cpu !== undefined) pool.retiredCpu.set(worker.slot, (pool.retiredCpu.get(worker.slot) ?? 0) + cpu);
    this.#workerCpu.delete(worker.id);
  }

  reloadSettled(pool: string, outcome: ReloadOutcome, seconds: number): void {
    const counters = this.#pool(pool);
    counters.reloads.set(outcome, (counters.reloads.get(outcome) ?? 0) + 1);
    if (outcome !== 'failed') observe(counters.reloadDurations, RELOAD_BUCKETS_SECONDS, seconds);
  }

  /** Everything the pool's workers answered, gone ones included: `live` are its workers still running. */
  requestTotals(pool: string, live: Iterable<WorkerHandle>): RequestCounts {
    const counters = this.#pool(pool);
    const total = zeroCounts();
    addCounts(total, counters.retired);
    for (const worker of live) {
      const counts = readRequestCounts(worker.stats);
      if (counts) addCounts(total, counts);
    }
    atLeast(total, counters.shown);
    return total;
  }

  restarts(pool: string): ReadonlyMap<RestartReason, number> {
    return this.#pool(pool).restarts;
  }

  reloads(pool: string): { readonly outcomes: ReadonlyMap<ReloadOutcome, number>; readonly durations: Readonly<Histogram> } {
    const counters = this.#pool(pool);
    return { outcomes: counters.reloads, durations: counters.reloadDurations };
  }

  /** A live worker's CPU time as just read from /proc. */
  noteWorkerCpu(workerId: number, seconds: number): void {
    this.#workerCpu.set(workerId, seconds);
  }

  /** The slot's CPU time over all its workers: `liveSeconds` is what its running workers have used. */
  slotCpu(pool: string, slot: number, liveSeconds: number): number {
    const counters = this.#pool(pool);
    const total = Math.max((counters.retiredCpu.get(slot) ?? 0) + liveSeconds, counters.shownCpu.get(slot) ?? 0);
    counters.shownCpu.set(slot, total);
    return total;
  }
}
