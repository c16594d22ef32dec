// Keeps appd's workers, all together, at the CPU share of one session where the kernel shares CPU by
// session (autogroup). Run by the appd master: the real spawner tells it each worker's start and exit.
//
// Why: every worker leads its own session (spawned detached, so that its process group is cleaned up
// with it: process-groups.ts), and with autogroup (CONFIG_SCHED_AUTOGROUP with
// kernel.sched_autogroup_enabled=1, the default of Debian, Ubuntu and Fedora kernels) the scheduler
// shares a contended CPU between sessions first, then between the processes of each. N workers then
// weigh N sessions against every other program on the host: a proxy, a database or a load generator
// on the same machine gets 1/(N+1) of a contended CPU, where next to node:cluster, Gunicorn or
// supervisord (whose children stay in their master's session) it gets 1/2. Measured on this 2-core
// machine (npm run bench, wrk on the same host): Connection: close throughput 0.87-0.88x node:cluster in
// three runs, the workers spending 1.08-1.11x its CPU per request (smaller batches: wrk, starved,
// sends less per wake-up); with autogroup switched off, 0.93-1.02x; with the workers' sessions weighted
// as below, 0.98x and 1.05x CPU per request in a quiet 11-round run (0.92x and 1.10x before).
//
// So each worker's session gets the nice level whose weight is 1/N of a nice-0 session (a level
// weighs 1.25x the next: 2 workers nice 3, 4 workers 6, 16 workers 12), rewritten when N changes.
// Where autogroup is off or absent nothing is written; where the processes sit in a cgroup with the
// cpu controller (systemd's CPUWeight=, most containers) the kernel ignores the value, and the cgroup
// gives the whole service its one share instead.

import { closeSync, constants, openSync, readFileSync, readlinkSync, writeSync } from 'node:fs';
import { describeFileError, hasErrorCode } from '../../../shared/errors.js';
import type { Logger } from '../../master/logger.js';

/** The highest nice level (the lowest weight) a session can have. */
const MAX_NICE = 19;
/** The ratio of the scheduler's weights for two neighbouring nice levels. */
const WEIGHT_STEP = 1.25;
/**
 * Without CAP_SYS_ADMIN the kernel takes one autogroup write per 100 ms on the whole machine and
 * refuses the others with EAGAIN (kernel/sched/autogroup.c, "a heavy operation, taking global locks");
 * every accepted write restarts that interval, a privileged one too, so another master's writes can
 * delay ours (never stop them). A level of 0 or more needs no capability: only a negative one does
 * (CAP_SYS_NICE or RLIMIT_NICE), so an unprivileged master can lower its workers' levels as they go.
 */
const RATE_LIMITED_RETRY_MS = 110;

/** The nice level at which `workers` sessions together weigh what one nice-0 session weighs. */
export function sessionNiceFor(workers: number): number {
  if (workers <= 1) return 0;
  return Math.min(MAX_NICE, Math.round(Math.log(workers) / Math.log(WEIGHT_STEP)));
}

/** Sets the nice level of the session (autogroup) `pid` belongs to; throws the system's error. */
export type SessionNiceWriter = (pid: number, nice: number) => void;

/** The kernel's /proc/PID/autogroup, or null (with why) where the kernel does not group by session. */
export function autogroupWriter(): { writer: SessionNiceWriter | null; why: string } {
  let enabled: string;
  try {
    enabled = readFileSync('/proc/sys/kernel/sched_autogroup_enabled', 'utf8').trim();
  } catch (error) {
    if (hasErrorCode(error, 'ENOENT')) return { writer: null, why: 'this kernel has no autogroup' };
    return { writer: null, why: `/proc/sys/kernel/sched_autogroup_enabled: ${describeFileError(error)}` };
  }
  if (enabled !== '1') return { writer: null, why: 'kernel.sched_autogroup_enabled is 0' };
  // A master in a pid namespace of its own whose /proc is another namespace's (unshare --pid without
  // --mount-proc) would find other processes under its workers' pids, and change their sessions.
  let procSelf: string;
  try {
    procSelf = readlinkSync('/proc/self');
  } catch (error) {
    return { writer: null, why: `/proc/self: ${describeFileError(error)}` };
  }
  if (procSelf !== String(process.pid)) {
    return { writer: null, why: `/proc is another pid namespace's (/proc/self is ${procSelf}, this process is ${process.pid})` };
  }
  const writer: SessionNiceWriter = (pid, nice) => {
    // A kernel file of a process the master started and has not reaped: nothing to follow or create.
    const descriptor = openSync(`/proc/${pid}/autogroup`, constants.O_WRONLY | constants.O_NOFOLLOW);
    try {
      writeSync(descriptor, String(nice));
    } finally {
      closeSync(descriptor);
    }
  };
  return { writer, why: 'autogroup is on' };
}

export class SessionShare {
  readonly #logger: Logger;
  #writer: SessionNiceWriter | null;
  /** Every worker started and not yet reaped, with the nice level its session has (null: not written yet). */
  readonly #workers = new Map<number, number | null>();
  #flushQueued = false;
  #retry: NodeJS.Timeout | null = null;

  constructor(logger: Logger, writer: SessionNiceWriter | null) {
    this.#logger = logger;
    this.#writer = writer;
  }

  /** The nice level written to the session of `pid` (null: not yet; undefined: not a live worker). */
  niceOf(pid: number): number | null | undefined {
    return this.#workers.get(pid);
  }

  started(pid: number): void {
    if (this.#writer === null || pid <= 0) return;
    this.#workers.set(pid, null);
    this.#queueFlush();
  }

  /**
   * Called as the worker is reaped (the child's 'exit', in the same turn as its waitpid), so that no
   * later write can reach a process that got the pid after it.
   */
  exited(pid: number): void {
    if (!this.#workers.delete(pid)) return;
    this.#queueFlush();
  }

  /**
   * Writes on the next turn, not now: libuv reaps every exited child before it reports any, so while one
   * worker's exit is reported another may be reaped but not yet removed here; by the next turn all are.
   */
  #queueFlush(): void {
    if (this.#flushQueued || this.#retry !== null) return;
    this.#flushQueued = true;
    setImmediate(() => {
      this.#flushQueued = false;
      this.#flush();
    });
  }

  #flush(): void {
    const writer = this.#writer;
    if (writer === null) return;
    const nice = sessionNiceFor(this.#workers.size);
    for (const [pid, written] of this.#workers) {
      if (written === nice) continue;
      try {
        writer(pid, nice);
        this.#workers.set(pid, nice);
      } catch (error) {
        if (hasErrorCode(error, 'EAGAIN')) {
          // Rate-limited (no CAP_SYS_ADMIN): the rest after the kernel's interval.
          this.#retry = setTimeout(() => {
            this.#retry = null;
            this.#flush();
          }, RATE_LIMITED_RETRY_MS);
          this.#retry.unref();
          return;
        }
        // Exited between its start and now: its exit is on its way and removes it.
        if (hasErrorCode(error, 'ENOENT', 'ESRCH')) continue;
        this.#writer = null;
        this.#logger.warning(
          `cannot weigh worker sessions as one (/proc/${pid}/autogroup: ${describeFileError(error)}); each worker keeps the share of a whole session`,
        );
        return;
      }
    }
  }
}
