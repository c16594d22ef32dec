// The global ceiling on worker starts, across every pool: a token bucket on the monotonic clock, so a
// pathological config (many slots that exit at once, kills from outside in a loop) costs the master a
// few percent of a core instead of the service. Run by the appd master, from manageWorkers.

import type { Logger } from '../master/logger.js';

/** Starts a second, sustained: far above any healthy restart rate, far below what melts the master. */
export const SPAWNS_PER_SECOND = 20;
/** Starts at once: a first start or a reload of a large pool is not slowed down. */
export const SPAWN_BURST = 64;

export class SpawnCeiling {
  readonly #logger: Logger;
  #tokens = SPAWN_BURST;
  #refilledAt: number | null = null;
  /** Whether the ceiling was hit (and said so) since the bucket was last full. */
  #holding = false;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  /** Takes one start if the ceiling allows it now; a refused start is tried again at a later pass. */
  take(now: number): boolean {
    this.#refill(now);
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return true;
    }
    if (!this.#holding) {
      this.#holding = true;
      this.#logger.warning(
        `spawn ceiling reached: more than ${SPAWNS_PER_SECOND} worker starts a second across all pools; the next starts wait their turn (is a pool crash-looping?)`,
      );
    }
    return false;
  }

  #refill(now: number): void {
    const elapsed = this.#refilledAt === null ? 0 : Math.max(0, now - this.#refilledAt);
    this.#refilledAt = now;
    this.#tokens = Math.min(SPAWN_BURST, this.#tokens + (elapsed * SPAWNS_PER_SECOND) / 1000);
    // A full bucket ends the episode: the next time the ceiling is hit is said again.
    if (this.#tokens >= SPAWN_BURST) this.#holding = false;
  }
}
