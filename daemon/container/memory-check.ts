// Once the first generation is ready: warns when the master and its workers, at the RSS they boot to,
// come near the cgroup's memory limit (the kernel would OOM-kill workers under load). Run by the appd master.

import type { Logger } from '../master/logger.js';
import type { Supervisor } from '../workers/supervisor.js';
import { readRssBytes } from '../metrics/process-usage.js';
import { memoryLimit, type MemoryLimit } from './memory-limit.js';

/** Warn past this share of the limit: workers grow under load beyond what they boot to. */
const WARN_AT = 0.8;

const megabytes = (bytes: number): string => `${Math.round(bytes / 2 ** 20)} MB`;

/** Returns the warning it logged, or null. `limit` is for tests. */
export function warnIfMemoryShort(supervisor: Supervisor, logger: Logger, limit: MemoryLimit | null = memoryLimit()): string | null {
  if (limit === null) return null;
  let expected = process.memoryUsage().rss;
  const parts: string[] = [`master ${megabytes(expected)}`];
  for (const pool of supervisor.pools.values()) {
    const sizes = supervisor
      .workersOf(pool.name)
      .filter((worker) => worker.state === 'ready')
      .map((worker) => readRssBytes(worker.pid) ?? 0)
      .filter((bytes) => bytes > 0);
    if (sizes.length === 0 || pool.desired === 0) continue;
    const typical = sizes.reduce((sum, bytes) => sum + bytes, 0) / sizes.length;
    expected += typical * pool.desired;
    parts.push(`${pool.desired} ${pool.name} worker(s) x ${megabytes(typical)}`);
  }
  if (expected < limit.bytes * WARN_AT) return null;
  const warning = `memory: ${parts.join(' + ')} = ${megabytes(expected)} at start, ${Math.round((expected / limit.bytes) * 100)}% of the cgroup memory limit of ${megabytes(limit.bytes)} (${limit.file}); under load the kernel may OOM-kill workers (shown as oom): use fewer workers or a higher limit`;
  logger.warning(warning);
  return warning;
}
