// Tells how a worker that appd did not stop was ended: by its own crash, by the kernel's OOM killer, or
// killed from outside (an operator's kill -9, a chaos tool). Run by the appd master.

import { readFileSync } from 'node:fs';
import { hasErrorCode } from '../../shared/errors.js';

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

export class UnaskedExitClassifier {
  readonly #readOomKillCount: () => number | null;
  #oomKillsSeen: number | null;

  /** `readCount` is the kernel's counter; tests pass their own. */
  constructor(readCount: () => number | null = readOomKillCount) {
    this.#readOomKillCount = readCount;
    this.#oomKillsSeen = readCount();
  }

  /**
   * An exit code, or a crash signal, is the program's own doing. SIGKILL is ambiguous: the OOM killer
   * sends it too. The kernel counts its kills machine-wide, so when that count moved since the last
   * look, the kill is taken for an OOM kill (another process's OOM makes us err on that side, which
   * only means a backoff). Where the count cannot be read, it is just 'killed'.
   */
  classify(signal: NodeJS.Signals | null): UnaskedExit {
    if (signal === null || CRASH_SIGNALS.has(signal)) return 'crash';
    if (signal !== 'SIGKILL') return 'outside-kill';
    const count = this.#readOomKillCount();
    const previous = this.#oomKillsSeen;
    this.#oomKillsSeen = count;
    if (count === null || previous === null) return 'killed';
    return count > previous ? 'oom' : 'outside-kill';
  }
}
