// The arbiter: one event queue, one loop. Handlers only change the desired state (pools' targets,
// generations and holds, stopping); one reconcile step per pass makes the workers converge, in a fixed
// order: murder (deadlines) -> judge the first start -> advance rollouts -> manage (spawn, retire) ->
// settle jobs. Run by the appd master.

import type { ResolvedConfig } from '../../shared/config/resolve.js';
import { describeError, type AppdError } from '../../shared/errors.js';
import type { Config } from '../../shared/settings/table.js';
import { EventQueue, type ArbiterEvent, type ArbiterEventType, type EventOf, type HandlersFor, type Requester } from './events.js';
import { controlQueriesOf, type ControlQueries } from './queries.js';
import { FirstStartWitness } from './first-start.js';
import { advanceRollouts } from '../pools/rollouts.js';
import { fireHook, hookServerOf } from '../config/hooks.js';
import type { Listener } from '../sockets/listeners.js';
import { JobBoard } from '../pools/jobs.js';
import { poolCommandHandlers } from '../pools/commands.js';
import type { Logger } from '../master/logger.js';
import { poolSettingsFromConfig } from '../pools/pool.js';
import { Supervisor } from '../workers/supervisor.js';
import { manageWorkers, type DaemonStop } from '../pools/manage.js';
import { UpgradeCoordinator } from '../upgrade/coordinator.js';
import type { ArbiterOptions } from './options.js';
import { ChildProcessSpawner } from '../workers/spawn/spawner.js';
import { SYSTEM_CLOCK, type Clock } from './clock.js';
import { MasterCounters } from '../metrics/counters.js';
import { countOf } from '../../shared/plural.js';
import { ReloadFlow } from './reloads.js';
import { WorkerEvents } from './worker-events.js';
import { applyHandedPoolStates } from '../upgrade/handed-state.js';
import { HeapUpkeep } from './heap-upkeep.js';

/** How often the loop wakes with nothing queued, to check timeouts. */
const TICK_MS = 200;

/** What changes the daemon's state: refused, all in one place, once the daemon is stopping. */
const REFUSED_WHILE_STOPPING: ReadonlySet<ArbiterEventType> = new Set(['reload', 'scale', 'restart', 'stop-pool', 'start-pool', 'upgrade']);

export class Arbiter {
  readonly queue = new EventQueue<ArbiterEvent>();
  readonly supervisor: Supervisor;
  /** Counters that never go down while this master runs (requests, restarts, reloads): /metrics and status read them. */
  readonly metrics = new MasterCounters();
  readonly startedAt: number;
  readonly #logger: Logger;
  readonly #options: ArbiterOptions;
  readonly #clock: Clock;
  /** The monotonic clock: every deadline, and the now of status and metrics. */
  readonly now = (): number => this.#clock.now();
  #phase: 'booting' | 'running' = 'booting';
  #stop: DaemonStop | null = null;
  readonly #stopRequesters: Requester[] = [];
  #exitError: AppdError | null = null;
  readonly #firstStart = new FirstStartWitness();
  readonly #jobs = new JobBoard();
  readonly #reloads: ReloadFlow;
  readonly #workerEvents: WorkerEvents;
  readonly #upgrade: UpgradeCoordinator;
  readonly #heap: HeapUpkeep;
  /** The read-only control requests (status, config, logs, events); tests read snapshots through it. */
  readonly queries: ControlQueries;
  readonly #handlers: HandlersFor<ArbiterEventType>;

  constructor(options: ArbiterOptions) {
    this.#options = options;
    this.#logger = options.logger;
    this.#clock = options.clock ?? SYSTEM_CLOCK;
    this.startedAt = this.now();
    const enqueue = (event: ArbiterEvent): void => this.queue.push(event);
    this.#heap = new HeapUpkeep(options.compactHeap ?? null, this.now, (line) => this.#logger.info(line));
    this.supervisor = new Supervisor({
      logger: options.logger,
      enqueue,
      now: this.now,
      wallNow: () => this.#clock.wallNow(),
      random: options.random ?? Math.random,
      spawner: options.spawner ?? new ChildProcessSpawner(options.baseEnvironment),
      listeners: () => this.listeners,
      config: () => this.config,
      hookServer: () => hookServerOf(this.config),
      workerChanged: (worker) => {
        if (worker.state === 'exited') this.#heap.workerExited();
        this.metrics.workerChanged(worker);
        this.queries.workerChanged(worker);
      },
    });
    this.supervisor.slotSockets.adopt(options.listeners);
    this.queries = controlQueriesOf(this, {
      logger: options.logger,
      wallNow: () => this.#clock.wallNow(),
      controlSocket: options.controlSocket ?? '',
      startingConfig: options.resolved,
    });
    this.#reloads = new ReloadFlow({
      ...options,
      supervisor: this.supervisor,
      jobs: this.#jobs,
      now: this.now,
      enqueue,
      metrics: this.metrics,
      // Slot sockets (slot-bind) follow the pools' worker counts; the supervisor keeps them.
      listeners: options.listeners.filter((listener) => listener.slot === undefined),
      applied: () => fireHook(this.#logger, 'onReload', this.config.onReload, hookServerOf(this.config)),
      stopping: () => this.#stop !== null,
    });
    this.#workerEvents = new WorkerEvents({
      logger: options.logger,
      supervisor: this.supervisor,
      jobs: this.#jobs,
      firstStart: this.#firstStart,
      booting: () => this.#phase === 'booting',
      halt: (error) => this.#halt(error),
    });
    this.#upgrade = new UpgradeCoordinator({
      ...options.upgrade,
      logger: options.logger,
      enqueue,
      now: this.now,
      listeners: () => this.listeners,
      pools: () => [...this.supervisor.pools.values()],
      retire: (requester) => this.#handleStop({ type: 'stop', mode: 'graceful', requester }),
    });
    this.#handlers = {
      ...this.queries.handlers,
      ...this.#workerEvents.handlers,
      ...poolCommandHandlers(() => ({ supervisor: this.supervisor, logger: this.#logger, now: this.now(), jobs: this.#jobs })),
      stop: (event) => this.#handleStop(event),
      reload: (event) => this.#reloads.request(event),
      'config-read': (event) => this.#reloads.configRead(event),
      upgrade: ({ requester, retireOld }) => this.#upgrade.request(requester, retireOld),
      'successor-report': ({ message }) => this.#upgrade.report(message),
      'successor-exit': ({ code, signal, error }) => this.#upgrade.exited(code, signal, error, this.#stop !== null),
    };
    for (const settings of poolSettingsFromConfig(this.config)) this.supervisor.addPool(settings, options.firstGeneration ?? 1);
    applyHandedPoolStates(this.supervisor.pools, options.handedPools ?? [], this.#logger);
  }

  /** Every socket the master holds now (a reload may bind new ones and close others). */
  get listeners(): readonly Listener[] {
    return [...this.#reloads.listeners, ...this.supervisor.slotSockets.listeners()];
  }
  get config(): Config {
    return this.resolved.values;
  }
  get resolved(): ResolvedConfig {
    return this.#reloads.resolved;
  }
  get phase(): 'booting' | 'running' | 'stopping' {
    return this.#stop ? 'stopping' : this.#phase;
  }

  /** Runs until every worker is gone after a stop; returns the exit code or throws why it halted. */
  async run(): Promise<number> {
    while (!this.reconcile()) {
      const events = await this.queue.takeAll(TICK_MS);
      // What came while the loop waited, or while the master was stopped (heartbeats), is read in
      // libuv's poll phase, after the timer that woke the loop: let it run, so nothing is judged stale.
      await new Promise((resolve) => setImmediate(resolve));
      for (const event of [...events, ...this.queue.takeNow()]) this.#dispatch(event);
    }
    return this.finish();
  }

  /**
   * The reconcile step, once per pass after the pass's events. True once the master may exit
   * (stopping, no worker left, no successor starting). Tests call it directly.
   */
  reconcile(): boolean {
    try {
      const now = this.now();
      this.supervisor.murderWorkers();
      this.#workerEvents.checkMemory(now);
      if (this.#phase === 'booting' && this.#stop === null) this.#judgeFirstStart(now);
      if (this.#stop === null) advanceRollouts([...this.supervisor.pools.values()], this.supervisor, this.#logger, now);
      manageWorkers(this.supervisor, this.#stop, now);
      this.#jobs.settle(now);
      this.#workerEvents.forgetRemovedPools();
      this.metrics.tick(now, this.supervisor);
      this.queries.publishStatus(now);
      this.#upgrade.check();
      this.#heap.check(this.#stop !== null);
      this.#options.observer?.looped?.(this);
    } catch (error) {
      this.#logger.critical(`master loop error: ${describeError(error)}`);
    }
    // A successor still starting is stopped with us, and waited for: under systemd (KillMode=mixed)
    // anything left in the unit after this master exits is killed.
    return this.#stop !== null && this.supervisor.workers.size === 0 && !this.#upgrade.busy;
  }

  /** Handles every event queued now, without waiting for more (the in-process tests drive the loop so). */
  dispatchQueued(): number {
    const events = this.queue.takeNow();
    for (const event of events) this.#dispatch(event);
    return events.length;
  }

  /** After reconcile() said done: tells who asked for the stop, and returns 0 or throws why it halted. */
  finish(): number {
    for (const requester of this.#stopRequesters.splice(0)) requester.done?.({ status: 'completed', message: 'stopped' });
    if (this.#exitError) throw this.#exitError;
    return 0;
  }

  #dispatch(event: ArbiterEvent): void {
    try {
      if (this.#stop !== null && REFUSED_WHILE_STOPPING.has(event.type) && 'requester' in event) {
        this.#logger.info(`${event.requester.origin}: ${event.type} refused: the daemon is stopping`);
        return event.requester.done?.({ status: 'failed', message: `${event.type} refused: the daemon is stopping` });
      }
      (this.#handlers[event.type] as (event: ArbiterEvent) => void)(event);
    } catch (error) {
      // One bad event must not take the master down (Unicorn's rule); it is logged with its stack.
      this.#logger.critical(`master loop error while handling ${event.type}: ${describeError(error)}`);
    }
  }

  /** The first start failed: stop everything (booting workers at once) and make run() throw `error`. */
  #halt(error: AppdError): void {
    this.#exitError ??= error;
    this.#stop ??= { mode: 'graceful', halted: true };
  }

  #handleStop({ mode, requester }: EventOf<'stop'>): void {
    this.#stopRequesters.push(requester);
    if (this.#stop?.mode === 'quick' || this.#stop?.mode === mode) return;
    this.#stop = { mode, halted: this.#stop?.halted ?? false };
    const seconds = Math.max(...[...this.supervisor.pools.values()].map((pool) => pool.settings.gracefulTimeout));
    const what = mode === 'graceful' ? `graceful stop (workers finish in-flight requests, up to ${seconds}s)` : 'quick stop';
    this.#logger.info(`${requester.origin}: ${what}`);
    requester.progress?.(what);
    this.#options.observer?.stopping?.();
    this.#upgrade.stopping(mode);
    for (const pool of this.supervisor.pools.values()) {
      pool.endRollout({ status: 'abandoned', message: `pool ${pool.name}: the daemon is stopping` });
    }
  }

  #judgeFirstStart(now: number): void {
    const pools = [...this.supervisor.pools.values()];
    const verdict = this.#firstStart.judge(pools, this.supervisor, now - this.startedAt, this.#options.requireEveryWorker ?? false);
    if (verdict.kind === 'halt') return this.#halt(verdict.error);
    if (verdict.kind === 'wait') return;
    if (verdict.warning) this.#logger.warning(verdict.warning);
    this.#phase = 'running';
    const ready = pools.reduce((sum, pool) => sum + this.supervisor.readyCount(pool), 0);
    const summary = `${countOf(ready, 'worker')} ready in ${Math.round(now - this.startedAt)}ms`;
    this.#logger.info(`ready: ${summary}`);
    fireHook(this.#logger, 'whenReady', this.config.whenReady, hookServerOf(this.config));
    this.#options.observer?.ready?.(summary);
  }
}
