// Applies a configuration read again on reload (HUP, appctl reload): live settings at once, worker
// settings through a rolling new generation, restart-only settings with a warning. Run by the appd master.

import { describeSource, type ResolvedConfig } from '../shared/config/resolve.js';
import { ConfigError } from '../shared/errors.js';
import { SETTINGS } from '../shared/settings/table.js';
import type { Requester } from './events.js';
import type { Logger } from './logger.js';
import { poolSettingsFromConfig } from './pool.js';
import type { Supervisor } from './supervisor.js';

export interface ReloadContext {
  readonly previous: ResolvedConfig;
  readonly next: ResolvedConfig;
  /** Reload only this pool (appctl reload POOL); null for all. */
  readonly onlyPool: string | null;
  readonly requester: Requester;
  readonly supervisor: Supervisor;
  readonly logger: Logger;
  readonly now: number;
}

/** Throws (and changes nothing) if the new configuration cannot be applied. */
export function applyReloadedConfig({ previous, next, onlyPool, requester, supervisor, logger, now }: ReloadContext): void {
  const poolSettings = poolSettingsFromConfig(next.values);
  for (const settings of poolSettings) {
    if (!supervisor.pools.has(settings.name)) throw new ConfigError(`pool ${settings.name} is new; adding pools needs a restart`);
  }
  if (next.values.errorLogfile !== previous.values.errorLogfile) logger.switchTo(next.values.errorLogfile ?? '-');
  for (const settings of poolSettings) supervisor.setIdentity(settings);

  logger.setLevel(next.values.logLevel);
  for (const setting of SETTINGS) {
    if (setting.reload !== 'restart') continue;
    const before = setting.kind.format(previous.values[setting.key] as never);
    const after = setting.kind.format(next.values[setting.key] as never);
    if (before !== after) {
      logger.warning(`${setting.key} changed to ${after} (${describeSource(next.sources[setting.key])}) but only a new master applies it: run appctl upgrade (USR2) or restart`);
    }
  }

  for (const settings of poolSettings) {
    const pool = supervisor.pools.get(settings.name);
    if (!pool || (onlyPool !== null && pool.name !== onlyPool)) continue;
    // The run-time count (TTIN/TTOU, appctl scale) survives a reload unless the setting itself changed.
    if (settings.workers !== pool.settings.workers) pool.target = settings.workers;
    pool.parked = false;
    if (pool.rollout) pool.rollout.requester.done?.({ status: 'failed', message: 'superseded by a newer reload' });
    pool.rollout = { fromGeneration: pool.generation, fromSettings: pool.settings, requester, startedAt: now };
    pool.settings = settings;
    pool.latestGeneration += 1;
    pool.generation = pool.latestGeneration;
    logger.info(`pool ${pool.name}: rolling ${pool.desired} worker(s) to generation ${pool.generation}`);
  }
}
