// A child cgroup for one test (cgroup v1 where the host keeps the controller there, else v2), with a
// wrapper that starts a command inside it; removed after the test once its processes are gone.
// Runs in the ava test process.

import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { cgroupOf, type CgroupController } from '../../daemon/container/cgroup-paths.js';
import { hasErrorCode } from '../../shared/errors.js';
import { waitFor } from './processes.js';

export interface TestCgroup {
  readonly version: 1 | 2;
  readonly directory: string;
  /** For startDaemon's `wrapper`: moves the shell into the cgroup, then execs the daemon. */
  readonly wrapper: readonly string[];
}

/** Why no test cgroup for `controller` can be made here (for a visible skip), or null when one can. */
export function cgroupUnavailable(controller: CgroupController): string | null {
  if (process.getuid?.() !== 0) return 'needs root to create a cgroup';
  const location = cgroupOf(controller);
  if (!location) return `this host has no cgroup hierarchy with the ${controller} controller`;
  const probe = join(location.chain.at(-1) ?? location.directory, `appd-probe-${process.pid}-${controller}`);
  try {
    mkdirSync(probe);
    rmdirSync(probe);
  } catch (error) {
    if (hasErrorCode(error, 'EACCES', 'EROFS', 'EPERM'))
      return `cannot create a cgroup v${location.version} for ${controller} under ${location.chain.at(-1)}: ${(error as Error).message}`;
    throw error;
  }
  return null;
}

/**
 * Creates a cgroup under the root of `controller`'s hierarchy with `files` written (chosen by version),
 * or returns why it cannot (not root, no such hierarchy, a read-only cgroupfs).
 */
export function createTestCgroup(
  t: ExecutionContext,
  controller: CgroupController,
  files: { readonly v1: Record<string, string>; readonly v2: Record<string, string> },
): TestCgroup | string {
  if (process.getuid?.() !== 0) return 'needs root to create a cgroup';
  const location = cgroupOf(controller);
  if (!location) return `this host has no cgroup hierarchy with the ${controller} controller`;
  const hierarchyRoot = location.chain.at(-1) ?? location.directory;
  const directory = join(hierarchyRoot, `appd-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
  try {
    mkdirSync(directory);
    if (location.version === 2) writeFileSync(join(hierarchyRoot, 'cgroup.subtree_control'), `+${controller}`);
    for (const [name, value] of Object.entries(location.version === 1 ? files.v1 : files.v2)) writeFileSync(join(directory, name), value);
  } catch (error) {
    if (hasErrorCode(error, 'EACCES', 'EROFS', 'EPERM', 'ENOENT', 'EBUSY', 'EINVAL'))
      return `cannot set up a cgroup v${location.version} for ${controller} at ${directory}: ${(error as Error).message}`;
    throw error;
  }
  t.teardown(async () => {
    // The daemon's teardown (registered later, run first) killed everything; the kernel empties the cgroup a moment after.
    await waitFor(`${directory} to be empty`, () => readFileSync(join(directory, 'cgroup.procs'), 'utf8').trim() === '', 10_000);
    rmdirSync(directory);
  });
  return { version: location.version, directory, wrapper: ['sh', '-c', `echo $$ > ${directory}/cgroup.procs && exec "$@"`, 'sh'] };
}
