// Renders `appd --print-config` and the rows of `appctl config`: every setting, its effective value and
// where the value came from. Run by the appd master (before it starts, and on request).

import { describeSource, type ResolvedConfig } from '../../shared/config/resolve.js';
import type { SettingStatus } from '../../shared/control/status.js';
import { SETTINGS } from '../../shared/settings/table.js';

/**
 * One row per setting. `running` is the configuration in use (after reloads); a restart-only setting
 * keeps the value the master started with, and the newer one is shown as pending.
 */
export function settingRows(started: ResolvedConfig, running: ResolvedConfig = started): SettingStatus[] {
  return SETTINGS.map((setting) => {
    const format = (resolved: ResolvedConfig): string => setting.kind.format(resolved.values[setting.key] as never);
    const effective = setting.reload === 'restart' ? started : running;
    const row: SettingStatus = { key: setting.key, value: format(effective), source: describeSource(effective.sources[setting.key]) };
    const newer = format(running);
    return newer === row.value ? row : { ...row, pending: newer };
  });
}

export function renderConfig(resolved: ResolvedConfig): string {
  const rows = settingRows(resolved).map((row) => [row.key, row.value, row.source] as const);
  const keyWidth = Math.max(...rows.map(([key]) => key.length));
  const valueWidth = Math.min(48, Math.max(...rows.map(([, value]) => value.length)));
  return rows.map(([key, value, source]) => `${key.padEnd(keyWidth)} = ${value.padEnd(valueWidth)}  # ${source}`).join('\n') + '\n';
}
