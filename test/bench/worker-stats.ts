// Reads the per-process counts the hello app writes (connections and requests per worker) and turns
// two snapshots into how one measurement spread over the workers. Runs in the bench process.

import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { hasErrorCode } from '../../shared/errors.js';

export interface WorkerCounts {
  readonly connections: number;
  readonly requests: number;
}

export type StatsSnapshot = ReadonlyMap<number, WorkerCounts>;

export function readStats(directory: string): StatsSnapshot {
  const snapshot = new Map<number, WorkerCounts>();
  if (directory === '') return snapshot;
  for (const name of readdirSync(directory)) {
    if (!name.endsWith('.json')) continue;
    try {
      const counts = JSON.parse(readFileSync(join(directory, name), 'utf8')) as WorkerCounts & { pid: number };
      snapshot.set(counts.pid, { connections: counts.connections, requests: counts.requests });
    } catch (error) {
      // A file caught mid-write parses as truncated JSON; its counts show in the next snapshot.
      if (!(error instanceof SyntaxError) && !hasErrorCode(error, 'ENOENT')) throw error;
    }
  }
  return snapshot;
}

/** Per worker (busiest first): what it took between the snapshots. Workers that took nothing count as 0. */
export function spreadBetween(before: StatsSnapshot, after: StatsSnapshot, workers: readonly number[]): WorkerCounts[] {
  const pids = new Set([...workers, ...after.keys()]);
  const spread: WorkerCounts[] = [];
  for (const pid of pids) {
    const end = after.get(pid) ?? { connections: 0, requests: 0 };
    const start = before.get(pid) ?? { connections: 0, requests: 0 };
    const taken = { connections: end.connections - start.connections, requests: end.requests - start.requests };
    if (taken.requests > 0 || workers.includes(pid)) spread.push(taken);
  }
  return spread.sort((left, right) => right.requests - left.requests || right.connections - left.connections);
}
