// The shape of one entry in the settings table, and the types inferred from the whole table.
// Used by the appd master (config resolution, flags, man page) and by appctl (display).

import type { ValueKind } from './kinds.js';

export const SECTIONS = [
  'Config',
  'Server Socket',
  'Worker Processes',
  'Server Mechanics',
  'Logging',
  'Metrics',
  'Security',
  'Control',
  'Pools',
  'Hooks',
] as const;
export type Section = (typeof SECTIONS)[number];

/**
 * When a changed value takes effect:
 * - live: on reload (HUP), for the master and new workers;
 * - workers: on reload, for the new generation of workers only;
 * - restart: only for a new master (`appctl upgrade` or a restart).
 */
export type ReloadBehaviour = 'live' | 'workers' | 'restart';

export interface SettingSpec<Key extends string, Value> {
  /** The config file key (camelCase); the long flag is its kebab-case form. */
  readonly key: Key;
  readonly section: Section;
  readonly kind: ValueKind<Value>;
  /** The default; a function computes it at resolve time from the environment and earlier settings. */
  readonly default: NoInfer<Value> | ((context: DefaultContext) => NoInfer<Value>);
  /** How the default is documented when it is computed. */
  readonly defaultText?: string;
  /** A one-letter alias such as "-w". */
  readonly short?: string;
  /**
   * "config-only" settings (hooks, pools) have no flag; "positional" is the APP argument; "after-dashes"
   * takes every argument after `--` (the script's own arguments).
   */
  readonly cli?: 'flag' | 'config-only' | 'positional' | 'cli-only' | 'after-dashes';
  readonly reload: ReloadBehaviour;
  /** Whether a pool may override it (pools: { web: { timeout: 5 } }). */
  readonly perPool?: boolean;
  /** Only meaningful inside pools.NAME (command): not a top-level key. */
  readonly poolOnly?: boolean;
  readonly summary: string;
  readonly doc: string;
}

/** What a computed default may read: the environment (PORT, WEB_CONCURRENCY), the settings given, where the daemon runs. */
export interface DefaultContext {
  readonly environment: NodeJS.ProcessEnv;
  readonly values: Readonly<Record<string, unknown>>;
  /** Where the daemon runs and relative paths resolve: chdir if set, else the working directory at start. */
  readonly directory: string;
  /** The config file read, if any. */
  readonly configFile: string | null;
}

// `any` because the table mixes value types; each entry keeps its own type through defineSetting,
// and ConfigOf recovers it per key.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnySetting = SettingSpec<string, any>;

export function defineSetting<const Key extends string, Value>(spec: SettingSpec<Key, Value>): SettingSpec<Key, Value> {
  return spec;
}

/** "gracefulTimeout" -> "graceful-timeout" */
export function kebabCase(key: string): string {
  return key.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
}

/** "graceful-timeout" or "graceful_timeout" -> "gracefulTimeout" */
export function camelCase(name: string): string {
  return name.replace(/[-_]([a-z0-9])/g, (_match, letter: string) => letter.toUpperCase());
}

export function flagName(setting: AnySetting): string {
  return `--${kebabCase(setting.key)}`;
}

type ValueOf<S> = S extends SettingSpec<string, infer Value> ? Value : never;

/** The resolved configuration type, one property per setting, inferred from a table. */
export type ConfigOf<Table extends readonly AnySetting[]> = {
  readonly [S in Table[number] as S['key']]: ValueOf<S>;
};
