// Follows a test daemon's worker state changes through `appctl events --json` (the master's own
// clock and order), so a test can ask "how many workers were ready, and since when". Runs in the ava test process.

import type { ExecutionContext } from 'ava';
import type { WorkerEventMessage } from '../../shared/control/protocol.js';
import { followAppctl } from './appctl.js';
import type { TestDaemon } from './daemon.js';
import { waitFor } from './processes.js';

export class WorkerEvents {
  readonly #output: () => string;

  constructor(output: () => string) {
    this.#output = output;
  }

  /** Every event so far, in the master's order (the first ones describe the workers alive when it began). */
  all(): WorkerEventMessage[] {
    return this.#output()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as WorkerEventMessage);
  }

  /**
   * Replays the events of `pool` and returns the master's time of the first event after which every pid
   * in `gone` had exited and `count` workers were ready; null if that has not happened (yet).
   */
  readyAgainAt(pool: string, count: number, gone: readonly number[]): number | null {
    const states = new Map<number, string>();
    const waitingFor = new Set(gone);
    for (const event of this.all()) {
      if (event.pool !== pool) continue;
      if (event.state === 'exited') {
        states.delete(event.pid);
        waitingFor.delete(event.pid);
      } else {
        states.set(event.pid, event.state);
      }
      const ready = [...states.values()].filter((state) => state === 'ready').length;
      if (waitingFor.size === 0 && ready >= count) return event.time;
    }
    return null;
  }

  async waitForReady(pool: string, count: number, gone: readonly number[], timeoutMs = 10_000): Promise<number> {
    return waitFor(`${count} ready workers in pool ${pool}`, () => this.readyAgainAt(pool, count, gone), timeoutMs);
  }
}

/** Starts following; the follower is killed in teardown. Resolves once the first snapshot arrived. */
export async function followWorkerEvents(t: ExecutionContext, daemon: TestDaemon): Promise<WorkerEvents> {
  const follower = followAppctl(t, ['events', '--json'], { runtimeDirectory: daemon.directory });
  const events = new WorkerEvents(follower.output);
  // 60 s: appctl has to start first, which took over 20 s at load 35 on 2 cores (a cgroup test failed on 15 s).
  await waitFor('the first worker events', () => events.all().length > 0 || null, 60_000);
  return events;
}
