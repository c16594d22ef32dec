// Splits a child's stdout or stderr into lines and hands each to the log, tagged with the worker.
// Run by the appd master for every worker it spawns.

import type { Readable } from 'node:stream';

/** A line longer than this is cut: a child writing without newlines must not grow the master. */
const MAX_LINE_BYTES = 16 * 1024;

export function relayLines(stream: Readable | null, onLine: (line: string) => void): void {
  if (!stream) return;
  stream.setEncoding('utf8');
  let partial = '';
  stream.on('data', (chunk: string) => {
    const text = partial + chunk;
    const lines = text.split('\n');
    partial = lines.pop() ?? '';
    if (partial.length > MAX_LINE_BYTES) {
      lines.push(`${partial.slice(0, MAX_LINE_BYTES)} [line cut at ${MAX_LINE_BYTES} bytes]`);
      partial = '';
    }
    for (const line of lines) onLine(line.endsWith('\r') ? line.slice(0, -1) : line);
  });
  stream.on('end', () => {
    if (partial !== '') onLine(partial);
    partial = '';
  });
  // A read error on a dying child's pipe carries no information the exit event does not.
  stream.on('error', () => undefined);
}
