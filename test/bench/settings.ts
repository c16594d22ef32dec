// The bench's knobs, from environment variables with defaults sized for "a few minutes on 2 cores".
// Runs in the bench process.

import { tmpdir } from 'node:os';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { PROJECT_ROOT } from './contenders/contender.js';

export interface BenchSettings {
  /** Installs and state (PM2, PM2_HOME, sockets, worker stats), outside the repository. */
  readonly scratch: string;
  readonly outputFile: string;
  readonly workers: number;
  readonly wrkSeconds: number;
  readonly rounds: number;
  readonly connections: number;
  readonly warmUpSeconds: number;
  readonly loadLimit: number;
  readonly maxWaitSeconds: number;
  readonly waitBudgetSeconds: number;
  readonly swaps: number;
  readonly commandRepeats: number;
  /** When set, the appd master of the throughput run writes a V8 CPU profile into this directory. */
  readonly masterProfileDirectory: string | null;
}

function numberFrom(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name}=${text}: expected a non-negative number`);
  return value;
}

export const SETTINGS_HELP = `Environment (defaults in brackets):
  BENCH_SECONDS [4]        one wrk run        BENCH_ROUNDS [3]       runs per throughput cell (median)
  BENCH_CONNECTIONS [64]   wrk connections    BENCH_WARMUP [1]       warm-up seconds per contender and mode
  BENCH_LOAD_LIMIT [1.5]   wait while the 1-minute load is at or above this before each measurement
  BENCH_MAX_WAIT [15]      longest wait (s)   BENCH_WAIT_BUDGET [120] total waiting (s) for the whole run
  BENCH_SWAPS [3]          reloads per row    BENCH_REPEATS [7]      appctl status / pm2 jlist runs
  BENCH_SCRATCH [$TMPDIR/appd-bench]          BENCH_OUTPUT [bench-results.json]
  BENCH_PROFILE_MASTER=DIR  write a --cpu-prof profile of appd's master during the throughput run`;

export function readSettings(): BenchSettings {
  const scratch = resolve(process.env.BENCH_SCRATCH || join(tmpdir(), 'appd-bench'));
  const inside = relative(PROJECT_ROOT, scratch);
  if (!inside.startsWith('..') && !isAbsolute(inside)) throw new Error(`BENCH_SCRATCH=${scratch} is inside the repository; choose a directory outside it`);
  return {
    scratch,
    outputFile: resolve(PROJECT_ROOT, process.env.BENCH_OUTPUT || 'bench-results.json'),
    workers: 2,
    wrkSeconds: numberFrom('BENCH_SECONDS', 4),
    rounds: Math.max(1, Math.round(numberFrom('BENCH_ROUNDS', 3))),
    connections: Math.max(1, Math.round(numberFrom('BENCH_CONNECTIONS', 64))),
    warmUpSeconds: numberFrom('BENCH_WARMUP', 1),
    loadLimit: numberFrom('BENCH_LOAD_LIMIT', 1.5),
    maxWaitSeconds: numberFrom('BENCH_MAX_WAIT', 15),
    waitBudgetSeconds: numberFrom('BENCH_WAIT_BUDGET', 120),
    swaps: Math.max(1, Math.round(numberFrom('BENCH_SWAPS', 3))),
    commandRepeats: Math.max(1, Math.round(numberFrom('BENCH_REPEATS', 7))),
    masterProfileDirectory: process.env.BENCH_PROFILE_MASTER ? resolve(process.env.BENCH_PROFILE_MASTER) : null,
  };
}
