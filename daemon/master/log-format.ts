// --log-format json: one JSON object per line for the master's log and its workers' relayed output,
// every value escaped by JSON.stringify, so no text (a worker's output included) can forge a field.
// Run by the appd master.

import type { LogLine } from './logger.js';

export type LogFormat = 'text' | 'json';

/** "web.3 g2": a worker's tag; the master's own lines have the source "master". */
const WORKER_TAG = /^(.+)\.(\d+) g(\d+)$/;

export function jsonLogLine(line: LogLine): string {
  const worker = line.source === 'master' ? null : WORKER_TAG.exec(line.source);
  return `${JSON.stringify({
    time: new Date(line.time).toISOString(),
    level: line.level,
    pool: worker?.[1] ?? null,
    slot: worker ? Number(worker[2]) : null,
    generation: worker ? Number(worker[3]) : null,
    pid: line.pid,
    message: line.text,
  })}\n`;
}
