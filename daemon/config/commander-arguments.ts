// appd's commander program, built from the settings table: --help, --version, every form of flag, and the
// errors. Run by the appd master, imported only when cli-arguments.ts's plain reading gives up.

import { Command, CommanderError, Option } from 'commander';
import { flagName, type AnySetting } from '../../shared/settings/define.js';
import { SETTINGS } from '../../shared/settings/table.js';
import { ConfigError } from '../../shared/errors.js';
import { ACTION_FLAGS, CommandLineAnswered, hasFlag, LOG_FILE_ALIAS, type ParsedWords } from './cli-arguments.js';
import { closestName } from '../../shared/config/closest-key.js';
import { readPackageVersion } from '../../shared/version.js';

function optionFor(setting: AnySetting): Option[] {
  const long = flagName(setting);
  const flags = setting.short ? `${setting.short}, ${long}` : long;
  const description = setting.summary;
  if (setting.kind.isFlag) {
    return [new Option(flags, description), new Option(`--no-${long.slice(2)}`, `Turn ${long} off.`).hideHelp()];
  }
  const option = new Option(`${flags} <${setting.kind.meta}>`, description);
  if (setting.kind.repeatable) {
    option.argParser((value: string, previous: string[] | undefined) => [...(previous ?? []), value]);
  }
  // Aliases users of Gunicorn will type.
  if (setting.key === 'errorLogfile') return [option, new Option(`${LOG_FILE_ALIAS} <PATH>`, 'Alias of --error-logfile.').hideHelp()];
  return [option];
}

export function buildCommand(): Command {
  const command = new Command('appd')
    .usage('[options] [APP] [-- SCRIPT-ARGS...]')
    .description('Serve APP on a supervised pool of worker processes (a Gunicorn-class arbiter for Node.js).')
    .version(readPackageVersion(), '-v, --version')
    .argument('[APP]', 'the app module: PATH, PATH:EXPORT or PATH:FACTORY()')
    .allowExcessArguments(false)
    .helpOption('-h, --help', 'Show this help.')
    .showSuggestionAfterError(true);
  for (const action of ACTION_FLAGS) command.option(action.flag, action.description);
  for (const setting of SETTINGS) {
    if (hasFlag(setting)) for (const option of optionFor(setting)) command.addOption(option);
  }
  command.addHelpText(
    'after',
    [
      '',
      'Signals: TERM graceful stop, INT/QUIT quick stop, HUP reload, TTIN/TTOU +1/-1 worker,',
      'USR1 reopen logs, USR2 upgrade, WINCH stop workers. See man appd.',
      '',
      'Control it with appctl (status, scale, reload, upgrade, stop, logs, config, ping)',
      'over its control socket (--control-socket). See appctl --help.',
    ].join('\n'),
  );
  return command;
}

/**
 * Parses `args` (the words before any `--`) with commander. `sourceName` names the origin in errors
 * ("command line", "APPD_CMD_ARGS").
 */
export function parseWithCommander(args: readonly string[], sourceName: string): ParsedWords {
  const command = buildCommand();
  command.exitOverride();
  let errorText = '';
  command.configureOutput({ writeErr: (text) => (errorText += text) });
  try {
    command.parse([...args], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') {
        throw new CommandLineAnswered(error.exitCode);
      }
      const message = (errorText || error.message)
        .trim()
        .replace(/^error: /, '')
        .replace(/\s*\n\s*/g, ' ');
      throw new ConfigError(`${sourceName}: ${message}${suggestFlag(error, args)}`);
    }
    throw error;
  }
  return { options: command.opts<Record<string, unknown>>(), positional: command.args };
}

/** Commander suggests for long flags already; add our own for Gunicorn spellings like --access-log. */
function suggestFlag(error: CommanderError, args: readonly string[]): string {
  if (error.code !== 'commander.unknownOption') return '';
  const unknown = args.find((argument) => argument.startsWith('--') && error.message.includes(argument.split('=')[0] ?? ''));
  if (!unknown || error.message.includes('Did you mean')) return '';
  const flags = SETTINGS.filter(hasFlag).map(flagName);
  const suggestion = closestName(unknown.split('=')[0] ?? unknown, flags);
  return suggestion ? ` (did you mean ${suggestion}?)` : '';
}
