// Tells how a worker that appd did not stop was ended: by its own crash, by the kernel's OOM killer, or
// killed from outside (an operator's kill -9, a chaos tool). Run by the appd master.

import { readFileSync } from 'node:fs';
import { hasErrorCode } from '../../shared/errors.js';
import { cgroupOf } from '../container/cgroup-paths.js';
import { oomKillCount } from '../container/memory-limit.js';

/** Signals a process raises against itself when it crashes; any other signal was sent to it. */
const CRASH_SIGNALS: ReadonlySet<NodeJS.Signals> = new Set(['SIGSEGV', 'SIGBUS', 'SIGILL', 'SIGFPE', 'SIGABRT', 'SIGTRAP', 'SIGSYS']);

/**
 * crash: an exit code or a crash signal. oom: SIGKILL while the kernel's OOM count moved.
 * outside-kill: any other signal appd did not send. killed: SIGKILL where the OOM count cannot be read
 * (treated as a crash).
 */
export type UnaskedExit = 'crash' | 'oom' | 'outside-kill' | 'killed';

/** The kernel's count of OOM kills since boot (memory cgroups included); null where /proc has none. */
function readOomKillCount(): number | null {
  try {
    const match = /^oom_kill (\d+)$/m.exec(readFileSync('/proc/vmstat', 'utf8'));
    return match ? Number(match[1]) : null;
  } catch (error) {
    if (hasErrorCode(error, 'ENOENT', 'EACCES')) return null; // no /proc (or not ours to read): cannot tell
    throw error;
  }
}

/** How the classifier reads a worker's memory cgroup and its OOM-kill counter; tests pass their own. */
export interface CgroupOomCounters {
  /** The memory cgroup `pid` is in, as a key (its directory) and a reader of its counter; null if unknown. */
  of(pid: number): { readonly key: string; count(): number | null } | null;
}

const REAL_CGROUPS: CgroupOomCounters = {
  of(pid) {
    const location = cgroupOf('memory', pid);
    return location && { key: location.directory, count: () => oomKillCount(location) };
  },
};

export class UnaskedExitClassifier {
  readonly #readOomKillCount: () => number | null;
  #oomKillsSeen: number | null;
  readonly #cgroups: CgroupOomCounters;
  /** Each watched worker's memory cgroup, from its spawn until it is classified. */
  readonly #workerCgroups = new Map<number, { readonly key: string; count(): number | null }>();
  /** Per cgroup: the OOM kills counted there that are already accounted for (present before, or blamed). */
  readonly #blamed = new Map<string, number>();

  /** `readCount` is the kernel's machine-wide counter; tests pass their own, and their own cgroups. */
  constructor(readCount: () => number | null = readOomKillCount, cgroups: CgroupOomCounters = REAL_CGROUPS) {
    this.#readOomKillCount = readCount;
    this.#oomKillsSeen = readCount();
    this.#cgroups = cgroups;
  }

  /** A worker was just spawned: remember its memory cgroup and the OOM kills already counted there. */
  watch(pid: number): void {
    const cgroup = this.#cgroups.of(pid);
    const count = cgroup?.count() ?? null;
    if (!cgroup || count === null) return;
    this.#workerCgroups.set(pid, cgroup);
    if (!this.#blamed.has(cgroup.key)) this.#blamed.set(cgroup.key, count);
  }

  /**
   * An exit code, or a crash signal, is the program's own doing. SIGKILL is ambiguous: the OOM killer
   * sends it too. Best evidence: the OOM-kill counter of the worker's memory cgroup (the kernel counts a
   * kill in the victim's cgroup whichever limit was hit): one more than already blamed is this kill.
   * Else the machine-wide count: when it moved since the last look, the kill is taken for an OOM kill
   * (another process's OOM makes us err on that side, which only means a backoff). Where neither can be
   * read, it is just 'killed'. Call it for every exit (asked or not): it forgets the pid.
   */
  classify(signal: NodeJS.Signals | null, pid: number | null = null): UnaskedExit {
    const cgroup = pid === null ? undefined : this.#workerCgroups.get(pid);
    if (pid !== null) this.#workerCgroups.delete(pid);
    if (signal === null || CRASH_SIGNALS.has(signal)) return 'crash';
    if (signal !== 'SIGKILL') return 'outside-kill';
    const count = this.#readOomKillCount();
    const previous = this.#oomKillsSeen;
    this.#oomKillsSeen = count;
    const inCgroup = cgroup?.count() ?? null;
    if (cgroup && inCgroup !== null) {
      const blamed = this.#blamed.get(cgroup.key) ?? inCgroup;
      if (inCgroup <= blamed) return 'outside-kill';
      this.#blamed.set(cgroup.key, blamed + 1);
      return 'oom';
    }
    if (count === null || previous === null) return 'killed';
    return count > previous ? 'oom' : 'outside-kill';
  }
}
