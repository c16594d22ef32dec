// Reads every config layer (default < config file < APPD_CMD_ARGS < command line) into a ResolvedConfig,
// at start and again on each reload with the same sources. Run by the appd master.

import { resolve } from 'node:path';
import { findDefaultConfigFile, loadConfigFile } from '../../shared/config/load-file.js';
import { isEcosystem, looksLikeEcosystemFile } from '../../shared/config/ecosystem-file.js';
import { autoWorkerCount } from '../container/cpu-limit.js';
import { normaliseFileKeys, resolveConfig, type ConfigLayer, type ResolvedConfig } from '../../shared/config/resolve.js';
import { splitShellWords } from '../../shared/config/shell-words.js';
import { ConfigError } from '../../shared/errors.js';
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
  /** What the user should know about the configuration (a PM2 key appd ignores); shown once, at start. */
  readonly warnings: readonly string[];
}

/**
 * The config file's settings; a PM2 ecosystem file ({ apps: [...] }) is translated into pools. `named`
 * is how the user gave the file (messages name it so), `envName` the --env-name given.
 */
async function readConfigFile(
  configFile: string,
  named: string,
  envName: string | null,
): Promise<{ values: Record<string, unknown>; warnings: readonly string[]; shown: string }> {
  if (/\.ya?ml$/.test(configFile)) {
    throw new ConfigError(
      `config file ${named}: appd does not read YAML; write the ecosystem as ecosystem.config.js (module.exports = { apps: [...] }) or as JSON`,
    );
  }
  const exported = await loadConfigFile(configFile);
  if (!isEcosystem(exported)) {
    if (envName !== null)
      throw new ConfigError(
        `--env-name ${envName}: it picks each app's env_${envName} in a PM2 ecosystem file, and config file ${named} is not one (it has no apps)`,
      );
    return { values: normaliseFileKeys(exported, named), warnings: [], shown: named };
  }
  const context = { file: configFile, shownAs: named, envName, nodePath: process.execPath, cpuCount: autoWorkerCount().count };
  // Loaded here, not with this module: most masters read no ecosystem file, and a master keeps the code it
  // compiled at start for its life (see daemon/main.ts).
  const { translateEcosystem } = await import('../../shared/config/pm2-ecosystem.js');
  const { settings, warnings } = translateEcosystem(exported, context);
  // --print-config and every message about a setting say where it came from.
  return {
    values: normaliseFileKeys(settings, named),
    warnings,
    shown: `${named} (PM2 ecosystem${envName === null ? '' : `, env_${envName}`})`,
  };
}

/**
 * Parses the flags and reads the config file; throws ConfigError naming the setting and its source.
 * `startFile` is for a reload: the config file the master found at start (null: it had none), read
 * again and never searched for again, so a file someone drops in the start directory later is not
 * picked up. At start it is undefined and the file is the one named, or the default one found.
 */
export async function readConfig(sources: ConfigSources, startFile?: string | null): Promise<StartConfig> {
  const fromArgv = await parseArguments(sources.argv, 'command line');
  const fromEnvironment = sources.environmentArguments
    ? await parseArguments(splitShellWords(sources.environmentArguments), 'APPD_CMD_ARGS')
    : null;
  // `appd ecosystem.config.js`, as `pm2 start ecosystem.config.js`: the APP is the config file.
  const positional = fromArgv.values['app'];
  // Not with --script: `appd --script bin.js db.json` is a script given its argument the wrong way, and
  // is refused naming the -- form.
  const scriptGiven = fromArgv.values['script'] !== undefined || fromEnvironment?.values['script'] !== undefined;
  const ecosystemAsApp = typeof positional === 'string' && !scriptGiven && looksLikeEcosystemFile(positional) ? positional : undefined;
  if (ecosystemAsApp !== undefined) {
    delete fromArgv.values['app'];
    // --print-config names the file as the config it is.
    fromArgv.values['config'] ??= ecosystemAsApp;
  }
  const named = (fromArgv.values['config'] ?? fromEnvironment?.values['config'] ?? ecosystemAsApp) as string | undefined;
  const configFile =
    startFile !== undefined
      ? startFile
      : named !== undefined
        ? resolve(sources.directory, named)
        : findDefaultConfigFile(sources.directory);
  const envName = (fromArgv.values['envName'] ?? fromEnvironment?.values['envName'] ?? null) as string | null;
  if (configFile === null && envName !== null)
    throw new ConfigError(`--env-name ${envName}: it picks each app's env_${envName} in a PM2 ecosystem file, and no config file is given`);
  const layers: ConfigLayer[] = [];
  let warnings: readonly string[] = [];
  if (configFile !== null) {
    const shown = named ?? configFile;
    const file = await readConfigFile(configFile, shown, envName);
    warnings = file.warnings;
    layers.push({ source: { kind: 'file', path: file.shown }, values: file.values });
  }
  if (fromEnvironment) layers.push({ source: { kind: 'environment', variable: 'APPD_CMD_ARGS' }, values: fromEnvironment.values });
  layers.push({ source: { kind: 'argv' }, values: fromArgv.values });
  return { resolved: resolveConfig(layers, sources.environment, configFile, sources.directory), actions: fromArgv.actions, warnings };
}
