// The pools table and the workers table of `appctl top`: which columns, how each cell reads and is
// marked, and the sparkline column of each. Run by appctl.

import type { PoolStatus } from '../../shared/control/status.js';
import { formatBytes, formatDuration } from '../render/format.js';
import { sparkline } from '../render/sparkline.js';
import { errorRate, formatMilliseconds, formatRate } from '../render/traffic.js';
import type { StatsHistory } from './history.js';
import type { Row } from './model.js';
import type { Role } from './style.js';
import type { TableColumn } from './columns.js';

export { formatMilliseconds, formatRate } from '../render/traffic.js';

function formatCpu(percent: number | null): string {
  return percent === null ? '-' : percent.toFixed(1);
}

/** Worker and slot states: serving is good, passing states warn, failing ones are bad. */
export function stateTone(state: string): Role | null {
  if (state === 'ready' || state === 'running') return 'good';
  if (state === 'starting' || state === 'reloading' || state === 'backoff') return 'warn';
  if (state === 'fatal' || state === 'degraded') return 'bad';
  return state === 'stopping' || state === 'stopped' || state === 'exited' ? 'dim' : null;
}

/** One word for a pool: reloading, stopped, ok (every wanted worker ready), starting, degraded or fatal. */
export function poolState(pool: PoolStatus): string {
  if (pool.reloading) return 'reloading';
  if (pool.stopped) return 'stopped';
  if (pool.ready >= pool.desired) return 'ok';
  if (pool.slots.some((slot) => slot.state === 'fatal')) return 'fatal';
  return pool.slots.some((slot) => slot.state === 'starting') ? 'starting' : 'degraded';
}

function sumOf(values: readonly (number | null)[]): number | null {
  const present = values.filter((value): value is number => value !== null);
  return present.length === 0 ? null : present.reduce((total, value) => total + value, 0);
}

type PoolRow = Extract<Row, { kind: 'pool' }>;
type WorkerTableRow = Exclude<Row, { kind: 'pool' }>;

export function poolColumns(history: StatsHistory, unicode: boolean): TableColumn<PoolRow>[] {
  return [
    { header: 'POOL', align: 'left', priority: 100, text: ({ pool }) => pool.name },
    { header: 'KIND', align: 'left', priority: 30, text: ({ pool }) => pool.kind },
    { header: 'READY', align: 'right', priority: 95, text: ({ pool }) => `${pool.ready}/${pool.desired}` },
    { header: 'GEN', align: 'right', priority: 90, text: ({ pool }) => String(pool.generation) },
    {
      header: 'STATE',
      align: 'left',
      priority: 95,
      text: ({ pool }) => poolState(pool),
      tone: ({ pool }) => stateTone(poolState(pool)) ?? 'good',
    },
    {
      header: 'REQ/S',
      align: 'right',
      priority: 80,
      text: ({ pool }) => formatRate(sumOf(pool.workers.map((worker) => history.rate(worker.pid)))),
    },
    { header: '5XX/S', align: 'right', priority: 55, text: ({ pool }) => formatRate(errorRate(pool.requests)) },
    { header: 'P50', align: 'right', priority: 50, text: ({ pool }) => formatMilliseconds(pool.requests?.latencyP50Ms ?? null) },
    { header: 'P99', align: 'right', priority: 55, text: ({ pool }) => formatMilliseconds(pool.requests?.latencyP99Ms ?? null) },
    {
      header: 'ACT',
      align: 'right',
      priority: 60,
      text: ({ pool }) => String(sumOf(pool.workers.map((worker) => worker.inFlight)) ?? '-'),
    },
    { header: 'RSS', align: 'right', priority: 70, text: ({ pool }) => formatBytes(sumOf(pool.workers.map((worker) => worker.rssBytes))) },
    { header: 'CPU%', align: 'right', priority: 70, text: ({ pool }) => formatCpu(sumOf(pool.workers.map((worker) => worker.cpuPercent))) },
    { header: 'RST', align: 'right', priority: 40, text: ({ pool }) => String(pool.restarts) },
    {
      header: 'TREND',
      align: 'left',
      priority: 10,
      text: () => '',
      flexible: {
        minimum: 8,
        maximum: 40,
        draw: ({ pool }, width) => sparkline(history.poolTrend(pool.name)?.rate.values ?? [], width, { unicode }),
      },
    },
  ];
}

export function workerColumns(history: StatsHistory, unicode: boolean): TableColumn<WorkerTableRow>[] {
  const worker = (row: WorkerTableRow) => (row.kind === 'worker' ? row.worker : null);
  const state = (row: WorkerTableRow): string => (row.kind === 'worker' ? row.worker.state : row.slot.state);
  return [
    {
      header: 'WORKER',
      align: 'left',
      priority: 100,
      text: (row) => (row.kind === 'worker' ? row.worker.tag : `${row.pool.name}.${row.slot.slot}`),
    },
    { header: 'PID', align: 'right', priority: 100, text: (row) => String(worker(row)?.pid ?? '-') },
    { header: 'STATE', align: 'left', priority: 100, text: state, tone: (row) => stateTone(state(row)) },
    {
      header: 'UP',
      align: 'right',
      priority: 50,
      text: (row) => {
        const each = worker(row);
        return each ? formatDuration(each.uptimeMs) : '-';
      },
    },
    {
      header: 'REQ/S',
      align: 'right',
      priority: 90,
      text: (row) => {
        const each = worker(row);
        return each ? formatRate(history.rate(each.pid)) : '-';
      },
    },
    { header: 'ACT', align: 'right', priority: 80, text: (row) => String(worker(row)?.inFlight ?? '-') },
    { header: 'LOOP', align: 'right', priority: 60, text: (row) => formatMilliseconds(worker(row)?.loopDelayP99Ms ?? null) },
    { header: 'RSS', align: 'right', priority: 75, text: (row) => formatBytes(worker(row)?.rssBytes ?? null) },
    { header: 'CPU%', align: 'right', priority: 75, text: (row) => formatCpu(worker(row)?.cpuPercent ?? null) },
    { header: 'RST', align: 'right', priority: 40, text: (row) => String(row.kind === 'worker' ? row.worker.restarts : row.slot.restarts) },
    {
      header: 'TREND',
      align: 'left',
      priority: 10,
      text: () => '',
      flexible: {
        minimum: 6,
        maximum: 40,
        draw: (row, width) => {
          const each = worker(row);
          return each ? sparkline(history.workerTrend(each.pid)?.rate.values ?? [], width, { unicode }) : '';
        },
      },
    },
  ];
}
