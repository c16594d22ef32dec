// Reload requests (HUP, appctl reload, --reload) from request to outcome: one config read at a time,
// requests that arrive during a read coalesce into the next one, and each read's rollouts become one
// job whose outcome every requester of that read gets. Run by the appd master, inside the arbiter loop.

import type { ResolvedConfig } from '../../shared/config/resolve.js';
import { AppdError, describeError } from '../../shared/errors.js';
import type { EventOf, JobOutcome, Requester } from './events.js';
import { applyReload, readForReload } from '../config/reload.js';
import { closeListeners, type Listener } from '../sockets/listeners.js';
import { Job, rolloutReadyLine, rolloutsOutcome, type JobBoard } from '../pools/jobs.js';
import type { Logger } from '../master/logger.js';
import type { Rollout } from '../pools/pool.js';
import type { Supervisor } from '../workers/supervisor.js';
import type { MasterCounters } from '../metrics/counters.js';
import type { LifecycleObserver } from './options.js';

export interface ReloadContext {
  readonly logger: Logger;
  readonly supervisor: Supervisor;
  readonly jobs: JobBoard;
  readonly now: () => number;
  readonly readConfig: () => Promise<ResolvedConfig>;
  readonly enqueue: (event: EventOf<'config-read'>) => void;
  /** The config and sockets the master started with; a reload that applies replaces both. */
  readonly resolved: ResolvedConfig;
  readonly listeners: readonly Listener[];
  /** A reload applied (the onReload hook). */
  readonly applied: () => void;
  readonly stopping: () => boolean;
  /** Hears reloading() when a read starts and reloaded() once with the outcome of the reload it started (systemd). */
  readonly observer?: LifecycleObserver | undefined;
  /** Counts a reload whose config could not be read or applied (nothing changed) as failed. */
  readonly metrics: MasterCounters;
}

/** What a reload request that came while a read was in flight is told (and the log says). */
const JOINS_NEXT_READ = 'a reload is reading the configuration; this one reads it again right after';

/** null: every pool. */
type Scope = string | null;

export class ReloadFlow {
  readonly #context: ReloadContext;
  #resolved: ResolvedConfig;
  #listeners: Listener[];
  /** The read in flight, and who asked for it (they asked before it started, so it covers them). */
  #reading: { readonly scope: Scope; readonly requesters: Requester[] } | null = null;
  /** Requests that came while a read was in flight: each scope reads again once that one is applied. */
  readonly #waiting = new Map<Scope, Requester[]>();

  constructor(context: ReloadContext) {
    this.#context = context;
    this.#resolved = context.resolved;
    this.#listeners = [...context.listeners];
  }

  /** The configuration in force (the last one a reload applied). */
  get resolved(): ResolvedConfig {
    return this.#resolved;
  }

  /** Every socket the master holds now (a reload may bind new ones and close others). */
  get listeners(): readonly Listener[] {
    return this.#listeners;
  }

  request({ pool, requester }: EventOf<'reload'>): void {
    const { logger, supervisor } = this.#context;
    if (pool !== null && !supervisor.pools.has(pool)) return requester.done?.({ status: 'failed', message: `no pool named "${pool}"` });
    const what = `${requester.origin}: reloading${pool ? ` pool ${pool}` : ''}`;
    if (this.#reading === null) {
      logger.info(`${what}: reading the configuration again`);
      return this.#read(pool, [requester]);
    }
    // The read in flight may have started before a file this requester just changed: it waits for the
    // next read, which starts once this one is applied, and gets that reload's outcome. Requests that
    // wait together share that one read (a storm of HUPs costs two reloads, not one per signal).
    logger.info(`${what}: ${JOINS_NEXT_READ}`);
    requester.progress?.(JOINS_NEXT_READ);
    const waiting = this.#waiting.get(pool) ?? [];
    waiting.push(requester);
    this.#waiting.set(pool, waiting);
  }

  #read(scope: Scope, requesters: Requester[]): void {
    this.#reading = { scope, requesters };
    for (const requester of requesters) requester.progress?.('reading the configuration again');
    this.#context.observer?.reloading?.();
    const { readConfig, enqueue } = this.#context;
    void readForReload(readConfig, this.#listeners).then(
      (result) => enqueue({ type: 'config-read', result, pool: scope }),
      (error: unknown) => enqueue({ type: 'config-read', result: error instanceof Error ? error : new Error(String(error)), pool: scope }),
    );
  }

  /** The read is back: apply it (or report why not), then start the next waiting read. */
  configRead({ result }: EventOf<'config-read'>): void {
    const reading = this.#reading;
    this.#reading = null;
    if (reading === null) {
      if (!(result instanceof Error)) closeListeners(result.opened);
      return;
    }
    this.#apply(result, reading.scope, reading.requesters);
    if (this.#context.stopping()) return this.#refuseWaiting();
    const [next] = this.#waiting;
    if (next) {
      const [scope, waiting] = next;
      this.#waiting.delete(scope);
      // One line per read, naming every request it covers, so each one can be seen handled in the log.
      this.#context.logger.info(
        `reloading${scope ? ` pool ${scope}` : ''} for ${waiting.map((requester) => requester.origin).join(', ')}: reading the configuration again`,
      );
      this.#read(scope, waiting);
    }
  }

  /** The daemon stops: requests waiting for a read are told so (the read in flight is, when it is back). */
  #refuseWaiting(): void {
    for (const requesters of this.#waiting.values())
      for (const requester of requesters) requester.done?.({ status: 'failed', message: 'the daemon is stopping' });
    this.#waiting.clear();
  }

  #apply(result: EventOf<'config-read'>['result'], scope: Scope, requesters: readonly Requester[]): void {
    const { logger, supervisor, jobs } = this.#context;
    const progress = (text: string): void => requesters.forEach((requester) => requester.progress?.(text));
    // One reloaded() per read, when its last pool settled: READY=1 must not follow the first of several pools.
    const finish = (outcome: JobOutcome): void => {
      this.#context.observer?.reloaded?.(outcome);
      for (const requester of requesters) requester.done?.(outcome);
    };
    if (result instanceof Error) return finish(this.#failure(result, scope));
    if (this.#context.stopping()) {
      closeListeners(result.opened);
      return finish({ status: 'failed', message: 'the daemon is stopping' });
    }
    let rolled: Rollout[];
    try {
      const applied = applyReload({
        previous: this.#resolved,
        read: result,
        listeners: this.#listeners,
        onlyPool: scope,
        progress,
        supervisor,
        logger,
        now: this.#context.now(),
      });
      this.#resolved = result.config;
      this.#listeners = applied.listeners;
      rolled = applied.rolled;
      this.#context.applied();
    } catch (error) {
      return finish(this.#failure(error, scope));
    }
    const reported = new Set<Rollout>();
    jobs.add(
      new Job(requesters, {
        pools: rolled.map((rollout) => rollout.pool),
        check: () => rolloutsOutcome(rolled, reported, progress),
        deadline: null,
        readyLine: rolloutReadyLine(supervisor),
        onFinish: (outcome) => this.#context.observer?.reloaded?.(outcome),
      }),
    );
  }

  #failure(error: unknown, scope: Scope): JobOutcome {
    for (const name of this.#context.supervisor.pools.keys())
      if (scope === null || scope === name) this.#context.metrics.reloadSettled(name, 'failed', 0);
    const message = `reload failed, nothing changed: ${error instanceof Error && !(error instanceof AppdError) ? error.message : describeError(error)}`;
    this.#context.logger.error(message);
    return { status: 'failed', message };
  }
}
