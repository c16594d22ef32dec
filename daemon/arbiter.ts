// The arbiter: one event queue, one loop. Handlers change the desired state (targets, generations,
// stopping); each pass then lets the supervisor converge (murderWorkers, manageWorkers). Run by the appd master.

import type { ResolvedConfig } from '../shared/config/resolve.js';
import type { WorkerEventMessage } from '../shared/control/protocol.js';
import type { PingData, StatusSnapshot } from '../shared/control/status.js';
import { AppdError, AppLoadError, BindError, BootError, ConfigError, describeError, describeFileError, hasErrorCode } from '../shared/errors.js';
import type { Config } from '../shared/settings/table.js';
import { EventQueue, type ArbiterEvent, type ArbiterEventType, type EventOf, type EventReader, type Requester } from './events.js';
import { applyReloadedConfig } from './config-reload.js';
import { fireHook } from './hooks.js';
import { closeListeners, describeListener, type Listener } from './listeners.js';
import { openPlannedListeners, planListeners, type ListenerPlan } from './listener-plan.js';
import { ReloadJob } from './reload-job.js';
import { restartWorkers, scalePool, startPool, stopPool, type PendingJob, type PoolCommandContext } from './pool-commands.js';
import type { LogLine, Logger } from './logger.js';
import { Pool, poolSettingsFromConfig } from './pool.js';
import { settingRows } from './print-config.js';
import { ProcessUsage } from './process-usage.js';
import { StatusFeed } from './status-feed.js';
import { buildStatusSnapshot, statusSignature } from './status-snapshot.js';
import { Supervisor, type StopMode } from './supervisor.js';
import type { BootFailureReport, WorkerHandle } from './worker-handle.js';
import { LISTEN_NOT_ADOPTED } from './worker-messages.js';
import { UpgradeCoordinator, type Handover, type SuccessorCommand } from './upgrade.js';

/** How often the loop wakes with nothing queued, to check timeouts. */
const TICK_MS = 200;
/** How often workers' RSS is compared with max-memory. */
const MEMORY_CHECK_MS = 1000;

/** Told about the daemon's milestones: the --daemon parent, systemd notify, tests. */
export interface LifecycleObserver {
  ready?(summary: string): void;
  reloading?(): void;
  reloaded?(): void;
  stopping?(): void;
  /** After every pass of the loop (at least every TICK_MS): proof of life for a watchdog, and state to report. */
  looped?(arbiter: Arbiter): void;
}

export interface ArbiterOptions {
  readonly resolved: ResolvedConfig;
  readonly listeners: readonly Listener[];
  readonly logger: Logger;
  readonly baseEnvironment: NodeJS.ProcessEnv;
  /** Reads every config layer again (for reload). */
  readonly readConfig: () => Promise<ResolvedConfig>;
  readonly observer?: LifecycleObserver;
  /** The control socket path, for status. */
  readonly controlSocket?: string;
  readonly now?: () => number;
  readonly random?: () => number;
  /** What upgrade (USR2, appctl upgrade) needs from the master's setup. */
  readonly upgrade: {
    readonly command: () => SuccessorCommand;
    /** The master this one replaced, while it still runs; null otherwise. */
    readonly predecessorPid: () => number | null;
    readonly handover: Handover;
  };
  /**
   * A successor master (upgrade) takes over only with every worker ready: at boot-timeout with some
   * missing it fails (the old master serves on) instead of serving with fewer workers.
   */
  readonly requireEveryWorker?: boolean;
  /** A successor's workers start past the old master's generations (ps and status tell them apart). */
  readonly firstGeneration?: number;
}

type Handlers = { readonly [Type in ArbiterEventType]: (event: EventOf<Type>) => void };

function workerEvent(worker: WorkerHandle): WorkerEventMessage {
  let detail: string | null = null;
  if (worker.state === 'stopping') detail = worker.retireReason;
  else if (worker.state === 'exited') detail = worker.exitCode !== null ? `exit code ${worker.exitCode}` : `signal ${worker.exitSignal ?? 'unknown'}`;
  return { time: Date.now(), tag: worker.tag, pool: worker.pool, slot: worker.slot, generation: worker.generation, pid: worker.pid, state: worker.state, detail };
}

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
  /** Control clients watching worker state changes. */
  readonly #eventReaders = new Set<EventReader>();
  /** Control clients watching status snapshots (appctl top). */
  readonly #statusFeed = new StatusFeed();

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
    ping: (event) => this.#handlePing(event),
    status: (event) => this.#handleStatus(event),
    'show-config': (event) => this.#handleShowConfig(event),
    'read-logs': (event) => this.#handleReadLogs(event),
    'watch-events': (event) => this.#handleWatchEvents(event),
    'watch-status': ({ watcher }) => watcher.begin(this.#statusFeed.add(watcher)),
    'worker-message': (event) => this.#handleWorkerMessage(event),
    'worker-exit': (event) => this.#handleWorkerExit(event),
    'worker-spawn-failed': (event) => this.#handleWorkerSpawnFailed(event),
  };

  constructor(options: ArbiterOptions) {
    this.#options = options;
    this.#resolved = options.resolved;
    this.#logger = options.logger;
    this.#listeners = [...options.listeners];
    this.#now = options.now ?? Date.now;
    this.startedAt = this.#now();
    this.supervisor = new Supervisor({
      logger: options.logger,
      listeners: () => this.listeners,
      baseEnvironment: options.baseEnvironment,
      enqueue: (event) => this.queue.push(event),
      now: this.#now,
      random: options.random ?? Math.random,
      config: () => this.config,
      hookServer: () => this.hookServer(),
      workerChanged: (worker) => this.#publishWorkerChange(worker),
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
    return this.#listeners;
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
    });
  }

  /** Runs until every worker is gone after a stop; returns the exit code or throws why it halted. */
  async run(): Promise<number> {
    for (;;) {
      try {
        this.supervisor.murderWorkers();
        this.#checkMemory();
        this.supervisor.manageWorkers(this.#stopMode);
        // A pool whose new generation just became ready drains its old one now, not one tick later.
        if (this.#checkProgress()) this.supervisor.manageWorkers(this.#stopMode);
        // Only while someone watches (appctl top): a snapshot a second, sooner after a change, and
        // a first one for each new watcher.
        this.#statusFeed.publishIfDue(this.#now(), () => statusSignature(this.supervisor, this.phase), () => this.snapshot());
        this.#upgrade.check();
        this.#options.observer?.looped?.(this);
      } catch (error) {
        this.#logger.critical(`master loop error: ${describeError(error)}`);
      }
      // A successor still starting is stopped with us, and waited for: under systemd (KillMode=mixed)
      // anything left in the unit after this master exits is killed.
      if (this.#stopMode !== null && this.supervisor.workers.size === 0 && !this.#upgrade.busy) break;
      for (const event of await this.queue.takeAll(TICK_MS)) this.#dispatch(event);
    }
    for (const requester of this.#stopRequesters) requester.done?.({ status: 'completed', message: 'stopped' });
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
      if (worker.state === 'starting') this.supervisor.retireWorker(worker, 'start failed', 'quick');
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
      pool.rollout?.job.poolAbandoned(pool.name, 'the daemon is stopping');
      pool.rollout = null;
    }
  }

  #handleReload({ pool, requester }: EventOf<'reload'>): void {
    if (this.#stopMode) return requester.done?.({ status: 'failed', message: 'the daemon is stopping' });
    if (pool !== null && !this.supervisor.pools.has(pool)) return requester.done?.({ status: 'failed', message: `no pool named "${pool}"` });
    this.#logger.info(`${requester.origin}: reloading${pool ? ` pool ${pool}` : ''}: reading the configuration again`);
    requester.progress?.('reading the configuration again');
    this.#options.observer?.reloading?.();
    void this.#readForReload().then(
      (result) => this.queue.push({ type: 'config-read', result, pool, requester }),
      (error: unknown) => this.queue.push({ type: 'config-read', result: error instanceof Error ? error : new Error(String(error)), pool, requester }),
    );
  }

  /** Off the loop: read every config layer again and bind any new address, so applying it cannot block. */
  async #readForReload(): Promise<{ config: ResolvedConfig; plan: ListenerPlan; opened: Listener[] }> {
    const config = await this.#options.readConfig();
    const plan = planListeners(this.#listeners, config);
    return { config, plan, opened: await openPlannedListeners(plan, config.values.unixSocketMode) };
  }

  #handleConfigRead({ result, pool, requester }: EventOf<'config-read'>): void {
    if (result instanceof Error) return this.#reloadFailed(requester, result);
    if (this.#stopMode) {
      closeListeners(result.opened);
      return requester.done?.({ status: 'failed', message: 'the daemon is stopping' });
    }
    const previous = this.#resolved;
    // One reloaded() per reload, when its last pool settled: READY=1 must not follow the first of several pools.
    const job = new ReloadJob(requester, this.#now(), () => this.#options.observer?.reloaded?.());
    this.#resolved = result.config;
    const listenersBefore = this.#listeners;
    this.#listeners = [...result.plan.keep, ...result.opened];
    let rolled: string[];
    try {
      rolled = applyReloadedConfig({ previous, next: result.config, onlyPool: pool, job, supervisor: this.supervisor, logger: this.#logger, now: this.#now() });
    } catch (error) {
      this.#resolved = previous;
      this.#listeners = listenersBefore;
      closeListeners(result.opened);
      return this.#reloadFailed(requester, error);
    }
    for (const listener of result.opened) this.#logger.info(`Listening at: ${describeListener(listener, 'bound on reload')}`);
    for (const listener of result.plan.close) this.#logger.info(`Closed ${listener.url}: no pool binds it any more`);
    closeListeners(result.plan.close);
    fireHook(this.#logger, 'onReload', this.config.onReload, this.hookServer());
    job.expect(rolled);
  }

  #reloadFailed(requester: Requester, error: unknown): void {
    const message = `reload failed, nothing changed: ${error instanceof Error && !(error instanceof AppdError) ? error.message : describeError(error)}`;
    this.#logger.error(message);
    this.#options.observer?.reloaded?.();
    requester.done?.({ status: 'failed', message });
  }

  /** max-memory is checked about once a second, and only if some pool sets it. */
  #checkMemory(): void {
    const now = this.#now();
    if (now - this.#memoryCheckedAt < MEMORY_CHECK_MS) return;
    this.#memoryCheckedAt = now;
    if (![...this.supervisor.pools.values()].some((pool) => pool.settings.maxMemory > 0)) return;
    this.supervisor.recycleOverMemory((pid) => this.#usage.sample(pid, now)?.rssBytes ?? null);
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
    for (const pool of this.supervisor.pools.values()) pool.parked = true;
    requester.done?.({ status: 'completed', message: 'workers stopping' });
  }

  #handlePing({ requester }: EventOf<'ping'>): void {
    const data: PingData = { name: this.config.name, pid: process.pid, phase: this.phase, uptimeMs: this.#now() - this.startedAt };
    requester.done?.({ status: 'completed', message: 'pong', data });
  }

  #handleStatus({ requester }: EventOf<'status'>): void {
    requester.done?.({ status: 'completed', message: 'status', data: this.snapshot() });
  }

  #handleShowConfig({ requester }: EventOf<'show-config'>): void {
    requester.done?.({ status: 'completed', message: 'effective settings', data: settingRows(this.#options.resolved, this.#resolved) });
  }

  /** The ring's recent lines and the subscription are taken in one turn of the loop: no line is lost or doubled. */
  #handleReadLogs({ reader, requester }: EventOf<'read-logs'>): void {
    const pool = reader.pool;
    if (pool !== null && !this.supervisor.pools.has(pool)) return requester.done?.({ status: 'failed', message: `no pool named "${pool}"` });
    const prefix = `${pool}.`;
    const matches = (line: LogLine): boolean => pool === null || line.source.startsWith(prefix);
    const recent = reader.lines === 0 ? [] : this.#logger.recent().filter(matches).slice(-reader.lines);
    const stop = reader.follow ? this.#logger.subscribe((line) => {
      if (matches(line)) reader.line(line);
    }) : null;
    reader.begin(recent, stop);
    if (!reader.follow) requester.done?.({ status: 'completed', message: `${recent.length} line(s)` });
  }

  /**
   * Starts with every live worker's current state, then streams each change; answered only when the
   * client goes or the daemon stops.
   */
  #handleWatchEvents({ reader }: EventOf<'watch-events'>): void {
    this.#eventReaders.add(reader);
    reader.begin(() => this.#eventReaders.delete(reader));
    for (const worker of this.supervisor.workers.values()) reader.event(workerEvent(worker));
  }

  #publishWorkerChange(worker: WorkerHandle): void {
    if (this.#eventReaders.size === 0) return;
    const event = workerEvent(worker);
    for (const reader of this.#eventReaders) reader.event(event);
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
    // The app's own error says more than "boot timeout" (a slow machine can turn one into the other).
    if (worker.bootFailure && (worker.bootFailure.phase !== 'timeout' || this.#lastBootFailure === null)) {
      this.#lastBootFailure = worker.bootFailure;
    }
    if (this.#phase === 'booting') {
      const failure = worker.bootFailure;
      // A module that cannot be imported will not import on the next try either: stop now, exit 4.
      if (failure?.phase === 'load') return this.#halt(new AppLoadError(failure.message));
      // Nor will a program the worker's user may not run, or that does not exist.
      if (failure?.phase === 'spawn' && (failure.code === 'EACCES' || failure.code === 'ENOENT')) return this.#halt(new BootError(failure.message));
      // A file a setting names cannot be opened (access-logfile, certfile): the next try fails the same way.
      if (failure?.phase === 'setting') return this.#halt(new ConfigError(failure.message));
      if (failure?.phase === 'listen' && (failure.code === 'EADDRINUSE' || failure.code === 'EACCES')) {
        return this.#halt(new BindError(failure.message));
      }
      // The script's listen() does not fit adopt-listen: every retry would be refused the same way.
      if (failure?.phase === 'listen' && failure.code === LISTEN_NOT_ADOPTED) return this.#halt(new BootError(failure.message));
      return;
    }
    const pool = this.supervisor.pools.get(worker.pool);
    if (pool?.rollout?.phase === 'rolling' && worker.generation === pool.generation) this.#rollBack(pool, worker.bootFailure?.message ?? 'it exited before becoming ready');
  }

  /** The process could not even be started (EACCES, ENOENT, EAGAIN): say which program and as whom. */
  #handleWorkerSpawnFailed({ workerId, error }: EventOf<'worker-spawn-failed'>): void {
    const worker = this.supervisor.workers.get(workerId);
    const user = worker?.settings.user ? ` as user ${worker.settings.user}` : '';
    const message = `cannot start worker ${worker?.tag ?? workerId}${user}: ${error.message}${hasErrorCode(error, 'EACCES') ? ' (permission denied: that user must be able to execute it and read its directories)' : ''}`;
    this.#logger.error(message);
    if (worker && worker.bootFailure === null) worker.bootFailure = { phase: 'spawn', message, code: (error as NodeJS.ErrnoException).code ?? 'EUNKNOWN' };
    this.#handleWorkerExit({ type: 'worker-exit', workerId, code: null, signal: null });
  }

  /** A new generation could not boot: keep the old workers serving and report why. */
  #rollBack(pool: Pool, reason: string): void {
    const rollout = pool.rollout;
    if (!rollout) return;
    const failedGeneration = pool.generation;
    pool.rollout = null;
    pool.generation = rollout.fromGeneration;
    pool.settings = rollout.fromSettings;
    pool.target = rollout.fromTarget;
    const workers = this.supervisor.workersOf(pool.name);
    const kept: string[] = [];
    for (const worker of workers) {
      if (worker.generation !== failedGeneration || worker.state === 'stopping') continue;
      // Not serving yet: nothing to finish. A ready one may have requests in flight: it drains.
      if (worker.state === 'starting') {
        this.supervisor.retireWorker(worker, 'reload rolled back', 'quick');
        continue;
      }
      const oldOne = workers.some((other) => other.slot === worker.slot && other.generation < failedGeneration && other.state === 'ready');
      if (oldOne || worker.slot >= pool.desired) this.supervisor.retireWorker(worker, 'reload rolled back');
      else kept.push(worker.tag); // its old worker died during the roll: better the new code than an empty slot
    }
    const serving = workers.filter((worker) => worker.generation < failedGeneration && worker.state === 'ready' && worker.slot < pool.desired).length;
    const keptNote = kept.length > 0 ? `; ${kept.join(', ')} stay(s) on generation ${failedGeneration} (the old worker of that slot had exited)` : '';
    const message = `reload of pool ${pool.name} rolled back: a generation ${failedGeneration} worker failed to boot: ${reason}\n` +
      `generation ${rollout.fromGeneration} keeps serving with ${serving} worker(s)${keptNote}`;
    this.#logger.error(message);
    rollout.job.poolRolledBack(pool.name, message);
  }

  /** First-start completion or failure, rollouts' progress, and waiting jobs; true if a rollout may retire workers now. */
  #checkProgress(): boolean {
    if (this.#stopMode !== null) return false;
    let retireNow = false;
    const now = this.#now();
    const pools = [...this.supervisor.pools.values()];
    if (this.#phase === 'booting') {
      const allReady = pools.every((pool) => this.supervisor.isSettled(pool));
      const limit = Math.max(...pools.map((pool) => pool.settings.bootTimeout)) * 1000;
      const anyRunning = [...this.supervisor.workers.values()].some((worker) => worker.state === 'ready');
      if (allReady && anyRunning) {
        this.#becomeRunning();
      } else if (allReady) {
        // Every slot gave up (fatal) before any worker ran: waiting for boot-timeout would change nothing.
        const reason = this.#lastBootFailure?.message ?? 'every slot failed to start';
        this.#halt(new BootError(`no worker could start (every slot is fatal after start-retries): ${reason}`));
        return false;
      } else if (now - this.startedAt > limit) {
        if (!this.#everReady) {
          const reason = this.#lastBootFailure?.message ?? 'no worker reported an error';
          this.#halt(new BootError(`no worker became ready within boot-timeout (${limit / 1000}s): ${reason}`));
          return false;
        }
        if (this.#options.requireEveryWorker) {
          const reason = this.#lastBootFailure?.message ?? 'no worker reported an error';
          this.#halt(new BootError(`not every worker became ready within boot-timeout (${limit / 1000}s): ${reason}`));
          return false;
        }
        this.#logger.warning('not every worker became ready within boot-timeout; serving with those that did');
        this.#becomeRunning();
      }
    }
    for (const pool of pools) {
      if (pool.removed && this.supervisor.workersOf(pool.name).length === 0) {
        this.supervisor.pools.delete(pool.name);
        this.#logger.info(`pool ${pool.name}: removed`);
        continue;
      }
      const rollout = pool.rollout;
      if (!rollout) continue;
      if (rollout.phase === 'rolling') {
        const current = this.supervisor.workersOf(pool.name).filter((worker) => worker.state === 'ready' && worker.generation >= pool.generation && worker.slot < pool.desired);
        if (new Set(current.map((worker) => worker.slot)).size >= pool.desired) {
          rollout.phase = 'retiring';
          retireNow = true;
        }
        continue;
      }
      // Done once the old generation takes no new connection: whoever reads "reloaded" and sends a
      // request reaches the new code.
      const older = this.supervisor.workersOf(pool.name).filter((worker) => worker.generation < pool.generation);
      if (older.every((worker) => this.supervisor.hasStoppedAccepting(worker))) {
        pool.rollout = null;
        const seconds = ((now - rollout.startedAt) / 1000).toFixed(2);
        const message = `pool ${pool.name} reloaded: generation ${pool.generation} serves with ${pool.desired} workers (${seconds}s)`;
        this.#logger.info(message);
        rollout.job.poolCompleted(pool.name, message);
      }
    }
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
    const summary = `${count} worker(s) ready in ${this.#now() - this.startedAt}ms`;
    this.#logger.info(`ready: ${summary}`);
    fireHook(this.#logger, 'whenReady', this.config.whenReady, this.hookServer());
    this.#options.observer?.ready?.(summary);
  }
}
