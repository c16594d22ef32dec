// Formats log lines streamed by the daemon the way its own log file shows them (time, pid, level or
// worker tag). Run by appctl.

import type { LogLineMessage } from '../shared/control/protocol.js';

function pad(value: number): string {
  return String(value).padStart(2, '0');
}

export function renderLogLine(line: LogLineMessage): string {
  const date = new Date(line.time);
  const time = `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
  const tag = line.source === 'master' ? line.level.toUpperCase() : line.level === 'stderr' ? `${line.source} stderr` : line.source;
  return `${time} [${line.pid}] [${tag}] ${line.text}`;
}
