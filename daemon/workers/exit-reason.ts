// How and why a worker exited: describeExit ("exit code 3", "signal SIGKILL") for every log line, and the
// restart reason (crash, timeout, oom ...) for appd_worker_restarts_total, status and events. Run by the appd master.

import type { UnaskedExit } from './outside-kill.js';
import { WORKER_EXIT } from '../contracts/worker-messages.js';

export const RESTART_REASONS = ['crash', 'timeout', 'max_requests', 'max_memory', 'oom', 'outside_kill', 'reload'] as const;
export type RestartReason = (typeof RESTART_REASONS)[number];

/** Why the master replaced a worker that was still healthy (set where the replacement is decided). */
export type RecycleCause = 'max_requests' | 'max_memory';

/** What the reason needs to know of the worker, so the in-process arbiter tests can pass plain objects. */
export interface ExitedWorker {
  readonly generation: number;
  readonly timedOut: boolean;
  readonly bootFailure: { readonly phase: string } | null;
  readonly recycleReason: string | null;
  readonly recycleCause: RecycleCause | null;
}

const UNASKED: Readonly<Record<UnaskedExit, RestartReason>> = {
  crash: 'crash',
  oom: 'oom',
  'outside-kill': 'outside_kill',
  // SIGKILL where the kernel's OOM count cannot be read: the app failing is the likelier story.
  killed: 'crash',
};

/**
 * The reason a worker's exit counts as a restart, or null for a planned stop after which no
 * successor takes its place (scaled down, pool stopped, the daemon stopping, WINCH).
 * `asked`: the master had told it to stop; `poolGeneration`: the generation its pool runs now.
 */
export function restartReason(worker: ExitedWorker, asked: boolean, unasked: UnaskedExit, poolGeneration: number): RestartReason | null {
  if (worker.timedOut || worker.bootFailure?.phase === 'timeout') return 'timeout';
  if (!asked) return UNASKED[unasked];
  if (worker.recycleCause !== null) return worker.recycleCause;
  // Replaced on request (appctl restart) or by a reload (a newer generation took its slot).
  if (worker.recycleReason !== null || worker.generation < poolGeneration) return 'reload';
  return null;
}

/** How a child process ended, in the words every log line and message uses ("exit code 3", "signal SIGKILL"). */
export function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return code !== null ? `exit code ${code}` : `signal ${signal ?? 'unknown'}`;
}

/** A worker that exited before it was ever ready, with nothing said: its last output is the report. */
export function exitedBeforeReady(
  outputTail: readonly string[],
  code: number | null,
  how: string,
): { phase: 'load' | 'crash'; message: string } {
  const tail = outputTail.slice(-8).join('\n');
  const phase = code === WORKER_EXIT.appLoadFailed ? 'load' : 'crash';
  return { phase, message: `exited with ${how} before becoming ready${tail ? `; its last output:\n${tail}` : ''}` };
}
