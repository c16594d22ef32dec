// THE settings table: every setting of appd, declared once, in documentation order.
// Flags, config keys, APPD_CMD_ARGS, --print-config and man/appd.8 all derive from this list.

import type { AnySetting, ConfigOf } from './define.js';
import { HOOK_SETTINGS } from './table-hooks.js';
import { POOL_POLICY_SETTINGS, POOLS_SETTING } from './table-pools.js';
import { PROCESS_SETTINGS } from './table-process.js';
import { CONFIG_AND_WORKER_SETTINGS } from './table-workers.js';
import { OBSERVABILITY_SETTINGS } from './table-observability.js';

export const SETTINGS = [
  ...CONFIG_AND_WORKER_SETTINGS,
  ...PROCESS_SETTINGS,
  ...OBSERVABILITY_SETTINGS,
  ...POOL_POLICY_SETTINGS,
  POOLS_SETTING,
  ...HOOK_SETTINGS,
] as const;

export type SettingKey = (typeof SETTINGS)[number]['key'];

/** The fully resolved configuration: one typed property per setting. */
export type Config = ConfigOf<typeof SETTINGS>;

const BY_KEY = new Map<string, AnySetting>(SETTINGS.map((setting) => [setting.key, setting]));

export function findSetting(key: string): AnySetting | undefined {
  return BY_KEY.get(key);
}
