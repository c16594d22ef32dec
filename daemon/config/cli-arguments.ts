// Parses argv or APPD_CMD_ARGS into setting values: a plain reading from the settings table, else commander.
// Run by the appd master; the same parser reads both, so APPD_CMD_ARGS takes exactly the flags argv takes.

import { flagName, type AnySetting } from '../../shared/settings/define.js';
import { SETTINGS } from '../../shared/settings/table.js';

/** What the command line asks for besides settings. */
export interface CliActions {
  printConfig: boolean;
  checkConfig: boolean;
  printSystemdUnit: boolean;
}

export interface ParsedArguments {
  /** Raw setting values keyed by setting key; only what was given. */
  readonly values: Record<string, unknown>;
  readonly actions: CliActions;
}

/** --help or --version: commander printed it; the process ends with this code and prints nothing more. */
export class CommandLineAnswered extends Error {
  constructor(readonly exitCode: number) {
    super('answered by --help or --version');
  }
}

/** The words before `--` as commander's opts() and args give them. */
export interface ParsedWords {
  /** Keyed as commander keys them: the setting key, logFile (the alias), printConfig and the other actions. */
  readonly options: Record<string, unknown>;
  readonly positional: readonly string[];
}

/** What one flag word does: set `key` to `value`, or take the next word (or the text after `=`). */
type FlagWord =
  | { readonly key: string; readonly takes: 'nothing'; readonly value: boolean }
  | { readonly key: string; readonly takes: 'value'; readonly repeatable: boolean };

/** The one-shot actions: flags that are not settings. Commander's --help lists them with these descriptions. */
export const ACTION_FLAGS = [
  { flag: '--print-config', key: 'printConfig', description: 'Print every setting, its value and where it came from, then exit.' },
  {
    flag: '--check-config',
    key: 'checkConfig',
    description: 'Validate the configuration and load each app as its workers would (as their user), then exit.',
  },
  {
    flag: '--print-systemd-unit',
    key: 'printSystemdUnit',
    description: 'Print a systemd service unit that runs this command line, then exit.',
  },
] as const satisfies readonly { flag: string; key: keyof CliActions; description: string }[];

/** Gunicorn's spelling of --error-logfile, which users of Gunicorn will type; keyed logFile. */
export const LOG_FILE_ALIAS = '--log-file';

/** Whether `setting` has a flag of its own (not config-only, not APP, not the words after `--`). */
export function hasFlag(setting: AnySetting): boolean {
  return setting.cli !== 'config-only' && setting.cli !== 'positional' && setting.cli !== 'after-dashes';
}

/** Every word the plain reading knows, from the settings table: the same flags commander-arguments.ts declares. */
function knownFlagWords(): ReadonlyMap<string, FlagWord> {
  const words = new Map<string, FlagWord>([[LOG_FILE_ALIAS, { key: 'logFile', takes: 'value', repeatable: false }]]);
  for (const action of ACTION_FLAGS) words.set(action.flag, { key: action.key, takes: 'nothing', value: true });
  for (const setting of SETTINGS as readonly AnySetting[]) {
    if (!hasFlag(setting)) continue;
    const long = flagName(setting);
    const word: FlagWord = setting.kind.isFlag
      ? { key: setting.key, takes: 'nothing', value: true }
      : { key: setting.key, takes: 'value', repeatable: setting.kind.repeatable === true };
    words.set(long, word);
    if (setting.short !== undefined) words.set(setting.short, word);
    if (setting.kind.isFlag) words.set(`--no-${long.slice(2)}`, { key: setting.key, takes: 'nothing', value: false });
  }
  return words;
}

/**
 * Reads `args` when every word is in a plain form: `--flag`, `--no-flag`, `--name VALUE`, `--name=VALUE`,
 * `-w VALUE`, and at most one APP (`-` is a value or an APP). Anything else returns null and commander
 * reads it: --help, --version, bundled short flags (-w4), an unknown flag, a value that is missing or
 * starts with "-", a second APP.
 * For every list it accepts the result is commander's (test/daemon/cli-arguments.test.ts compares them).
 * Why: a list read once at start should not cost the master memory for its whole life. With commander
 * out of the bundle (tools/bundle.ts) and not run, an idle master with 2 workers has 51.3 MB RSS instead
 * of 51.9 on Node 24 and 43.1 instead of 43.3 on Node 20 (median of 5 interleaved starts).
 */
export function readPlainWords(args: readonly string[]): ParsedWords | null {
  const known = knownFlagWords();
  const options: Record<string, unknown> = {};
  const positional: string[] = [];
  for (let index = 0; index < args.length; index += 1) {
    const word = args[index] ?? '';
    if (!word.startsWith('-') || word === '-') {
      positional.push(word);
      continue;
    }
    const equals = word.startsWith('--') ? word.indexOf('=') : -1;
    const flag = known.get(equals < 0 ? word : word.slice(0, equals));
    if (flag === undefined) return null;
    if (flag.takes === 'nothing') {
      if (equals >= 0) return null;
      options[flag.key] = flag.value;
      continue;
    }
    let value: string;
    if (equals >= 0) value = word.slice(equals + 1);
    else {
      const next = args[index + 1];
      if (next === undefined || (next.startsWith('-') && next !== '-')) return null;
      value = next;
      index += 1;
    }
    const previous = options[flag.key];
    options[flag.key] = flag.repeatable ? [...(Array.isArray(previous) ? (previous as string[]) : []), value] : value;
  }
  return positional.length > 1 ? null : { options, positional };
}

/**
 * Parses one argument list. `sourceName` names the origin in errors ("command line", "APPD_CMD_ARGS").
 * Everything after the first `--` is the script's (the args setting), never appd's options or APP.
 * Throws CommandLineAnswered after commander printed --help or --version.
 */
export async function parseArguments(allArguments: readonly string[], sourceName: string): Promise<ParsedArguments> {
  const dashes = allArguments.indexOf('--');
  const args = dashes < 0 ? allArguments : allArguments.slice(0, dashes);
  const words = readPlainWords(args) ?? (await import('./commander-arguments.js')).parseWithCommander(args, sourceName);
  const { options, positional } = words;
  const values: Record<string, unknown> = {};
  for (const setting of SETTINGS) {
    if (setting.cli === 'positional') {
      if (positional[0] !== undefined) values[setting.key] = positional[0];
    } else if (setting.cli === 'after-dashes') {
      if (dashes >= 0) values[setting.key] = allArguments.slice(dashes + 1);
    } else if (options[setting.key] !== undefined) {
      values[setting.key] = options[setting.key];
    }
  }
  if (options['logFile'] !== undefined && values['errorLogfile'] === undefined) values['errorLogfile'] = options['logFile'];
  return {
    values,
    actions: {
      printConfig: options['printConfig'] === true,
      checkConfig: options['checkConfig'] === true,
      printSystemdUnit: options['printSystemdUnit'] === true,
    },
  };
}
