// How `appctl status` and `appctl top` word a pool's request figures (rate by status class, latency
// percentiles), its restarts by reason and the listeners' accept queues. Run by appctl.

import type { ListenQueueStatus, PoolRequests, StatusClassCounts } from '../../shared/control/status.js';

/** 0.4, 12, 1234, 12.3k: a rate in a few characters. */
export function formatRate(rate: number | null): string {
  if (rate === null) return '-';
  if (rate >= 10_000) return `${(rate / 1000).toFixed(rate >= 100_000 ? 0 : 1)}k`;
  return rate >= 10 || rate === 0 ? String(Math.round(rate)) : rate.toFixed(1);
}

export function formatMilliseconds(value: number | null): string {
  if (value === null) return '-';
  return value >= 10 ? `${Math.round(value)}ms` : `${value.toFixed(1)}ms`;
}

export function totalRate(perSecond: StatusClassCounts | null): number | null {
  return perSecond === null ? null : Object.values(perSecond).reduce((sum, rate) => sum + rate, 0);
}

/** Requests answered with 5xx per second (the error rate a dashboard shows first). */
export function errorRate(requests: PoolRequests | null | undefined): number | null {
  return requests?.perSecond?.['5xx'] ?? null;
}

/** "12.5 req/s (2xx 12, 5xx 0.5), p50 3.1ms, p99 12ms; 1234 answered": the classes that had requests only. */
export function requestSummary(requests: PoolRequests): string {
  const answered = Object.values(requests.total).reduce((sum, count) => sum + count, 0);
  const perSecond = requests.perSecond;
  const classes =
    perSecond === null
      ? []
      : Object.entries(perSecond)
          .filter(([, rate]) => rate > 0)
          .map(([name, rate]) => `${name} ${formatRate(rate)}`);
  const rate =
    perSecond === null
      ? 'rate not known yet'
      : `${formatRate(totalRate(perSecond))} req/s${classes.length > 0 ? ` (${classes.join(', ')})` : ''}`;
  const latency =
    requests.latencyP50Ms === null
      ? ''
      : `, p50 ${formatMilliseconds(requests.latencyP50Ms)}, p99 ${formatMilliseconds(requests.latencyP99Ms)}`;
  return `${rate}${latency}; ${answered} answered`;
}

/** "crash 2, oom 1"; null when nothing was restarted. */
export function restartSummary(byReason: Readonly<Record<string, number>> | undefined): string | null {
  const parts = Object.entries(byReason ?? {})
    .filter(([, count]) => count > 0)
    .map(([reason, count]) => `${reason} ${count}`);
  return parts.length === 0 ? null : parts.join(', ');
}

/** "127.0.0.1:8000 3/511" per TCP listener; null when the daemon reports none. */
export function queueSummary(queues: readonly ListenQueueStatus[] | undefined): string[] | null {
  if (!queues || queues.length === 0) return null;
  return queues.map((queue) => `${queue.bind} ${queue.queued}/${queue.limit}`);
}
