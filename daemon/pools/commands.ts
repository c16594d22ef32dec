// What an operator does to pools (appctl scale, restart, stop-pool, start-pool; TTIN/TTOU): each
// changes the pool's desired state, then waits as a job for the workers to converge. Run by the appd
// master, inside the arbiter loop (which refuses all of them while the daemon stops).

import type { EventOf, HandlersFor, Requester } from '../arbiter/events.js';
import type { Logger } from '../master/logger.js';
import type { Pool, Rollout } from './pool.js';
import { Job, rolloutReadyLine, rolloutsOutcome, type JobBoard } from './jobs.js';
import type { Supervisor } from '../workers/supervisor.js';
import { countOf } from '../../shared/plural.js';
import type { WorkerHandle } from '../workers/handle.js';

export interface PoolCommandContext {
  readonly supervisor: Supervisor;
  readonly logger: Logger;
  readonly now: number;
  readonly jobs: JobBoard;
}

/** The handlers of the pool commands; `context` is taken fresh for each event. */
export function poolCommandHandlers(context: () => PoolCommandContext): HandlersFor<'scale' | 'restart' | 'stop-pool' | 'start-pool'> {
  return {
    scale: (event) => scalePool(context(), event),
    restart: (event) => restartWorkers(context(), event),
    'stop-pool': (event) => stopPool(context(), event),
    'start-pool': (event) => startPool(context(), event),
  };
}

/** The pool named, the first pool when none is named (TTIN/TTOU act on it), or a failed outcome. */
function findPool(context: PoolCommandContext, name: string | null, requester: Requester): Pool | null {
  const pool =
    name === null ? [...context.supervisor.pools.values()].find((candidate) => !candidate.removed) : context.supervisor.pools.get(name);
  if (!pool || pool.removed) {
    const known = [...context.supervisor.pools.keys()].join(', ');
    requester.done?.({ status: 'failed', message: `no pool named "${name}" (pools: ${known})` });
    return null;
  }
  return pool;
}

function announce(context: PoolCommandContext, requester: Requester, what: string): void {
  context.logger.info(`${requester.origin}: ${what}`);
  requester.progress?.(what);
}

/** A deadline generous enough for the slowest boot plus a stop. */
function deadline(context: PoolCommandContext, pool: Pool): number {
  return context.now + (pool.settings.bootTimeout + pool.settings.gracefulTimeout) * 1000 + 1000;
}

/** "worker web.3 g2 (pid 1234) ready (3 of 4)": a pool job's progress. */
function readyLine(supervisor: Supervisor) {
  return (worker: WorkerHandle, pool: Pool): string => `worker ${worker.label} ready (${supervisor.readyCount(pool)} of ${pool.desired})`;
}

export function scalePool(context: PoolCommandContext, { pool: name, change, requester }: EventOf<'scale'>): void {
  const pool = findPool(context, name, requester);
  if (!pool) return;
  const wanted = 'relative' in change ? pool.desired + change.relative : change.absolute;
  // An http pool keeps one worker, or nothing would serve its sockets; a command pool may go to 0.
  const minimum = pool.settings.kind === 'http' ? 1 : 0;
  const target = Math.max(minimum, wanted);
  announce(
    context,
    requester,
    wanted < minimum
      ? `pool ${pool.name} stays at its minimum of ${minimum === 1 ? '1 worker (an http pool needs one to serve)' : '0 workers'}`
      : `scaling pool ${pool.name} from ${pool.desired} to ${countOf(target, 'worker')}`,
  );
  pool.scale(target);
  const { supervisor } = context;
  context.jobs.add(
    new Job([requester], {
      pools: [pool.name],
      deadline: context.now + pool.settings.bootTimeout * 1000 + 1000,
      readyLine: readyLine(supervisor),
      check: () => {
        const extra = supervisor.workersOf(pool.name).some((worker) => worker.slot >= pool.desired);
        if (!supervisor.isSettled(pool) || extra) return null;
        return {
          status: 'completed',
          message: `pool ${pool.name} has ${countOf(pool.desired, 'ready worker')}`,
          data: { pool: pool.name, workers: pool.desired },
        };
      },
    }),
  );
}

/**
 * appctl restart [POOL [SLOT]]: new workers for every slot (a rolling restart with the current
 * settings, the same path as a reload but without reading the config), or for one slot. It also
 * clears failed, fatal and exited slots: it is how an operator says "try again".
 */
export function restartWorkers(context: PoolCommandContext, { pool: name, slot, requester }: EventOf<'restart'>): void {
  if (slot === null) {
    let pools: Pool[];
    if (name === null) {
      pools = [...context.supervisor.pools.values()].filter((pool) => !pool.removed);
    } else {
      const pool = findPool(context, name, requester);
      if (!pool) return;
      pools = [pool];
    }
    const rollouts: Rollout[] = [];
    for (const pool of pools) {
      rollouts.push(pool.startRollout(pool.settings, context.now, 'restart'));
      announce(context, requester, `pool ${pool.name}: restarting ${countOf(pool.desired, 'worker')} as generation ${pool.generation}`);
    }
    const reported = new Set<Rollout>();
    const { supervisor } = context;
    context.jobs.add(
      new Job([requester], {
        pools: pools.map((pool) => pool.name),
        deadline: null,
        readyLine: rolloutReadyLine(supervisor),
        check: () => rolloutsOutcome(rollouts, reported, (text) => requester.progress?.(text)),
      }),
    );
    return;
  }
  const pool = findPool(context, name, requester);
  if (!pool) return;
  if (slot >= pool.desired) {
    requester.done?.({ status: 'failed', message: `pool ${pool.name} has no slot ${slot} (it wants ${countOf(pool.desired, 'worker')})` });
    return;
  }
  restartSlot(context, pool, slot, requester);
}

function restartSlot(context: PoolCommandContext, pool: Pool, slot: number, requester: Requester): void {
  const { supervisor } = context;
  const before = supervisor.workersOf(pool.name, slot).filter((worker) => worker.state !== 'stopping');
  const newestBefore = Math.max(0, ...before.map((worker) => worker.id));
  pool.slot(slot).reset();
  // The same path as max-requests: an http slot gets its successor first, a command slot stops first.
  for (const worker of before) {
    if (worker.recycleReason === null)
      worker.transition('recycle-requested', { reason: `restart requested by ${requester.origin}`, cause: null });
  }
  announce(context, requester, `restarting ${pool.name}.${slot}`);
  context.jobs.add(
    new Job([requester], {
      pools: [pool.name],
      deadline: deadline(context, pool),
      readyLine: readyLine(supervisor),
      check: () => {
        const fresh = supervisor.workersOf(pool.name, slot).find((worker) => worker.id > newestBefore && worker.state === 'ready');
        return fresh ? { status: 'completed', message: `${pool.name}.${slot} restarted: ${fresh.label}` } : null;
      },
    }),
  );
}

/** appctl stop-pool POOL: every worker of the pool stops (gracefully); its target is kept for start-pool. */
export function stopPool(context: PoolCommandContext, { pool: name, requester }: EventOf<'stop-pool'>): void {
  const pool = findPool(context, name, requester);
  if (!pool) return;
  pool.stop();
  announce(context, requester, `stopping pool ${pool.name}`);
  const { supervisor } = context;
  context.jobs.add(
    new Job([requester], {
      pools: [],
      deadline: deadline(context, pool),
      readyLine: readyLine(supervisor),
      check: () => (supervisor.workersOf(pool.name).length === 0 ? { status: 'completed', message: `pool ${pool.name} stopped` } : null),
    }),
  );
}

/** appctl start-pool POOL: back to its target, failed and fatal slots cleared. */
export function startPool(context: PoolCommandContext, { pool: name, requester }: EventOf<'start-pool'>): void {
  const pool = findPool(context, name, requester);
  if (!pool) return;
  pool.start();
  announce(context, requester, `starting pool ${pool.name} with ${countOf(pool.desired, 'worker')}`);
  const { supervisor } = context;
  context.jobs.add(
    new Job([requester], {
      pools: [pool.name],
      deadline: deadline(context, pool),
      readyLine: readyLine(supervisor),
      check: () =>
        supervisor.isSettled(pool)
          ? { status: 'completed', message: `pool ${pool.name} has ${countOf(pool.desired, 'worker')} running` }
          : null,
    }),
  );
}
