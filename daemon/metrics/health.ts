// The answers of /livez, /readyz and /startupz: a status code and a JSON body saying why, from the
// arbiter's state. Run by the appd master, for each probe of the admin listener.

import type { LifecycleObserver } from '../arbiter/options.js';
import type { Supervisor } from '../workers/supervisor.js';
import { monotonicMilliseconds } from '../arbiter/clock.js';

/** The arbiter's milestones the probes need, recorded from before the admin listener is bound. */
export class ProbeState {
  startedUp = false;
  /** monotonicMilliseconds() when the arbiter loop last turned. */
  lastLoopAt = monotonicMilliseconds();
  readonly observer: LifecycleObserver = {
    ready: () => {
      this.startedUp = true;
    },
    looped: () => {
      this.lastLoopAt = monotonicMilliseconds();
    },
  };
}

export interface HealthAnswer {
  readonly status: 200 | 503;
  readonly body: Readonly<Record<string, unknown>>;
}

export interface HealthSources {
  readonly supervisor: Supervisor;
  /** booting, running or stopping (from the moment a TERM, INT, QUIT or appctl stop arrived). */
  phase(): string;
  /** Whether the first generation was ever ready (an upgrade's successor: its own first generation). */
  startedUp(): boolean;
  /** Milliseconds since the arbiter loop last turned. */
  loopAgeMs(): number;
}

/** Answered by the master's own event loop: if it answers at all, the master is alive. */
export function liveness(sources: HealthSources): HealthAnswer {
  return { status: 200, body: { status: 'alive', pid: process.pid, phase: sources.phase(), loopAgeMs: Math.round(sources.loopAgeMs()) } };
}

/** Ready: not stopping, and every http pool has a ready worker (a command pool serves no requests). */
export function readiness(sources: HealthSources): HealthAnswer {
  const phase = sources.phase();
  if (phase === 'stopping') return { status: 503, body: { status: 'not ready', reason: 'the daemon is stopping' } };
  const pools: Record<string, number> = {};
  const empty: string[] = [];
  for (const pool of sources.supervisor.pools.values()) {
    if (pool.settings.kind !== 'http' || pool.removed) continue;
    const ready = sources.supervisor.readyCount(pool);
    pools[pool.name] = ready;
    if (ready === 0) empty.push(pool.name);
  }
  if (empty.length > 0)
    return { status: 503, body: { status: 'not ready', reason: `no ready worker in pool ${empty.join(', ')}`, ready: pools } };
  return { status: 200, body: { status: 'ready', ready: pools } };
}

export function startup(sources: HealthSources): HealthAnswer {
  if (sources.startedUp()) return { status: 200, body: { status: 'started' } };
  return { status: 503, body: { status: 'starting', reason: 'the first generation of workers is not ready yet', phase: sources.phase() } };
}
