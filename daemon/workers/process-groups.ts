// A worker's descendants die with it: every worker (HTTP and command) leads its own process group, and
// when it has exited what is left of the group gets TERM, then KILL after a short grace (supervisord's
// stopasgroup and killasgroup, always on). The group keeper does the same if the master itself dies.
// Run by the appd master (the real spawner calls it as each worker starts and is reaped).
//
// Limits: a descendant that leaves the group (setsid, setpgid: daemons that double-fork) is not
// followed; a cgroup would be needed for that (under systemd, the unit's cgroup catches it at stop).

import { readFileSync } from 'node:fs';
import { describeError, hasErrorCode } from '../../shared/errors.js';
import type { Logger } from '../master/logger.js';
import { GroupKeeper } from './group-keeper.js';
import { monotonicMilliseconds } from '../arbiter/clock.js';

/** How long leftovers of a worker that has exited get between TERM and KILL. */
export const LEFTOVER_GRACE_MS = 2000;
/** How long the master's exit waits for the keeper to end once told nothing is left (it takes milliseconds). */
const KEEPER_EXIT_WAIT_MS = 2000;
/** A keeper is started at most this often (the next worker's start tries again). */
const KEEPER_RESTART_MS = 10_000;

interface TrackedGroup {
  readonly label: string;
  /** The keeper's grace: graceful-timeout plus LEFTOVER_GRACE_MS (a worker may still be draining). */
  readonly graceSeconds: number;
  /** Set once its leader exited and the leftovers were sent TERM; KILL follows. */
  killTimer: NodeJS.Timeout | null;
}

/** The process group id of `pid` (field 5 of /proc/PID/stat), or null if there is no such process. */
function groupOf(pid: number): number | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch (error) {
    if (hasErrorCode(error, 'ENOENT', 'ESRCH')) return null; // no such process: the normal case
    throw error;
  }
  // comm is in parentheses and may hold spaces; the fields after the last ")" are fixed.
  return Number(text.slice(text.lastIndexOf(')') + 2).split(' ')[2]);
}

/**
 * Whether group `group` still has members that are this worker's leftovers. Its leader (pid = group)
 * has been reaped; a live process with that pid leading its own group is a stranger that got the
 * number after the group emptied (pid reuse), and then the group is not ours to signal.
 */
function leftoversRemain(group: number): boolean {
  if (groupOf(group) === group) return false;
  try {
    process.kill(-group, 0);
    return true;
  } catch (error) {
    if (hasErrorCode(error, 'ESRCH')) return false; // the group is empty
    if (hasErrorCode(error, 'EPERM')) return true; // members we may not signal: we try, and say so
    throw error;
  }
}

export class ProcessGroups {
  readonly #logger: Logger;
  readonly #name: string;
  readonly #groups = new Map<number, TrackedGroup>();
  #keeper: GroupKeeper | null = null;
  /** When the last keeper was started (monotonic ms): one that dies young is not replaced in a loop. */
  #keeperStartedAt = Number.NEGATIVE_INFINITY;
  /** Waiting for the last cleanup to end (the master's exit). */
  #settledWaiters: (() => void)[] = [];

  constructor(logger: Logger, name: string) {
    this.#logger = logger;
    this.#name = name;
  }

  /** A worker was spawned as the leader of group `pid` (detached: setsid). */
  started(pid: number, label: string, gracefulTimeoutSeconds: number): void {
    if (pid <= 0) return;
    const graceSeconds = gracefulTimeoutSeconds + LEFTOVER_GRACE_MS / 1000;
    this.#groups.set(pid, { label, graceSeconds, killTimer: null });
    // A keeper started now is told every group, this one included.
    if (this.#keeper) this.#keeper.track(pid, graceSeconds);
    else this.#startKeeper();
  }

  /** The worker leading group `pid` was reaped: TERM to what it left behind, KILL after LEFTOVER_GRACE_MS. */
  exited(pid: number): void {
    const group = this.#groups.get(pid);
    if (!group || group.killTimer !== null) return;
    if (!leftoversRemain(pid)) return this.#forget(pid);
    this.#logger.warning(
      `worker ${group.label} left processes in its process group: TERM to them, KILL in ${LEFTOVER_GRACE_MS / 1000}s if any remain`,
    );
    this.#signal(pid, 'SIGTERM');
    // A monotonic timer (libuv's), unreferenced: the master's exit waits in settled(), not on it.
    group.killTimer = setTimeout(() => {
      if (leftoversRemain(pid)) {
        this.#logger.warning(`worker ${group.label}: processes of its group outlived TERM by ${LEFTOVER_GRACE_MS / 1000}s: KILL`);
        this.#signal(pid, 'SIGKILL');
      }
      this.#forget(pid);
    }, LEFTOVER_GRACE_MS);
    group.killTimer.unref();
  }

  /**
   * Resolves once no leftover group awaits its KILL (at most LEFTOVER_GRACE_MS after the last exit), and
   * the keeper, told that nothing is left, has exited: the master's exit waits for both.
   */
  async settled(): Promise<void> {
    if ([...this.#groups.values()].some((group) => group.killTimer !== null)) {
      await new Promise<void>((settle) => this.#settledWaiters.push(settle));
    }
    const keeper = this.#keeper;
    // Cleared first: its exit is then not taken for a keeper killed from outside, to be replaced.
    this.#keeper = null;
    await keeper?.exited(KEEPER_EXIT_WAIT_MS);
  }

  #signal(group: number, signal: NodeJS.Signals): void {
    try {
      process.kill(-group, signal);
    } catch (error) {
      if (hasErrorCode(error, 'ESRCH')) return; // emptied meanwhile
      this.#logger.error(`cannot send ${signal} to process group ${group}: ${describeError(error)}`);
    }
  }

  #forget(pid: number): void {
    this.#groups.delete(pid);
    this.#keeper?.forget(pid);
    if (![...this.#groups.values()].some((group) => group.killTimer !== null)) {
      for (const settle of this.#settledWaiters.splice(0)) settle();
    }
  }

  /** Starts a keeper and tells it every group; one that died is replaced at once unless it died young. */
  #startKeeper(): void {
    if (monotonicMilliseconds() - this.#keeperStartedAt < KEEPER_RESTART_MS) return;
    this.#keeperStartedAt = monotonicMilliseconds();
    let keeper: GroupKeeper;
    try {
      keeper = new GroupKeeper(this.#name, {
        gone: (code, signal) => {
          if (this.#keeper !== keeper) return;
          this.#keeper = null;
          const how = signal ?? (code === null ? 'could not start' : `exit code ${code}`);
          this.#logger.warning(
            `group keeper (pid ${keeper.pid}) exited (${how}); if the master is killed meanwhile, workers' children may outlive it`,
          );
          this.#startKeeper();
        },
      });
    } catch (error) {
      // spawn() throws only for bad arguments; EAGAIN and ENOENT come as the 'error' event (gone above).
      this.#logger.error(
        `cannot start the group keeper: ${describeError(error)}; if the master is killed, workers' children may outlive it`,
      );
      return;
    }
    this.#keeper = keeper;
    for (const [pid, group] of this.#groups) keeper.track(pid, group.graceSeconds);
  }
}
