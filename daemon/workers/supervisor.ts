// The master's hands on its workers: spawnWorker, retireWorker, killWorker, reapWorker, their messages,
// murderWorkers (deadline-keeper.ts); pools/manage.ts decides whom to spawn and retire. Run by the appd master.

import type { Config } from '../../shared/settings/table.js';
import type { ArbiterEvent } from '../arbiter/events.js';
import { fireHook } from '../config/hooks.js';
import { resolveIdentity, type Identity } from './spawn/identity.js';
import type { Listener } from '../sockets/listeners.js';
import type { Logger } from '../master/logger.js';
import { Pool, type PoolSettings } from '../pools/pool.js';
import { describeExit, exitedBeforeReady, restartReason } from './exit-reason.js';
import { noteExit } from '../pools/crash-policy.js';
import { UnaskedExitClassifier } from './outside-kill.js';
import { queuedEvents, type WorkerSpawner } from './spawn/spawner.js';
import { WorkerHandle } from './handle.js';
import { SlotHandoff } from './slot-handoff.js';
import { SlotSockets } from '../sockets/slot-sockets.js';
import type { BootFailureReport, RetireCause, StopMode } from './state.js';
import { DeadlineKeeper } from './deadline-keeper.js';
import { SpawnCeiling } from '../pools/spawn-ceiling.js';
import type { WorkerToMaster } from '../contracts/worker-messages.js';
import { applyWorkerMessage } from './message-handlers.js';

export type { StopMode } from './state.js';

export interface SupervisorContext {
  readonly logger: Logger;
  /** Every listener the master holds, by the bind text that asked for it. */
  listeners(): readonly Listener[];
  /** Starts worker processes: child_process in the master, a fake in the in-process tests. */
  readonly spawner: WorkerSpawner;
  readonly enqueue: (event: ArbiterEvent) => void;
  /** The monotonic clock (deadlines); wallNow only for what is shown (a slot's last exit). */
  readonly now: () => number;
  readonly wallNow: () => number;
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
  /** slot-bind: each slot's own sockets, and which of the slot's workers accepts on them. */
  readonly slotSockets: SlotSockets;
  readonly slotHandoff = new SlotHandoff();
  /** Worker starts across all pools (manageWorkers takes one per spawn). */
  readonly spawnCeiling: SpawnCeiling;
  readonly #identities = new Map<string, Identity | null>();
  readonly #context: SupervisorContext;
  readonly #unaskedExits = new UnaskedExitClassifier();
  readonly #deadlines: DeadlineKeeper;
  #nextWorkerId = 1;

  constructor(context: SupervisorContext) {
    this.#context = context;
    this.#deadlines = new DeadlineKeeper(context.logger);
    this.slotSockets = new SlotSockets(context.logger);
    this.spawnCeiling = new SpawnCeiling(context.logger);
  }

  /** A pool of the configuration; its workers start at `generation` (past the old master's after an upgrade). */
  addPool(settings: PoolSettings, generation: number): Pool {
    this.setIdentity(settings);
    const pool = new Pool(settings, generation);
    this.pools.set(settings.name, pool);
    return pool;
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

  /**
   * The one place a worker's listeners are chosen: all of them for the single-app form, else the
   * pool's binds (with reuse-port: the slot's own socket on each); then the slot's own sockets
   * (slot-bind), last.
   */
  listenersOf(pool: Pool, slot: number): Listener[] {
    const all = this.#context.listeners().filter((listener) => listener.slot === undefined);
    const shared =
      this.#context.config().pools === null
        ? all
        : pool.settings.bind.flatMap((bind) => all.filter((listener) => listener.pool === pool.name && listener.bindText === bind.text));
    return [...shared, ...this.slotSockets.reusePortForSlot(pool.settings, slot), ...this.slotSockets.forSlot(pool.settings, slot)];
  }

  spawnWorker(pool: Pool, slot: number): void {
    const { logger, enqueue, now, random } = this.#context;
    const id = this.#nextWorkerId;
    this.#nextWorkerId += 1;
    const who = { pool: pool.name, slot, generation: pool.generation };
    fireHook(logger, 'preFork', this.#context.config().preFork, this.#context.hookServer(), who);
    let worker: WorkerHandle | null = null;
    const workerProcess = this.#context.spawner.spawn(
      {
        settings: pool.settings,
        daemonName: this.#context.config().name,
        slot,
        generation: pool.generation,
        listeners: this.listenersOf(pool, slot),
        identity: this.#identities.get(pool.name) ?? null,
        random,
      },
      queuedEvents(id, () => worker, { enqueue, logger, now }),
    );
    worker = new WorkerHandle(id, pool.name, slot, pool.generation, workerProcess, now(), pool.settings);
    this.workers.set(id, worker);
    this.#unaskedExits.watch(worker.pid);
    worker.onStateChange = (changed) => this.#context.workerChanged?.(changed);
    this.#context.workerChanged?.(worker);
    logger.debug(`spawned worker ${worker.label}`);
    fireHook(logger, 'postFork', this.#context.config().postFork, this.#context.hookServer(), { ...who, pid: worker.pid });
  }

  /** Asks a worker to stop (how: WorkerHandle's askToStop); a second ask only hurries a graceful stop. */
  retireWorker(worker: WorkerHandle, cause: RetireCause, reason: string, mode: StopMode = 'graceful'): void {
    if (worker.state === 'stopping' && (mode === 'graceful' || worker.stopMode === 'quick')) return;
    worker.transition('retire', { at: this.#context.now(), reason, cause, mode });
    this.#context.logger.info(`stopping worker ${worker.label}: ${reason}`);
  }

  killWorker(worker: WorkerHandle, why: string): void {
    if (worker.killSentAt !== null) return;
    this.#context.logger.warning(`killing worker ${worker.label}: ${why}`);
    worker.transition('kill', { at: this.#context.now() });
  }

  /** A worker that broke the channel contract is killed at once: nothing it says can be trusted any more. */
  killMisbehaving(workerId: number, reason: string): void {
    const worker = this.workers.get(workerId);
    if (worker && worker.state !== 'exited') this.killWorker(worker, reason);
  }

  /** It could not even be started: its report says why; the exit that follows throttles its slot. */
  spawnFailed(workerId: number, report: BootFailureReport): void {
    const worker = this.workers.get(workerId);
    if (worker && worker.state !== 'exited' && worker.bootFailure === null) worker.transition('boot-error', { report });
  }

  /** Records a worker's exit, throttles its slot if it is failing, and reports what kind of exit it was. */
  reapWorker(workerId: number, code: number | null, signal: NodeJS.Signals | null): ReapedWorker | null {
    const worker = this.workers.get(workerId);
    if (!worker) return null;
    const { logger } = this.#context;
    const wasStopping = worker.state === 'stopping';
    const asked = wasStopping || worker.killSentAt !== null;
    // Classified even when asked: it forgets the pid and keeps the machine-wide OOM count current.
    const classified = this.#unaskedExits.classify(signal, worker.pid);
    const unasked = asked ? 'crash' : classified;
    const how = describeExit(code, signal);
    // Killed from outside while booting says nothing about the app: no boot failure, no rollback.
    const failedBoot = worker.readyAt === null && (!wasStopping || worker.bootFailure !== null) && unasked !== 'outside-kill';
    const crashReport =
      !wasStopping && worker.bootFailure === null && worker.readyAt === null && unasked !== 'outside-kill'
        ? exitedBeforeReady(worker.outputTail, code, how)
        : null;
    const poolGeneration = this.pools.get(worker.pool)?.generation ?? worker.generation;
    // Whoever watches state changes (events, metrics) reads how and why it exited: the transition records it first.
    worker.transition('exited', { code, signal, reason: restartReason(worker, asked, unasked, poolGeneration), bootFailure: crashReport });
    this.workers.delete(workerId);
    const record = this.pools.get(worker.pool)?.slot(worker.slot);
    if (record) noteExit(worker, record, { code, how, unasked, wasStopping }, this.#context);
    fireHook(
      logger,
      'workerExit',
      this.#context.config().workerExit,
      this.#context.hookServer(),
      { pool: worker.pool, slot: worker.slot, generation: worker.generation, pid: worker.pid },
      { code, signal },
    );
    return { worker, failedBoot };
  }

  handleMessage(workerId: number, message: WorkerToMaster): WorkerHandle | null {
    const worker = this.workers.get(workerId);
    if (worker) applyWorkerMessage(worker, message, this.#context.now(), this.#context.logger);
    return worker ?? null;
  }

  /** Every deadline a worker has, fired once its time has come (deadline-keeper.ts). */
  murderWorkers(): void {
    this.#deadlines.murderWorkers(this, this.#context.now());
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

  /**
   * The slots a pool wants that have a ready worker of `generation` or newer (a rolled-back reload can
   * leave a newer one where the old worker had died): the one answer to "how far is the new generation".
   */
  readySlots(pool: Pool, generation = 0): Set<number> {
    const ready = this.workersOf(pool.name).filter(
      (worker) => worker.state === 'ready' && worker.generation >= generation && worker.slot < pool.desired,
    );
    return new Set(ready.map((worker) => worker.slot));
  }

  /** Ready workers in the slots a pool wants, per pool. */
  readyCount(pool: Pool): number {
    return this.workersOf(pool.name).filter((worker) => worker.state === 'ready' && worker.slot < pool.desired).length;
  }
}
