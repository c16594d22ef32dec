// The shape of one bench run as written to bench-results.json: machine, settings, every measurement,
// and the notes on what was skipped. Runs in the bench process.

import type { Baselines } from './baselines.js';
import type { ContenderKey } from './contenders/contender.js';
import type { MemoryReading } from './rows/memory.js';
import type { SpawnTimings, StatusTimings, Timings } from './rows/control.js';
import type { SwapMeasurement } from './rows/under-load.js';
import type { AdminListenerMeasurement } from './rows/admin-listener.js';
import type { FeatureMeasurement } from './rows/features.js';
import type { ReusePortMeasurement } from './rows/reuse-port.js';
import type { ReloadMemoryMeasurement } from './rows/reload-memory.js';
import type { ThroughputRun, ThroughputSummary } from './rows/throughput.js';
import type { BenchSettings } from './settings.js';

export interface MachineInfo {
  readonly date: string;
  readonly cores: number;
  readonly cpuModel: string;
  readonly node: string;
  readonly kernel: string;
  readonly memoryGiB: number;
}

export interface BenchResults {
  readonly machine: MachineInfo;
  readonly settings: BenchSettings;
  baselines: Baselines | null;
  /** Why a contender or a row is missing, keyed by what is missing. */
  readonly notes: Record<string, string>;
  throughputRuns: ThroughputRun[];
  throughput: ThroughputSummary[];
  /** Master RSS right after start (idle) with 2 workers, after the throughput run, and fresh with 16. */
  memory: MemoryReading[];
  memoryAfterLoad: MemoryReading[];
  /** Keyed by the row: "appd HUP", "appd appctl reload", "pm2 reload", "gunicorn HUP", "appd appctl upgrade", "pm2 update". */
  swaps: Record<string, SwapMeasurement>;
  status: StatusTimings | null;
  workerSpawn: SpawnTimings | null;
  scale: { appd: Timings; pm2: Timings | null } | null;
  /** The app under wrk with the admin listener (--metrics-bind) idle and scraped every second. */
  adminListener: AdminListenerMeasurement | null;
  /** appd with --reuse-port against its shared socket, 2 and 8 workers (Node >= 22.12; else a note says why not). */
  reusePort: ReusePortMeasurement[] | null;
  /** appd with the access log on, and with every timeout off, against appd with default settings. */
  features: FeatureMeasurement | null;
  /** A fresh appd (1 worker) reloaded BENCH_RELOADS times, its master's RSS read every 10 reloads. */
  reloadMemory: ReloadMemoryMeasurement | null;
  /** 1-minute load average when each section started, and the total waited for a quiet machine. */
  load: { atStart: number; atEnd: number; waitedSeconds: number; medianForeignCores: number | null; maxForeignCores: number | null };
  table: string;
  durationSeconds: number;
}

export const COLUMN_ORDER: readonly ContenderKey[] = ['appd', 'node', 'cluster-rr', 'cluster-none', 'pm2', 'gunicorn'];
