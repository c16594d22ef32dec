// Applies a configuration read again on reload (HUP, appctl reload): live settings at once, worker
// settings through a rolling new generation, restart-only settings with a warning. Run by the appd master.

import { describeSource, type ResolvedConfig } from '../../shared/config/resolve.js';
import { ConfigError } from '../../shared/errors.js';
import { SETTINGS } from '../../shared/settings/table.js';
import { openPlannedListeners, planListeners, type ListenerPlan } from '../sockets/plan.js';
import { closeListeners, describeListener, type Listener } from '../sockets/listeners.js';
import type { Logger } from '../master/logger.js';
import { checkCommandRunnable, Pool, poolSettingsFromConfig, type Rollout } from '../pools/pool.js';
import type { Supervisor } from '../workers/supervisor.js';
import { countOf } from '../../shared/plural.js';

interface ReloadContext {
  readonly previous: ResolvedConfig;
  readonly next: ResolvedConfig;
  /** Reload only this pool (appctl reload POOL); null for all. */
  readonly onlyPool: string | null;
  /** Tells whoever asked for the reload what happens. */
  readonly progress: (text: string) => void;
  readonly supervisor: Supervisor;
  readonly logger: Logger;
  readonly now: number;
}

/**
 * Throws (and changes nothing) if the new configuration cannot be applied. Returns the rollouts of
 * the pools whose workers roll to a new generation: the reload's outcome is theirs.
 */
function applyReloadedConfig({ previous, next, onlyPool, progress, supervisor, logger, now }: ReloadContext): Rollout[] {
  const poolSettings = poolSettingsFromConfig(next.values).filter((settings) => onlyPool === null || settings.name === onlyPool);
  if (onlyPool !== null && poolSettings.length === 0) throw new ConfigError(`pool ${onlyPool} is no longer in the configuration`);
  for (const settings of poolSettings) {
    supervisor.setIdentity(settings);
    checkCommandRunnable(settings);
  }
  if (next.values.errorLogfile !== previous.values.errorLogfile) logger.switchTo(next.values.errorLogfile ?? '-');
  logger.setLevel(next.values.logLevel);
  logger.setFormat(next.values.logFormat);
  warnAboutRestartOnlySettings(previous, next, logger);

  const rolled: Rollout[] = [];
  for (const settings of poolSettings) {
    const pool = supervisor.pools.get(settings.name);
    if (!pool) {
      supervisor.pools.set(settings.name, new Pool(settings));
      logger.info(`pool ${settings.name}: added with ${countOf(settings.workers, 'worker')}`);
      continue;
    }
    rolled.push(pool.startRollout(settings, now, 'reload'));
    const batch = settings.reloadBatch > 1 ? `, ${settings.reloadBatch} at a time` : '';
    const what = `pool ${pool.name}: rolling ${countOf(pool.desired, 'worker')} to generation ${pool.generation}${batch}`;
    logger.info(what);
    progress(what);
  }
  if (onlyPool === null) {
    for (const pool of supervisor.pools.values()) {
      if (poolSettings.some((settings) => settings.name === pool.name) || pool.removed) continue;
      pool.remove();
      logger.info(`pool ${pool.name}: removed from the configuration; stopping its workers`);
    }
  }
  return rolled;
}

function warnAboutRestartOnlySettings(previous: ResolvedConfig, next: ResolvedConfig, logger: Logger): void {
  for (const setting of SETTINGS) {
    if (setting.reload !== 'restart') continue;
    const before = setting.kind.format(previous.values[setting.key] as never);
    const after = setting.kind.format(next.values[setting.key] as never);
    if (before !== after) {
      logger.warning(
        `${setting.key} changed to ${after} (${describeSource(next.sources[setting.key])}) but only a new master applies it: run appctl upgrade (USR2) or restart`,
      );
    }
  }
}

/** A reload's configuration, read and with its new addresses bound (off the arbiter loop). */
export interface ReadForReload {
  readonly config: ResolvedConfig;
  readonly plan: ListenerPlan;
  readonly opened: readonly Listener[];
}

/**
 * Under `node --expose-gc` only (tests and leak hunts; see README "Fault injection"): the master's heap
 * after a full collection, written to stderr as each reload starts, so what reloads retain can be
 * measured from outside. Not a log line: the log's own ring of recent lines would be measured with it.
 * Without the flag it costs one typeof.
 */
function reportHeapAfterCollection(): void {
  const collect = (globalThis as { gc?: unknown }).gc;
  if (typeof collect !== 'function') return;
  collect();
  // External memory too: Buffers (a socket's unsent frames, read chunks) live outside the V8 heap.
  const { heapUsed, external } = process.memoryUsage();
  process.stderr.write(`appd: heap after GC: ${heapUsed} bytes, external ${external} bytes (node --expose-gc)\n`);
}

/** Off the loop: read every config layer again and bind any new address, so applying it cannot block. */
export async function readForReload(readConfig: () => Promise<ResolvedConfig>, listeners: readonly Listener[]): Promise<ReadForReload> {
  reportHeapAfterCollection();
  const config = await readConfig();
  const plan = planListeners(listeners, config);
  return { config, plan, opened: await openPlannedListeners(plan, config) };
}

export interface ReloadApplication {
  readonly previous: ResolvedConfig;
  readonly read: ReadForReload;
  /** The master's sockets before the reload. */
  readonly listeners: readonly Listener[];
  readonly onlyPool: string | null;
  readonly progress: (text: string) => void;
  readonly supervisor: Supervisor;
  readonly logger: Logger;
  readonly now: number;
}

/**
 * Applies a read configuration: the master's sockets become the kept plus the new ones (the unused are
 * closed), pools are rolled, added or removed. If anything fails, the new sockets are closed again and
 * the error thrown, with nothing changed. Returns the sockets now held and the pools rolling.
 */
export function applyReload(application: ReloadApplication): { listeners: Listener[]; rolled: Rollout[] } {
  const { read, logger } = application;
  let rolled: Rollout[];
  try {
    rolled = applyReloadedConfig({ ...application, next: read.config });
  } catch (error) {
    closeListeners(read.opened);
    throw error;
  }
  for (const listener of read.opened) logger.info(`Listening at: ${describeListener(listener, 'bound on reload')}`);
  for (const listener of read.plan.close) logger.info(`Closed ${listener.url}: no pool binds it any more`);
  closeListeners(read.plan.close);
  return { listeners: [...read.plan.keep, ...read.opened], rolled };
}
