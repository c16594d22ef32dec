// reuse-port against the shared socket (Node >= 22.12 only): appd with 2 and 8 workers, once on one
// shared socket and once with --reuse-port, wrk keep-alive and Connection: close, rounds interleaved;
// throughput, worker CPU per request and how connections spread. Measured, not asserted. Runs in the bench process.

import { nodeHasReusePort } from '../../../shared/config/reuse-port.js';
import { AppdContender } from '../contenders/appd.js';
import type { QuietGate } from '../quiet-machine.js';
import {
  MODES,
  measureRun,
  summarize,
  withOwnPids,
  type ThroughputRun,
  type ThroughputSettings,
  type ThroughputSummary,
} from './throughput.js';
import { runWrk, type ConnectionMode } from '../wrk.js';

export const REUSE_PORT_WORKER_COUNTS = [2, 8] as const;

export interface ReusePortSettings extends ThroughputSettings {
  readonly scratch: string;
  readonly extraArgs: readonly string[];
}

export type SocketKind = 'shared' | 'reuse-port';

export interface ReusePortMeasurement {
  readonly workers: number;
  readonly summaries: Record<SocketKind, Partial<Record<ConnectionMode, ThroughputSummary>>>;
}

/** Why the rows cannot be measured on this Node, or null. */
export function reusePortUnavailable(): string | null {
  return nodeHasReusePort() ? null : `reuse-port needs Node >= 22.12 or >= 23.1; this run is on ${process.version}`;
}

async function measureWorkers(
  workers: number,
  settings: ReusePortSettings,
  gate: QuietGate,
  ourPids: () => readonly number[],
  log: (line: string) => void,
): Promise<ReusePortMeasurement> {
  const start = (extra: readonly string[]): Promise<AppdContender> =>
    AppdContender.start({ scratch: settings.scratch, workers, extraArgs: [...settings.extraArgs, ...extra], timeoutMs: 120_000 });
  const contenders: Record<SocketKind, AppdContender | null> = { shared: null, 'reuse-port': null };
  const pids = withOwnPids(ourPids, () => Object.values(contenders));
  try {
    contenders.shared = await start([]);
    contenders['reuse-port'] = await start(['--reuse-port']);
    const runs: Record<SocketKind, ThroughputRun[]> = { shared: [], 'reuse-port': [] };
    for (const kind of ['shared', 'reuse-port'] as const) {
      for (const mode of MODES)
        await runWrk({
          wrkPath: settings.wrkPath,
          url: contenders[kind]?.url ?? '',
          mode,
          connections: settings.connections,
          durationSeconds: settings.warmUpSeconds,
        });
    }
    for (let roundIndex = 0; roundIndex < settings.rounds; roundIndex += 1) {
      // Alternate which goes first, so a machine growing busier mid-round favours neither.
      const order: SocketKind[] = roundIndex % 2 === 0 ? ['shared', 'reuse-port'] : ['reuse-port', 'shared'];
      for (const mode of MODES) {
        for (const kind of order) {
          const contender = contenders[kind];
          if (contender === null) continue;
          const run = await measureRun(contender, mode, roundIndex + 1, settings, gate, pids);
          runs[kind].push(run);
          const spread = run.spread.map((counts) => (mode === 'keep-alive' ? counts.connections : counts.requests)).join('/');
          log(
            `reuse-port round ${roundIndex + 1}, ${workers} workers, ${kind} ${mode}: ${Math.round(run.wrk.requestsPerSecond)} req/s, ` +
              `spread ${spread}, load ${run.gate.loadBefore}, others ${run.noise.foreignCores} cores`,
          );
        }
      }
    }
    const summaries = (kind: SocketKind): Partial<Record<ConnectionMode, ThroughputSummary>> =>
      Object.fromEntries(MODES.flatMap((mode) => [[mode, summarize(runs[kind], 'appd', mode)]].filter(([, summary]) => summary !== null)));
    return { workers, summaries: { shared: summaries('shared'), 'reuse-port': summaries('reuse-port') } };
  } finally {
    for (const contender of Object.values(contenders)) await contender?.stop();
  }
}

export async function measureReusePort(
  settings: ReusePortSettings,
  gate: QuietGate,
  ourPids: () => readonly number[],
  log: (line: string) => void,
): Promise<ReusePortMeasurement[]> {
  const measured: ReusePortMeasurement[] = [];
  for (const workers of REUSE_PORT_WORKER_COUNTS) measured.push(await measureWorkers(workers, settings, gate, ourPids, log));
  return measured;
}
