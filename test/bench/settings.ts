// The bench's knobs, from environment variables with defaults sized for "a few minutes on 2 cores".
// Runs in the bench process.

import { tmpdir } from 'node:os';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { CONTENDER_LABELS, PROJECT_ROOT, type ContenderKey } from './contenders/contender.js';

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
  readonly idleCores: number;
  readonly maxWaitSeconds: number;
  readonly waitBudgetSeconds: number;
  readonly swaps: number;
  readonly commandRepeats: number;
  /** The reload-memory row: how many reloads, and the most seconds they may take. */
  readonly reloads: number;
  readonly reloadSeconds: number;
  /** Which contenders to run (all by default); a subset makes a quick A/B while profiling. */
  readonly contenders: readonly ContenderKey[];
  /** Which groups of rows to run (all by default). */
  readonly sections: readonly Section[];
  /** Extra appd flags for the throughput daemon (e.g. --no-timeout-stack), split on spaces. */
  readonly appdArgs: readonly string[];
  /** When set, the appd master of the throughput run writes a V8 CPU profile into this directory. */
  readonly masterProfileDirectory: string | null;
  /** Every how many throughput rounds appd and SCHED_NONE are started afresh (0: never); see FreshPair. */
  readonly freshPairEvery: number;
}

function numberFrom(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name}=${text}: expected a non-negative number`);
  return value;
}

export const SETTINGS_HELP = `Environment (defaults in brackets):
  BENCH_SECONDS [2]        one wrk run        BENCH_ROUNDS [5]       runs per throughput cell (median)
  BENCH_CONNECTIONS [64]   wrk connections    BENCH_WARMUP [4]       warm-up seconds per contender and mode
  BENCH_LOAD_LIMIT [1.5]   before each measurement, wait while the 1-minute load is at or above this,
  BENCH_IDLE_CORES [0.4]     unless the machine used fewer cores than this in each of the last 2 seconds
  BENCH_MAX_WAIT [10]      longest wait (s)   BENCH_WAIT_BUDGET [60] total waiting (s) for the whole run
  BENCH_SWAPS [3]          reloads per row    BENCH_REPEATS [7]      appctl status / pm2 jlist runs
  BENCH_RELOADS [1000]     reloads of the master RSS row (reloads section), at most BENCH_RELOAD_SECONDS [420]
  BENCH_SCRATCH [$TMPDIR/appd-bench]          BENCH_OUTPUT [bench-results.json]
  BENCH_CONTENDERS=appd,cluster-none,...  a subset of appd,node,cluster-rr,cluster-none,pm2,gunicorn
  BENCH_SECTIONS=throughput,control,swaps,memory,admin,reuseport,features,reloads  a subset of the row groups
  BENCH_APPD_ARGS='--no-timeout-stack'     extra flags for the appd under test
  BENCH_PROFILE_MASTER=DIR  write a --cpu-prof profile of appd's master during the throughput run
  BENCH_FRESH_PAIR [1]     start appd and SCHED_NONE afresh every N throughput rounds (0: one pair for the run)`;

export const SECTIONS = ['throughput', 'control', 'swaps', 'memory', 'admin', 'reuseport', 'features', 'reloads'] as const;
export type Section = (typeof SECTIONS)[number];

function sectionsFrom(text: string | undefined): Section[] {
  if (!text) return [...SECTIONS];
  const chosen = text
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
  const unknown = chosen.filter((item) => !(SECTIONS as readonly string[]).includes(item));
  if (unknown.length > 0) throw new Error(`BENCH_SECTIONS: unknown ${unknown.join(', ')} (known: ${SECTIONS.join(', ')})`);
  return chosen as Section[];
}

function contendersFrom(text: string | undefined): ContenderKey[] {
  const all = Object.keys(CONTENDER_LABELS) as ContenderKey[];
  if (!text) return all;
  const chosen = text
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
  const unknown = chosen.filter((item) => !all.includes(item as ContenderKey));
  if (unknown.length > 0) throw new Error(`BENCH_CONTENDERS: unknown ${unknown.join(', ')} (known: ${all.join(', ')})`);
  return chosen as ContenderKey[];
}

export function readSettings(): BenchSettings {
  const scratch = resolve(process.env.BENCH_SCRATCH || join(tmpdir(), 'appd-bench'));
  const inside = relative(PROJECT_ROOT, scratch);
  if (!inside.startsWith('..') && !isAbsolute(inside))
    throw new Error(`BENCH_SCRATCH=${scratch} is inside the repository; choose a directory outside it`);
  return {
    scratch,
    outputFile: resolve(PROJECT_ROOT, process.env.BENCH_OUTPUT || 'bench-results.json'),
    workers: 2,
    wrkSeconds: numberFrom('BENCH_SECONDS', 2),
    rounds: Math.max(1, Math.round(numberFrom('BENCH_ROUNDS', 5))),
    connections: Math.max(1, Math.round(numberFrom('BENCH_CONNECTIONS', 64))),
    // 4 s, not 1: a young worker's JIT is still compiling and deoptimizing (V8's --trace-opt and
    // --trace-deopt in both contenders' workers: 5-63 compilations and 0-28 deoptimizations inside a
    // measured 2 s run after 1 s per mode, about as many after 4 s), and appd's worker has more
    // request-path code to compile. Session 24, throughput rows only, 31 fresh pairs each, back to back:
    // appd's CPU per keep-alive request 1.046x SCHED_NONE's after 1 s, 1.028x after 4 s; two more runs after
    // 4 s: 1.033x and 1.047x (the 1 s runs of sessions 22-24: 1.01x-1.06x, all but one 1.04x or more), so
    // not shown to move the ratio; kept because it measures the workers closer to their steady state.
    // Connection: close 1.016x-1.046x either way. It adds 6 minutes to a 31-round run.
    warmUpSeconds: numberFrom('BENCH_WARMUP', 4),
    loadLimit: numberFrom('BENCH_LOAD_LIMIT', 1.5),
    idleCores: numberFrom('BENCH_IDLE_CORES', 0.4),
    maxWaitSeconds: numberFrom('BENCH_MAX_WAIT', 10),
    waitBudgetSeconds: numberFrom('BENCH_WAIT_BUDGET', 60),
    swaps: Math.max(1, Math.round(numberFrom('BENCH_SWAPS', 3))),
    commandRepeats: Math.max(1, Math.round(numberFrom('BENCH_REPEATS', 7))),
    reloads: Math.max(1, Math.round(numberFrom('BENCH_RELOADS', 1000))),
    reloadSeconds: numberFrom('BENCH_RELOAD_SECONDS', 420),
    contenders: contendersFrom(process.env.BENCH_CONTENDERS),
    sections: sectionsFrom(process.env.BENCH_SECTIONS),
    appdArgs: (process.env.BENCH_APPD_ARGS ?? '').split(' ').filter(Boolean),
    masterProfileDirectory: process.env.BENCH_PROFILE_MASTER ? resolve(process.env.BENCH_PROFILE_MASTER) : null,
    freshPairEvery: Math.round(numberFrom('BENCH_FRESH_PAIR', 1)),
  };
}
