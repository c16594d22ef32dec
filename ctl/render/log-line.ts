// Formats log lines streamed by the daemon the way its own log file shows them (time, pid, level or
// worker tag). Run by appctl.

import type { LogLineMessage } from '../../shared/control/protocol.js';

function pad(value: number): string {
  return String(value).padStart(2, '0');
}

/** "2026-11-21 05:51:00", local time, as the daemon's log shows it. */
export function formatTime(epochMilliseconds: number): string {
  const date = new Date(epochMilliseconds);
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

export function renderLogLine(line: LogLineMessage): string {
  const time = formatTime(line.time);
  const tag = line.source === 'master' ? line.level.toUpperCase() : line.level === 'stderr' ? `${line.source} stderr` : line.source;
  return `${time} [${line.pid}] [${tag}] ${line.text}`;
}
