// Runs wrk against one contender and parses its report: requests/s, latency percentiles, socket errors.
// Runs in the bench process (wrk itself takes about one of the two cores).

import { runCommand } from './run-command.js';

export type ConnectionMode = 'keep-alive' | 'close';

export interface WrkRun {
  readonly requestsPerSecond: number;
  readonly requests: number;
  readonly latencyP50Ms: number;
  readonly latencyP99Ms: number;
  /** connect + read + write + timeout socket errors, and non-2xx/3xx answers. */
  readonly errors: number;
}

export interface WrkOptions {
  readonly wrkPath: string;
  readonly url: string;
  readonly mode: ConnectionMode;
  readonly connections: number;
  readonly durationSeconds: number;
}

const UNIT_MS: Readonly<Record<string, number>> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

function latencyMs(report: string, percentile: string): number {
  const match = new RegExp(`^\\s*${percentile}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm').exec(report);
  if (!match) throw new Error(`wrk printed no ${percentile}% latency:\n${report}`);
  return Number(match[1]) * (UNIT_MS[match[2] ?? 'ms'] ?? 1);
}

export function parseWrkReport(report: string): WrkRun {
  const perSecond = /^Requests\/sec:\s+([\d.]+)/m.exec(report);
  const total = /^\s*(\d+) requests in /m.exec(report);
  if (!perSecond || !total) throw new Error(`cannot read wrk's report:\n${report}`);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(report);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(report);
  const socketErrors = socket ? socket.slice(1, 5).reduce((sum, value) => sum + Number(value), 0) : 0;
  return {
    requestsPerSecond: Number(perSecond[1]),
    requests: Number(total[1]),
    latencyP50Ms: latencyMs(report, '50'),
    latencyP99Ms: latencyMs(report, '99'),
    errors: socketErrors + (non2xx ? Number(non2xx[1]) : 0),
  };
}

export async function runWrk(options: WrkOptions): Promise<WrkRun> {
  const args = ['-t1', `-c${options.connections}`, `-d${options.durationSeconds}s`, '--latency'];
  if (options.mode === 'close') args.push('-H', 'Connection: close');
  const result = await runCommand(options.wrkPath, [...args, options.url], { timeoutMs: (options.durationSeconds + 15) * 1000 });
  if (result.code !== 0) throw new Error(`wrk exited ${result.code ?? result.signal}: ${result.stderr || result.stdout}`);
  return parseWrkReport(result.stdout);
}
