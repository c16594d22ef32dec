// The memory limit of this process's cgroup (v2 memory.max, v1 memory.limit_in_bytes, the tightest of
// its ancestors) and the OOM-kill counters of a cgroup (v2 memory.events, v1 memory.oom_control).
// Run by the appd master.

import { cgroupOf, readCgroupFile, type CgroupLocation } from './cgroup-paths.js';

/** v1 reports "no limit" as a huge number near 2^63 (rounded to pages); anything past 2^60 bytes is no limit. */
const NO_LIMIT = 2 ** 60;

export interface MemoryLimit {
  readonly bytes: number;
  /** The file that sets it, e.g. /sys/fs/cgroup/memory/app/memory.limit_in_bytes. */
  readonly file: string;
}

export function memoryLimit(root = ''): MemoryLimit | null {
  const location = cgroupOf('memory', 'self', root);
  if (!location) return null;
  const name = location.version === 2 ? 'memory.max' : 'memory.limit_in_bytes';
  let tightest: MemoryLimit | null = null;
  for (const directory of location.chain) {
    const bytes = Number(readCgroupFile(root, `${directory}/${name}`)?.trim());
    if (Number.isFinite(bytes) && bytes > 0 && bytes < NO_LIMIT && (tightest === null || bytes < tightest.bytes))
      tightest = { bytes, file: `${directory}/${name}` };
  }
  return tightest;
}

/**
 * OOM kills of processes in a cgroup (v2 memory.events, v1 memory.oom_control: "oom_kill N"). The kernel
 * counts a kill in the victim's own cgroup and each ancestor, whichever limit was hit (or the machine's),
 * so the innermost counter is the one to read; null where none is readable (an old kernel, a root cgroup).
 */
export function oomKillCount(location: CgroupLocation, root = ''): number | null {
  // The root cgroup counts nothing (the kernel stops below it): a process there has no counter of its own.
  if (location.chain.length < 2) return null;
  const name = location.version === 2 ? 'memory.events' : 'memory.oom_control';
  const match = /^oom_kill (\d+)$/m.exec(readCgroupFile(root, `${location.directory}/${name}`) ?? '');
  return match ? Number(match[1]) : null;
}
