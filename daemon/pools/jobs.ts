// Operations whose requesters wait for an outcome (reload, restart, scale, stop-pool, start-pool): one
// Job each, polled once per reconcile pass until its check has an outcome or its deadline passes.
// Run by the appd master, inside the arbiter loop.

import type { JobOutcome, Requester } from '../arbiter/events.js';
import type { Pool, Rollout } from './pool.js';
import type { WorkerHandle } from '../workers/handle.js';
import type { Supervisor } from '../workers/supervisor.js';

export interface JobSpec {
  /** Whose workers becoming ready are reported as progress. */
  readonly pools: readonly string[];
  /** The outcome once there is one; null while it is still running. */
  readonly check: () => JobOutcome | null;
  /** Failed ("timed out") past this time on the arbiter's clock; null: the check always ends it. */
  readonly deadline: number | null;
  /** The progress line for a worker of one of its pools that just became ready. */
  readonly readyLine: (worker: WorkerHandle, pool: Pool) => string;
  /** Hears the single outcome too (systemd's READY=1 after RELOADING=1, once per reload). */
  readonly onFinish?: (outcome: JobOutcome) => void;
}

export class Job {
  readonly #requesters: Requester[];
  readonly #spec: JobSpec;
  #finished = false;

  constructor(requesters: readonly Requester[], spec: JobSpec) {
    this.#requesters = [...requesters];
    this.#spec = spec;
  }

  get finished(): boolean {
    return this.#finished;
  }

  progress(text: string): void {
    for (const requester of this.#requesters) requester.progress?.(text);
  }

  workerReady(worker: WorkerHandle, pool: Pool): void {
    if (this.#spec.pools.includes(pool.name)) this.progress(this.#spec.readyLine(worker, pool));
  }

  /** Ends the job if its check has an outcome (or its deadline passed); true once it has ended. */
  settle(now: number): boolean {
    if (this.#finished) return true;
    const { check, deadline } = this.#spec;
    const outcome =
      check() ??
      (deadline !== null && now > deadline
        ? { status: 'failed' as const, message: 'timed out waiting for workers to become ready' }
        : null);
    if (outcome) this.finish(outcome);
    return this.#finished;
  }

  /** Ends it now with `outcome` (a reload whose config could not be read or applied). */
  finish(outcome: JobOutcome): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#spec.onFinish?.(outcome);
    for (const requester of this.#requesters) requester.done?.(outcome);
  }
}

/** The jobs in progress, settled once per reconcile pass. */
export class JobBoard {
  #jobs: Job[] = [];

  add(job: Job): void {
    this.#jobs.push(job);
  }

  workerReady(worker: WorkerHandle, pool: Pool): void {
    for (const job of this.#jobs) job.workerReady(worker, pool);
  }

  settle(now: number): void {
    this.#jobs = this.#jobs.filter((job) => !job.settle(now));
  }
}

/**
 * The outcome of the rollouts a reload or restart started: each followed to the newest rollout that
 * superseded it (a later reload re-read the config after this one was asked for, so it covers it), and
 * once every one has ended: rolled_back if any pool rolled back, failed if any was abandoned (daemon
 * stopping, pool removed), else completed.
 */
export function rolloutsOutcome(rollouts: readonly Rollout[], reported: Set<Rollout>, progress: (text: string) => void): JobOutcome | null {
  const finals = rollouts.map(newest);
  for (const rollout of finals) {
    // Each pool's own line as soon as it has one, so a slow pool does not hide a finished one.
    if (rollout.outcome && !reported.has(rollout)) {
      reported.add(rollout);
      if (rollout.outcome.status !== 'abandoned') progress(rollout.outcome.message);
    }
  }
  if (finals.some((rollout) => rollout.outcome === null)) return null;
  const outcomes = finals.flatMap((rollout) => (rollout.outcome ? [rollout.outcome] : []));
  const messages = (status: string): string =>
    outcomes
      .filter((outcome) => outcome.status === status)
      .map((outcome) => outcome.message)
      .join('\n');
  if (outcomes.some((outcome) => outcome.status === 'rolled_back'))
    return { status: 'rolled_back', message: [messages('rolled_back'), messages('abandoned')].filter(Boolean).join('\n') };
  if (outcomes.some((outcome) => outcome.status === 'abandoned')) return { status: 'failed', message: messages('abandoned') };
  return { status: 'completed', message: messages('completed') || 'reloaded (no pool to roll)' };
}

/** "worker web.3 g2 (pid 1234) ready (3 of 4 on generation 2)": a reload's or restart's progress. */
export function rolloutReadyLine(supervisor: Supervisor) {
  return (worker: WorkerHandle, pool: Pool): string =>
    `worker ${worker.label} ready (${supervisor.readySlots(pool, pool.generation).size} of ${pool.desired} on generation ${pool.generation})`;
}

function newest(rollout: Rollout): Rollout {
  let current = rollout;
  while (current.supersededBy) current = current.supersededBy;
  return current;
}
