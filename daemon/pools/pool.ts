// A pool's desired state: its settings, target worker count, current generation and per-slot restart
// throttling. Handlers change these; manageWorkers() makes the running workers converge. Run by the appd master.

import { accessSync, constants, statSync } from 'node:fs';
import { autoWorkerCount } from '../container/cpu-limit.js';
import { join } from 'node:path';
import { ConfigError, hasErrorCode } from '../../shared/errors.js';
import type { OwnedBind } from '../sockets/listeners.js';
import type { UnixSocketFile } from '../sockets/unix-socket-file.js';
import type { Config } from '../../shared/settings/table.js';
import { SlotRecord } from './slot.js';

/**
 * Every setting a worker of a pool needs, resolved for that pool: the global configuration with the
 * pool's own overrides on top (pools.NAME.*), so any setting marked perPool in the table is here.
 */
export type PoolSettings = Omit<Config, 'workers'> & {
  readonly name: string;
  /** http: serves an app module or a script; command: runs any program (pools.NAME.command). */
  readonly kind: 'http' | 'command';
  readonly workers: number;
};

export function resolveWorkerCount(value: number | 'auto'): number {
  return value === 'auto' ? autoWorkerCount().count : value;
}

/** Without pools: one http pool named "web" on the global bind. With pools: each as configured. */
export function poolSettingsFromConfig(config: Config): PoolSettings[] {
  if (config.pools === null) return [{ ...config, name: 'web', kind: 'http', workers: resolveWorkerCount(config.workers) }];
  return Object.entries(config.pools).map(([name, overrides]) => {
    // With pools, binds are per pool: a pool without bind listens nowhere (a plain command pool). So
    // are a program's arguments: one pool's args mean nothing to another's program.
    const merged = { ...config, bind: [], args: [], ...overrides } as Config;
    return { ...merged, name, kind: merged.command ? 'command' : 'http', workers: resolveWorkerCount(merged.workers) };
  });
}

/**
 * Every shared address the master must hold, with its owner: the global binds, or with pools every
 * pool's. A reuse-port pool has none: its binds are per-slot sockets (slot-sockets.ts).
 */
export function allBinds(config: Config): OwnedBind[] {
  if (config.pools === null)
    return config.reusePort ? [] : config.bind.map((bind) => ({ pool: null, bind, unixSocket: unixSocketFile(config) }));
  return poolSettingsFromConfig(config).flatMap((pool) =>
    pool.reusePort ? [] : pool.bind.map((bind) => ({ pool: pool.name, bind, unixSocket: unixSocketFile(pool) })),
  );
}

export function unixSocketFile(settings: Pick<Config, 'unixSocketMode' | 'unixSocketOwner' | 'unixSocketGroup'>): UnixSocketFile {
  return { mode: settings.unixSocketMode, owner: settings.unixSocketOwner, group: settings.unixSocketGroup };
}

/** "app ./server.js", "script ./server.js" or "command python3 -m legacy_server", for logs. */
export function describeProgram(settings: PoolSettings): string {
  if (settings.command) return `command ${settings.command.join(' ')}`;
  return settings.script ? `script ${settings.script}` : `app ${settings.app ?? ''}`;
}

/** A command pool whose program cannot be found fails at start (exit 2), not in a crash loop. */
export function checkCommandRunnable(settings: PoolSettings): void {
  const program = settings.command?.[0];
  if (program === undefined || findExecutable(program) !== null) return;
  throw new ConfigError(`pools.${settings.name}.command: "${program}" is not an executable file${program.includes('/') ? '' : ' on PATH'}`);
}

function findExecutable(program: string): string | null {
  const candidates = program.includes('/')
    ? [program]
    : (process.env['PATH'] ?? '')
        .split(':')
        .filter(Boolean)
        .map((directory) => join(directory, program));
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch (error) {
      if (!hasErrorCode(error, 'ENOENT', 'EACCES', 'ENOTDIR')) throw error; // not here: try the next directory
    }
  }
  return null;
}

/**
 * Why a pool runs no workers although it has a target: one hold at a time, the strongest wins.
 * parked: WINCH (until HUP or a scale); stopped: appctl stop-pool (until start-pool, a scale or a
 * restart); removed: gone from the config (forgotten once its last worker exited).
 */
export const POOL_HOLDS = ['none', 'parked', 'stopped', 'removed'] as const;
export type PoolHold = (typeof POOL_HOLDS)[number];

/**
 * A reload in progress: workers of `generation` start slot by slot while the old ones keep serving
 * ("rolling"); once every slot has a ready new worker, the old ones drain ("retiring"), and the reload
 * is done when none of them accepts any more.
 */
export interface Rollout {
  readonly pool: string;
  phase: 'rolling' | 'retiring';
  readonly fromGeneration: number;
  /** Restored if the new generation cannot boot. */
  readonly fromSettings: PoolSettings;
  /**
   * Restored too when the reload itself changed the worker count (the workers setting); null when it
   * did not, or when an operator scaled the pool since: the operator's latest word is kept.
   */
  fromTarget: number | null;
  readonly startedAt: number;
  /** How it ended (null while it runs); the jobs waiting on it and the reloads metric read it. */
  outcome: RolloutOutcome | null;
  /** A newer reload of the same pool that took over before this one ended: it covers this one's requesters. */
  supersededBy: Rollout | null;
}

export interface RolloutOutcome {
  readonly status: 'completed' | 'rolled_back' | 'abandoned';
  readonly message: string;
}

/**
 * A pool's desired state, and its only writer: settings, target, generation, hold and rollout change
 * through the methods below (the handlers call them; manageWorkers makes the workers follow).
 */
export class Pool {
  #settings: PoolSettings;
  #target: number;
  #generation: number;
  #latestGeneration: number;
  #hold: PoolHold = 'none';
  #rollout: Rollout | null = null;
  readonly slots = new Map<number, SlotRecord>();

  /** `generation` is 1, or past the old master's after an upgrade. */
  constructor(settings: PoolSettings, generation = 1) {
    this.#settings = settings;
    this.#generation = generation;
    this.#latestGeneration = generation;
    this.#target = settings.workers;
  }

  get name(): string {
    return this.#settings.name;
  }
  get settings(): PoolSettings {
    return this.#settings;
  }
  /** The worker count TTIN/TTOU, appctl scale and the workers setting asked for. */
  get target(): number {
    return this.#target;
  }
  /** The generation new workers get; a reload bumps it and old workers are rolled over. */
  get generation(): number {
    return this.#generation;
  }
  /** The highest generation ever started; a rolled-back number is never reused. */
  get latestGeneration(): number {
    return this.#latestGeneration;
  }
  get hold(): PoolHold {
    return this.#hold;
  }
  get parked(): boolean {
    return this.#hold === 'parked';
  }
  get stopped(): boolean {
    return this.#hold === 'stopped' || this.#hold === 'removed';
  }
  get removed(): boolean {
    return this.#hold === 'removed';
  }
  get rollout(): Rollout | null {
    return this.#rollout;
  }

  /** The number of workers this pool should have right now. */
  get desired(): number {
    return this.#hold === 'none' ? this.#target : 0;
  }

  /** TTIN/TTOU, appctl scale: a new target, and the pool runs again if it was parked or stopped. */
  scale(target: number): void {
    this.#target = target;
    if (this.#rollout) this.#rollout.fromTarget = null;
    this.#release();
  }

  /** WINCH: every worker stops, the master keeps the sockets. A stopped or removed pool stays so. */
  park(): void {
    if (this.#hold === 'none') this.#hold = 'parked';
  }

  /** appctl stop-pool: no workers until start-pool (or a scale, or a restart); the target is kept. */
  stop(): void {
    if (this.#hold !== 'removed') this.#hold = 'stopped';
  }

  /** appctl start-pool: back to its target, failed and fatal slots cleared. */
  start(): void {
    this.#release();
    for (const record of this.slots.values()) record.reset();
  }

  /** Gone from the config: its workers stop, and a rollout in progress ends (its jobs hear why). */
  remove(): void {
    this.#hold = 'removed';
    this.endRollout({ status: 'abandoned', message: `pool ${this.name}: removed from the configuration` });
  }

  #release(): void {
    if (this.#hold !== 'removed') this.#hold = 'none';
  }

  /**
   * Starts a rolling replacement of every worker with a new generation running `settings`: a reload
   * (which also brings back parked workers) or a restart (which also starts a stopped pool).
   */
  startRollout(settings: PoolSettings, now: number, why: 'reload' | 'restart'): Rollout {
    // A reload during a roll goes back, if it fails, to the generation that still serves everywhere:
    // the one before that roll (its workers are kept until the roll is done), not the half-started one.
    const base = this.#rollout?.phase === 'rolling' ? this.#rollout : null;
    const fromSettings = base?.fromSettings ?? this.#settings;
    // The run-time count (TTIN/TTOU, appctl scale) survives a reload unless the setting itself changed.
    const countChanged = settings.workers !== this.#settings.workers;
    const rollout: Rollout = {
      pool: this.name,
      phase: 'rolling',
      fromGeneration: base?.fromGeneration ?? this.#generation,
      fromSettings,
      fromTarget: settings.workers !== fromSettings.workers ? (base?.fromTarget ?? this.#target) : null,
      startedAt: now,
      outcome: null,
      supersededBy: null,
    };
    const superseded = this.endRollout({ status: 'abandoned', message: `pool ${this.name}: superseded by a newer reload` });
    if (superseded) superseded.supersededBy = rollout;
    this.#rollout = rollout;
    if (countChanged) this.#target = settings.workers;
    if (why === 'reload' && this.#hold === 'parked') this.#hold = 'none';
    if (why === 'restart' && this.#hold === 'stopped') this.#hold = 'none';
    this.#settings = settings;
    this.#latestGeneration += 1;
    this.#generation = this.#latestGeneration;
    // A reload or restart is the operator's fresh start: failed, fatal and exited slots try again.
    for (const record of this.slots.values()) record.reset();
    return rollout;
  }

  /** The whole new generation is ready: the old one drains now. */
  retireOldGeneration(): void {
    if (this.#rollout) this.#rollout.phase = 'retiring';
  }

  /** The rollout is over (completed, superseded, or ended by the daemon stopping); returns it. */
  endRollout(outcome: RolloutOutcome): Rollout | null {
    const rollout = this.#rollout;
    this.#rollout = null;
    if (rollout) rollout.outcome = outcome;
    return rollout;
  }

  /**
   * The new generation could not boot: back to the old generation's settings (and its worker count,
   * if the reload changed it and no operator scaled since). Returns the rollout, or null if none.
   */
  rollBack(message: string): Rollout | null {
    const rollout = this.endRollout({ status: 'rolled_back', message });
    if (!rollout) return null;
    this.#generation = rollout.fromGeneration;
    this.#settings = rollout.fromSettings;
    if (rollout.fromTarget !== null) this.#target = rollout.fromTarget;
    return rollout;
  }

  slot(index: number): SlotRecord {
    let record = this.slots.get(index);
    if (!record) {
      record = new SlotRecord();
      this.slots.set(index, record);
    }
    return record;
  }
}
