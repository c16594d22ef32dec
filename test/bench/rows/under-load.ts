// Zero-downtime rows: a worker swap (reload, upgrade, pm2 update) triggered while the load client
// runs keep-alive and Connection: close loops at once, every failed request counted; the swap's
// duration is from the trigger until every old worker is gone and the pool is back to size. Runs in
// the bench process.

import { performance } from 'node:perf_hooks';
import { runLoad, type LoadResult } from '../../helpers/load-client.js';
import { isAlive, sleep } from '../../helpers/processes.js';
import type { Contender } from '../contenders/contender.js';
import { round } from '../quiet-machine.js';
import { median, sum } from '../statistics.js';

export interface SwapTrigger {
  /** What the row calls it: "kill -HUP", "appctl reload", "pm2 reload". */
  readonly name: string;
  /** Starts the swap; resolves when the command that started it returned (a signal returns at once). */
  readonly start: () => Promise<{ commandMs: number | null; failure: string | null }>;
  /** How many workers the pool has once the swap is over. */
  readonly workers: number;
}

export interface SwapMeasurement {
  readonly trigger: string;
  readonly swaps: number;
  readonly ok: number;
  readonly failed: number;
  readonly errors: Readonly<Record<string, number>>;
  readonly samples: readonly string[];
  /** Trigger to the last old worker gone, per swap, in seconds. */
  readonly durationsSeconds: readonly number[];
  readonly medianDurationSeconds: number;
  /** How long the triggering command itself took (pm2 reload, appctl reload), per swap. */
  readonly commandSeconds: readonly (number | null)[];
  /** A trigger that failed (e.g. "not available in this build yet"), with its message. */
  readonly failure: string | null;
}

export interface UnderLoadSettings {
  /** Load loops per mode (keep-alive and close run together). */
  readonly concurrencyPerMode: number;
  readonly swaps: number;
  /** Load before the first swap and after each one. */
  readonly settleMs: number;
  /** Longest one swap may take before the row gives up on it. */
  readonly swapTimeoutMs: number;
}

function merge(results: readonly LoadResult[]): Pick<SwapMeasurement, 'ok' | 'failed' | 'errors' | 'samples'> {
  const errors: Record<string, number> = {};
  for (const result of results) for (const [code, count] of Object.entries(result.errors)) errors[code] = (errors[code] ?? 0) + count;
  return {
    ok: sum(results.map((result) => result.ok)),
    failed: sum(results.map((result) => result.failed)),
    errors,
    samples: results.flatMap((result) => result.samples),
  };
}

export async function measureSwapsUnderLoad(
  contender: Contender,
  trigger: SwapTrigger,
  settings: UnderLoadSettings,
  log: (line: string) => void,
): Promise<SwapMeasurement> {
  const stop = new AbortController();
  const load = (mode: 'keep-alive' | 'close'): Promise<LoadResult> =>
    runLoad({
      url: contender.url,
      mode,
      concurrency: settings.concurrencyPerMode,
      durationMs: settings.swaps * settings.swapTimeoutMs + 10_000,
      signal: stop.signal,
      timeoutMs: 10_000,
    });
  const loads = Promise.all([load('keep-alive'), load('close')]);
  const durations: number[] = [];
  const commandSeconds: (number | null)[] = [];
  let failure: string | null = null;
  try {
    await sleep(settings.settleMs);
    for (let swap = 0; swap < settings.swaps && failure === null; swap += 1) {
      const oldWorkers = contender.workerPids();
      const startedAt = performance.now();
      const started = trigger.start();
      let abandoned = false;
      // Resolves with an Error rather than rejecting: it runs while we await the command, unobserved.
      const swapped = (async (): Promise<number | Error> => {
        const deadline = startedAt + settings.swapTimeoutMs;
        while (!abandoned) {
          if (!oldWorkers.some(isAlive) && contender.workerPids().length >= trigger.workers) return performance.now() - startedAt;
          if (performance.now() > deadline)
            return new Error(`${trigger.name} did not replace workers ${oldWorkers.join(',')} within ${settings.swapTimeoutMs} ms`);
          await sleep(5);
        }
        return Number.NaN;
      })();
      const command = await started;
      if (command.failure !== null) {
        // Nothing will be replaced: the trigger failed, and its message is the row's result.
        abandoned = true;
        failure = command.failure;
        await swapped;
        break;
      }
      const elapsedMs = await swapped;
      if (elapsedMs instanceof Error) throw elapsedMs;
      durations.push(round(elapsedMs / 1000, 3));
      commandSeconds.push(command.commandMs === null ? null : round(command.commandMs / 1000, 3));
      await sleep(settings.settleMs);
    }
  } finally {
    stop.abort();
  }
  const merged = merge(await loads);
  const codes = Object.entries(merged.errors)
    .map(([code, count]) => `${code} ${count}`)
    .join(', ');
  log(
    `${trigger.name}: ${failure ?? `${durations.length} swaps, ${merged.ok} ok, ${merged.failed} failed${codes ? ` (${codes})` : ''}, durations ${durations.join(', ')} s`}`,
  );
  return {
    trigger: trigger.name,
    swaps: durations.length,
    ...merged,
    durationsSeconds: durations,
    medianDurationSeconds: round(median(durations), 3),
    commandSeconds,
    failure,
  };
}
