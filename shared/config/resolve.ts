// Merges the config layers (default < config file < APPD_CMD_ARGS < command line) into one typed Config,
// remembering where each value came from. Run by the appd master at start and on every reload.

import { resolve } from 'node:path';
import { camelCase, kebabCase, type AnySetting, type DefaultContext } from '../settings/define.js';
import { InvalidValue } from '../settings/kinds.js';
import { findSetting, SETTINGS, type Config, type SettingKey } from '../settings/table.js';
import { ConfigError } from '../errors.js';
import { closestName } from './closest-key.js';
import { checkReusePort } from './reuse-port.js';
import { anchorFileValue, fileAnchor, type FileAnchor } from './relative-paths.js';

export type ValueSource =
  | { readonly kind: 'default' }
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'environment'; readonly variable: string }
  | { readonly kind: 'argv' };

export function describeSource(source: ValueSource): string {
  switch (source.kind) {
    case 'default':
      return 'default';
    case 'file':
      return `config file ${source.path}`;
    case 'environment':
      return source.variable;
    case 'argv':
      return 'command line';
  }
}

/** One layer of raw values, keyed by setting key, as a flag parser or config file produced them. */
export interface ConfigLayer {
  readonly source: ValueSource;
  readonly values: Readonly<Record<string, unknown>>;
}

export interface ResolvedConfig {
  readonly values: Config;
  readonly sources: Readonly<Record<SettingKey, ValueSource>>;
  /** The config file that was read, if any, so a reload reads the same one. */
  readonly configFile: string | null;
}

/** How a setting is named to the user for a given source: its flag on the command line, its key in a file. */
function settingLabel(setting: AnySetting, source: ValueSource): string {
  if (source.kind === 'argv' || source.kind === 'environment') {
    if (setting.cli === 'positional') return 'APP';
    return setting.cli === 'after-dashes' ? `the arguments after --` : `--${kebabCase(setting.key)}`;
  }
  return setting.key;
}

/**
 * Maps a config file's keys to setting keys: camelCase, kebab-case and snake_case are all accepted.
 * An unknown key is an error naming the closest known one.
 */
export function normaliseFileKeys(values: Record<string, unknown>, path: string): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  const allowed = SETTINGS.filter((setting) => setting.cli !== 'cli-only').map((setting) => setting.key as string);
  for (const [rawKey, value] of Object.entries(values)) {
    const key = camelCase(rawKey);
    const setting = findSetting(key);
    if (setting?.poolOnly) {
      throw new ConfigError(`config file ${path}: "${rawKey}" is set per pool: write it as pools.NAME.${key}`);
    }
    if (!setting || setting.cli === 'cli-only') {
      const suggestion = closestName(key, allowed);
      const hint = suggestion ? `; did you mean "${suggestion}"?` : '';
      const why = setting ? ' (it is a command-line option only)' : '';
      throw new ConfigError(`config file ${path}: unknown setting "${rawKey}"${why}${hint}`);
    }
    if (key in result) throw new ConfigError(`config file ${path}: setting "${key}" is given twice (as "${rawKey}")`);
    result[key] = value;
  }
  return result;
}

function parseValue(setting: AnySetting, raw: unknown, source: ValueSource): unknown {
  try {
    return setting.kind.parse(raw);
  } catch (error) {
    if (!(error instanceof InvalidValue)) throw error;
    throw new ConfigError(`invalid ${settingLabel(setting, source)} (from ${describeSource(source)}): ${error.message}`);
  }
}

/** A computed default reads the environment (PORT, WEB_CONCURRENCY), which can hold nonsense too. */
function computeDefault(setting: AnySetting, context: DefaultContext): unknown {
  const fallback = setting.default;
  if (typeof fallback !== 'function') return fallback;
  try {
    return fallback(context);
  } catch (error) {
    if (!(error instanceof InvalidValue)) throw error;
    throw new ConfigError(`invalid default for ${setting.key} (${setting.defaultText ?? 'computed'}): ${error.message}`);
  }
}

/** A config file's value with its relative paths anchored (relative-paths.ts); the error names the setting. */
function anchorValue(setting: AnySetting, value: unknown, source: ValueSource, anchor: FileAnchor): unknown {
  try {
    return anchorFileValue(setting, value, anchor);
  } catch (error) {
    if (!(error instanceof Error) || error instanceof ConfigError) throw error;
    throw new ConfigError(`invalid ${settingLabel(setting, source)} (from ${describeSource(source)}): ${error.message}`);
  }
}

/** `directory` is the working directory at start: command-line paths and chdir are relative to it. */
export function resolveConfig(
  layers: readonly ConfigLayer[],
  environment: NodeJS.ProcessEnv,
  configFile: string | null,
  directory: string = process.cwd(),
): ResolvedConfig {
  const values: Record<string, unknown> = {};
  const sources: Record<string, ValueSource> = {};
  const chdirLayer = [...layers].reverse().find((layer) => typeof layer.values['chdir'] === 'string' && layer.values['chdir'] !== '');
  const chdir = chdirLayer ? { value: String(chdirLayer.values['chdir']), fromFile: chdirLayer.source.kind === 'file' } : null;
  const anchor = configFile === null ? null : fileAnchor(configFile, chdir, directory);
  // Every value given first, then the defaults, so that a computed default (the name) sees them all.
  for (const setting of SETTINGS) {
    // The highest layer that sets a key wins; layers are given lowest first.
    for (let index = layers.length - 1; index >= 0; index -= 1) {
      const layer = layers[index];
      if (layer && layer.values[setting.key] !== undefined) {
        const value = parseValue(setting, layer.values[setting.key], layer.source);
        values[setting.key] = layer.source.kind === 'file' && anchor !== null ? anchorValue(setting, value, layer.source, anchor) : value;
        sources[setting.key] = layer.source;
        break;
      }
    }
  }
  const chdirValue = values['chdir'];
  const context = { environment, directory: typeof chdirValue === 'string' ? resolve(directory, chdirValue) : directory, configFile };
  for (const setting of SETTINGS) {
    if (!(setting.key in values)) {
      values[setting.key] = computeDefault(setting, { ...context, values });
      sources[setting.key] = { kind: 'default' };
    }
  }
  const resolved = { values: values as unknown as Config, sources: sources as Record<SettingKey, ValueSource>, configFile };
  checkCombinations(resolved);
  return resolved;
}

/** Rules that involve several settings; each message names the settings and their sources. */
function checkCombinations({ values, sources }: ResolvedConfig): void {
  if ((values.certfile === null) !== (values.keyfile === null)) {
    const given = values.certfile === null ? 'keyfile' : 'certfile';
    throw new ConfigError(`${given} (from ${describeSource(sources[given])}) needs ${given === 'certfile' ? 'keyfile' : 'certfile'} too`);
  }
  if (values.bind.length === 0) {
    throw new ConfigError(`bind (from ${describeSource(sources.bind)}) is empty: give at least one address`);
  }
  if (values.pools !== null) checkPools({ values, sources });
  else if (values.workers === 0)
    throw new ConfigError(
      zeroWorkers(settingLabel(findSetting('workers') as AnySetting, sources.workers), describeSource(sources.workers)),
    );
  checkProxyProtocolBinds({ values, sources });
  checkReusePort(values, (perPool) => describeSource(perPool ? sources.pools : sources.reusePort));
}

/** An HTTP pool of 0 workers serves nothing, and its start would end fatal after start-retries. */
function zeroWorkers(setting: string, source: string): string {
  return `invalid ${setting} (from ${source}): an HTTP pool needs at least 1 worker at start; to keep a pool stopped, start it and run appctl stop-pool`;
}

/** Every address proxy-protocol names must be one of the binds (a typo would silently leave a bind open to spoofing). */
function checkProxyProtocolBinds({ values, sources }: Pick<ResolvedConfig, 'values' | 'sources'>): void {
  const pools = Object.entries(values.pools ?? {});
  const poolBinds = (key: 'bind' | 'slotBind'): { text: string }[] =>
    pools.flatMap(([, overrides]) => (overrides[key] ?? []) as { text: string }[]);
  const bindTexts = new Set([...values.bind, ...values.slotBind, ...poolBinds('bind'), ...poolBinds('slotBind')].map((bind) => bind.text));
  const settings = [
    { name: 'proxy-protocol', where: describeSource(sources.proxyProtocol), value: values.proxyProtocol },
    ...pools.flatMap(([pool, overrides]) => {
      const value = overrides['proxyProtocol'] as Config['proxyProtocol'] | undefined;
      return value === undefined ? [] : [{ name: `pools.${pool}.proxyProtocol`, where: describeSource(sources.pools), value }];
    }),
  ];
  for (const { name, where, value } of settings) {
    for (const text of value.binds) {
      if (!bindTexts.has(text))
        throw new ConfigError(`${name} (from ${where}) names ${text}, which is not a bind (binds: ${[...bindTexts].join(', ')})`);
    }
  }
}

/** With pools, programs and binds belong to the pools; each address is served by one pool only. */
function checkPools({ values, sources }: Pick<ResolvedConfig, 'values' | 'sources'>): void {
  const where = describeSource(sources.pools);
  for (const key of ['app', 'script'] as const) {
    if (values[key] !== null) {
      throw new ConfigError(
        `${key} (from ${describeSource(sources[key])}) and pools (from ${where}) are both set: move it into a pool, e.g. pools.web.${key}`,
      );
    }
  }
  if (sources.bind.kind !== 'default') {
    throw new ConfigError(
      `bind (from ${describeSource(sources.bind)}) is per pool when pools are set (from ${where}): give pools.NAME.bind`,
    );
  }
  const owners = new Map<string, string>();
  for (const [name, overrides] of Object.entries(values.pools ?? {})) {
    const binds = (overrides['bind'] ?? []) as { text: string; port?: number }[];
    if (binds.length === 0 && overrides['command'] === undefined) {
      throw new ConfigError(`pools.${name} (from ${where}) serves HTTP but has no bind: give pools.${name}.bind`);
    }
    if (overrides['command'] === undefined && (overrides['workers'] ?? values.workers) === 0) {
      const own = overrides['workers'] !== undefined;
      throw new ConfigError(
        zeroWorkers(own ? `pools.${name}.workers` : `workers, for pools.${name}`, own ? where : describeSource(sources.workers)),
      );
    }
    for (const bind of binds) {
      // ":0" in two pools means two sockets on two random ports, not one address twice.
      if ('port' in bind && bind.port === 0) continue;
      const owner = owners.get(bind.text);
      if (owner)
        throw new ConfigError(`pools.${owner} and pools.${name} (from ${where}) both bind ${bind.text}: each address belongs to one pool`);
      owners.set(bind.text, name);
    }
  }
}
