// A reload's progress per pool: rolling (new workers start slot by slot while the old generation
// serves), retiring (the whole new generation is ready, the old one drains), done; or rolled back when
// a new worker cannot boot. Run by the appd master, from the arbiter's reconcile step.

import type { Logger } from '../master/logger.js';
import type { Pool } from './pool.js';
import type { Supervisor } from '../workers/supervisor.js';
import { countOf } from '../../shared/plural.js';
import type { WorkerHandle } from '../workers/handle.js';

/** Moves every pool's rollout on: to retiring once every wanted slot has a ready new worker, then done. */
export function advanceRollouts(pools: readonly Pool[], supervisor: Supervisor, logger: Logger, now: number): void {
  for (const pool of pools) {
    const rollout = pool.rollout;
    if (!rollout) continue;
    if (rollout.phase === 'rolling') {
      // manageWorkers, next in the same pass, lets the old generation drain.
      if (supervisor.readySlots(pool, pool.generation).size >= pool.desired) pool.retireOldGeneration();
      continue;
    }
    // Done once the old generation takes no new connection: whoever reads "reloaded" and sends a
    // request reaches the new code.
    const older = supervisor.workersOf(pool.name).filter((worker) => worker.generation < pool.generation);
    if (older.every((worker) => worker.hasStoppedAccepting(now))) {
      const seconds = ((now - rollout.startedAt) / 1000).toFixed(2);
      const message = `pool ${pool.name} reloaded: generation ${pool.generation} serves with ${countOf(pool.desired, 'worker')} (${seconds}s)`;
      logger.info(message);
      pool.endRollout({ status: 'completed', message });
    }
  }
}

/**
 * A worker of a generation newer than its pool's: left by a reload that rolled back. It stops if it
 * is still booting, or if an older worker of its slot serves (that one is kept), or if its slot is no
 * longer wanted; otherwise its old worker had died during the roll and it serves on (better the new
 * code than an empty slot).
 */
export function leftByRollBack(pool: Pool, worker: WorkerHandle, slotWorkers: readonly WorkerHandle[]): 'quit' | 'drain' | 'keep' | null {
  if (worker.generation <= pool.generation || worker.state === 'stopping') return null;
  if (worker.state === 'starting') return 'quit';
  const oldOne = slotWorkers.some((other) => other.generation <= pool.generation && other.state === 'ready');
  return oldOne || worker.slot >= pool.desired ? 'drain' : 'keep';
}

/**
 * A new generation could not boot: the pool goes back to the old generation's settings (and count),
 * and manageWorkers stops the new workers; the old ones (which never stopped serving) carry on. The
 * rollout's outcome says why, for whoever waits on it.
 */
export function rollBack(pool: Pool, supervisor: Supervisor, logger: Logger, reason: string): void {
  const failedGeneration = pool.generation;
  const fromGeneration = pool.rollout?.fromGeneration;
  if (fromGeneration === undefined) return;
  const workers = supervisor.workersOf(pool.name);
  const back = { generation: fromGeneration, desired: pool.desired };
  const kept = workers.filter(
    (worker) =>
      worker.generation === failedGeneration &&
      worker.state === 'ready' &&
      worker.slot < back.desired &&
      !workers.some((other) => other.slot === worker.slot && other.generation < failedGeneration && other.state === 'ready'),
  );
  const serving = workers.filter(
    (worker) => worker.generation < failedGeneration && worker.state === 'ready' && worker.slot < back.desired,
  ).length;
  const keptNote =
    kept.length > 0
      ? `; ${kept.map((worker) => worker.tag).join(', ')} stay(s) on generation ${failedGeneration} (the old worker of that slot had exited)`
      : '';
  const message =
    `reload of pool ${pool.name} rolled back: a generation ${failedGeneration} worker failed to boot: ${reason}\n` +
    `generation ${fromGeneration} keeps serving with ${countOf(serving, 'worker')}${keptNote}`;
  pool.rollBack(message);
  logger.error(message);
}
