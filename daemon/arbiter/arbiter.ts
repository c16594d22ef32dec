// The arbiter: one event queue, one loop. Handlers change the desired state (targets, generations,
// stopping); each pass then lets the supervisor converge (murderWorkers, manageWorkers). Run by the appd master.

import type { ResolvedConfig } from '../../shared/config/resolve.js';
import type { StatusSnapshot } from '../../shared/control/status.js';
import { AppdError, describeError, describeFileError, hasErrorCode } from '../../shared/errors.js';
import type { Config } from '../../shared/settings/table.js';
import { EventQueue, type ArbiterEvent, type ArbiterEventType, type EventOf, type Requester } from './events.js';
import { applyReload, readForReload } from '../config/reload.js';
import { ControlQueries } from './queries.js';
import { judgeFirstStart, moreTelling, permanentBootFailure } from './first-start.js';
import { advanceRollouts, rollBack } from '../pools/rollouts.js';
import { fireHook } from '../config/hooks.js';
import { closeListeners, type Listener } from '../sockets/listeners.js';
import { ReloadJob } from '../pools/reload-job.js';
import { restartWorkers, scalePool, startPool, stopPool, type PendingJob, type PoolCommandContext } from '../pools/commands.js';
import type { Logger } from '../master/logger.js';
import { Pool, poolSettingsFromConfig } from '../pools/pool.js';
import { settingRows } from '../config/print-config.js';
import { ProcessUsage, readRssBytes } from '../workers/process-usage.js';
import { StatusFeed } from './status-feed.js';
import { buildStatusSnapshot, statusSignature } from './status-snapshot.js';
import { Supervisor, type StopMode } from '../workers/supervisor.js';
import { manageWorkers } from '../workers/manage.js';
import type { BootFailureReport, WorkerHandle } from '../workers/handle.js';
import { UpgradeCoordinator } from '../upgrade/coordinator.js';
import type { ArbiterOptions } from './options.js';
import { ChildProcessSpawner } from '../workers/spawner.js';
import { MasterCounters } from '../metrics/counters.js';
import { countOf } from '../../shared/plural.js';
import { backlogOf } from '../metrics/listen-queue.js';

/** How often the loop wakes with nothing queued, to check timeouts. */
const TICK_MS = 200;
/** How often workers' RSS is compared with max-memory. */
const MEMORY_CHECK_MS = 1000;

type Handlers = { readonly [Type in ArbiterEventType]: (event: EventOf<Type>) => void };

export class Arbiter {
  readonly queue = new EventQueue<ArbiterEvent>();
  readonly supervisor: Supervisor;
  #listeners: Listener[];
  readonly startedAt: number;
  #resolved: ResolvedConfig;
  readonly #logger: Logger;
  readonly #options: ArbiterOptions;
  readonly #now: () => number;
  #phase: 'booting' | 'running' = 'booting';
  #stopMode: StopMode | null = null;
  readonly #stopRequesters: Requester[] = [];
  #exitError: AppdError | null = null;
  #everReady = false;
  #lastBootFailure: BootFailureReport | null = null;
  #pendingJobs: PendingJob[] = [];
  #memoryCheckedAt = 0;
  readonly #usage = new ProcessUsage();
  readonly #upgrade: UpgradeCoordinator;
  readonly #queries: ControlQueries;
  /** Control clients watching status snapshots (appctl top). */
  readonly #statusFeed = new StatusFeed();
  /** Counters that never go down while this master runs (requests, restarts, reloads): /metrics and status read them. */
  readonly metrics = new MasterCounters();

  readonly #handlers: Handlers = {
    stop: (event) => this.#handleStop(event),
    reload: (event) => this.#handleReload(event),
    'config-read': (event) => this.#handleConfigRead(event),
    scale: (event) => scalePool(this.#poolCommandContext(), event),
    restart: (event) => restartWorkers(this.#poolCommandContext(), event),
    'stop-pool': (event) => stopPool(this.#poolCommandContext(), event),
    'start-pool': (event) => startPool(this.#poolCommandContext(), event),
    'reopen-logs': (event) => this.#handleReopenLogs(event),
    upgrade: ({ requester, retireOld }) => this.#upgrade.request(requester, retireOld, this.#stopMode !== null),
    'successor-report': ({ message }) => this.#upgrade.report(message),
    'successor-exit': ({ code, signal, error }) => this.#upgrade.exited(code, signal, error, this.#stopMode !== null),
    'stop-workers': (event) => this.#handleStopWorkers(event),
    ping: (event) => this.#queries.ping(event),
    status: (event) => this.#queries.status(event),
    'show-config': (event) => this.#queries.showConfig(event),
    'read-logs': (event) => this.#queries.readLogs(event),
    'watch-events': (event) => this.#queries.watchEvents(event),
    'watch-status': ({ watcher }) => watcher.begin(this.#statusFeed.add(watcher)),
    'worker-message': (event) => this.#handleWorkerMessage(event),
    'worker-misbehaved': ({ workerId, reason }) => this.supervisor.killMisbehaving(workerId, reason),
    'worker-exit': (event) => this.#handleWorkerExit(event),
    'worker-spawn-failed': (event) => this.#handleWorkerSpawnFailed(event),
  };

  constructor(options: ArbiterOptions) {
    this.#options = options;
    this.#resolved = options.resolved;
    this.#logger = options.logger;
    // Slot sockets (slot-bind) follow the pools' worker counts; the supervisor keeps them.
    this.#listeners = options.listeners.filter((listener) => listener.slot === undefined);
    this.#now = options.now ?? Date.now;
    this.startedAt = this.#now();
    this.supervisor = new Supervisor({
      logger: options.logger,
      listeners: () => this.listeners,
      spawner: options.spawner ?? new ChildProcessSpawner(options.baseEnvironment),
      enqueue: (event) => this.queue.push(event),
      now: this.#now,
      random: options.random ?? Math.random,
      config: () => this.config,
      hookServer: () => this.hookServer(),
      workerChanged: (worker) => {
        this.metrics.workerChanged(worker);
        this.#queries.workerChanged(worker);
      },
    });
    this.supervisor.slotSockets.adopt(options.listeners);
    this.#queries = new ControlQueries({
      logger: options.logger,
      supervisor: this.supervisor,
      name: () => this.config.name,
      phase: () => this.phase,
      uptimeMs: () => this.#now() - this.startedAt,
      snapshot: () => this.snapshot(),
      settingRows: () => settingRows(this.#options.resolved, this.#resolved),
    });
    const pools = (): Pool[] => [...this.supervisor.pools.values()];
    this.#upgrade = new UpgradeCoordinator({
      ...options.upgrade,
      logger: options.logger,
      enqueue: (event) => this.queue.push(event),
      now: this.#now,
      listeners: () => this.listeners,
      latestGeneration: () => Math.max(0, ...pools().map((pool) => pool.latestGeneration)),
      bootTimeoutMs: () => Math.max(...pools().map((pool) => pool.settings.bootTimeout)) * 1000,
      gracefulTimeoutMs: () => Math.max(...pools().map((pool) => pool.settings.gracefulTimeout)) * 1000,
      retire: (requester) => this.#handleStop({ type: 'stop', mode: 'graceful', requester }),
    });
    for (const settings of poolSettingsFromConfig(this.config)) {
      this.supervisor.setIdentity(settings);
      this.supervisor.pools.set(settings.name, new Pool(settings, options.firstGeneration ?? 1));
    }
  }

  /** Every socket the master holds now (a reload may bind new ones and close others). */
  get listeners(): readonly Listener[] {
    return [...this.#listeners, ...this.supervisor.slotSockets.listeners()];
  }

  get config(): Config {
    return this.#resolved.values;
  }
  get resolved(): ResolvedConfig {
    return this.#resolved;
  }
  get phase(): 'booting' | 'running' | 'stopping' {
    return this.#stopMode ? 'stopping' : this.#phase;
  }

  /** What hooks get as `server`. */
  hookServer(): { name: string; pid: number; config: Config } {
    return { name: this.config.name, pid: process.pid, config: this.config };
  }

  /** Pools, workers and their stats, as `appctl status` shows them. */
  snapshot(): StatusSnapshot {
    return buildStatusSnapshot({
      name: this.config.name,
      phase: this.phase,
      startedAt: this.startedAt,
      now: this.#now(),
      supervisor: this.supervisor,
      listeners: this.listeners,
      usage: this.#usage,
      controlSocket: this.#options.controlSocket ?? '',
      configFile: this.#resolved.configFile,
      metrics: this.metrics,
      backlogOf: (listener) => backlogOf(listener, this.supervisor, this.config.backlog),
    });
  }

  /** Runs until every worker is gone after a stop; returns the exit code or throws why it halted. */
  async run(): Promise<number> {
    while (!this.reconcile()) {
      for (const event of await this.queue.takeAll(TICK_MS)) this.#dispatch(event);
    }
    return this.finish();
  }

  /**
   * One pass of the loop after its events: the supervisor converges on the desired state. True once
   * the master may exit (stopping, no worker left, no successor starting). Tests call it directly.
   */
  reconcile(): boolean {
    try {
      this.supervisor.murderWorkers();
      this.#checkMemory();
      manageWorkers(this.supervisor, this.#stopMode, this.#now());
      // A pool whose new generation just became ready drains its old one now, not one tick later.
      if (this.#checkProgress()) manageWorkers(this.supervisor, this.#stopMode, this.#now());
      // Only while someone watches (appctl top): a snapshot a second, sooner after a change, and
      // a first one for each new watcher.
      this.metrics.tick(this.#now(), this.supervisor);
      this.#statusFeed.publishIfDue(this.#now(), () => statusSignature(this.supervisor, this.phase), () => this.snapshot());
      this.#upgrade.check();
      this.#options.observer?.looped?.(this);
    } catch (error) {
      this.#logger.critical(`master loop error: ${describeError(error)}`);
    }
    // A successor still starting is stopped with us, and waited for: under systemd (KillMode=mixed)
    // anything left in the unit after this master exits is killed.
    return this.#stopMode !== null && this.supervisor.workers.size === 0 && !this.#upgrade.busy;
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
      (this.#handlers[event.type] as (event: ArbiterEvent) => void)(event);
    } catch (error) {
      // One bad event must not take the master down (Unicorn's rule); it is logged with its stack.
      this.#logger.critical(`master loop error while handling ${event.type}: ${describeError(error)}`);
    }
  }

  /** Stops everything quickly and makes run() throw `error` (first start failures). */
  #halt(error: AppdError): void {
    this.#exitError ??= error;
    // Workers still booting quit at once; one that is ready may already serve (a successor's workers
    // accept on the shared sockets, next to the old master's): it drains like any other.
    for (const worker of this.supervisor.workers.values()) {
      if (worker.state === 'starting') this.supervisor.retireWorker(worker, 'start-failed', 'start failed', 'quick');
    }
    this.#stopMode ??= 'graceful';
  }

  #handleStop({ mode, requester }: EventOf<'stop'>): void {
    this.#stopRequesters.push(requester);
    if (this.#stopMode === 'quick' || this.#stopMode === mode) return;
    this.#stopMode = mode;
    const seconds = Math.max(...[...this.supervisor.pools.values()].map((pool) => pool.settings.gracefulTimeout));
    const what = mode === 'graceful' ? `graceful stop (workers finish in-flight requests, up to ${seconds}s)` : 'quick stop';
    this.#logger.info(`${requester.origin}: ${what}`);
    requester.progress?.(what);
    this.#options.observer?.stopping?.();
    this.#upgrade.stopping(mode);
    for (const pool of this.supervisor.pools.values()) {
      pool.endRollout()?.job.poolAbandoned(pool.name, 'the daemon is stopping');
    }
  }

  #handleReload({ pool, requester }: EventOf<'reload'>): void {
    if (this.#stopMode) return requester.done?.({ status: 'failed', message: 'the daemon is stopping' });
    if (pool !== null && !this.supervisor.pools.has(pool)) return requester.done?.({ status: 'failed', message: `no pool named "${pool}"` });
    this.#logger.info(`${requester.origin}: reloading${pool ? ` pool ${pool}` : ''}: reading the configuration again`);
    requester.progress?.('reading the configuration again');
    this.#options.observer?.reloading?.();
    void readForReload(this.#options.readConfig, this.#listeners).then(
      (result) => this.queue.push({ type: 'config-read', result, pool, requester }),
      (error: unknown) => this.queue.push({ type: 'config-read', result: error instanceof Error ? error : new Error(String(error)), pool, requester }),
    );
  }

  #handleConfigRead({ result, pool, requester }: EventOf<'config-read'>): void {
    if (result instanceof Error) return this.#reloadFailed(requester, result, pool);
    if (this.#stopMode) {
      closeListeners(result.opened);
      return requester.done?.({ status: 'failed', message: 'the daemon is stopping' });
    }
    // One reloaded() per reload, when its last pool settled: READY=1 must not follow the first of several pools.
    const job = new ReloadJob(requester, (outcome) => this.#options.observer?.reloaded?.(outcome));
    let rolled: string[];
    try {
      ({ listeners: this.#listeners, rolled } = applyReload({
        previous: this.#resolved, read: result, listeners: this.#listeners, onlyPool: pool, job,
        supervisor: this.supervisor, logger: this.#logger, now: this.#now(),
      }));
    } catch (error) {
      return this.#reloadFailed(requester, error, pool);
    }
    this.#resolved = result.config;
    fireHook(this.#logger, 'onReload', this.config.onReload, this.hookServer());
    job.expect(rolled);
  }

  #reloadFailed(requester: Requester, error: unknown, pool: string | null = null): void {
    for (const name of this.supervisor.pools.keys()) if (pool === null || pool === name) this.metrics.reloadSettled(name, 'failed', 0);
    const message = `reload failed, nothing changed: ${error instanceof Error && !(error instanceof AppdError) ? error.message : describeError(error)}`;
    this.#logger.error(message);
    this.#options.observer?.reloaded?.({ status: 'failed', message });
    requester.done?.({ status: 'failed', message });
  }

  /** max-memory is checked about once a second, and only if some pool sets it. */
  #checkMemory(): void {
    const now = this.#now();
    if (now - this.#memoryCheckedAt < MEMORY_CHECK_MS) return;
    this.#memoryCheckedAt = now;
    if (![...this.supervisor.pools.values()].some((pool) => pool.settings.maxMemory > 0)) return;
    // RSS alone: a CPU sample here would skew the next status request and keep every pid ever seen.
    this.supervisor.recycleOverMemory(readRssBytes);
  }

  /** What the pool commands (scale, restart, stop-pool, start-pool) may touch. */
  #poolCommandContext(): PoolCommandContext {
    return {
      supervisor: this.supervisor,
      logger: this.#logger,
      now: this.#now(),
      stopping: this.#stopMode !== null,
      addJob: (job) => this.#pendingJobs.push(job),
    };
  }

  #handleReopenLogs({ requester }: EventOf<'reopen-logs'>): void {
    try {
      this.#logger.reopen();
      this.#logger.info(`${requester.origin}: reopened log files`);
    } catch (error) {
      this.#logger.alert('error', `${requester.origin}: cannot reopen ${this.#logger.path} (${describeFileError(error)}); still writing to the old file`);
    }
    for (const worker of this.supervisor.workers.values()) worker.send({ type: 'reopen-logs' });
    requester.done?.({ status: 'completed', message: 'log files reopened' });
  }

  #handleStopWorkers({ requester }: EventOf<'stop-workers'>): void {
    this.#logger.info(`${requester.origin}: stopping every worker gracefully; the master keeps the sockets (HUP or TTIN starts workers again)`);
    for (const pool of this.supervisor.pools.values()) pool.park();
    requester.done?.({ status: 'completed', message: 'workers stopping' });
  }

  #handleWorkerMessage({ workerId, message }: EventOf<'worker-message'>): void {
    const before = this.supervisor.workers.get(workerId)?.state;
    const worker = this.supervisor.handleMessage(workerId, message);
    if (worker?.state !== 'ready') return;
    this.#everReady = true;
    if (before !== 'ready') this.#reportReady(worker);
  }

  /** Tells whoever waits on this worker's pool (a reload or a scale) that one more is ready. */
  #reportReady(worker: WorkerHandle): void {
    const pool = this.supervisor.pools.get(worker.pool);
    if (!pool) return;
    const rollout = pool.rollout;
    if (rollout && worker.generation === pool.generation) {
      const done = new Set(this.supervisor.workersOf(pool.name).filter((each) => each.state === 'ready' && each.generation === pool.generation).map((each) => each.slot)).size;
      rollout.job.requester.progress?.(`worker ${worker.label} ready (${done} of ${pool.desired} on generation ${pool.generation})`);
    }
    for (const job of this.#pendingJobs) {
      if (job.pool === pool.name) job.requester.progress?.(`worker ${worker.label} ready (${this.supervisor.readyCount(pool)} of ${pool.desired})`);
    }
  }

  #handleWorkerExit({ workerId, code, signal }: EventOf<'worker-exit'>): void {
    const reaped = this.supervisor.reapWorker(workerId, code, signal);
    if (!reaped?.failedBoot) return;
    const { worker } = reaped;
    this.#lastBootFailure = moreTelling(this.#lastBootFailure, worker.bootFailure);
    if (this.#phase === 'booting') {
      const permanent = permanentBootFailure(worker.bootFailure);
      if (permanent) this.#halt(permanent);
      return;
    }
    const pool = this.supervisor.pools.get(worker.pool);
    if (pool?.rollout?.phase === 'rolling' && worker.generation === pool.generation) {
      rollBack(pool, this.supervisor, this.#logger, worker.bootFailure?.message ?? 'it exited before becoming ready');
    }
  }

  /** The process could not even be started (EACCES, ENOENT, EAGAIN): say which program and as whom. */
  #handleWorkerSpawnFailed({ workerId, error }: EventOf<'worker-spawn-failed'>): void {
    const worker = this.supervisor.workers.get(workerId);
    const user = worker?.settings.user ? ` as user ${worker.settings.user}` : '';
    const message = `cannot start worker ${worker?.tag ?? workerId}${user}: ${error.message}${hasErrorCode(error, 'EACCES') ? ' (permission denied: that user must be able to execute it and read its directories)' : ''}`;
    this.#logger.error(message);
    this.supervisor.spawnFailed(workerId, { phase: 'spawn', message, code: (error as NodeJS.ErrnoException).code ?? 'EUNKNOWN' });
    this.#handleWorkerExit({ type: 'worker-exit', workerId, code: null, signal: null });
  }

  /** First-start completion or failure, rollouts' progress, and waiting jobs; true if a rollout may retire workers now. */
  #checkProgress(): boolean {
    if (this.#stopMode !== null) return false;
    const now = this.#now();
    const pools = [...this.supervisor.pools.values()];
    if (this.#phase === 'booting') {
      const verdict = judgeFirstStart({
        pools,
        supervisor: this.supervisor,
        elapsedMs: now - this.startedAt,
        everReady: this.#everReady,
        lastFailure: this.#lastBootFailure,
        requireEveryWorker: this.#options.requireEveryWorker ?? false,
      });
      if (verdict.kind === 'halt') {
        this.#halt(verdict.error);
        return false;
      }
      if (verdict.kind === 'running') {
        if (verdict.warning) this.#logger.warning(verdict.warning);
        this.#becomeRunning();
      }
    }
    for (const pool of pools) {
      if (pool.removed && this.supervisor.workersOf(pool.name).length === 0) {
        this.supervisor.pools.delete(pool.name);
        this.#logger.info(`pool ${pool.name}: removed`);
      }
    }
    const retireNow = advanceRollouts([...this.supervisor.pools.values()], this.supervisor, this.#logger, now);
    this.#pendingJobs = this.#pendingJobs.filter((job) => {
      const outcome = job.check() ?? (now > job.deadline ? { status: 'failed' as const, message: 'timed out waiting for workers to become ready' } : null);
      if (outcome) job.requester.done?.(outcome);
      return outcome === null;
    });
    return retireNow;
  }

  #becomeRunning(): void {
    this.#phase = 'running';
    const count = [...this.supervisor.pools.values()].reduce((sum, pool) => sum + this.supervisor.readyCount(pool), 0);
    const summary = `${countOf(count, 'worker')} ready in ${this.#now() - this.startedAt}ms`;
    this.#logger.info(`ready: ${summary}`);
    fireHook(this.#logger, 'whenReady', this.config.whenReady, this.hookServer());
    this.#options.observer?.ready?.(summary);
  }
}
