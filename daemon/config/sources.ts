// Reads every config layer (default < config file < APPD_CMD_ARGS < command line) into a ResolvedConfig,
// at start and again on each reload with the same sources. Run by the appd master.

import { resolve } from 'node:path';
import { findDefaultConfigFile, loadConfigFile } from '../../shared/config/load-file.js';
import { normaliseFileKeys, resolveConfig, type ConfigLayer, type ResolvedConfig } from '../../shared/config/resolve.js';
import { splitShellWords } from '../../shared/config/shell-words.js';
import { parseArguments, type CliActions } from './cli-arguments.js';

export interface ConfigSources {
  readonly argv: readonly string[];
  /** APPD_CMD_ARGS as it was at start (a reload does not see a changed environment). */
  readonly environmentArguments: string | undefined;
  readonly environment: NodeJS.ProcessEnv;
  /** The directory relative config paths were given from. */
  readonly directory: string;
}

export interface StartConfig {
  readonly resolved: ResolvedConfig;
  readonly actions: CliActions;
}

/**
 * Parses the flags and reads the config file; throws ConfigError naming the setting and its source.
 * `startFile` is for a reload: the config file the master found at start (null: it had none), read
 * again and never searched for again, so a file someone drops in the start directory later is not
 * picked up. At start it is undefined and the file is the one named, or the default one found.
 */
export async function readConfig(sources: ConfigSources, startFile?: string | null): Promise<StartConfig> {
  const fromArgv = parseArguments(sources.argv, 'command line');
  const fromEnvironment = sources.environmentArguments
    ? parseArguments(splitShellWords(sources.environmentArguments), 'APPD_CMD_ARGS')
    : null;
  const named = (fromArgv.values['config'] ?? fromEnvironment?.values['config']) as string | undefined;
  const configFile = startFile !== undefined ? startFile : named !== undefined ? resolve(sources.directory, named) : findDefaultConfigFile(sources.directory);
  const layers: ConfigLayer[] = [];
  if (configFile !== null) {
    const shown = named ?? configFile;
    layers.push({ source: { kind: 'file', path: shown }, values: normaliseFileKeys(await loadConfigFile(configFile), shown) });
  }
  if (fromEnvironment) layers.push({ source: { kind: 'environment', variable: 'APPD_CMD_ARGS' }, values: fromEnvironment.values });
  layers.push({ source: { kind: 'argv' }, values: fromArgv.values });
  return { resolved: resolveConfig(layers, sources.environment, configFile, sources.directory), actions: fromArgv.actions };
}
