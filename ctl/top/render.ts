// Draws one frame of `appctl top` as text lines, exactly the terminal's size: header, pools, workers,
// log pane, message line and keys; the workers table scrolls to keep the selection in view. Run by appctl.

import { formatBytes, formatDuration } from '../render/format.js';
import { sparkline } from '../render/sparkline.js';
import { headerLine, layoutTable, rowLine } from './columns.js';
import { logFilter, logRow, visibleLines } from './log-pane.js';
import type { Row, TopModel } from './model.js';
import type { Painter } from './style.js';
import { formatMilliseconds, formatRate, poolColumns, workerColumns } from './tables.js';
import { restartSummary } from '../render/traffic.js';
import { footerLine, helpLines } from './help.js';

export const MINIMUM_WIDTH = 40;
export const MINIMUM_HEIGHT = 10;
/** Log lines kept visible while the workers table takes the rest. */
const MINIMUM_LOG_LINES = 4;

export interface FrameSize {
  readonly width: number;
  readonly height: number;
}

/** Joins parts with a separator, leaving out the ones that no longer fit (the first always stays). */
function joinFitting(parts: readonly string[], width: number, separator: string): string {
  let line = '';
  for (const part of parts) {
    const next = line === '' ? part : `${line}${separator}${part}`;
    if (next.length > width) return line === '' ? part.slice(0, width) : line;
    line = next;
  }
  return line;
}

function pad(line: string, width: number): string {
  return line.length >= width ? line.slice(0, width) : line.padEnd(width);
}

function headerLines(model: TopModel, size: FrameSize, painter: Painter, roomForChart: boolean): string[] {
  const separator = painter.unicode ? ' · ' : ' | ';
  const { daemon } = model.connection;
  const snapshot = model.snapshot;
  const badge = model.connection.state === 'disconnected' ? 'DISCONNECTED' : '';
  const title = snapshot
    ? [
        `appd '${snapshot.name}' ${snapshot.version}`,
        `master ${snapshot.master.pid}`,
        snapshot.master.phase,
        `up ${formatDuration(snapshot.master.uptimeMs)}`,
        `gen ${snapshot.pools.length === 1 ? String(snapshot.pools[0]?.generation) : snapshot.pools.map((pool) => `${pool.name}:${pool.generation}`).join(' ')}`,
        `node ${snapshot.node}`,
      ]
    : [`appd '${daemon.name}' ${daemon.version}`, `master ${daemon.pid}`, 'waiting for the first status'];
  const titleText = joinFitting(title, size.width - badge.length - 1, separator);
  const lines = [painter.paint(painter.escape(pad(titleText, size.width - badge.length)), 'title') + painter.paint(badge, 'bad')];
  if (!snapshot) return lines;
  const workers = snapshot.pools.flatMap((pool) => pool.workers);
  const listeners = snapshot.master.listeners;
  const listening = listeners.length === 0 ? 'no listeners' : `${listeners[0]}${listeners.length > 1 ? ` (+${listeners.length - 1})` : ''}`;
  const ready = snapshot.pools.reduce((sum, pool) => sum + pool.ready, 0);
  const desired = snapshot.pools.reduce((sum, pool) => sum + pool.desired, 0);
  const inFlight = workers.reduce((sum, worker) => sum + (worker.inFlight ?? 0), 0);
  const rss = [snapshot.master.rssBytes, ...workers.map((worker) => worker.rssBytes)].reduce<number>((sum, value) => sum + (value ?? 0), 0);
  const cpu = [snapshot.master.cpuPercent, ...workers.map((worker) => worker.cpuPercent)].reduce<number>(
    (sum, value) => sum + (value ?? 0),
    0,
  );
  const queues = snapshot.master.listenQueues ?? [];
  const queued = queues.length === 0 ? [] : [`queue ${queues.reduce((sum, queue) => sum + queue.queued, 0)}`];
  const byReason: Record<string, number> = {};
  for (const pool of snapshot.pools)
    for (const [reason, count] of Object.entries(pool.restartsByReason ?? {})) byReason[reason] = (byReason[reason] ?? 0) + count;
  const restarts = restartSummary(byReason);
  const totals = [
    listening,
    `${ready}/${desired} ready`,
    `${formatRate(model.history.totalRate(snapshot))} req/s`,
    `${inFlight} in flight`,
    ...queued,
    `rss ${formatBytes(rss)}`,
    `cpu ${cpu.toFixed(1)}%`,
    ...(restarts ? [`restarts ${restarts}`] : []),
  ];
  lines.push(painter.escape(pad(joinFitting(totals, size.width, separator), size.width)));
  if (roomForChart) {
    const half = Math.floor(size.width / 2);
    const chartWidth = Math.max(4, half - 16);
    const rate = `req/s ${painter.paint(sparkline(model.history.total.rate.values, chartWidth, { unicode: painter.unicode }), 'chart')} ${formatRate(model.history.totalRate(snapshot)).padStart(6)}`;
    const memory = `rss ${painter.paint(sparkline(model.history.total.rss.values, chartWidth, { unicode: painter.unicode }), 'chart')} ${formatBytes(rss).padStart(6)}`;
    const used = 6 + chartWidth + 7 + 2 + 4 + chartWidth + 7;
    lines.push(`${rate}  ${memory}${' '.repeat(Math.max(0, size.width - used))}`);
  }
  return lines;
}

/** How long the title says lines are being left out after the daemon last said so (it says so each second). */
const OMITTED_SHOWN_MS = 3000;

/** The line above the log pane: what it shows, and for a worker its figures that have no column. */
function logTitle(model: TopModel, width: number, painter: Painter, now: number): string {
  const row = model.selected;
  const rule = painter.unicode ? '─' : '-';
  const parts = ['logs: everything'];
  if (row?.kind === 'pool') parts[0] = `logs: pool ${row.pool.name}`;
  if (row?.kind === 'slot') parts[0] = `logs: ${row.pool.name}.${row.slot.slot} (${row.slot.state}, ${row.slot.failures} failed starts)`;
  if (row?.kind === 'worker') parts[0] = `logs: ${row.worker.tag} pid ${row.worker.pid}`;
  // Before the worker's figures: under a flood it is what the pane most needs to say.
  if (model.omitted !== null && now - model.omitted.at < OMITTED_SHOWN_MS) parts.push(`sampled: ${model.omitted.count} lines/s left out`);
  if (row?.kind === 'worker') {
    const worker = row.worker;
    const facts = [
      worker.requests === null ? null : `${worker.requests} requests`,
      worker.connections === null ? null : `${worker.connections} conns`,
      worker.heapUsedBytes === null ? null : `heap ${formatBytes(worker.heapUsedBytes)}`,
      worker.loopDelayP99Ms === null
        ? null
        : `loop p50 ${formatMilliseconds(worker.loopDelayP50Ms ?? null)} p99 ${formatMilliseconds(worker.loopDelayP99Ms)}`,
      worker.stopReason === null ? null : `stopping: ${worker.stopReason}`,
    ].filter((fact): fact is string => fact !== null);
    if (facts.length > 0) parts.push(facts.join(', '));
  }
  const line = `${rule}${rule} ${parts.join(` ${rule} `)} `;
  return painter.paint(painter.escape(pad(line.length < width ? line + rule.repeat(width - line.length) : line, width)), 'dim');
}

function messageLine(model: TopModel, size: FrameSize, painter: Painter, now: number): string {
  const { connection } = model;
  if (model.mode === 'confirm-upgrade') {
    const question = `Upgrade appd '${connection.daemon.name}': start a new master on the same sockets? [y/N]`;
    return painter.paint(painter.escape(pad(question, size.width)), 'warn');
  }
  if (connection.state === 'disconnected') {
    const seconds = Math.max(0, Math.round((now - connection.since) / 1000));
    const text = `disconnected from appd '${connection.daemon.name}' (pid ${connection.daemon.pid}) ${seconds}s ago: ${connection.reason}; reconnecting…`;
    return painter.paint(painter.escape(pad(text, size.width)), 'bad');
  }
  if (!model.message) return ' '.repeat(size.width);
  const tone = model.message.tone === 'good' ? 'good' : model.message.tone === 'bad' ? 'bad' : null;
  const text = painter.escape(pad(model.message.text.replace(/\s*\n\s*/g, ' / '), size.width));
  return tone ? painter.paint(text, tone) : text;
}

export function renderDashboard(model: TopModel, size: FrameSize, painter: Painter, now: number): string[] {
  if (size.width < MINIMUM_WIDTH || size.height < MINIMUM_HEIGHT) {
    const text = `appctl top needs ${MINIMUM_WIDTH}x${MINIMUM_HEIGHT} (this is ${size.width}x${size.height}); q quits`;
    return [pad(text, size.width), ...Array.from({ length: size.height - 1 }, () => ' '.repeat(size.width))];
  }
  const header = headerLines(model, size, painter, size.height >= 20);
  let body: string[];
  const bodyHeight = size.height - header.length - 2;
  if (model.mode === 'help') {
    body = helpLines(size.width, painter);
  } else {
    body = tablesAndLogs(model, size.width, bodyHeight, painter, now);
  }
  while (body.length < bodyHeight) body.push(' '.repeat(size.width));
  return [...header, ...body.slice(0, bodyHeight), messageLine(model, size, painter, now), footerLine(model.mode, size.width, painter)];
}

function tablesAndLogs(model: TopModel, width: number, height: number, painter: Painter, now: number, withLogs = model.showLogs): string[] {
  const lines: string[] = [];
  const pools = model.rows.filter((row): row is Extract<Row, { kind: 'pool' }> => row.kind === 'pool');
  const workers = model.rows.filter((row): row is Exclude<Row, { kind: 'pool' }> => row.kind !== 'pool');
  const selected = model.selected;
  const poolLayout = layoutTable(poolColumns(model.history, painter.unicode), pools, width);
  lines.push(headerLine(poolLayout, width, painter));
  for (const row of pools) lines.push(rowLine(poolLayout, row, row === selected, width, painter));
  const logsShown = withLogs && height - lines.length - 1 >= 3 + MINIMUM_LOG_LINES;
  const roomForWorkers = height - lines.length - 1 - (logsShown ? 1 + MINIMUM_LOG_LINES : 0);
  const visibleWorkers = Math.max(0, Math.min(workers.length, roomForWorkers));
  const selectedWorker = workers.findIndex((row) => row === selected);
  // Scroll only as far as it takes to show the selection: the rest of the table stays put.
  if (selectedWorker >= 0 && selectedWorker < model.workerScroll) model.workerScroll = selectedWorker;
  if (selectedWorker >= model.workerScroll + visibleWorkers) model.workerScroll = selectedWorker - visibleWorkers + 1;
  model.workerScroll = Math.max(0, Math.min(model.workerScroll, workers.length - visibleWorkers));
  const shown = workers.slice(model.workerScroll, model.workerScroll + visibleWorkers);
  const above = model.workerScroll;
  const below = workers.length - above - shown.length;
  const arrows = painter.unicode ? ['↑', '↓'] : ['^', 'v'];
  const note = [above > 0 ? `${above} ${arrows[0]}` : '', below > 0 ? `${below} ${arrows[1]}` : ''].filter(Boolean).join(' ');
  // When the table scrolls, the header keeps room for its longest note ("12 ↑ 3 ↓ more"): columns that
  // do not fit beside it are left out of header and rows alike (not headed by half a word), and the
  // layout stays put while scrolling.
  const longestNote = shown.length < workers.length ? `${workers.length} ${arrows[0]} ${workers.length} ${arrows[1]} more`.length + 1 : 0;
  const workerLayout = layoutTable(workerColumns(model.history, painter.unicode), workers, width - longestNote);
  lines.push(headerLine(workerLayout, width, painter, note === '' ? '' : `${note} more`));
  for (const row of shown) lines.push(rowLine(workerLayout, row, row === selected, width, painter));
  if (workers.length === 0) lines.push(painter.escape('  no workers'));
  if (!logsShown) return lines;
  lines.push(logTitle(model, width, painter, now));
  for (const line of visibleLines(model.logs, logFilter(selected), height - lines.length)) lines.push(logRow(line, width, painter));
  return lines;
}

/** A frame for a plain stream (not a terminal, TERM=dumb): header and both tables whole, no logs or keys. */
export function renderPlainFrame(model: TopModel, width: number, painter: Painter, now: number): string[] {
  const lines = [
    ...headerLines(model, { width, height: Number.POSITIVE_INFINITY }, painter, true),
    ...tablesAndLogs(model, width, Number.POSITIVE_INFINITY, painter, now, false),
  ];
  if (model.connection.state === 'disconnected') lines.push(messageLine(model, { width, height: 1 }, painter, now));
  return lines.map((line) => line.trimEnd());
}
