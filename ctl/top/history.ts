// What `appctl top` remembers between snapshots: each worker's request rate (from its heartbeat
// counters) and short series of rates and memory for the sparklines, per worker, pool and in total. Run by appctl.

import type { StatusSnapshot, WorkerStatus } from '../../shared/control/status.js';

/** Samples kept per series: two minutes at one a second, more than the widest sparkline. */
export const SERIES_LENGTH = 120;
/** Snapshots come sooner after changes; series take one sample per this interval at most. */
const SAMPLE_INTERVAL_MS = 900;

/** A fixed-length series, oldest first. */
export class Series {
  readonly #values: (number | null)[] = [];

  push(value: number | null): void {
    this.#values.push(value);
    if (this.#values.length > SERIES_LENGTH) this.#values.shift();
  }

  get values(): readonly (number | null)[] {
    return this.#values;
  }
}

interface Counter {
  readonly requests: number;
  /** When the worker counted them, by the daemon's clock. */
  readonly countedAt: number;
  readonly rate: number | null;
}

/** Sparkline series of one worker, one pool or the whole daemon. */
export interface Trend {
  readonly rate: Series;
  readonly rss: Series;
}

function newTrend(): Trend {
  return { rate: new Series(), rss: new Series() };
}

function sum(values: readonly (number | null)[]): number | null {
  const present = values.filter((value): value is number => value !== null);
  return present.length === 0 ? null : present.reduce((total, value) => total + value, 0);
}

export class StatsHistory {
  readonly #counters = new Map<number, Counter>();
  readonly #workers = new Map<number, Trend>();
  readonly #pools = new Map<string, Trend>();
  readonly total = newTrend();
  #sampledAt = Number.NEGATIVE_INFINITY;

  /** Requests per second of the worker with this pid over its last two heartbeats; null before it has two. */
  rate(pid: number): number | null {
    return this.#counters.get(pid)?.rate ?? null;
  }

  workerTrend(pid: number): Trend | null {
    return this.#workers.get(pid) ?? null;
  }

  poolTrend(pool: string): Trend | null {
    return this.#pools.get(pool) ?? null;
  }

  /** Sum of the pool's worker rates (null when none has one yet). */
  poolRate(snapshot: StatusSnapshot, pool: string): number | null {
    return sum(snapshot.pools.find((each) => each.name === pool)?.workers.map((worker) => this.rate(worker.pid)) ?? []);
  }

  totalRate(snapshot: StatusSnapshot): number | null {
    return sum(snapshot.pools.map((pool) => this.poolRate(snapshot, pool.name)));
  }

  /** Takes in a snapshot taken at `time` (the daemon's clock); forgets workers that are gone. */
  record(snapshot: StatusSnapshot, time: number): void {
    const alive = new Set<number>();
    for (const pool of snapshot.pools)
      for (const worker of pool.workers) {
        alive.add(worker.pid);
        this.#count(worker, time);
      }
    for (const pid of this.#counters.keys()) if (!alive.has(pid)) this.#counters.delete(pid);
    for (const pid of this.#workers.keys()) if (!alive.has(pid)) this.#workers.delete(pid);
    for (const name of this.#pools.keys()) if (!snapshot.pools.some((pool) => pool.name === name)) this.#pools.delete(name);
    if (time - this.#sampledAt < SAMPLE_INTERVAL_MS) return;
    this.#sampledAt = time;
    for (const pool of snapshot.pools) {
      for (const worker of pool.workers) {
        const trend = this.#workers.get(worker.pid) ?? newTrend();
        this.#workers.set(worker.pid, trend);
        trend.rate.push(this.rate(worker.pid));
        trend.rss.push(worker.rssBytes);
      }
      const trend = this.#pools.get(pool.name) ?? newTrend();
      this.#pools.set(pool.name, trend);
      trend.rate.push(this.poolRate(snapshot, pool.name));
      trend.rss.push(sum(pool.workers.map((worker) => worker.rssBytes)));
    }
    this.total.rate.push(this.totalRate(snapshot));
    this.total.rss.push(
      sum([snapshot.master.rssBytes, ...snapshot.pools.flatMap((pool) => pool.workers.map((worker) => worker.rssBytes))]),
    );
  }

  /**
   * The rate comes from the worker's own counter and the time it reported it (statsAgeMs), not from
   * when snapshots arrive: heartbeats and snapshots both tick about once a second, and dividing by the
   * snapshot interval would show 0, 2x, 0, 2x as they drift against each other.
   */
  #count(worker: WorkerStatus, time: number): void {
    if (worker.requests === null) return;
    // A daemon without statsAgeMs (an older appd, status polled): the snapshot's time is the best guess.
    const countedAt = time - (worker.statsAgeMs ?? 0);
    const previous = this.#counters.get(worker.pid);
    if (previous && countedAt - previous.countedAt < 1) return;
    const rate = previous ? Math.max(0, worker.requests - previous.requests) / ((countedAt - previous.countedAt) / 1000) : null;
    this.#counters.set(worker.pid, { requests: worker.requests, countedAt, rate });
  }
}
