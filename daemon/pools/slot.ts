// One numbered slot of a pool (web.0, web.1 ...): its crash bookkeeping and the supervisord-style state
// shown in status (starting, running, backoff, stopping, stopped, exited, fatal). Run by the appd master.

import type { WorkerHandle } from '../workers/handle.js';

export const SLOT_STATES = ['starting', 'running', 'backoff', 'stopping', 'stopped', 'exited', 'fatal'] as const;
export type SlotState = (typeof SLOT_STATES)[number];

export interface ExitRecord {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** crashed, failed to boot, failed to spawn, boot timeout, timeout, oom (the kernel's OOM killer), killed from outside, killed. */
  readonly reason: string;
  /** Epoch milliseconds. */
  readonly at: number;
}

export class SlotRecord {
  /** Failed starts in a row: exits before start-seconds of life (or before ready). */
  failures = 0;
  /** Epoch milliseconds before which the slot is not started again. */
  nextSpawnAt = 0;
  /** Times a worker of this slot was started again after it exited on its own. */
  restarts = 0;
  /** Gave up after start-retries failed starts; only an operator (restart, start-pool) clears it. */
  fatal = false;
  /** A command that ended and, by the pool's restart policy, is not started again. */
  finished = false;
  lastExit: ExitRecord | null = null;

  /** Whether manageWorkers may start a worker here now. */
  mayStart(now: number): boolean {
    return !this.fatal && !this.finished && now >= this.nextSpawnAt;
  }

  /** What an operator's restart or start-pool does: forget the failures and start again at once. */
  reset(): void {
    this.failures = 0;
    this.nextSpawnAt = 0;
    this.fatal = false;
    this.finished = false;
  }
}

/** The state shown for a slot, derived from the record and the slot's workers (never stored). */
export function slotState(record: SlotRecord, workers: readonly WorkerHandle[], wanted: boolean, now: number): SlotState {
  const live = workers.filter((worker) => worker.state === 'starting' || worker.state === 'ready');
  if (!wanted) return workers.some((worker) => worker.state === 'stopping') ? 'stopping' : 'stopped';
  if (live.some((worker) => worker.state === 'ready')) return 'running';
  if (live.length > 0) return 'starting';
  if (record.fatal) return 'fatal';
  if (record.finished) return 'exited';
  if (workers.some((worker) => worker.state === 'stopping')) return 'stopping';
  return now < record.nextSpawnAt ? 'backoff' : 'starting';
}
