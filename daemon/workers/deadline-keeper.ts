// murderWorkers: fires every worker deadline that is due (boot timeout, missed heartbeat, the kill after
// a stop's grace, a command counted as up) and notices when the master itself did not run for a while,
// so that no worker is judged silent for the master's own stall. Run by the appd master, each reconcile pass.

import type { Logger } from '../master/logger.js';
import type { Supervisor } from './supervisor.js';
import type { WorkerHandle } from './handle.js';
import type { DeadlineEvent } from './state.js';

/**
 * Passes come at least every 200 ms; a gap this long means the master was stopped (SIGSTOP, a
 * debugger), suspended or starved of CPU, while its workers may have run and sent heartbeats it has
 * not judged yet (or could not: a suspended machine's workers were stopped too).
 */
export const STALL_MS = 2000;

export class DeadlineKeeper {
  readonly #logger: Logger;
  #lastPassAt: number | null = null;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  murderWorkers(supervisor: Supervisor, now: number): void {
    this.#noticeStall(supervisor, now);
    for (const worker of [...supervisor.workers.values()]) {
      const due = worker.deadline();
      if (due !== null && now >= due.at) this.#fire(supervisor, worker, due.event, now);
    }
  }

  /** After a stall every live worker gets a fresh window: silence is judged from the end of the stall. */
  #noticeStall(supervisor: Supervisor, now: number): void {
    const gap = this.#lastPassAt === null ? 0 : now - this.#lastPassAt;
    this.#lastPassAt = now;
    if (gap < STALL_MS) return;
    this.#logger.warning(
      `the master did not run for ${(gap / 1000).toFixed(1)}s (stopped, suspended or starved of CPU): every worker gets a fresh timeout window`,
    );
    for (const worker of supervisor.workers.values()) if (worker.state !== 'exited') worker.transition('master-stalled', { at: now });
  }

  #fire(supervisor: Supervisor, worker: WorkerHandle, event: DeadlineEvent, now: number): void {
    const settings = worker.settings;
    switch (event) {
      case 'became-ready':
        // A command has no readiness message: having stayed up start-seconds is what counts (supervisord's RUNNING).
        worker.transition('became-ready', { at: now });
        this.#logger.info(`worker ${worker.label} running (up ${settings.startSeconds}s)`);
        return;
      case 'boot-timeout':
        this.#logger.info(`stopping worker ${worker.label}: boot timeout`);
        this.#logger.warning(`killing worker ${worker.label}: not ready after ${settings.bootTimeout}s`);
        worker.transition('boot-timeout', {
          at: now,
          report: { phase: 'timeout', message: `did not become ready within boot-timeout (${settings.bootTimeout}s)` },
        });
        return;
      case 'missed-heartbeat': {
        const silence = ((now - worker.lastHeartbeatAt) / 1000).toFixed(1);
        this.#logger.critical(`WORKER TIMEOUT ${worker.label}: no heartbeat for ${silence}s (timeout ${settings.timeout}s)`);
        worker.transition('missed-heartbeat', { at: now });
        this.#logger.info(`stopping worker ${worker.label}: timeout`);
        return;
      }
      case 'kill':
        supervisor.killWorker(worker, worker.timedOut ? 'timed out' : `still running ${worker.stopGraceMs() / 1000}s after stop`);
        return;
    }
  }
}
