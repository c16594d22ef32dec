// Everything the bench starts is registered here and ended here, by pid or by the contender's own stop
// command (pm2 kill), on success, on failure and on Ctrl-C. Runs in the bench process.

import { hasErrorCode } from '../../shared/errors.js';

type AsyncCleanup = () => Promise<void>;

const processGroups = new Set<number>();
const processes = new Set<number>();
const asyncCleanups = new Map<string, AsyncCleanup>();

function signalQuietly(target: number, signal: NodeJS.Signals): void {
  try {
    process.kill(target, signal);
  } catch (error) {
    if (!hasErrorCode(error, 'ESRCH')) throw error; // already gone: what cleanup wants
  }
}

/** A process started detached, so that its group (itself and its children) can be killed at once. */
export function registerProcessGroup(leaderPid: number): void {
  processGroups.add(leaderPid);
}

/** A process outside our groups (a master that re-executed, PM2's daemon and its workers). */
export function registerProcess(pid: number): void {
  processes.add(pid);
}

/** A named async step (pm2 kill); registering the same name again replaces it. */
export function registerCleanup(name: string, cleanup: AsyncCleanup): void {
  asyncCleanups.set(name, cleanup);
}

export function forgetCleanup(name: string): void {
  asyncCleanups.delete(name);
}

/** SIGKILL to every registered group and process: synchronous, so it also runs from an 'exit' handler. */
export function killEverything(): void {
  for (const leader of processGroups) signalQuietly(-leader, 'SIGKILL');
  for (const pid of processes) signalQuietly(pid, 'SIGKILL');
  processGroups.clear();
  processes.clear();
}

/** The graceful steps first (each bounded by its own timeout), then SIGKILL to whatever is left. */
export async function cleanUpEverything(): Promise<void> {
  for (const [name, cleanup] of [...asyncCleanups]) {
    asyncCleanups.delete(name);
    try {
      await cleanup();
    } catch (error) {
      // Cleanup goes on with the next step: a failed pm2 kill must not leave appd running.
      process.stderr.write(`bench: cleanup step ${name} failed: ${error instanceof Error ? error.message : String(error)}\n`);
    }
  }
  killEverything();
}

/** Ctrl-C and TERM clean up before exiting; a crash still SIGKILLs every registered pid on 'exit'. */
export function installCleanupHandlers(): void {
  process.on('exit', killEverything);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      process.stderr.write(`bench: ${signal}: stopping everything the bench started\n`);
      void cleanUpEverything().finally(() => process.exit(130));
    });
  }
}
