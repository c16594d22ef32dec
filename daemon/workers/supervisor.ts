// Makes the running workers converge on the pools' desired state: spawnWorker, retireWorker, reapWorker,
// manageWorkers (spawn missing, roll outdated, retire extra) and murderWorkers (timeouts). Run by the appd master.

import type { Config } from '../../shared/settings/table.js';
import type { ArbiterEvent } from '../arbiter/events.js';
import { fireHook } from '../config/hooks.js';
import { resolveIdentity, type Identity } from './identity.js';
import type { Listener } from '../sockets/listeners.js';
import type { Logger } from '../master/logger.js';
import type { Pool, PoolSettings } from '../pools/pool.js';
import { describeExit } from './child-exit.js';
import { recordExit, UNASKED_EXIT_NOTES } from '../pools/crash-policy.js';
import { UnaskedExitClassifier } from './outside-kill.js';
import { restartReason } from './exit-reason.js';
import type { WorkerSpawner } from './spawner.js';
import { WorkerHandle } from './handle.js';
import { WORKER_EXIT, type WorkerToMaster } from '../contracts/worker-messages.js';

/** How long after graceful-timeout the master kills an HTTP worker that has not exited by itself. */
const WORKER_CUT_MARGIN_MS = 1000;
/** After a quick stop (INT/QUIT) workers get this long before SIGKILL. */
const QUICK_STOP_GRACE_MS = 2000;
/** After asking a timed-out worker for its stack, wait at most this long for it before SIGKILL. */
const STACK_GRACE_MS = 3000;
/** Once the stack header is seen, the rest of that one write is moments behind. */
const STACK_FLUSH_MS = 250;
/**
 * A stopping HTTP worker that has not said it stopped accepting by then is stuck (a busy loop never
 * runs its SIGTERM handler); a reload does not wait for it any longer (murderWorkers kills it later).
 */
const DRAINING_ACK_WAIT_MS = 5000;

export type StopMode = 'graceful' | 'quick';

export interface SupervisorContext {
  readonly logger: Logger;
  /** Every listener the master holds, by the bind text that asked for it. */
  listeners(): readonly Listener[];
  /** Starts worker processes: child_process in the master, a fake in the in-process tests. */
  readonly spawner: WorkerSpawner;
  readonly enqueue: (event: ArbiterEvent) => void;
  readonly now: () => number;
  readonly random: () => number;
  config(): Config;
  /** What hooks receive as their first argument. */
  hookServer(): unknown;
  /** A worker was spawned or changed state (appctl events). */
  workerChanged?(worker: WorkerHandle): void;
}

/** What happened when a worker exited, for the arbiter's first-start and rollout bookkeeping. */
export interface ReapedWorker {
  readonly worker: WorkerHandle;
  /** It exited before ever becoming ready, and not because the master retired it first. */
  readonly failedBoot: boolean;
}

export class Supervisor {
  readonly pools = new Map<string, Pool>();
  readonly workers = new Map<number, WorkerHandle>();
  readonly #identities = new Map<string, Identity | null>();
  readonly #context: SupervisorContext;
  readonly #unaskedExits = new UnaskedExitClassifier();
  #nextWorkerId = 1;

  constructor(context: SupervisorContext) {
    this.#context = context;
  }

  /** Resolves the pool's --user/--group now, so a bad name fails the start or the reload, not a spawn. */
  setIdentity(settings: PoolSettings): void {
    this.#identities.set(settings.name, resolveIdentity(settings.user, settings.group, settings.name));
  }

  workersOf(pool: string, slot?: number): WorkerHandle[] {
    return [...this.workers.values()].filter(
      (worker) => worker.pool === pool && (slot === undefined || worker.slot === slot) && worker.state !== 'exited',
    );
  }

  /** The listeners a pool's workers get: all of them for the single-app form, else the pool's binds. */
  listenersOf(pool: Pool): Listener[] {
    const all = this.#context.listeners();
    if (this.#context.config().pools === null) return [...all];
    return pool.settings.bind.flatMap((bind) => all.filter((listener) => listener.pool === pool.name && listener.bindText === bind.text));
  }

  spawnWorker(pool: Pool, slot: number): void {
    const { logger, enqueue, now, random } = this.#context;
    const id = this.#nextWorkerId;
    this.#nextWorkerId += 1;
    const who = { pool: pool.name, slot, generation: pool.generation };
    fireHook(logger, 'preFork', this.#context.config().preFork, this.#context.hookServer(), who);
    let worker: WorkerHandle | null = null;
    const workerProcess = this.#context.spawner.spawn({
      settings: pool.settings,
      daemonName: this.#context.config().name,
      slot,
      generation: pool.generation,
      listeners: this.listenersOf(pool),
      identity: this.#identities.get(pool.name) ?? null,
      random,
    }, {
      message: (message) => enqueue({ type: 'worker-message', workerId: id, message }),
      foreign: (type) => logger.warning(`worker ${worker?.label ?? id} sent a message appd does not know (type ${type}); ignored, and so are any more`),
      misbehaved: (reason) => enqueue({ type: 'worker-misbehaved', workerId: id, reason }),
      exit: (code, signal) => enqueue({ type: 'worker-exit', workerId: id, code, signal }),
      spawnFailed: (error) => enqueue({ type: 'worker-spawn-failed', workerId: id, error }),
      output: (stream, line) => {
        worker?.rememberOutput(line, now());
        logger.workerOutput(`${pool.name}.${slot} g${who.generation}`, worker?.pid ?? -1, stream, line);
      },
    });
    worker = new WorkerHandle(id, pool.name, slot, pool.generation, workerProcess, now(), pool.settings);
    this.workers.set(id, worker);
    worker.onStateChange = (changed) => this.#context.workerChanged?.(changed);
    this.#context.workerChanged?.(worker);
    logger.debug(`spawned worker ${worker.label}`);
    fireHook(logger, 'postFork', this.#context.config().postFork, this.#context.hookServer(), { ...who, pid: worker.pid });
  }

  /**
   * Asks a worker to stop. HTTP workers: a drain request over IPC (graceful; see WorkerHandle.requestDrain),
   * QUIT exits at once (quick). A command pool's process gets its stop-signal either way; only the grace
   * before SIGKILL differs.
   */
  retireWorker(worker: WorkerHandle, reason: string, mode: StopMode = 'graceful'): void {
    if (worker.state === 'stopping' && (mode === 'graceful' || worker.stopMode === 'quick')) return;
    // Before the transition: whoever watches state changes reads why it stops.
    worker.retireReason = reason;
    worker.stopRequestedAt = this.#context.now();
    worker.stopMode = mode;
    worker.transition('retire');
    this.#context.logger.info(`stopping worker ${worker.label}: ${reason}`);
    if (worker.settings.kind === 'command') worker.signal(worker.settings.stopSignal);
    else if (mode === 'graceful') worker.requestDrain();
    else worker.signal('SIGQUIT');
  }

  killWorker(worker: WorkerHandle, why: string): void {
    if (worker.killSentAt !== null) return;
    this.#context.logger.warning(`killing worker ${worker.label}: ${why}`);
    worker.killSentAt = this.#context.now();
    worker.signal('SIGKILL');
  }

  /** A worker that broke the channel contract is killed at once: nothing it says can be trusted any more. */
  killMisbehaving(workerId: number, reason: string): void {
    const worker = this.workers.get(workerId);
    if (worker && worker.state !== 'exited') this.killWorker(worker, reason);
  }

  /** Records a worker's exit, throttles its slot if it is failing, and reports what kind of exit it was. */
  reapWorker(workerId: number, code: number | null, signal: NodeJS.Signals | null): ReapedWorker | null {
    const worker = this.workers.get(workerId);
    if (!worker) return null;
    const { logger } = this.#context;
    const wasStopping = worker.state === 'stopping';
    const unasked = wasStopping || worker.killSentAt !== null ? 'crash' : this.#unaskedExits.classify(signal);
    // Before the transition: whoever watches state changes (events, metrics) reads how and why it exited.
    worker.exitCode = code;
    worker.exitSignal = signal;
    worker.exitReason = restartReason(worker, wasStopping || worker.killSentAt !== null, unasked, this.pools.get(worker.pool)?.generation ?? worker.generation);
    worker.transition('exited');
    this.workers.delete(workerId);
    const how = describeExit(code, signal);
    // Killed from outside while booting says nothing about the app: no boot failure, no rollback.
    const failedBoot = worker.readyAt === null && (!wasStopping || worker.bootFailure !== null) && unasked !== 'outside-kill';
    if (worker.bootFailure?.phase === 'spawn') {
      // Already logged with its cause by the arbiter; the slot is throttled like any failed start.
      const record = this.pools.get(worker.pool)?.slot(worker.slot);
      if (record) recordExit(worker, record, code, unasked, this.#context);
    } else if (wasStopping && worker.bootFailure === null) {
      logger.info(`worker ${worker.label} exited (${how}) after ${worker.retireReason ?? 'stop'}`);
      // A hung worker is the app failing, not a planned stop: its slot counts it (and backs off if young).
      const record = worker.timedOut ? this.pools.get(worker.pool)?.slot(worker.slot) : undefined;
      if (record) recordExit(worker, record, code, unasked, this.#context);
    } else {
      const stage = worker.readyAt === null ? 'while booting' : 'unexpectedly';
      logger.error(`worker ${worker.label} exited ${stage} (${how}${UNASKED_EXIT_NOTES[unasked]})`);
      if (worker.bootFailure === null && worker.readyAt === null && unasked !== 'outside-kill') {
        const tail = worker.outputTail.slice(-8).join('\n');
        const phase = code === WORKER_EXIT.appLoadFailed ? 'load' : 'crash';
        worker.bootFailure = { phase, message: `exited with ${how} before becoming ready${tail ? `; its last output:\n${tail}` : ''}` };
      }
      const record = this.pools.get(worker.pool)?.slot(worker.slot);
      if (record) recordExit(worker, record, code, unasked, this.#context);
    }
    fireHook(logger, 'workerExit', this.#context.config().workerExit, this.#context.hookServer(),
      { pool: worker.pool, slot: worker.slot, generation: worker.generation, pid: worker.pid }, { code, signal });
    return { worker, failedBoot };
  }

  handleMessage(workerId: number, message: WorkerToMaster): WorkerHandle | null {
    const worker = this.workers.get(workerId);
    if (!worker) return null;
    const now = this.#context.now();
    switch (message.type) {
      case 'ready':
        if (worker.transition('became-ready') === 'ready') {
          worker.readyAt = now;
          worker.lastHeartbeatAt = now;
          this.#context.logger.info(`worker ${worker.label} ready in ${now - worker.spawnedAt}ms`);
        }
        break;
      case 'boot-error':
        worker.bootFailure = message.code === undefined
          ? { phase: message.phase, message: message.message }
          : { phase: message.phase, message: message.message, code: message.code };
        break;
      case 'heartbeat':
        worker.lastHeartbeatAt = now;
        worker.stats = message.stats;
        break;
      case 'draining':
        worker.stoppedAcceptingAt ??= now;
        break;
      case 'recycle':
        if (worker.recycleReason === null) {
          worker.recycleReason = message.reason;
          worker.recycleCause = 'max_requests';
          this.#context.logger.info(`worker ${worker.label} asks to be replaced: ${message.reason}`);
        }
        break;
    }
    return worker;
  }

  /** Spawns missing workers, rolls outdated ones (a successor first, then drain), retires extra slots. */
  manageWorkers(stopMode: StopMode | null): void {
    if (stopMode !== null) {
      for (const worker of this.workers.values()) {
        if (worker.state !== 'stopping' || (stopMode === 'quick' && worker.stopMode === 'graceful')) {
          this.retireWorker(worker, stopMode === 'quick' ? 'quick stop' : 'graceful stop', stopMode);
        }
      }
      return;
    }
    for (const pool of this.pools.values()) {
      let rolling = 0;
      for (let slot = 0; slot < pool.desired; slot += 1) rolling += this.#manageSlot(pool, slot, rolling);
      for (const worker of this.workersOf(pool.name)) {
        // A reload that shrinks the pool keeps the extra old workers too, until its new generation is ready.
        if (worker.slot >= pool.desired && worker.state !== 'stopping' && !this.#keptForRollBack(pool, worker)) {
          const why = pool.stopped ? 'pool stopped' : pool.parked ? 'workers stopped (WINCH)' : `scaled down to ${pool.desired}`;
          this.retireWorker(worker, why);
        }
      }
    }
  }

  /**
   * HTTP pools, and command pools sharing sockets, start the successor first and retire the old worker
   * once it is ready, so capacity never dips. A plain command pool stops the old process first: two
   * copies of a queue consumer or a cron-like job must not overlap.
   */
  #startsSuccessorFirst(pool: Pool): boolean {
    return pool.settings.kind === 'http' || pool.settings.bind.length > 0;
  }

  /**
   * During a reload an old-generation worker keeps serving after its successor is ready, until the
   * whole pool's new generation is ready: if a later slot fails to boot, every slot still has its old
   * worker, and the roll back restores the old generation everywhere. Its code is no longer on disk
   * (the deploy replaced it), only in these processes, so they cannot be started again later.
   */
  #keptForRollBack(pool: Pool, older: WorkerHandle): boolean {
    return pool.rollout?.phase === 'rolling' && older.generation < pool.generation && older.state === 'ready';
  }

  /** Returns 1 if this slot is being rolled to the pool's generation (counts against the batch). */
  #manageSlot(pool: Pool, slot: number, rollingSoFar: number): number {
    const workers = this.workersOf(pool.name, slot);
    const live = workers.filter((worker) => worker.state !== 'stopping');
    const newest = live.at(-1);
    // A failing slot waits out its backoff (or stays down when fatal), whatever the reason to spawn.
    const mayStart = pool.slot(slot).mayStart(this.#context.now());
    if (!newest) {
      // Stop-first pools wait until the old process is really gone. So does a slot whose worker is being
      // killed for failing to boot (boot timeout): its failure must count (backoff, fatal) before the next try.
      const waitForOld = (!this.#startsSuccessorFirst(pool) && workers.length > 0) || workers.some((worker) => worker.bootFailure !== null);
      if (mayStart && !waitForOld) this.spawnWorker(pool, slot);
      return workers.some((worker) => worker.generation < pool.generation) ? 1 : 0;
    }
    if (newest.state === 'ready') {
      for (const older of live.slice(0, -1)) {
        if (this.#keptForRollBack(pool, older)) continue;
        this.retireWorker(older, `replaced by ${newest.label}${older.recycleReason === null ? '' : ` (${older.recycleReason})`}`);
      }
    }
    const outdated = newest.generation < pool.generation;
    if (!outdated && newest.recycleReason === null) return newest.state === 'starting' && live.length > 1 ? 1 : 0;
    if (newest.state !== 'ready' || !mayStart || (outdated && rollingSoFar >= pool.settings.reloadBatch)) return 0;
    if (this.#startsSuccessorFirst(pool)) this.spawnWorker(pool, slot);
    else this.retireWorker(newest, outdated ? `restarting into generation ${pool.generation}` : `replacing: ${newest.recycleReason}`);
    return outdated ? 1 : 0;
  }

  /** Boot timeouts, heartbeat timeouts and stop deadlines (each ends in SIGKILL); command processes that stayed up. */
  murderWorkers(): void {
    const now = this.#context.now();
    for (const worker of this.workers.values()) {
      const settings = worker.settings;
      const command = settings.kind === 'command';
      if (command && worker.state === 'starting' && now - worker.spawnedAt >= settings.startSeconds * 1000) {
        // A command has no readiness message: having stayed up start-seconds is what counts (supervisord's RUNNING).
        worker.transition('became-ready');
        worker.readyAt = now;
        this.#context.logger.info(`worker ${worker.label} running (up ${settings.startSeconds}s)`);
      } else if (!command && worker.state === 'starting' && now - worker.spawnedAt > settings.bootTimeout * 1000) {
        worker.bootFailure = { phase: 'timeout', message: `did not become ready within boot-timeout (${settings.bootTimeout}s)` };
        this.retireWorker(worker, 'boot timeout', 'quick');
        this.killWorker(worker, `not ready after ${settings.bootTimeout}s`);
      } else if (!command && worker.state === 'ready' && settings.timeout > 0 && now - worker.lastHeartbeatAt > settings.timeout * 1000) {
        const silence = ((now - worker.lastHeartbeatAt) / 1000).toFixed(1);
        this.#context.logger.critical(`WORKER TIMEOUT ${worker.label}: no heartbeat for ${silence}s (timeout ${settings.timeout}s)`);
        if (settings.timeoutStack) worker.requestStack();
        worker.timedOut = true;
        this.retireWorker(worker, 'timeout');
        worker.killAt = now + (settings.timeoutStack ? STACK_GRACE_MS : 0);
      } else if (worker.state === 'stopping' && worker.killSentAt === null) {
        // An HTTP worker cuts its own connections at graceful-timeout and says so; the master's SIGKILL
        // is the backstop a moment later, so it does not race the worker's own clean exit.
        const backstop = command ? 0 : WORKER_CUT_MARGIN_MS;
        const grace = worker.stopMode === 'quick' ? QUICK_STOP_GRACE_MS : settings.gracefulTimeout * 1000 + backstop;
        const stackOut = worker.stackPrintedAt === null ? Infinity : worker.stackPrintedAt + STACK_FLUSH_MS;
        const deadline = worker.killAt === null ? (worker.stopRequestedAt ?? now) + grace : Math.min(worker.killAt, stackOut);
        if (now >= deadline) this.killWorker(worker, worker.killAt !== null ? 'timed out' : `still running ${grace / 1000}s after stop`);
      }
    }
  }

  /**
   * max-memory: a worker whose RSS is over its pool's limit is recycled the max-requests way (an HTTP
   * worker's successor is ready before it drains; a plain command is stopped, then started).
   */
  recycleOverMemory(rssOf: (pid: number) => number | null): void {
    for (const worker of this.workers.values()) {
      const limit = worker.settings.maxMemory;
      if (limit <= 0 || worker.state !== 'ready' || worker.recycleReason !== null) continue;
      const rss = rssOf(worker.pid);
      if (rss === null || rss <= limit) continue;
      const megabytes = (bytes: number): string => `${Math.round(bytes / 1024 / 1024)} MB`;
      worker.recycleReason = `RSS ${megabytes(rss)} is over max-memory ${megabytes(limit)}`;
      worker.recycleCause = 'max_memory';
      this.#context.logger.warning(`worker ${worker.label}: ${worker.recycleReason}; replacing it`);
    }
  }

  /** Whether a worker no longer takes new connections: gone, or stopping and it said so (or is stuck). */
  hasStoppedAccepting(worker: WorkerHandle): boolean {
    if (worker.state === 'exited') return true;
    if (worker.state !== 'stopping') return false;
    if (worker.settings.kind === 'command' || worker.stoppedAcceptingAt !== null) return true;
    return this.#context.now() - (worker.stopRequestedAt ?? 0) >= DRAINING_ACK_WAIT_MS;
  }

  /** Whether every wanted slot is running, done by its restart policy, or fatal: nothing left to wait for. */
  isSettled(pool: Pool): boolean {
    for (let slot = 0; slot < pool.desired; slot += 1) {
      const running = this.workersOf(pool.name, slot).some((worker) => worker.state === 'ready');
      const record = pool.slot(slot);
      if (!running && !record.finished && !record.fatal) return false;
    }
    return true;
  }

  /** Ready workers in the slots a pool wants, per pool. */
  readyCount(pool: Pool): number {
    return this.workersOf(pool.name).filter((worker) => worker.state === 'ready' && worker.slot < pool.desired).length;
  }
}
