// Rolls a test daemon's workers to a new generation and waits until the reload finished.
// Runs in the ava test process.

import type { TestDaemon } from './daemon.js';

/**
 * Sends SIGHUP (the same arbiter event as `appctl reload`) and waits for "pool web reloaded:
 * generation N". Returns the log offset before the reload, for later waitForLog calls.
 */
export async function reloadAndWait(daemon: TestDaemon, generation: number, timeoutMs = 20_000): Promise<number> {
  const from = daemon.output.length;
  daemon.signal('SIGHUP');
  await daemon.waitForLog(new RegExp(`pool web reloaded: generation ${generation} serves`), timeoutMs, from);
  return from;
}
