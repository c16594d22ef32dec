// The arbiter's handlers for what workers do (messages, exits, spawn failures) and for what the master
// tells all of them (reopen logs, WINCH), plus the max-memory check. Each changes state only; the
// reconcile step acts on it. Run by the appd master, inside the arbiter loop.

import { describeFileError, hasErrorCode, type AppdError } from '../../shared/errors.js';
import type { EventOf, HandlersFor, Requester } from './events.js';
import type { FirstStartWitness } from './first-start.js';
import { rollBack } from '../pools/rollouts.js';
import type { JobBoard } from '../pools/jobs.js';
import type { Logger } from '../master/logger.js';
import { readRssBytes } from '../metrics/process-usage.js';
import type { Supervisor } from '../workers/supervisor.js';

/** How often workers' RSS is compared with max-memory. */
const MEMORY_CHECK_MS = 1000;

export interface WorkerEventsContext {
  readonly logger: Logger;
  readonly supervisor: Supervisor;
  readonly jobs: JobBoard;
  readonly firstStart: FirstStartWitness;
  booting(): boolean;
  /** Ends the first start with `error` (a boot failure that will not go away). */
  halt(error: AppdError): void;
}

export class WorkerEvents {
  readonly #context: WorkerEventsContext;
  #memoryCheckedAt = Number.NEGATIVE_INFINITY;

  readonly handlers: HandlersFor<
    'worker-message' | 'worker-misbehaved' | 'worker-exit' | 'worker-spawn-failed' | 'reopen-logs' | 'stop-workers'
  > = {
    'worker-message': (event) => this.message(event),
    'worker-misbehaved': ({ workerId, reason }) => this.#context.supervisor.killMisbehaving(workerId, reason),
    'worker-exit': (event) => this.exit(event),
    'worker-spawn-failed': (event) => this.spawnFailed(event),
    'reopen-logs': (event) => this.reopenLogs(event),
    'stop-workers': ({ requester }) => this.parkAll(requester),
  };

  constructor(context: WorkerEventsContext) {
    this.#context = context;
  }

  message({ workerId, message }: EventOf<'worker-message'>): void {
    const { supervisor, jobs, firstStart } = this.#context;
    const before = supervisor.workers.get(workerId)?.state;
    const worker = supervisor.handleMessage(workerId, message);
    if (worker?.state !== 'ready') return;
    firstStart.everReady = true;
    const pool = supervisor.pools.get(worker.pool);
    // Whoever waits on this worker's pool (a reload, a scale) hears that one more is ready.
    if (before !== 'ready' && pool) jobs.workerReady(worker, pool);
  }

  exit({ workerId, code, signal }: EventOf<'worker-exit'>): void {
    const { supervisor, logger, firstStart } = this.#context;
    const reaped = supervisor.reapWorker(workerId, code, signal);
    if (!reaped?.failedBoot) return;
    const { worker } = reaped;
    const permanent = firstStart.failed(worker.bootFailure);
    if (this.#context.booting()) {
      if (permanent) this.#context.halt(permanent);
      return;
    }
    const pool = supervisor.pools.get(worker.pool);
    if (pool?.rollout?.phase === 'rolling' && worker.generation === pool.generation) {
      rollBack(pool, supervisor, logger, worker.bootFailure?.message ?? 'it exited before becoming ready');
    }
  }

  /** The process could not even be started (EACCES, ENOENT, EAGAIN): say which program and as whom. */
  spawnFailed({ workerId, error }: EventOf<'worker-spawn-failed'>): void {
    const worker = this.#context.supervisor.workers.get(workerId);
    const user = worker?.settings.user ? ` as user ${worker.settings.user}` : '';
    const denied = hasErrorCode(error, 'EACCES')
      ? ' (permission denied: that user must be able to execute it and read its directories)'
      : '';
    const message = `cannot start worker ${worker?.tag ?? workerId}${user}: ${error.message}${denied}`;
    this.#context.logger.error(message);
    this.#context.supervisor.spawnFailed(workerId, { phase: 'spawn', message, code: (error as NodeJS.ErrnoException).code ?? 'EUNKNOWN' });
    this.exit({ type: 'worker-exit', workerId, code: null, signal: null });
  }

  reopenLogs({ requester }: EventOf<'reopen-logs'>): void {
    const { logger, supervisor } = this.#context;
    try {
      logger.reopen();
      logger.info(`${requester.origin}: reopened log files`);
    } catch (error) {
      logger.alert(
        'error',
        `${requester.origin}: cannot reopen ${logger.path} (${describeFileError(error)}); still writing to the old file`,
      );
    }
    for (const worker of supervisor.workers.values()) worker.send({ type: 'reopen-logs' });
    requester.done?.({ status: 'completed', message: 'log files reopened' });
  }

  /** WINCH: every pool parked; the master keeps the sockets. */
  parkAll(requester: Requester): void {
    this.#context.logger.info(
      `${requester.origin}: stopping every worker gracefully; the master keeps the sockets (HUP or TTIN starts workers again)`,
    );
    for (const pool of this.#context.supervisor.pools.values()) pool.park();
    requester.done?.({ status: 'completed', message: 'workers stopping' });
  }

  /**
   * max-memory, about once a second and only if some pool sets it: a worker over its pool's limit is
   * recycled the max-requests way (an HTTP worker's successor is ready before it drains; a plain
   * command is stopped, then started). RSS alone: a CPU sample here would skew the next status request.
   */
  checkMemory(now: number): void {
    const { supervisor, logger } = this.#context;
    if (now - this.#memoryCheckedAt < MEMORY_CHECK_MS) return;
    this.#memoryCheckedAt = now;
    for (const worker of supervisor.workers.values()) {
      const limit = worker.settings.maxMemory;
      if (limit <= 0 || worker.state !== 'ready' || worker.recycleReason !== null) continue;
      const rss = readRssBytes(worker.pid);
      if (rss === null || rss <= limit) continue;
      const megabytes = (bytes: number): string => `${Math.round(bytes / 1024 / 1024)} MB`;
      const reason = `RSS ${megabytes(rss)} is over max-memory ${megabytes(limit)}`;
      worker.transition('recycle-requested', { reason, cause: 'max_memory' });
      logger.warning(`worker ${worker.label}: ${reason}; replacing it`);
    }
  }

  /** A pool gone from the config is forgotten once its last worker exited. */
  forgetRemovedPools(): void {
    const { supervisor, logger } = this.#context;
    for (const pool of [...supervisor.pools.values()]) {
      if (!pool.removed || supervisor.workersOf(pool.name).length > 0) continue;
      supervisor.pools.delete(pool.name);
      logger.info(`pool ${pool.name}: removed`);
    }
  }
}
