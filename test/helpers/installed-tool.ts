// Registers a test that needs a program from the machine (h2load, nginx, ...): where it is missing the
// test is registered as skipped, the reason in its title, so the run shows it. Runs in the ava test process.

import test, { type ExecutionContext } from 'ava';
import { spawnSync } from 'node:child_process';

/** Whether `program` is on PATH. */
export function isInstalled(program: string): boolean {
  return spawnSync('sh', ['-c', 'command -v "$1"', 'sh', program], { stdio: 'ignore' }).status === 0;
}

/** `test.serial` when every program is installed; else `test.skip` naming the missing ones and their Debian package. */
export function serialTestWith(
  programs: Readonly<Record<string, string>>,
  title: string,
  implementation: (t: ExecutionContext) => Promise<void>,
): void {
  const missing = Object.entries(programs).filter(([program]) => !isInstalled(program));
  if (missing.length === 0) test.serial(title, implementation);
  else
    test.skip(
      `${title} [skipped: needs ${missing.map(([program, pack]) => `${program} (apt-get install ${pack})`).join(', ')}]`,
      implementation,
    );
}
