// Renders `appd --print-config` and the rows of `appctl config`: every setting, its effective value and
// where the value came from. Run by the appd master (before it starts, and on request).

import { describeSource, type ResolvedConfig } from '../../shared/config/resolve.js';
import type { SettingStatus } from '../../shared/control/status.js';
import type { AnySetting } from '../../shared/settings/define.js';
import { findSetting, SETTINGS, type SettingKey } from '../../shared/settings/table.js';
import { autoWorkerCount } from '../container/cpu-limit.js';
import { poolSettingsFromConfig } from '../pools/pool.js';

/** A value as JSON: numbers, booleans, strings, lists and objects as themselves, an address as its text, a hook as its description. */
function jsonValue(setting: AnySetting, value: unknown): unknown {
  if (value === null || typeof value === 'number' || typeof value === 'boolean' || typeof value === 'string') return value;
  if (typeof value === 'function') return setting.kind.format(value as never);
  if (Array.isArray(value)) return value.map((item: unknown) => jsonValue(setting, item));
  if (typeof value === 'object') {
    // A bind address is shown as written (127.0.0.1:8000, unix:/run/web.sock), as on the command line.
    if ('text' in value && 'kind' in value && typeof value.text === 'string') return value.text;
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, jsonValue(findSetting(key) ?? setting, item)]));
  }
  return String(value);
}

function row(setting: AnySetting, key: string, value: unknown, source: string, newer?: unknown): SettingStatus {
  const text = setting.kind.format(value as never);
  const shown: SettingStatus = { key, value: text, json: jsonValue(setting, value), source };
  if (newer === undefined) return shown;
  const newerText = setting.kind.format(newer as never);
  return newerText === text ? shown : { ...shown, pending: newerText, pendingJson: jsonValue(setting, newer) };
}

/** The settings a pool may have of its own (pools.NAME.KEY), in table order. */
const POOL_SETTINGS = SETTINGS.filter((setting) => setting.perPool === true || setting.poolOnly === true);
const PROGRAM_KEYS = new Set(['app', 'script', 'command']);
/** What every pool row set shows, even when inherited: what runs, where it listens, how many. */
const ALWAYS_SHOWN = new Set(['workers']);

/** Values the machine decides at start: what they came to and why, after the source. */
const COMPUTED: { readonly [Key in SettingKey]?: (value: unknown) => string | null } = {
  workers: (value) => (value === 'auto' ? `auto = ${autoWorkerCount().explanation}` : null),
};

/** The source, and for a computed value ("auto") what it came to. */
function explained(key: string, value: unknown, source: string): string {
  const note = COMPUTED[key as SettingKey]?.(value) ?? null;
  return note === null ? source : `${source}; ${note}`;
}

/**
 * Each pool's effective settings as rows "pools.NAME.KEY": its program, bind and workers, its own
 * values (from the pools setting's source), and the global values it inherits that are not defaults
 * (with their source). A default a pool inherits is the global row's value: not repeated per pool.
 */
function poolRows(resolved: ResolvedConfig): SettingStatus[] {
  const pools = resolved.values.pools;
  if (pools === null) return [];
  const poolsSource = describeSource(resolved.sources.pools);
  return poolSettingsFromConfig(resolved.values).flatMap((pool) => {
    const overrides = pools[pool.name] ?? {};
    return POOL_SETTINGS.flatMap((setting) => {
      const own = setting.key in overrides;
      // With pools the global bind is not inherited: a pool without one listens nowhere (a plain command pool).
      if (setting.key === 'bind' && !own) return [];
      const value = own ? overrides[setting.key] : resolved.values[setting.key];
      if (PROGRAM_KEYS.has(setting.key) && (value === null || value === undefined)) return [];
      const inheritedDefault = !own && resolved.sources[setting.key].kind === 'default';
      if (inheritedDefault && !ALWAYS_SHOWN.has(setting.key) && !PROGRAM_KEYS.has(setting.key)) return [];
      const source = own ? `${poolsSource}, pools.${pool.name}` : describeSource(resolved.sources[setting.key]);
      return [row(setting, `pools.${pool.name}.${setting.key}`, value, explained(setting.key, value, source))];
    });
  });
}

/**
 * One row per setting, and with pools one per pool setting (pools.NAME.KEY) after the pools row.
 * `running` is the configuration in use (after reloads); a restart-only setting keeps the value the
 * master started with, and the newer one is shown as pending.
 */
export function settingRows(started: ResolvedConfig, running: ResolvedConfig = started): SettingStatus[] {
  return SETTINGS.flatMap((setting) => {
    const effective = setting.reload === 'restart' ? started : running;
    const main = row(
      setting,
      setting.key,
      effective.values[setting.key],
      explained(setting.key, effective.values[setting.key], describeSource(effective.sources[setting.key])),
      running.values[setting.key],
    );
    return setting.key === 'pools' ? [main, ...poolRows(running)] : [main];
  });
}

export function renderConfig(resolved: ResolvedConfig): string {
  const rows = settingRows(resolved).map((row) => [row.key, row.value, row.source] as const);
  const keyWidth = Math.max(...rows.map(([key]) => key.length));
  const valueWidth = Math.min(48, Math.max(...rows.map(([, value]) => value.length)));
  return rows.map(([key, value, source]) => `${key.padEnd(keyWidth)} = ${value.padEnd(valueWidth)}  # ${source}`).join('\n') + '\n';
}
