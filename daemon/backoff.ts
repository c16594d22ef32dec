// Restart throttling for a slot whose workers keep failing: exponential with jitter and a cap.
// Run by the appd master.

/** A worker that lived at least this long before dying counts as started; its slot's failures reset. */
export const START_SECONDS = 1;
const FIRST_DELAY_SECONDS = 0.25;
const MAX_DELAY_SECONDS = 30;

export interface SlotBackoff {
  /** Consecutive failures (exits before START_SECONDS of life, or before ready). */
  failures: number;
  /** Epoch milliseconds before which the slot is not respawned. */
  nextSpawnAt: number;
}

/**
 * The first failure is replaced at once (a crash after a good run is not a loop); from the second on
 * the delay doubles from 0.25 s up to 30 s, with +-20% jitter so slots failing together spread out.
 */
export function backoffDelayMs(failures: number, random: () => number = Math.random): number {
  if (failures <= 1) return 0;
  const base = Math.min(MAX_DELAY_SECONDS, FIRST_DELAY_SECONDS * 2 ** (failures - 2));
  return Math.round(base * 1000 * (0.8 + 0.4 * random()));
}
