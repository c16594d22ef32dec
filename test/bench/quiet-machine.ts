// Noise control on a shared 2-core machine: before each measurement, wait (bounded) for the 1-minute
// load to drop below a limit; during it, measure how much CPU processes other than ours used. Runs in
// the bench process.

import { performance } from 'node:perf_hooks';
import { sleep } from '../helpers/processes.js';
import { cpuSeconds, loadAverage, machineBusySeconds, ownAndReapedChildrenCpuSeconds } from './proc-usage.js';

export interface QuietSettings {
  /** Wait while the 1-minute load average is at or above this. */
  readonly loadLimit: number;
  /** Longest wait before one measurement. */
  readonly maxWaitMs: number;
  /** Longest total waiting over the whole run; after that measurements start at once. */
  readonly totalWaitBudgetMs: number;
}

export interface GateRecord {
  readonly loadBefore: number;
  readonly waitedMs: number;
  /** The load was still at or above the limit when the wait ended. */
  readonly proceededLoaded: boolean;
}

export class QuietGate {
  readonly #settings: QuietSettings;
  #waitedTotalMs = 0;

  constructor(settings: QuietSettings) {
    this.#settings = settings;
  }

  get waitedTotalMs(): number {
    return this.#waitedTotalMs;
  }

  async wait(): Promise<GateRecord> {
    const startedAt = performance.now();
    const budgetLeft = Math.max(0, this.#settings.totalWaitBudgetMs - this.#waitedTotalMs);
    const deadline = startedAt + Math.min(this.#settings.maxWaitMs, budgetLeft);
    let load = loadAverage();
    while (load >= this.#settings.loadLimit && performance.now() < deadline) {
      await sleep(500);
      load = loadAverage();
    }
    const waitedMs = performance.now() - startedAt;
    this.#waitedTotalMs += waitedMs;
    return { loadBefore: load, waitedMs: Math.round(waitedMs), proceededLoaded: load >= this.#settings.loadLimit };
  }
}

export interface NoiseRecord {
  readonly wallSeconds: number;
  /** CPU the whole machine used, in cores (2 = both cores busy the whole time). */
  readonly machineCores: number;
  /** CPU used by processes that are not the bench's, in cores: the noise. */
  readonly foreignCores: number;
}

/**
 * Measures around one measurement. `ourPids` lists the live processes the bench started that are not its
 * children (workers, daemons); the bench's own CPU and that of children it reaped (wrk) come from /proc/self.
 */
export class NoiseWindow {
  readonly #ourPids: () => readonly number[];
  readonly #startedAt = performance.now();
  readonly #machineBefore = machineBusySeconds();
  readonly #selfBefore = ownAndReapedChildrenCpuSeconds();
  readonly #pidsBefore: ReadonlyMap<number, number>;

  constructor(ourPids: () => readonly number[]) {
    this.#ourPids = ourPids;
    this.#pidsBefore = new Map(ourPids().map((pid) => [pid, cpuSeconds(pid)]));
  }

  close(): NoiseRecord {
    const wallSeconds = (performance.now() - this.#startedAt) / 1000;
    const machine = machineBusySeconds() - this.#machineBefore;
    let ours = ownAndReapedChildrenCpuSeconds() - this.#selfBefore;
    // A process born during the window counts whole; one that died in it is lost (counted as foreign).
    for (const pid of new Set([...this.#pidsBefore.keys(), ...this.#ourPids()])) {
      const now = cpuSeconds(pid);
      if (now > 0) ours += now - (this.#pidsBefore.get(pid) ?? 0);
    }
    return {
      wallSeconds: round(wallSeconds, 2),
      machineCores: round(machine / wallSeconds, 2),
      foreignCores: round(Math.max(0, machine - ours) / wallSeconds, 2),
    };
  }
}

export function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}
