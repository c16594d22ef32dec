// Finds a test daemon's admin listener (--metrics-bind) from its log. Runs in the ava test process.

import type { TestDaemon } from './daemon.js';

/** HOST:PORT of the admin listener, from the "Metrics and health at:" line. */
export function metricsAddress(daemon: TestDaemon): string {
  const match = /Metrics and health at: http:\/\/([^/\s]+)\/metrics/.exec(daemon.output);
  if (!match?.[1]) throw new Error(`the daemon logged no admin listener:\n${daemon.output}`);
  return match[1];
}
