// The feature rows: what a worker's request costs with a feature switched on (the access log) and with
// every timeout switched off, against appd with default settings in the same interleaved rounds (the
// default has its timeouts on: their cost is the default's excess over the second). Runs in the bench process.

import { join } from 'node:path';
import { AppdContender } from '../contenders/appd.js';
import type { QuietGate } from '../quiet-machine.js';
import {
  MODES,
  measureRun,
  summarize,
  warmUp,
  withOwnPids,
  type ThroughputRun,
  type ThroughputSettings,
  type ThroughputSummary,
} from './throughput.js';
import type { ConnectionMode } from '../wrk.js';

export interface FeatureSettings extends ThroughputSettings {
  readonly scratch: string;
  readonly workers: number;
  readonly extraArgs: readonly string[];
}

export const FEATURE_VARIANTS = ['default', 'access log', 'timeouts off'] as const;
export type FeatureVariant = (typeof FEATURE_VARIANTS)[number];

/** What each variant adds to the bench's appd flags, and how a row describes it. */
export const FEATURE_FLAGS: Record<FeatureVariant, (scratch: string) => readonly string[]> = {
  default: () => [],
  'access log': (scratch) => ['--access-logfile', join(scratch, 'features-access.log')],
  'timeouts off': () => ['--timeout', '0', '--no-timeout-stack', '--headers-timeout', '0', '--request-timeout', '0'],
};

export type FeatureMeasurement = Record<FeatureVariant, Partial<Record<ConnectionMode, ThroughputSummary>>>;

export async function measureFeatures(
  settings: FeatureSettings,
  gate: QuietGate,
  ourPids: () => readonly number[],
  log: (line: string) => void,
): Promise<FeatureMeasurement> {
  const contenders: Partial<Record<FeatureVariant, AppdContender>> = {};
  const pids = withOwnPids(ourPids, () => Object.values(contenders));
  try {
    for (const variant of FEATURE_VARIANTS) {
      contenders[variant] = await AppdContender.start({
        scratch: settings.scratch,
        workers: settings.workers,
        extraArgs: [...settings.extraArgs, ...FEATURE_FLAGS[variant](settings.scratch)],
        timeoutMs: 120_000,
      });
    }
    await warmUp(Object.values(contenders), settings);
    const runs: Record<FeatureVariant, ThroughputRun[]> = { default: [], 'access log': [], 'timeouts off': [] };
    for (let roundIndex = 0; roundIndex < settings.rounds; roundIndex += 1) {
      // The order rotates each round, so no variant always runs first (or right after a warm-up).
      const order = FEATURE_VARIANTS.map(
        (_unused, index) => FEATURE_VARIANTS[(index + roundIndex) % FEATURE_VARIANTS.length] as FeatureVariant,
      );
      for (const mode of MODES) {
        for (const variant of order) {
          const contender = contenders[variant];
          if (contender === undefined) continue;
          const run = await measureRun(contender, mode, roundIndex + 1, settings, gate, pids);
          runs[variant].push(run);
          log(
            `features round ${roundIndex + 1}, ${variant} ${mode}: ${Math.round(run.wrk.requestsPerSecond)} req/s, ` +
              `worker CPU ${run.workerCpuSeconds} s, load ${run.gate.loadBefore}, others ${run.noise.foreignCores} cores`,
          );
        }
      }
    }
    const summaries = (variant: FeatureVariant): Partial<Record<ConnectionMode, ThroughputSummary>> =>
      Object.fromEntries(
        MODES.flatMap((mode) => [[mode, summarize(runs[variant], 'appd', mode)]].filter(([, summary]) => summary !== null)),
      );
    return { default: summaries('default'), 'access log': summaries('access log'), 'timeouts off': summaries('timeouts off') };
  } finally {
    for (const contender of Object.values(contenders)) await contender?.stop();
  }
}
