// A reload's progress per pool: rolling (new workers start slot by slot while the old generation
// serves), retiring (the whole new generation is ready, the old one drains), done; or rolled back when
// a new worker cannot boot. Run by the appd master, from the arbiter loop.

import type { Logger } from '../master/logger.js';
import type { Pool } from './pool.js';
import type { Supervisor } from '../workers/supervisor.js';
import { countOf } from '../../shared/plural.js';

/**
 * Moves every pool's rollout on. Returns true when a rollout just entered "retiring", so the loop can
 * let the old generation drain in the same pass instead of a tick later.
 */
export function advanceRollouts(pools: readonly Pool[], supervisor: Supervisor, logger: Logger, now: number): boolean {
  let retireNow = false;
  for (const pool of pools) {
    const rollout = pool.rollout;
    if (!rollout) continue;
    if (rollout.phase === 'rolling') {
      const current = supervisor.workersOf(pool.name).filter((worker) => worker.state === 'ready' && worker.generation >= pool.generation && worker.slot < pool.desired);
      if (new Set(current.map((worker) => worker.slot)).size >= pool.desired) {
        pool.retireOldGeneration();
        retireNow = true;
      }
      continue;
    }
    // Done once the old generation takes no new connection: whoever reads "reloaded" and sends a
    // request reaches the new code.
    const older = supervisor.workersOf(pool.name).filter((worker) => worker.generation < pool.generation);
    if (older.every((worker) => supervisor.hasStoppedAccepting(worker))) {
      pool.endRollout();
      const seconds = ((now - rollout.startedAt) / 1000).toFixed(2);
      const message = `pool ${pool.name} reloaded: generation ${pool.generation} serves with ${countOf(pool.desired, 'worker')} (${seconds}s)`;
      logger.info(message);
      rollout.job.poolCompleted(pool.name, message);
    }
  }
  return retireNow;
}

/**
 * A new generation could not boot: the pool goes back to the old generation's settings and count, the
 * new workers stop, and the old ones (which never stopped serving) carry on. The requester hears why.
 */
export function rollBack(pool: Pool, supervisor: Supervisor, logger: Logger, reason: string): void {
  const failedGeneration = pool.generation;
  const rollout = pool.rollBack();
  if (!rollout) return;
  const workers = supervisor.workersOf(pool.name);
  const kept: string[] = [];
  for (const worker of workers) {
    if (worker.generation !== failedGeneration || worker.state === 'stopping') continue;
    // Not serving yet: nothing to finish. A ready one may have requests in flight: it drains.
    if (worker.state === 'starting') {
      supervisor.retireWorker(worker, 'rolled-back', 'reload rolled back', 'quick');
      continue;
    }
    const oldOne = workers.some((other) => other.slot === worker.slot && other.generation < failedGeneration && other.state === 'ready');
    if (oldOne || worker.slot >= pool.desired) supervisor.retireWorker(worker, 'rolled-back', 'reload rolled back');
    else kept.push(worker.tag); // its old worker died during the roll: better the new code than an empty slot
  }
  const serving = workers.filter((worker) => worker.generation < failedGeneration && worker.state === 'ready' && worker.slot < pool.desired).length;
  const keptNote = kept.length > 0 ? `; ${kept.join(', ')} stay(s) on generation ${failedGeneration} (the old worker of that slot had exited)` : '';
  const message = `reload of pool ${pool.name} rolled back: a generation ${failedGeneration} worker failed to boot: ${reason}\n` +
    `generation ${rollout.fromGeneration} keeps serving with ${countOf(serving, 'worker')}${keptNote}`;
  logger.error(message);
  rollout.job.poolRolledBack(pool.name, message);
}
