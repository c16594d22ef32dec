// The reload and upgrade rows: which swaps run against which contender (appd by HUP and by appctl,
// pm2 reload, Gunicorn HUP, appctl upgrade, pm2 update), each under keep-alive + close load. Runs in
// the bench process.

import type { AppdContender } from '../contenders/appd.js';
import type { Contender } from '../contenders/contender.js';
import type { GunicornContender } from '../contenders/gunicorn.js';
import { PM2_APP_NAME, type Pm2Contender } from '../contenders/pm2.js';
import type { QuietGate } from '../quiet-machine.js';
import { lastLine, type CommandResult } from '../run-command.js';
import type { BenchSettings } from '../settings.js';
import { measureSwapsUnderLoad, type SwapMeasurement, type SwapTrigger } from './under-load.js';

export interface SwapContext {
  readonly appd: AppdContender | null;
  readonly pm2: Pm2Contender | null;
  readonly gunicorn: GunicornContender | null;
  readonly settings: BenchSettings;
  readonly gate: QuietGate;
  readonly section: <T>(name: string, work: () => Promise<T>) => Promise<T | null>;
  readonly log: (line: string) => void;
  readonly notes: Record<string, string>;
  /** Why appctl cannot be used, or null when it is on main. */
  readonly appctlMissing: string | null;
}

function signalTrigger(name: string, send: () => void, workers: number): SwapTrigger {
  return {
    name,
    workers,
    start: async () => {
      send();
      return { commandMs: null, failure: null };
    },
  };
}

/** A command that performs the swap; its exit status decides whether the row has a number or a reason. */
function commandTrigger(
  name: string,
  run: () => Promise<CommandResult>,
  workers: number,
  after: () => void = () => undefined,
): SwapTrigger {
  return {
    name,
    workers,
    start: async () => {
      const result = await run();
      after();
      const failure = result.code === 0 ? null : `${name}: ${lastLine(result)}`;
      return {
        commandMs: result.wallMs,
        failure: failure && /not available|unknown command/i.test(failure) ? `not available yet: ${failure}` : failure,
      };
    },
  };
}

export async function measureSwaps(context: SwapContext): Promise<Record<string, SwapMeasurement>> {
  const { appd, pm2, gunicorn, settings } = context;
  const workers = settings.workers;
  const swaps: Record<string, SwapMeasurement> = {};
  const underLoad = { concurrencyPerMode: 8, swaps: settings.swaps, settleMs: 700, swapTimeoutMs: 30_000 };
  const measure = async (row: string, contender: Contender | null, trigger: () => SwapTrigger, count = settings.swaps): Promise<void> => {
    if (contender === null) return;
    const measured = await context.section(row, async () => {
      await context.gate.wait();
      return measureSwapsUnderLoad(contender, trigger(), { ...underLoad, swaps: count }, context.log);
    });
    if (measured) swaps[row] = measured;
  };

  await measure('appd HUP', appd, () => signalTrigger('kill -HUP (appd)', () => appd?.signal('SIGHUP'), workers));
  if (context.appctlMissing === null) {
    await measure('appd appctl reload', appd, () =>
      commandTrigger('appctl reload', () => (appd as AppdContender).appctl(['reload'], 120_000), workers),
    );
  } else if (appd) {
    context.notes['appd appctl reload'] = context.appctlMissing;
  }
  await measure('pm2 reload', pm2, () =>
    commandTrigger(
      'pm2 reload',
      () => (pm2 as Pm2Contender).pm2(['reload', PM2_APP_NAME], 120_000),
      workers,
      () => pm2?.remember(),
    ),
  );
  await measure('gunicorn HUP', gunicorn, () => signalTrigger('kill -HUP (Gunicorn)', () => gunicorn?.signal('SIGHUP'), workers));

  // One upgrade each: pm2 update replaces the whole daemon and every app, appctl upgrade the master.
  if (context.appctlMissing === null) {
    await measure(
      'appd appctl upgrade',
      appd,
      () => commandTrigger('appctl upgrade', () => (appd as AppdContender).appctl(['upgrade'], 120_000), workers),
      1,
    );
  } else if (appd) {
    context.notes['appd appctl upgrade'] = context.appctlMissing;
  }
  await measure(
    'pm2 update',
    pm2,
    () =>
      commandTrigger(
        'pm2 update',
        () => (pm2 as Pm2Contender).pm2(['update'], 120_000),
        workers,
        () => pm2?.remember(),
      ),
    1,
  );
  return swaps;
}
