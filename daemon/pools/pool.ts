// A pool's desired state: its settings, target worker count, current generation and per-slot restart
// throttling. Handlers change these; manageWorkers() makes the running workers converge. Run by the appd master.

import { accessSync, constants, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { ConfigError, hasErrorCode } from '../../shared/errors.js';
import type { OwnedBind } from '../sockets/listeners.js';
import type { UnixSocketFile } from '../sockets/unix-socket-file.js';
import type { Config } from '../../shared/settings/table.js';
import { SlotRecord } from './slot.js';
import type { ReloadJob } from './reload-job.js';

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
  return value === 'auto' ? availableParallelism() : value;
}

/** Without pools: one http pool named "web" on the global bind. With pools: each as configured. */
export function poolSettingsFromConfig(config: Config): PoolSettings[] {
  if (config.pools === null) return [{ ...config, name: 'web', kind: 'http', workers: resolveWorkerCount(config.workers) }];
  return Object.entries(config.pools).map(([name, overrides]) => {
    // With pools, binds are per pool: a pool without bind listens nowhere (a plain command pool).
    const merged = { ...config, bind: [], ...overrides } as Config;
    return { ...merged, name, kind: merged.command ? 'command' : 'http', workers: resolveWorkerCount(merged.workers) };
  });
}

/** Every address the master must hold, with its owner: the global binds, or with pools every pool's. */
export function allBinds(config: Config): OwnedBind[] {
  if (config.pools === null) return config.bind.map((bind) => ({ pool: null, bind, unixSocket: unixSocketFile(config) }));
  return poolSettingsFromConfig(config).flatMap((pool) => pool.bind.map((bind) => ({ pool: pool.name, bind, unixSocket: unixSocketFile(pool) })));
}

function unixSocketFile(settings: Pick<Config, 'unixSocketMode' | 'unixSocketOwner' | 'unixSocketGroup'>): UnixSocketFile {
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
  const candidates = program.includes('/') ? [program] : (process.env['PATH'] ?? '').split(':').filter(Boolean).map((directory) => join(directory, program));
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
 * A reload in progress: workers of `generation` start slot by slot while the old ones keep serving
 * ("rolling"); once every slot has a ready new worker, the old ones drain ("retiring"), and the reload
 * is done when none of them accepts any more.
 */
export interface Rollout {
  phase: 'rolling' | 'retiring';
  readonly fromGeneration: number;
  /** Restored if the new generation cannot boot. */
  readonly fromSettings: PoolSettings;
  /** Restored too: the reload may have changed the worker count. */
  readonly fromTarget: number;
  /** The reload (or restart) this roll is part of; it reports the outcome to whoever asked. */
  readonly job: ReloadJob;
  readonly startedAt: number;
}

export class Pool {
  settings: PoolSettings;
  /** Desired number of workers; TTIN/TTOU and appctl scale change it. */
  target: number;
  /** The generation new workers get; a reload bumps it and old workers are rolled over. */
  generation: number;
  /** The highest generation ever started; a rolled-back number is never reused. */
  latestGeneration: number;
  /** WINCH: keep the master, stop every worker, until HUP or a scale brings them back. */
  parked = false;
  rollout: Rollout | null = null;
  /** Operator stop (appctl stop-pool): no workers until start-pool; the target is kept. */
  stopped = false;
  /** Gone from the config: stopped, and forgotten once its last worker exited. */
  removed = false;
  readonly slots = new Map<number, SlotRecord>();

  /** `generation` is 1, or past the old master's after an upgrade. */
  constructor(settings: PoolSettings, generation = 1) {
    this.settings = settings;
    this.generation = generation;
    this.latestGeneration = generation;
    this.target = settings.workers;
  }

  get name(): string {
    return this.settings.name;
  }

  /** The number of workers this pool should have right now. */
  get desired(): number {
    return this.parked || this.stopped ? 0 : this.target;
  }

  /** Starts a rolling replacement of every worker with a new generation running `settings`. */
  startRollout(settings: PoolSettings, job: ReloadJob, now: number): void {
    this.rollout?.job.poolAbandoned(this.name, 'superseded by a newer reload');
    this.rollout = { phase: 'rolling', fromGeneration: this.generation, fromSettings: this.settings, fromTarget: this.target, job, startedAt: now };
    // The run-time count (TTIN/TTOU, appctl scale) survives a reload unless the setting itself changed.
    if (settings.workers !== this.settings.workers) this.target = settings.workers;
    this.settings = settings;
    this.latestGeneration += 1;
    this.generation = this.latestGeneration;
    // A reload or restart is the operator's fresh start: failed, fatal and exited slots try again.
    for (const record of this.slots.values()) record.reset();
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
