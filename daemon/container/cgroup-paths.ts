// Where a process's cgroup is on disk for a controller (cpu, memory): cgroup v2 (unified) or v1 (one
// hierarchy per controller, as on hybrid hosts), from /proc/PID/cgroup and /proc/self/mountinfo, with
// the directories from it up to the hierarchy's root (limits apply from every ancestor). Run by the appd master.

import { hasErrorCode } from '../../shared/errors.js';
import { readFileSync } from 'node:fs';

export type CgroupController = 'cpu' | 'memory';

export interface CgroupLocation {
  readonly version: 1 | 2;
  /** The process's own cgroup directory, e.g. /sys/fs/cgroup/cpu/app or /sys/fs/cgroup/system.slice/app.service. */
  readonly directory: string;
  /** It and each ancestor up to the mount point, innermost first. */
  readonly chain: readonly string[];
}

/** Reads a file under `root` (tests pass a directory laid out like /); null if it is not there. */
export function readCgroupFile(root: string, path: string): string | null {
  try {
    return readFileSync(`${root}${path}`, 'utf8');
  } catch (error) {
    // Not mounted, not a cgroup host, the process gone, or a controller file this kernel lacks.
    if (hasErrorCode(error, 'ENOENT', 'ENOTDIR', 'EACCES', 'ESRCH', 'EINVAL')) return null;
    throw error;
  }
}

interface CgroupMount {
  readonly version: 1 | 2;
  /** The path inside the hierarchy that is mounted (not "/" inside a container with a cgroup namespace of its own). */
  readonly root: string;
  readonly mountPoint: string;
}

/** cgroup and cgroup2 mounts from mountinfo: "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS ... - FSTYPE SOURCE SUPEROPTIONS". */
function cgroupMounts(mountinfo: string, controller: CgroupController): { v1: CgroupMount | null; v2: CgroupMount | null } {
  let v1: CgroupMount | null = null;
  let v2: CgroupMount | null = null;
  for (const line of mountinfo.split('\n')) {
    const [before, after] = line.split(' - ');
    if (!before || !after) continue;
    const fields = before.split(' ');
    const [fstype, , superOptions = ''] = after.split(' ');
    const mount = { root: fields[3] ?? '/', mountPoint: (fields[4] ?? '').replace(/\\040/g, ' ') };
    if (fstype === 'cgroup2') v2 ??= { version: 2, ...mount };
    else if (fstype === 'cgroup' && superOptions.split(',').includes(controller)) v1 ??= { version: 1, ...mount };
  }
  return { v1, v2 };
}

function locate(mount: CgroupMount, cgroupPath: string): CgroupLocation {
  // Inside a cgroup namespace the path is already relative to the mounted root; outside, strip the root.
  const relative = mount.root !== '/' && cgroupPath.startsWith(mount.root) ? cgroupPath.slice(mount.root.length) : cgroupPath;
  const parts = relative.split('/').filter(Boolean);
  const chain: string[] = [];
  for (let length = parts.length; length >= 0; length -= 1) chain.push([mount.mountPoint, ...parts.slice(0, length)].join('/'));
  return { version: mount.version, directory: chain[0] ?? mount.mountPoint, chain };
}

/**
 * The cgroup of `pid` for `controller`: v1 when that controller has a v1 hierarchy (hybrid hosts keep
 * cpu and memory there), else v2 when the unified hierarchy offers it; null on a host without either.
 */
export function cgroupOf(controller: CgroupController, pid: number | 'self' = 'self', root = ''): CgroupLocation | null {
  const membership = readCgroupFile(root, `/proc/${pid}/cgroup`);
  const mountinfo = readCgroupFile(root, '/proc/self/mountinfo');
  if (membership === null || mountinfo === null) return null;
  const mounts = cgroupMounts(mountinfo, controller);
  for (const line of membership.split('\n')) {
    const match = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (!match) continue;
    const [, , controllers = '', path = '/'] = match;
    if (mounts.v1 && controllers.split(',').includes(controller)) return locate(mounts.v1, path);
  }
  const unified = /^0::(.*)$/m.exec(membership)?.[1];
  if (!mounts.v2 || unified === undefined) return null;
  const location = locate(mounts.v2, unified);
  // Hybrid hosts mount a cgroup2 with none of the usual controllers (only hugetlb, say): not the one that limits.
  const offered = readCgroupFile(root, `${mounts.v2.mountPoint}/cgroup.controllers`) ?? '';
  return offered.split(/\s+/).includes(controller) ? location : null;
}
