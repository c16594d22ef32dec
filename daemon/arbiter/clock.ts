// The master's two clocks: a monotonic one for every timeout, deadline and duration (a wall-clock step,
// NTP or an operator's `date -s`, must not kill workers or switch hang detection off), and the wall
// clock only for what is shown (status times, last exits). Run by the appd master; tests pass a fake.

import { performance } from 'node:perf_hooks';

export interface Clock {
  /** Milliseconds on a monotonic clock (CLOCK_MONOTONIC): only differences mean anything. */
  now(): number;
  /** Milliseconds since the epoch, for display only. */
  wallNow(): number;
}

export const SYSTEM_CLOCK: Clock = {
  now: () => performance.now(),
  wallNow: () => Date.now(),
};
