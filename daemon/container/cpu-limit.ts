// --workers auto: the smaller of the CPUs this process may run on (affinity) and its cgroup's CPU quota
// (v2 cpu.max, v1 cpu.cfs_quota_us / cpu.cfs_period_us, the tightest of its ancestors), rounded up, at
// least 1; with the sentence --print-config shows to say where the number came from. Run by the appd master.

import { availableParallelism } from 'node:os';
import { cgroupOf, readCgroupFile } from './cgroup-paths.js';

export interface AutoWorkers {
  readonly count: number;
  /** "1: the cgroup v1 CPU quota of 0.5 CPU (... at /sys/fs/cgroup/cpu/app); 2 CPUs available to the process" */
  readonly explanation: string;
}

interface Quota {
  readonly cpus: number;
  readonly file: string;
  readonly text: string;
}

/** The quota one cgroup directory sets, or null for none ("max", -1). */
function quotaIn(version: 1 | 2, directory: string, root: string): Quota | null {
  if (version === 2) {
    const text = readCgroupFile(root, `${directory}/cpu.max`)?.trim();
    const [quota, period] = (text ?? '').split(/\s+/);
    if (!text || quota === 'max' || !Number(quota) || !Number(period)) return null;
    return { cpus: Number(quota) / Number(period), file: `${directory}/cpu.max`, text: `cpu.max "${text}"` };
  }
  const quota = Number(readCgroupFile(root, `${directory}/cpu.cfs_quota_us`)?.trim());
  const period = Number(readCgroupFile(root, `${directory}/cpu.cfs_period_us`)?.trim());
  if (!(quota > 0) || !(period > 0)) return null;
  return { cpus: quota / period, file: `${directory}/cpu.cfs_quota_us`, text: `cpu.cfs_quota_us ${quota} / cpu.cfs_period_us ${period}` };
}

function formatCpus(cpus: number): string {
  const rounded = Math.round(cpus * 100) / 100;
  return `${rounded} CPU${rounded <= 1 ? '' : 's'}`;
}

/** `root` and `affinity` are for tests (a directory laid out like /, and a CPU count). */
export function autoWorkerCount(root = '', affinity = availableParallelism()): AutoWorkers {
  const location = cgroupOf('cpu', 'self', root);
  let tightest: Quota | null = null;
  for (const directory of location?.chain ?? []) {
    const quota = quotaIn(location?.version ?? 2, directory, root);
    if (quota && (tightest === null || quota.cpus < tightest.cpus)) tightest = quota;
  }
  const available = `${affinity} CPU${affinity === 1 ? '' : 's'} available to the process`;
  if (tightest === null || Math.ceil(tightest.cpus) >= affinity) {
    const quotaNote = tightest
      ? `; the cgroup v${location?.version} CPU quota of ${formatCpus(tightest.cpus)} allows as many`
      : '; no cgroup CPU quota';
    return { count: Math.max(1, affinity), explanation: `${Math.max(1, affinity)}: the ${available}${quotaNote}` };
  }
  const count = Math.max(1, Math.ceil(tightest.cpus));
  return {
    count,
    explanation: `${count}: the cgroup v${location?.version} CPU quota of ${formatCpus(tightest.cpus)} (${tightest.text} at ${tightest.file.replace(/\/[^/]+$/, '')}), rounded up; ${available}`,
  };
}
