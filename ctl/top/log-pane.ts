// The log pane of `appctl top`: which lines of the ring belong to the selected pool, slot or worker
// (their output, and the master's lines about them), and how one line fits one screen row. Run by appctl.

import type { LogLineMessage } from '../../shared/control/protocol.js';
import { slotName, type Row } from './model.js';
import type { Painter } from './style.js';

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Matches the master's lines that name this pool or slot ("scaling pool web …", "worker web.3 g2 …"). */
function mentions(name: string): RegExp {
  return new RegExp(`(^|[^\\w.-])${escapeRegExp(name)}([^\\w-]|$)`);
}

/** What the pane shows for a selected row; null for everything (no selection yet). */
export function logFilter(row: Row | null): ((line: LogLineMessage) => boolean) | null {
  if (row === null) return null;
  if (row.kind === 'worker') {
    const { pid, tag } = row.worker;
    const aboutWorker = mentions(tag);
    return (line) => line.pid === pid || (line.source === 'master' && (line.text.includes(`pid ${pid})`) || aboutWorker.test(line.text)));
  }
  const name = slotName(row) ?? row.pool.name;
  const ownPrefix = `${name}${row.kind === 'pool' ? '.' : ' '}`;
  const about = mentions(name);
  return (line) => line.source.startsWith(ownPrefix) || (line.source === 'master' && about.test(line.text));
}

/** The newest `count` lines that pass the filter, oldest first (walks back from the end: cheap on a big ring). */
export function visibleLines(
  lines: readonly LogLineMessage[],
  filter: ((line: LogLineMessage) => boolean) | null,
  count: number,
): LogLineMessage[] {
  const shown: LogLineMessage[] = [];
  for (let index = lines.length - 1; index >= 0 && shown.length < count; index -= 1) {
    const line = lines[index];
    if (line && (filter === null || filter(line))) shown.push(line);
  }
  return shown.reverse();
}

function clock(time: number): string {
  const date = new Date(time);
  return [date.getHours(), date.getMinutes(), date.getSeconds()].map((part) => String(part).padStart(2, '0')).join(':');
}

/** Terminal escapes and control characters in app output would move the cursor or recolour the screen. */
function printable(text: string): string {
  return text
    .replace(/\x1b\[[0-?]*[ -/]*[@-~]/g, '')
    .replace(/\t/g, '  ')
    .replace(/[\x00-\x1f\x7f-\x9f]/g, '');
}

/** "12:03:04 web.1 g2 listening" cut to `width` columns; the master's warnings and errors marked. */
export function logRow(line: LogLineMessage, width: number, painter: Painter): string {
  const source =
    line.source === 'master' ? (['debug', 'info'].includes(line.level) ? 'master' : `master ${line.level.toUpperCase()}`) : line.source;
  const prefix = `${clock(line.time)} ${source}${line.level === 'stderr' ? '!' : ''} `;
  const text = (prefix + printable(line.text)).slice(0, width);
  const tone = ['error', 'critical'].includes(line.level) ? 'bad' : line.level === 'warning' ? 'warn' : null;
  const head = painter.paint(painter.escape(text.slice(0, Math.min(prefix.length, text.length))), tone ?? 'dim');
  return head + painter.escape(text.slice(prefix.length));
}
