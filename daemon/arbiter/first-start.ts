// Judges the daemon's first start: when it counts as running, and which boot failures end it at once
// with the exit code DESIGN.md gives them (2 bind/setting, 3 boot, 4 app load). Run by the appd master.

import { AppLoadError, BindError, BootError, ConfigError, type AppdError } from '../../shared/errors.js';
import type { Pool } from '../pools/pool.js';
import type { Supervisor } from '../workers/supervisor.js';
import type { BootFailureReport } from '../workers/handle.js';
import { LISTEN_NOT_ADOPTED } from '../contracts/worker-messages.js';

/**
 * A failure that will happen again on every retry ends the first start now instead of at
 * boot-timeout: a module that cannot be imported, a program the worker's user may not run, a file a
 * setting names that cannot be opened, a socket that cannot be listened on, a script's listen() that
 * does not fit adopt-listen. Null: worth retrying (a crash, a slow dependency).
 */
export function permanentBootFailure(failure: BootFailureReport | null): AppdError | null {
  if (failure === null) return null;
  switch (failure.phase) {
    case 'load':
      return new AppLoadError(failure.message);
    case 'spawn':
      return failure.code === 'EACCES' || failure.code === 'ENOENT' ? new BootError(failure.message) : null;
    case 'setting':
      return new ConfigError(failure.message);
    case 'listen':
      if (failure.code === 'EADDRINUSE' || failure.code === 'EACCES') return new BindError(failure.message);
      return failure.code === LISTEN_NOT_ADOPTED ? new BootError(failure.message) : null;
    default:
      return null;
  }
}

export interface FirstStartState {
  readonly pools: readonly Pool[];
  readonly supervisor: Supervisor;
  readonly elapsedMs: number;
  /** Whether any worker has ever become ready. */
  readonly everReady: boolean;
  /** The most telling boot failure so far (the app's own error rather than a timeout). */
  readonly lastFailure: BootFailureReport | null;
  /** A successor master (upgrade) takes over only with every worker ready. */
  readonly requireEveryWorker: boolean;
}

export type FirstStartVerdict =
  | { readonly kind: 'wait' }
  | { readonly kind: 'running'; readonly warning: string | null }
  | { readonly kind: 'halt'; readonly error: AppdError };

export function judgeFirstStart(state: FirstStartState): FirstStartVerdict {
  const settled = state.pools.every((pool) => state.supervisor.isSettled(pool));
  const limitMs = Math.max(...state.pools.map((pool) => pool.settings.bootTimeout)) * 1000;
  const anyRunning = [...state.supervisor.workers.values()].some((worker) => worker.state === 'ready');
  const reason = (fallback: string): string => state.lastFailure?.message ?? fallback;
  if (settled && anyRunning) return { kind: 'running', warning: null };
  if (settled) {
    // Every slot gave up (fatal) before any worker ran: waiting for boot-timeout would change nothing.
    return {
      kind: 'halt',
      error: new BootError(`no worker could start (every slot is fatal after start-retries): ${reason('every slot failed to start')}`),
    };
  }
  if (state.elapsedMs <= limitMs) return { kind: 'wait' };
  const seconds = limitMs / 1000;
  if (!state.everReady)
    return {
      kind: 'halt',
      error: new BootError(`no worker became ready within boot-timeout (${seconds}s): ${reason('no worker reported an error')}`),
    };
  if (state.requireEveryWorker) {
    return {
      kind: 'halt',
      error: new BootError(`not every worker became ready within boot-timeout (${seconds}s): ${reason('no worker reported an error')}`),
    };
  }
  return { kind: 'running', warning: 'not every worker became ready within boot-timeout; serving with those that did' };
}

/** The app's own error says more than "boot timeout" (a slow machine can turn one into the other). */
export function moreTelling(current: BootFailureReport | null, candidate: BootFailureReport | null): BootFailureReport | null {
  if (candidate === null) return current;
  return candidate.phase !== 'timeout' || current === null ? candidate : current;
}

/** What the first start has seen so far: whether any worker became ready, and the most telling failure. */
export class FirstStartWitness {
  everReady = false;
  lastFailure: BootFailureReport | null = null;

  /** Judges the first start now (see judgeFirstStart) with what was seen so far. */
  judge(pools: readonly Pool[], supervisor: Supervisor, elapsedMs: number, requireEveryWorker: boolean): FirstStartVerdict {
    return judgeFirstStart({ pools, supervisor, elapsedMs, everReady: this.everReady, lastFailure: this.lastFailure, requireEveryWorker });
  }

  /** A worker failed to boot; returns the error that ends the first start now, if it is one that will not go away. */
  failed(failure: BootFailureReport | null): AppdError | null {
    this.lastFailure = moreTelling(this.lastFailure, failure);
    return permanentBootFailure(failure);
  }
}
