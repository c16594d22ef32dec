// The human form of `appctl status`: a header with the master, one line per pool, and a table of
// workers that fits 80 columns. Run by appctl.

import type { StatusSnapshot } from '../../shared/control/status.js';
import { formatBytes, formatCount, formatDuration, formatPercent } from './format.js';
import { renderTable, SCREEN_WIDTH } from './table.js';
import { queueSummary, requestSummary, restartSummary } from './traffic.js';

const WORKER_COLUMNS = [
  { header: 'WORKER' },
  { header: 'PID', align: 'right' },
  { header: 'STATE' },
  { header: 'UPTIME', align: 'right' },
  { header: 'REQUESTS', align: 'right' },
  { header: 'ACTIVE', align: 'right' },
  { header: 'RSS', align: 'right' },
  { header: 'CPU', align: 'right' },
  { header: 'RESTARTS', align: 'right' },
] as const;

/** Joins items with ", " onto lines no wider than the screen, continuing under the first item. */
function wrapList(label: string, items: readonly string[]): string[] {
  const lines: string[] = [];
  let line = label;
  for (const [index, item] of items.entries()) {
    const separator = index === 0 ? '' : ', ';
    if (index > 0 && line.length + separator.length + item.length > SCREEN_WIDTH) {
      lines.push(`${line},`);
      line = ' '.repeat(label.length) + item;
    } else {
      line += separator + item;
    }
  }
  lines.push(line);
  return lines;
}

export function renderStatus(snapshot: StatusSnapshot): string {
  const { master } = snapshot;
  const lines = [
    `appd '${snapshot.name}': master pid ${master.pid}, ${master.phase}, up ${formatDuration(master.uptimeMs)}`,
    `  appd ${snapshot.version} on Node ${snapshot.node}; master rss ${formatBytes(master.rssBytes)}, cpu ${formatPercent(master.cpuPercent)}`,
    ...wrapList('  listening on ', master.listeners.length > 0 ? master.listeners : ['nothing']),
  ];
  const queues = queueSummary(master.listenQueues);
  if (queues) lines.push(...wrapList('  accept queue (waiting/limit): ', queues));
  for (const pool of snapshot.pools) {
    const flags = [pool.reloading ? 'reloading' : null, pool.stopped ? 'stopped' : null]
      .filter(Boolean)
      .map((flag) => `, ${flag}`)
      .join('');
    lines.push(
      `  pool ${pool.name} (${pool.kind}): ${pool.ready}/${pool.desired} ready, generation ${pool.generation}${flags}, ${pool.restarts} restart(s)`,
    );
    // Slots without a serving worker (backoff, fatal, exited …) would not show in the worker table.
    const unusual = pool.slots.filter((slot) => slot.state !== 'running').map((slot) => `${pool.name}.${slot.slot} ${slot.state}`);
    if (unusual.length > 0) lines.push(...wrapList('    slots: ', unusual));
    if (pool.requests) lines.push(`    requests: ${requestSummary(pool.requests)}`);
    const restarts = restartSummary(pool.restartsByReason);
    if (restarts) lines.push(`    restarts by reason: ${restarts}`);
  }
  const rows = snapshot.pools.flatMap((pool) =>
    pool.workers.map((worker) => [
      worker.tag,
      String(worker.pid),
      worker.state,
      formatDuration(worker.uptimeMs),
      formatCount(worker.requests),
      formatCount(worker.inFlight),
      formatBytes(worker.rssBytes),
      formatPercent(worker.cpuPercent),
      String(worker.restarts),
    ]),
  );
  lines.push('', ...(rows.length > 0 ? renderTable(WORKER_COLUMNS, rows) : ['no workers running']));
  return lines.join('\n');
}
