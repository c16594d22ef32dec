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
  /** Epoch milliseconds (the wall clock: it is only shown). */
  readonly at: number;
}

/** What the crash policy may do with a slot's record (what status shows is derived: slotState below). */
export const SLOT_RECORD_STATES = ['may-start', 'backoff', 'fatal', 'finished'] as const;
export type SlotRecordState = (typeof SLOT_RECORD_STATES)[number];

/** What happens to a slot, with what each event carries (`at` on the monotonic clock). */
export type SlotEvent =
  /** Its worker exited after a good run (or was killed from outside): start again at once. */
  | { readonly type: 'replace-now'; readonly exit: ExitRecord; readonly failedBefore: 'kept' | 'forgotten' }
  /** Its worker failed to start (again): wait `delayMs` before the next try. */
  | { readonly type: 'failed-start'; readonly exit: ExitRecord; readonly at: number; readonly delayMs: number }
  /** start-retries failed starts in a row: no more tries until an operator says so. */
  | { readonly type: 'gave-up'; readonly exit: ExitRecord }
  /** A command that ended and, by its restart policy, is not started again. */
  | { readonly type: 'finished'; readonly exit: ExitRecord }
  /** An operator's restart, start-pool or reload: forget the failures and start again at once. */
  | { readonly type: 'reset' };

/** The slot's state after each event: whatever the state before, the event decides. */
const NEXT_STATE: Readonly<Record<SlotEvent['type'], SlotRecordState>> = {
  'replace-now': 'may-start',
  'failed-start': 'backoff',
  'gave-up': 'fatal',
  finished: 'finished',
  reset: 'may-start',
};

export class SlotRecord {
  #state: SlotRecordState = 'may-start';
  #failures = 0;
  #nextStartAt = 0;
  #restarts = 0;
  #lastExit: ExitRecord | null = null;

  get state(): SlotRecordState {
    return this.#state;
  }
  /** Failed starts in a row: exits before start-seconds of life (or before ready). */
  get failures(): number {
    return this.#failures;
  }
  /** Times a worker of this slot was started again after it exited on its own. */
  get restarts(): number {
    return this.#restarts;
  }
  get lastExit(): ExitRecord | null {
    return this.#lastExit;
  }
  /** Gave up after start-retries failed starts; only an operator (restart, start-pool) clears it. */
  get fatal(): boolean {
    return this.#state === 'fatal';
  }
  /** A command that ended and, by the pool's restart policy, is not started again. */
  get finished(): boolean {
    return this.#state === 'finished';
  }

  /** The only writer of the record. */
  transition(event: SlotEvent): SlotRecordState {
    switch (event.type) {
      case 'replace-now':
        this.#restarts += 1;
        if (event.failedBefore === 'forgotten') this.#failures = 0;
        break;
      case 'failed-start':
        this.#restarts += 1;
        this.#failures += 1;
        this.#nextStartAt = event.at + event.delayMs;
        break;
      case 'gave-up':
        this.#restarts += 1;
        this.#failures += 1;
        break;
      case 'finished':
        break;
      case 'reset':
        this.#failures = 0;
        this.#nextStartAt = 0;
        break;
    }
    if (event.type !== 'reset') this.#lastExit = event.exit;
    this.#state = NEXT_STATE[event.type];
    return this.#state;
  }

  /** What an operator's restart or start-pool does: forget the failures and start again at once. */
  reset(): void {
    this.transition({ type: 'reset' });
  }

  /** When a slot in backoff may start again (null when it is not waiting). */
  deadline(): number | null {
    return this.#state === 'backoff' ? this.#nextStartAt : null;
  }

  /** Whether manageWorkers may start a worker here now. */
  mayStart(now: number): boolean {
    return this.#state === 'may-start' || (this.#state === 'backoff' && now >= this.#nextStartAt);
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
  return record.mayStart(now) ? 'starting' : 'backoff';
}
