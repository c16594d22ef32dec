// Registers the real-systemd tests of a file: serial, as they share the file's one sandbox, or skipped
// with the reason in their title where no sandbox can boot (not root, no unshare). Runs in the ava test process.

import test, { type ExecutionContext } from 'ava';
import { sandboxProblem } from './sandbox.js';

/** Why this file's sandbox tests cannot run here, computed once per test file. */
let problem: string | null | undefined;

/** test.serial (the tests of a file share its sandbox), or test.skip with the reason in the title. */
export function sandboxTest(title: string, implementation: (t: ExecutionContext) => Promise<void>): void {
  problem ??= sandboxProblem();
  if (problem === null) test.serial(title, implementation);
  else test.skip(`${title} [skipped: ${problem}]`, implementation);
}

/** Whether sandboxTest() registers runnable tests (boot the sandbox in test.before only then). */
export function sandboxAvailable(): boolean {
  problem ??= sandboxProblem();
  return problem === null;
}

