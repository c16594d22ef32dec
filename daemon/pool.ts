// A pool's desired state: its settings, target worker count, current generation and per-slot restart
// throttling. Handlers change these; manageWorkers() makes the running workers converge. Run by the appd master.

import { availableParallelism } from 'node:os';
import type { AdoptListen } from '../shared/settings/kinds.js';
import type { Config } from '../shared/settings/table.js';
import type { SlotBackoff } from './backoff.js';
import type { Requester } from './events.js';

/** Every setting a worker of a pool needs, resolved for that pool. */
export interface PoolSettings {
  readonly name: string;
  readonly app: string;
  /** Set instead of app: an unmodified server script whose listen() the worker adopts. */
  readonly script: string | null;
  readonly adoptListen: AdoptListen;
  readonly waitReady: boolean;
  readonly workers: number;
  readonly timeout: number;
  readonly bootTimeout: number;
  readonly gracefulTimeout: number;
  readonly keepAlive: number;
  readonly maxRequests: number;
  readonly maxRequestsJitter: number;
  readonly timeoutStack: boolean;
  readonly nodeArgs: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly user: string | null;
  readonly group: string | null;
  readonly backlog: number;
  readonly accessLogfile: string | null;
  readonly accessLogFormat: string;
  readonly limitRequestLine: number;
  readonly limitRequestFields: number;
  readonly limitRequestFieldSize: number;
  readonly forwardedAllowIps: string;
  readonly certfile: string | null;
  readonly keyfile: string | null;
}

export function resolveWorkerCount(value: number | 'auto'): number {
  return value === 'auto' ? availableParallelism() : value;
}

/** The single-app form: one http pool named "web" serving `app` on every listener. */
export function poolSettingsFromConfig(config: Config): PoolSettings[] {
  return [
    {
      name: 'web',
      app: config.app ?? '',
      script: config.script,
      adoptListen: config.adoptListen,
      waitReady: config.waitReady,
      workers: resolveWorkerCount(config.workers),
      timeout: config.timeout,
      bootTimeout: config.bootTimeout,
      gracefulTimeout: config.gracefulTimeout,
      keepAlive: config.keepAlive,
      maxRequests: config.maxRequests,
      maxRequestsJitter: config.maxRequestsJitter,
      timeoutStack: config.timeoutStack,
      nodeArgs: config.nodeArgs,
      env: config.env,
      user: config.user,
      group: config.group,
      backlog: config.backlog,
      accessLogfile: config.accessLogfile,
      accessLogFormat: config.accessLogFormat,
      limitRequestLine: config.limitRequestLine,
      limitRequestFields: config.limitRequestFields,
      limitRequestFieldSize: config.limitRequestFieldSize,
      forwardedAllowIps: config.forwardedAllowIps,
      certfile: config.certfile,
      keyfile: config.keyfile,
    },
  ];
}

/** A reload in progress: workers of `generation` replace older ones slot by slot. */
export interface Rollout {
  readonly fromGeneration: number;
  /** Restored if the new generation cannot boot. */
  readonly fromSettings: PoolSettings;
  readonly requester: Requester;
  readonly startedAt: number;
}

export class Pool {
  settings: PoolSettings;
  /** Desired number of workers; TTIN/TTOU and appctl scale change it. */
  target: number;
  /** The generation new workers get; a reload bumps it and old workers are rolled over. */
  generation = 1;
  /** The highest generation ever started; a rolled-back number is never reused. */
  latestGeneration = 1;
  /** WINCH: keep the master, stop every worker, until HUP or a scale brings them back. */
  parked = false;
  rollout: Rollout | null = null;
  readonly backoff = new Map<number, SlotBackoff>();

  constructor(settings: PoolSettings) {
    this.settings = settings;
    this.target = settings.workers;
  }

  get name(): string {
    return this.settings.name;
  }

  /** The number of workers this pool should have right now. */
  get desired(): number {
    return this.parked ? 0 : this.target;
  }

  slotBackoff(slot: number): SlotBackoff {
    let entry = this.backoff.get(slot);
    if (!entry) {
      entry = { failures: 0, nextSpawnAt: 0 };
      this.backoff.set(slot, entry);
    }
    return entry;
  }
}
