// Runs the hooks of a JS config file: a hook that throws or rejects is logged with its name and never
// stops the master. Run by the appd master.

import type { HookFunction } from '../../shared/settings/kinds.js';
import type { Logger } from '../master/logger.js';
import type { Config } from '../../shared/settings/table.js';
import { describeAppError } from '../worker/app-error.js';

export type HookName = 'onStarting' | 'whenReady' | 'preFork' | 'postFork' | 'workerExit' | 'onReload' | 'onExit';

/** Hooks run in the master, so a slow one would stall it: the ones awaited are given this long. */
const AWAITED_HOOK_LIMIT_MS = 10_000;

/**
 * One line: the log escapes a newline, so a whole stack would arrive as one long line of `\n`s
 * with appd's own frames in it. The error's headline and where in the config file it was thrown
 * (its first frame that is not appd's or Node's) say what the user needs.
 */
function report(logger: Logger, name: HookName, error: unknown): void {
  const [headline = '', ...frames] = describeAppError(error).split('\n');
  const where = /^\s+at (?:.*\()?(.+?)\)?$/
    .exec(frames[0] ?? '')?.[1]
    ?.replace(/^file:\/\//, '')
    .replace(/\?version=\d+/, '');
  logger.error(`hook ${name} failed: ${headline}${where ? ` (at ${where})` : ''}`);
}

/** Calls the hook and does not wait for it; a rejected promise is logged. */
/** What hooks get as `server`: the daemon's name, the master's pid and the configuration in force. */
export function hookServerOf(config: Config): { name: string; pid: number; config: Config } {
  return { name: config.name, pid: process.pid, config };
}

export function fireHook(logger: Logger, name: HookName, hook: HookFunction | null, ...args: unknown[]): void {
  if (!hook) return;
  try {
    const result = hook(...args);
    if (result instanceof Promise) result.catch((error: unknown) => report(logger, name, error));
  } catch (error) {
    report(logger, name, error);
  }
}

/** Calls the hook and waits for it, up to a limit (for onStarting and onExit). */
export async function awaitHook(logger: Logger, name: HookName, hook: HookFunction | null, ...args: unknown[]): Promise<void> {
  if (!hook) return;
  let timer: NodeJS.Timeout | undefined;
  try {
    const limit = new Promise<'late'>((settle) => {
      timer = setTimeout(() => settle('late'), AWAITED_HOOK_LIMIT_MS);
    });
    const outcome = await Promise.race([Promise.resolve(hook(...args)), limit]);
    if (outcome === 'late') logger.warning(`hook ${name} still running after ${AWAITED_HOOK_LIMIT_MS / 1000}s; going on without it`);
  } catch (error) {
    report(logger, name, error);
  } finally {
    clearTimeout(timer);
  }
}
