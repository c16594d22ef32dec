// Turns the arbiter's milestones into sd_notify messages: READY=1 once the first generation is ready,
// RELOADING=1/READY=1 around reloads, STOPPING=1, STATUS= with workers and how the last reload ended,
// WATCHDOG=1 from the arbiter loop. Run by the appd master.

import type { Arbiter } from '../arbiter/arbiter.js';
import type { JobOutcome } from '../arbiter/events.js';
import type { LifecycleObserver } from '../arbiter/options.js';
import { monotonicMicroseconds, type NotifyFields, type SystemdNotifier } from './notify.js';
import { monotonicMilliseconds } from '../arbiter/clock.js';

/** A STATUS=-only message (workers booting, rolling) goes out at most this often: each costs a process. */
const STATUS_INTERVAL_MS = 1000;
/** How long a reload waits for systemd to have seen RELOADING=1 before it reads the config anyway. */
const RELOAD_ANNOUNCE_TIMEOUT_MS = 2000;

/** What STATUS= shows: ready/target workers and the generation, per pool. */
export function describeWorkers(arbiter: Arbiter): string {
  const { supervisor } = arbiter;
  const pools = [...supervisor.pools.values()];
  const parts = pools.map((pool) => {
    if (arbiter.phase === 'stopping') return `stopping, ${supervisor.workersOf(pool.name).length} worker(s) left`;
    if (pool.rollout) {
      const fresh = supervisor.readySlots(pool, pool.generation).size;
      return `reloading to generation ${pool.generation}: ${fresh}/${pool.desired} new workers ready`;
    }
    const counts = `${supervisor.readyCount(pool)}/${pool.desired} workers ready`;
    return arbiter.phase === 'booting' ? `starting: ${counts}` : `${counts}, generation ${pool.generation}`;
  });
  if (pools.length === 1) return parts[0] ?? '';
  return pools.map((pool, index) => `${pool.name}: ${parts[index] ?? ''}`).join('; ');
}

/** The end of a reload, for STATUS=: "completed", "rolled back: ...", "failed: ..." (a config error). */
export function describeReloadOutcome(outcome: JobOutcome): string {
  const firstLine = outcome.message.split('\n').find((line) => line.trim() !== '') ?? '';
  if (outcome.status === 'completed') return 'completed';
  if (outcome.status === 'rolled_back') return `rolled back: ${firstLine.replace(/^reload of (pool \S+) rolled back: /, '$1: ')}`;
  return `failed: ${firstLine.replace(/^reload failed, /, '')}`;
}

/**
 * Gunicorn sends READY=1 before any worker exists and nothing after; Puma's first watchdog ping comes
 * one interval after READY and gets it killed during hot restarts. appd reports readiness only when
 * the first generation serves, pings the watchdog from the arbiter loop itself (a wedged loop stops the
 * pings, which is the point) once READY=1 went out (systemd arms the watchdog at READY=1: measured with
 * systemd 252, no ping is needed during a slow start), and brackets every reload.
 *
 * What must be said in order (READY=1, RELOADING=1, the READY=1 that ends a reload, STOPPING=1, MAINPID=)
 * waits in a short queue of milestones; STATUS= and WATCHDOG=1 are state, added to whatever message goes
 * out next (notify.ts sends one at a time and asks for the next when the last is done). So every message
 * carries the status as it is when it is sent: READY=1 comes with the workers' count, RELOADING=1 with
 * "reloading", and the READY=1 after a reload with how the reload ended.
 *
 * Type=notify-reload (systemd >= 253) works by design: systemd sends SIGHUP, and every reload appd starts
 * sends its own RELOADING=1 with MONOTONIC_USEC= taken after the signal arrived, then one READY=1 when
 * the last reload in progress ended, whatever the outcome (a failed reload still leaves appd serving).
 */
export class SystemdLifecycle implements LifecycleObserver {
  readonly #notifier: SystemdNotifier;
  readonly #now: () => number;
  /** A successor master (upgrade): its READY=1 carries MAINPID=, and it says nothing before. */
  readonly #successor: boolean;
  /** Milestones not sent yet, in order; STATUS= and WATCHDOG=1 are added when one goes out. */
  readonly #milestones: NotifyFields[] = [];
  #arbiter: Arbiter | null = null;
  /** ready() was called: the first READY=1 is queued or sent. */
  #readyQueued = false;
  /** The first READY=1 went out: from now on the watchdog is pinged. */
  #readySent = false;
  /** Upgraded away: the successor is the service's main process now; this old master keeps quiet. */
  #silent = false;
  /** Reloads started and not finished: a HUP during a reload starts a second one that supersedes it. */
  #reloadsInProgress = 0;
  /** How the last reload ended, shown in STATUS= until the next one. */
  #lastReload: string | null = null;
  #stopping = false;
  #readySummary = 'starting';
  #sentStatus = '';
  #statusSentAt = Number.NEGATIVE_INFINITY;
  #lastPingAt = 0;
  #pingDue = false;

  /** `now` is a monotonic clock in ms: a wall clock set back would stop the watchdog pings. */
  constructor(notifier: SystemdNotifier, now: () => number = monotonicMilliseconds, options: { readonly successor?: boolean } = {}) {
    this.#notifier = notifier;
    this.#now = now;
    this.#successor = options.successor ?? false;
    notifier.setSource(() => this.#nextMessage());
  }

  ready(summary: string): void {
    if (this.#readyQueued) return;
    this.#readyQueued = true;
    this.#readySummary = summary;
    // MAINPID= first: systemd must follow this process before the old master exits (NotifyAccess=all
    // lets a process that is not the main one say so).
    this.#milestone(this.#successor ? { MAINPID: process.pid, READY: 1 } : { READY: 1 });
  }

  /** The successor took over: from now on it speaks for the service (a STOPPING=1 from us would stop the unit). */
  handedOver(): void {
    this.#silent = true;
    this.#milestones.length = 0;
  }

  /** The successor died after taking over (a manual upgrade rolled back): this master is the main process again. */
  tookBack(): void {
    this.#silent = false;
    this.#lastPingAt = this.#now();
    this.#milestone({ MAINPID: process.pid, READY: 1 });
  }

  reloading(): void {
    // A HUP before the first READY changes nothing systemd knows about: it is still starting.
    if (!this.#readyQueued || this.#stopping || this.#silent) return;
    this.#reloadsInProgress += 1;
    // Taken now, after the HUP arrived: Type=notify-reload wants a time after it sent the signal.
    this.#milestone({ RELOADING: 1, MONOTONIC_USEC: monotonicMicroseconds() });
  }

  /**
   * Resolves once systemd has seen what is queued (RELOADING=1 before the reload reads its config, so
   * that systemd shows the unit reloading before appd logs anything of it), or after a bounded wait.
   */
  async announced(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.#notifier.flush(), new Promise<void>((settle) => (timer = setTimeout(settle, RELOAD_ANNOUNCE_TIMEOUT_MS)))]);
    clearTimeout(timer);
  }

  /** Called once per reload that reloading() announced, when it completed, failed or rolled back. */
  reloaded(outcome: JobOutcome): void {
    if (this.#reloadsInProgress === 0 || this.#stopping || this.#silent) return;
    this.#reloadsInProgress -= 1;
    this.#lastReload = describeReloadOutcome(outcome);
    if (this.#reloadsInProgress > 0) return;
    this.#milestone({ READY: 1 });
  }

  stopping(): void {
    if (this.#stopping || this.#silent) return;
    this.#stopping = true;
    if (this.#successor && !this.#readySent) {
      // A new master that never took over is not the service: its end is the old master's business.
      this.#silent = true;
      this.#milestones.length = 0;
      return;
    }
    // A reload cut short by the stop ends with it: STOPPING=1 is the answer to a pending RELOADING=1.
    this.#milestones.splice(0, this.#milestones.length, ...this.#milestones.filter((fields) => fields.MAINPID !== undefined));
    this.#milestone({ STOPPING: 1 });
  }

  /** Called after every pass of the arbiter loop (at least every 200 ms). */
  looped(arbiter: Arbiter): void {
    this.#arbiter = arbiter;
    const interval = this.#notifier.watchdogIntervalMs;
    const now = this.#now();
    if (interval !== null && this.#readySent && now - this.#lastPingAt >= interval) {
      this.#lastPingAt = now;
      this.#pingDue = true;
    }
    this.#notifier.wake();
  }

  #milestone(fields: NotifyFields): void {
    this.#milestones.push(fields);
    this.#notifier.wake();
  }

  /** STATUS= as things are now. */
  #status(): string {
    const arbiter = this.#arbiter;
    if (this.#stopping) return arbiter ? describeWorkers(arbiter) : 'stopping';
    if (arbiter === null) return this.#readySummary;
    const rolling = [...arbiter.supervisor.pools.values()].some((pool) => pool.rollout);
    // Between RELOADING=1 and the first pool rolling, the workers' count would read as if nothing happened.
    if (this.#reloadsInProgress > 0 && !rolling) return 'reloading: reading the configuration';
    const workers = describeWorkers(arbiter);
    return this.#lastReload === null || this.#reloadsInProgress > 0 ? workers : `${workers}; last reload ${this.#lastReload}`;
  }

  /** The next message for notify.ts: the oldest milestone with the state now, or the state if it changed. */
  #nextMessage(): NotifyFields | null {
    if (this.#silent) return null;
    // A successor's "starting: 1/4" would read as the service's status while the old master serves it.
    if (this.#successor && !this.#readyQueued) return null;
    const now = this.#now();
    const milestone = this.#milestones.shift();
    if (milestone?.READY !== undefined && !this.#readySent) {
      this.#readySent = true;
      this.#lastPingAt = now;
      this.#pingDue = false;
    }
    const status = this.#status();
    const ping = this.#pingDue && this.#readySent ? { WATCHDOG: 1 as const } : {};
    if (milestone === undefined) {
      const statusDue = status !== this.#sentStatus && now - this.#statusSentAt >= STATUS_INTERVAL_MS;
      if (!statusDue && !this.#pingDue) return null;
      this.#pingDue = false;
      if (!statusDue) return ping;
      this.#sentStatus = status;
      this.#statusSentAt = now;
      return { STATUS: status, ...ping };
    }
    this.#pingDue = false;
    this.#sentStatus = status;
    this.#statusSentAt = now;
    return { ...milestone, STATUS: status, ...ping };
  }
}

/** Several observers as one (the --daemon parent and systemd may both listen). */
export function combineObservers(...observers: readonly (LifecycleObserver | null)[]): LifecycleObserver {
  const present = observers.filter((observer): observer is LifecycleObserver => observer !== null);
  return {
    ready: (summary) => present.forEach((observer) => observer.ready?.(summary)),
    reloading: () => present.forEach((observer) => observer.reloading?.()),
    reloaded: (outcome) => present.forEach((observer) => observer.reloaded?.(outcome)),
    stopping: () => present.forEach((observer) => observer.stopping?.()),
    looped: (arbiter) => present.forEach((observer) => observer.looped?.(arbiter)),
  };
}
