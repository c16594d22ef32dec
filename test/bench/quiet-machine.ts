// Noise control on a shared 2-core machine: before each measurement, wait (bounded) for the 1-minute
// load to drop below a limit or the machine to sit idle; during it, measure how much CPU processes other than ours used. Runs in
// the bench process.

import { performance } from 'node:perf_hooks';
import { sleep } from '../helpers/processes.js';
import { cpuSeconds, loadAverage, machineBusySeconds, ownAndReapedChildrenCpuSeconds } from './proc-usage.js';

export interface QuietSettings {
  /** Wait while the 1-minute load average is at or above this... */
  readonly loadLimit: number;
  /** ...unless the whole machine used less than this many cores in each of the last two seconds. */
  readonly idleCores: number;
  /** Longest wait before one measurement. */
  readonly maxWaitMs: number;
  /** Longest total waiting over the whole run; after that measurements start at once. */
  readonly totalWaitBudgetMs: number;
}

export interface GateRecord {
  readonly loadBefore: number;
  /** Cores the machine used in the last second before the measurement started. */
  readonly busyCoresBefore: number;
  readonly waitedMs: number;
  /** The machine was still busy when the wait ended. */
  readonly proceededLoaded: boolean;
}

const SAMPLE_MS = 1000;

/**
 * Waits (bounded) for a quiet machine before a measurement. The 1-minute load average trails a burst by
 * minutes, so a machine that has been idle for two full seconds counts as quiet too.
 */
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
    const idleSeconds: boolean[] = [];
    let load = loadAverage();
    let busy = await busyCores(Math.min(SAMPLE_MS, 200));
    const quiet = (): boolean => load < this.#settings.loadLimit || (idleSeconds.length >= 2 && idleSeconds.slice(-2).every(Boolean));
    while (!quiet() && performance.now() < deadline) {
      busy = await busyCores(SAMPLE_MS);
      idleSeconds.push(busy < this.#settings.idleCores);
      load = loadAverage();
    }
    const waitedMs = performance.now() - startedAt;
    this.#waitedTotalMs += waitedMs;
    return { loadBefore: load, busyCoresBefore: round(busy, 2), waitedMs: Math.round(waitedMs), proceededLoaded: !quiet() };
  }
}

async function busyCores(windowMs: number): Promise<number> {
  const before = machineBusySeconds();
  const startedAt = performance.now();
  await sleep(windowMs);
  return (machineBusySeconds() - before) / ((performance.now() - startedAt) / 1000);
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
