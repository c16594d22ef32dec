// The figures of /metrics that `appctl status --json` and `appctl top` show too: each pool's request
// totals, rate by status class and latency percentiles, restarts by reason. Run by the appd master.

import { STATUS_CLASSES } from '../contracts/request-counts.js';
import type { PoolRequests, StatusClassCounts } from '../../shared/control/status.js';
import type { Pool } from '../pools/pool.js';
import type { Supervisor } from '../workers/supervisor.js';
import type { MasterCounters } from './counters.js';

function byClass(values: readonly number[]): StatusClassCounts {
  return Object.fromEntries(STATUS_CLASSES.map((name, index) => [name, values[index] ?? 0])) as StatusClassCounts;
}

/** An HTTP pool's requests; null for a command pool (it answers none). */
export function poolRequests(pool: Pool, supervisor: Supervisor, counters: MasterCounters): PoolRequests | null {
  if (pool.settings.kind !== 'http') return null;
  const totals = counters.requestTotals(pool.name, supervisor.workersOf(pool.name));
  const rates = counters.rates(pool.name);
  return {
    total: byClass(totals.byClass),
    perSecond: rates?.perSecond ?? null,
    latencyP50Ms: rates?.latencyP50Ms ?? null,
    latencyP99Ms: rates?.latencyP99Ms ?? null,
    windowMs: rates?.windowMs ?? null,
  };
}

export function restartsByReason(pool: Pool, counters: MasterCounters): Record<string, number> {
  return Object.fromEntries(counters.restarts(pool.name));
}
