// manageWorkers: makes the pools' workers converge on the desired state, slot by slot: spawn what is
// missing, roll outdated workers (successor first, or stop first for plain commands), retire the
// extra. Run by the appd master, from the arbiter's reconcile step.

import type { Pool } from './pool.js';
import { leftByRollBack } from './rollouts.js';
import type { Supervisor } from '../workers/supervisor.js';
import type { WorkerHandle } from '../workers/handle.js';
import type { StopMode } from '../workers/state.js';

/**
 * The daemon stops: every worker is asked to, the quick or the graceful way. A first start that failed
 * (`halted`) stops the workers still booting at once; one already ready may serve (a successor's workers
 * accept next to the old master's): it drains like any other.
 */
export interface DaemonStop {
  readonly mode: StopMode;
  readonly halted: boolean;
}

/** Spawns missing workers, rolls outdated ones (a successor first, then drain), retires extra slots. */
export function manageWorkers(supervisor: Supervisor, stop: DaemonStop | null, now: number): void {
  if (stop !== null) {
    for (const worker of supervisor.workers.values()) {
      if (stop.halted && worker.state === 'starting') supervisor.retireWorker(worker, 'start-failed', 'start failed', 'quick');
      else supervisor.retireWorker(worker, 'daemon-stopping', stop.mode === 'quick' ? 'quick stop' : 'graceful stop', stop.mode);
    }
    return;
  }
  // slot-bind: sockets of slots that no longer exist are closed before their workers are retired.
  supervisor.slotSockets.retain(supervisor.pools);
  for (const pool of supervisor.pools.values()) {
    retireRolledBack(supervisor, pool);
    let rolling = 0;
    for (let slot = 0; slot < pool.desired; slot += 1) rolling += manageSlot(supervisor, pool, slot, rolling, now);
    for (const worker of supervisor.workersOf(pool.name)) {
      // A reload that shrinks the pool keeps the extra old workers too, until its new generation is ready.
      if (worker.slot >= pool.desired && worker.state !== 'stopping' && !keptForRollBack(pool, worker)) {
        if (pool.stopped) supervisor.retireWorker(worker, pool.removed ? 'pool-removed' : 'pool-stopped', 'pool stopped');
        else if (pool.parked) supervisor.retireWorker(worker, 'parked', 'workers stopped (WINCH)');
        else supervisor.retireWorker(worker, 'scaled-down', `scaled down to ${pool.desired}`);
      }
    }
  }
  supervisor.slotHandoff.step(supervisor.pools.values(), {
    workersOf: (pool, slot) => supervisor.workersOf(pool, slot),
    hasReleasedSlot: (worker) => worker.hasReleasedSlot(now),
  });
}

/** What a reload that rolled back left: its new workers stop (see leftByRollBack). */
function retireRolledBack(supervisor: Supervisor, pool: Pool): void {
  const workers = supervisor.workersOf(pool.name);
  for (const worker of workers) {
    const verdict = leftByRollBack(
      pool,
      worker,
      workers.filter((other) => other.slot === worker.slot),
    );
    // Not serving yet: nothing to finish. A ready one may have requests in flight: it drains.
    if (verdict === 'quit') supervisor.retireWorker(worker, 'rolled-back', 'reload rolled back', 'quick');
    if (verdict === 'drain') supervisor.retireWorker(worker, 'rolled-back', 'reload rolled back');
  }
}

/**
 * HTTP pools, and command pools sharing sockets, start the successor first and retire the old worker
 * once it is ready, so capacity never dips. A plain command pool stops the old process first: two
 * copies of a queue consumer or a cron-like job must not overlap.
 */
function startsSuccessorFirst(pool: Pool): boolean {
  return pool.settings.kind === 'http' || pool.settings.bind.length > 0;
}

/**
 * During a reload an old-generation worker keeps serving after its successor is ready, until the
 * whole pool's new generation is ready: if a later slot fails to boot, every slot still has its old
 * worker, and the roll back restores the old generation everywhere. Its code is no longer on disk
 * (the deploy replaced it), only in these processes, so they cannot be started again later.
 */
function keptForRollBack(pool: Pool, older: WorkerHandle): boolean {
  return pool.rollout?.phase === 'rolling' && older.generation < pool.generation && older.state === 'ready';
}

/** Returns 1 if this slot is being rolled to the pool's generation (counts against the batch). */
function manageSlot(supervisor: Supervisor, pool: Pool, slot: number, rollingSoFar: number, now: number): number {
  const workers = supervisor.workersOf(pool.name, slot);
  const live = workers.filter((worker) => worker.state !== 'stopping');
  const newest = live.at(-1);
  // A failing slot waits out its backoff (or stays down when fatal), whatever the reason to spawn.
  const mayStart = pool.slot(slot).mayStart(now);
  if (!newest) {
    // Stop-first pools wait until the old process is really gone. So does a slot whose worker is being
    // killed for failing to boot (boot timeout): its failure must count (backoff, fatal) before the next try.
    const waitForOld = (!startsSuccessorFirst(pool) && workers.length > 0) || workers.some((worker) => worker.bootFailure !== null);
    if (mayStart && !waitForOld && supervisor.spawnCeiling.take(now)) supervisor.spawnWorker(pool, slot);
    return workers.some((worker) => worker.generation < pool.generation) ? 1 : 0;
  }
  if (newest.state === 'ready') {
    for (const older of live.slice(0, -1)) {
      if (keptForRollBack(pool, older)) continue;
      supervisor.retireWorker(
        older,
        'replaced',
        `replaced by ${newest.label}${older.recycleReason === null ? '' : ` (${older.recycleReason})`}`,
      );
    }
  }
  const outdated = newest.generation < pool.generation;
  if (!outdated && newest.recycleReason === null) return newest.state === 'starting' && live.length > 1 ? 1 : 0;
  if (newest.state !== 'ready' || !mayStart || (outdated && rollingSoFar >= pool.settings.reloadBatch)) return 0;
  if (startsSuccessorFirst(pool)) {
    if (supervisor.spawnCeiling.take(now)) supervisor.spawnWorker(pool, slot);
  } else
    supervisor.retireWorker(
      newest,
      'restarting',
      outdated ? `restarting into generation ${pool.generation}` : `replacing: ${newest.recycleReason}`,
    );
  return outdated ? 1 : 0;
}
