// The master's two clocks: a monotonic one for every timeout, deadline and duration (a wall-clock step,
// NTP or an operator's `date -s`, must not kill workers or switch hang detection off), and the wall
// clock only for what is shown (status times, last exits). Run by the appd master; tests pass a fake.

/**
 * Milliseconds on CLOCK_MONOTONIC (libuv's hrtime), for every monotonic reading in the master. Not
 * performance.now(): the `performance` global or node:perf_hooks loads perf_hooks' ~10 modules, +0.8 MB
 * RSS on Node 20 and +1.05 MB on Node 24 (a bare script, median of 5) in a master that needs none of it.
 */
export function monotonicMilliseconds(): number {
  const [seconds, nanoseconds] = process.hrtime();
  return seconds * 1000 + nanoseconds / 1e6;
}

export interface Clock {
  /** Milliseconds on a monotonic clock (CLOCK_MONOTONIC): only differences mean anything. */
  now(): number;
  /** Milliseconds since the epoch, for display only. */
  wallNow(): number;
}

export const SYSTEM_CLOCK: Clock = {
  now: monotonicMilliseconds,
  wallNow: () => Date.now(),
};
