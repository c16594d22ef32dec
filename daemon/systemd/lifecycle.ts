// Turns the arbiter's milestones into sd_notify messages: READY=1 once the first generation is ready,
// RELOADING=1/READY=1 around reloads, STOPPING=1, STATUS= with workers, WATCHDOG=1. Run by the appd master.

import type { Arbiter } from '../arbiter/arbiter.js';
import type { LifecycleObserver } from '../arbiter/options.js';
import { monotonicMicroseconds, type SystemdNotifier } from './notify.js';

/** What STATUS= shows: ready/target workers and the generation, per pool. */
export function describeWorkers(arbiter: Arbiter): string {
  const { supervisor } = arbiter;
  const pools = [...supervisor.pools.values()];
  const parts = pools.map((pool) => {
    if (arbiter.phase === 'stopping') return `stopping, ${supervisor.workersOf(pool.name).length} worker(s) left`;
    if (pool.rollout) {
      const fresh = supervisor.workersOf(pool.name).filter((worker) => worker.state === 'ready' && worker.generation === pool.generation && worker.slot < pool.desired);
      return `reloading to generation ${pool.generation}: ${fresh.length}/${pool.desired} new workers ready`;
    }
    const counts = `${supervisor.readyCount(pool)}/${pool.desired} workers ready`;
    return arbiter.phase === 'booting' ? `starting: ${counts}` : `${counts}, generation ${pool.generation}`;
  });
  if (pools.length === 1) return parts[0] ?? '';
  return pools.map((pool, index) => `${pool.name}: ${parts[index] ?? ''}`).join('; ');
}

/**
 * Gunicorn sends READY=1 before any worker exists and nothing after; Puma's first watchdog ping comes
 * one interval after READY and gets it killed during hot restarts. appd reports readiness only when
 * the first generation serves, pings the watchdog with READY and then from the arbiter loop itself (a
 * wedged loop stops the pings, which is the point), and brackets every reload.
 */
export class SystemdLifecycle implements LifecycleObserver {
  readonly #notifier: SystemdNotifier;
  readonly #now: () => number;
  /** A successor master (upgrade): its READY=1 carries MAINPID=, and it says nothing before. */
  readonly #successor: boolean;
  #readySent = false;
  /** Upgraded away: the successor is the service's main process now; this old master keeps quiet. */
  #silent = false;
  /** Reloads started and not finished: a HUP during a reload starts a second one that supersedes it. */
  #reloadsInProgress = 0;
  #stopping = false;
  #lastStatus = '';
  #lastPingAt = 0;

  constructor(notifier: SystemdNotifier, now: () => number = Date.now, options: { readonly successor?: boolean } = {}) {
    this.#notifier = notifier;
    this.#now = now;
    this.#successor = options.successor ?? false;
  }

  ready(summary: string): void {
    if (this.#readySent) return;
    this.#readySent = true;
    this.#lastPingAt = this.#now();
    this.#lastStatus = summary;
    // MAINPID= first: systemd must follow this process before the old master exits (NotifyAccess=all
    // lets a process that is not the main one say so).
    const mainPid = this.#successor ? { MAINPID: process.pid } : {};
    this.#notifier.send({ ...mainPid, READY: 1, STATUS: summary, ...(this.#notifier.watchdogMicroseconds !== null ? { WATCHDOG: 1 } : {}) });
  }

  /** The successor took over: from now on it speaks for the service (a STOPPING=1 from us would stop the unit). */
  handedOver(): void {
    this.#silent = true;
  }

  /** The successor died after taking over (a manual upgrade rolled back): this master is the main process again. */
  tookBack(): void {
    this.#silent = false;
    this.#lastPingAt = this.#now();
    this.#notifier.send({ MAINPID: process.pid, READY: 1, STATUS: this.#lastStatus, ...(this.#notifier.watchdogMicroseconds !== null ? { WATCHDOG: 1 } : {}) });
  }

  reloading(): void {
    // A HUP before the first READY changes nothing systemd knows about: it is still starting.
    if (!this.#readySent || this.#stopping || this.#silent) return;
    this.#reloadsInProgress += 1;
    this.#lastStatus = 'reloading';
    this.#notifier.send({ RELOADING: 1, MONOTONIC_USEC: monotonicMicroseconds(), STATUS: this.#lastStatus });
  }

  /** Called once per reload that reloading() announced, when it completed, failed or rolled back. */
  reloaded(): void {
    if (this.#reloadsInProgress === 0 || this.#stopping || this.#silent) return;
    this.#reloadsInProgress -= 1;
    if (this.#reloadsInProgress > 0) return;
    this.#lastStatus = 'reloaded';
    this.#notifier.send({ READY: 1, STATUS: this.#lastStatus });
  }

  stopping(): void {
    if (this.#stopping || this.#silent) return;
    this.#stopping = true;
    this.#lastStatus = 'stopping';
    this.#notifier.send({ STOPPING: 1, STATUS: this.#lastStatus });
  }

  /** Called after every pass of the arbiter loop (at least every 200 ms). */
  looped(arbiter: Arbiter): void {
    // A successor's "starting: 1/4" would read as the service's status while the old master serves it.
    if (this.#silent || (this.#successor && !this.#readySent)) return;
    const interval = this.#notifier.watchdogIntervalMs;
    const now = this.#now();
    if (interval !== null && now - this.#lastPingAt >= interval) {
      this.#lastPingAt = now;
      this.#notifier.send({ WATCHDOG: 1 });
    }
    const status = describeWorkers(arbiter);
    if (status !== this.#lastStatus) {
      this.#lastStatus = status;
      this.#notifier.send({ STATUS: status });
    }
  }
}

/** Several observers as one (the --daemon parent and systemd may both listen). */
export function combineObservers(...observers: readonly (LifecycleObserver | null)[]): LifecycleObserver {
  const present = observers.filter((observer): observer is LifecycleObserver => observer !== null);
  return {
    ready: (summary) => present.forEach((observer) => observer.ready?.(summary)),
    reloading: () => present.forEach((observer) => observer.reloading?.()),
    reloaded: () => present.forEach((observer) => observer.reloaded?.()),
    stopping: () => present.forEach((observer) => observer.stopping?.()),
    looped: (arbiter) => present.forEach((observer) => observer.looped?.(arbiter)),
  };
}
