// Restart throttling for a slot whose workers keep failing: exponential with jitter and a cap.
// Run by the appd master.

const FIRST_DELAY_SECONDS = 0.25;
const MAX_DELAY_SECONDS = 30;

/**
 * The first failure is replaced at once (a crash after a good run is not a loop); from the second on
 * the delay doubles from 0.25 s up to 30 s, with +-20% jitter so slots failing together spread out.
 */
export function backoffDelayMs(failures: number, random: () => number = Math.random): number {
  if (failures <= 1) return 0;
  const base = Math.min(MAX_DELAY_SECONDS, FIRST_DELAY_SECONDS * 2 ** (failures - 2));
  return Math.round(base * 1000 * (0.8 + 0.4 * random()));
}
