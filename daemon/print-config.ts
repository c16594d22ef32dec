// Renders `appd --print-config`: every setting, its effective value and where the value came from.
// Run by the appd master process before it starts anything.

import { describeSource, type ResolvedConfig } from '../shared/config/resolve.js';
import { SETTINGS } from '../shared/settings/table.js';

export function renderConfig(resolved: ResolvedConfig): string {
  const rows = SETTINGS.map((setting) => {
    const value = setting.kind.format(resolved.values[setting.key] as never);
    return [setting.key, value, describeSource(resolved.sources[setting.key])] as const;
  });
  const keyWidth = Math.max(...rows.map(([key]) => key.length));
  const valueWidth = Math.min(48, Math.max(...rows.map(([, value]) => value.length)));
  return rows.map(([key, value, source]) => `${key.padEnd(keyWidth)} = ${value.padEnd(valueWidth)}  # ${source}`).join('\n') + '\n';
}
