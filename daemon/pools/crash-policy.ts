// The crash policy of a slot: what an exit the master did not ask for means (a crash, a failed start,
// an outside kill, a command done by its restart policy) and when the slot may start again. Run by the appd master.

import { backoffDelayMs } from './backoff.js';
import type { Logger } from '../master/logger.js';
import type { UnaskedExit } from '../workers/outside-kill.js';
import type { ExitRecord, SlotEvent, SlotRecord } from './slot.js';
import type { WorkerHandle } from '../workers/handle.js';

export interface CrashPolicyContext {
  readonly logger: Logger;
  readonly now: () => number;
  readonly wallNow: () => number;
  readonly random: () => number;
}

export const UNASKED_EXIT_NOTES: Readonly<Record<UnaskedExit, string>> = {
  crash: '',
  oom: "; oom: killed by the kernel's OOM killer",
  'outside-kill': '; killed by someone else, not by appd: replaced at once',
  killed: '; killed by someone else, perhaps out of memory',
};

/** What status shows as a slot's lastExit.reason. */
function exitReason(worker: WorkerHandle, unasked: UnaskedExit): string {
  if (worker.timedOut) return 'timeout';
  if (worker.bootFailure?.phase === 'timeout') return 'boot timeout';
  if (worker.bootFailure?.phase === 'spawn') return 'failed to spawn';
  if (unasked === 'oom') return 'oom';
  if (unasked === 'outside-kill') return 'killed from outside';
  if (unasked === 'killed') return 'killed';
  return worker.readyAt === null ? 'failed to boot' : 'crashed';
}

/**
 * Whatever start-seconds says (0 switches it off), a slot whose worker exits sooner than this after
 * its start backs off: /bin/false with start-seconds 0 was restarted ~250 times a second, with the
 * master at 69% of a core and its healthy pools starved (issue 15 item 2).
 */
export const RESTART_FLOOR_MS = 1000;

/**
 * An exit the master did not ask for: a command that ended by its restart policy stays exited; one
 * that ran start-seconds (and at least RESTART_FLOOR_MS), or was killed from outside, is simply started
 * again; an earlier one is a failed start, throttled with exponential backoff, and after start-retries
 * of them in a row the slot is fatal.
 */
export function judgeExit(
  worker: WorkerHandle,
  record: SlotRecord,
  code: number | null,
  unasked: UnaskedExit,
  now: number,
  wallNow: number,
  random: () => number,
): SlotEvent {
  const settings = worker.settings;
  const exit: ExitRecord = { code, signal: worker.exitSignal, reason: exitReason(worker, unasked), at: wallNow };
  if (settings.kind === 'command' && (settings.restart === 'never' || (settings.restart === 'on-failure' && code === 0))) {
    return { type: 'finished', exit };
  }
  // kill -9 by an operator or a chaos tool is not the program failing to start: backing off would
  // leave the pool short for seconds after a burst of kills. The failures so far are kept.
  if (unasked === 'outside-kill') return { type: 'replace-now', exit, failedBefore: 'kept' };
  const lived = now - worker.spawnedAt;
  const started = worker.readyAt !== null && lived >= settings.startSeconds * 1000;
  if (started && lived >= RESTART_FLOOR_MS) return { type: 'replace-now', exit, failedBefore: 'forgotten' };
  const failures = record.failures + 1;
  // Under the floor but started by start-seconds (0, say): it backs off like a failed start, and is
  // never fatal for it: the program may be meant to exit quickly, only not thousands of times a minute.
  if (!started && failures > settings.startRetries) return { type: 'gave-up', exit };
  return { type: 'failed-start', exit, at: now, delayMs: backoffDelayMs(failures, random) };
}

/** Judges the exit, moves the slot's record on, and says what it means for the slot in the log. */
export function recordExit(
  worker: WorkerHandle,
  record: SlotRecord,
  code: number | null,
  unasked: UnaskedExit,
  context: CrashPolicyContext,
): void {
  const event = judgeExit(worker, record, code, unasked, context.now(), context.wallNow(), context.random);
  record.transition(event);
  const slot = `${worker.pool}.${worker.slot}`;
  if (event.type === 'finished') context.logger.info(`slot ${slot} stays exited (restart: ${worker.settings.restart})`);
  if (event.type === 'gave-up') {
    context.logger.critical(
      `slot ${slot} failed to start ${record.failures} times in a row; giving up (fatal) until appctl restart ${worker.pool}`,
    );
  }
  if (event.type === 'failed-start' && event.delayMs > 0) {
    context.logger.warning(
      `slot ${slot} failed to start ${record.failures} times in a row; next start in ${(event.delayMs / 1000).toFixed(2)}s`,
    );
  }
}

/** How a worker exited, as reapWorker saw it. */
export interface SeenExit {
  readonly code: number | null;
  /** "exit code 3", "signal SIGKILL". */
  readonly how: string;
  readonly unasked: UnaskedExit;
  /** The master had asked it to stop. */
  readonly wasStopping: boolean;
}

/**
 * Says in the log what an exit was and, when the slot must count it, records it: a planned stop is
 * not counted unless the worker was stopped for hanging (the app failing: its slot backs off if young);
 * a spawn failure (already logged with its cause) and any exit the master did not ask for are.
 */
export function noteExit(worker: WorkerHandle, record: SlotRecord, exit: SeenExit, context: CrashPolicyContext): void {
  const { code, how, unasked, wasStopping } = exit;
  if (worker.bootFailure?.phase === 'spawn') return recordExit(worker, record, code, unasked, context);
  if (wasStopping && worker.bootFailure === null) {
    context.logger.info(`worker ${worker.label} exited (${how}) after ${worker.retireReason ?? 'stop'}`);
    if (worker.timedOut) recordExit(worker, record, code, unasked, context);
    return;
  }
  const stage = worker.readyAt === null ? 'while booting' : 'unexpectedly';
  context.logger.error(`worker ${worker.label} exited ${stage} (${how}${UNASKED_EXIT_NOTES[unasked]})`);
  recordExit(worker, record, code, unasked, context);
}
