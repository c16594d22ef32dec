// One reload as its requester sees it: every pool it rolls reports back here, and the requester gets a
// single outcome once all have (completed, or rolled_back if any pool rolled back). Run by the appd master.

import type { JobOutcome, Requester } from '../arbiter/events.js';

export class ReloadJob {
  readonly requester: Requester;
  readonly #pending = new Set<string>();
  readonly #completed: string[] = [];
  readonly #failures: string[] = [];
  #rolledBack = false;
  /** How it ended for each pool, for the reloads metric (which reads it when the pool's rollout ends). */
  readonly outcomes = new Map<string, 'completed' | 'rolled_back' | 'abandoned'>();

  readonly #onFinish: ((outcome: JobOutcome) => void) | null;

  /** `onFinish` hears the single outcome too (systemd's READY=1 after RELOADING=1). */
  constructor(requester: Requester, onFinish: ((outcome: JobOutcome) => void) | null = null) {
    this.requester = requester;
    this.#onFinish = onFinish;
  }

  /** The pools that roll; with none (only settings of the master changed), the job is done at once. */
  expect(pools: readonly string[]): void {
    for (const pool of pools) this.#pending.add(pool);
    if (this.#pending.size === 0) this.#finish();
  }

  poolCompleted(pool: string, message: string): void {
    this.requester.progress?.(message);
    this.outcomes.set(pool, 'completed');
    this.#completed.push(message);
    this.#settle(pool);
  }

  poolRolledBack(pool: string, message: string): void {
    this.requester.progress?.(message);
    this.outcomes.set(pool, 'rolled_back');
    this.#rolledBack = true;
    this.#failures.push(message);
    this.#settle(pool);
  }

  /** The pool's rollout ended without an outcome of its own (superseded, daemon stopping, pool removed). */
  poolAbandoned(pool: string, message: string): void {
    this.outcomes.set(pool, 'abandoned');
    this.#failures.push(`pool ${pool}: ${message}`);
    this.#settle(pool);
  }

  #settle(pool: string): void {
    if (!this.#pending.delete(pool) || this.#pending.size > 0) return;
    this.#finish();
  }

  #finish(): void {
    let outcome: JobOutcome;
    if (this.#rolledBack) outcome = { status: 'rolled_back', message: this.#failures.join('\n') };
    else if (this.#failures.length > 0) outcome = { status: 'failed', message: this.#failures.join('\n') };
    else outcome = { status: 'completed', message: this.#completed.join('\n') || 'reloaded (no pool to roll)' };
    this.#onFinish?.(outcome);
    this.requester.done?.(outcome);
  }
}
