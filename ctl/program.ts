// The commander program of `appctl`: global options, help, one subcommand per file, and the boundary where
// errors become a message and an exit code. Run by appctl for everything but a plain `appctl status`.

import type { Command } from 'commander';
import { AppdError } from '../shared/errors.js';
import { GLOBAL_OPTIONS_WITH_VALUE } from './plain-status.js';
import { readPackageVersion } from '../shared/version.js';
import { CommandContext, exitQuietlyOnBrokenPipe, writeOutput, type GlobalOptions, type Register } from './commands/context.js';
import { CTL_EXIT } from './client/errors.js';

/**
 * Every subcommand, in the order help lists them, each loaded only when it runs: appctl status must not
 * pay for top's dashboard, the job commands or the log renderers (each module is a file to resolve, read
 * and compile on every invocation).
 */
const SUBCOMMANDS: ReadonlyArray<readonly [name: string, load: () => Promise<Register>]> = [
  ['status', async () => (await import('./commands/status.js')).registerStatus],
  ['top', async () => (await import('./top/command.js')).registerTop],
  ['scale', async () => (await import('./commands/scale.js')).registerScale],
  ['reload', async () => (await import('./commands/reload.js')).registerReload],
  ['restart', async () => (await import('./commands/pools.js')).registerRestart],
  ['stop-pool', async () => (await import('./commands/pools.js')).registerStopPool],
  ['start-pool', async () => (await import('./commands/pools.js')).registerStartPool],
  ['upgrade', async () => (await import('./commands/upgrade.js')).registerUpgrade],
  ['stop', async () => (await import('./commands/stop.js')).registerStop],
  ['logs', async () => (await import('./commands/logs.js')).registerLogs],
  ['events', async () => (await import('./commands/events.js')).registerEvents],
  ['config', async () => (await import('./commands/config.js')).registerConfig],
  ['ping', async () => (await import('./commands/ping.js')).registerPing],
];

/**
 * The subcommands to register for this argv: only the one named, when the first operand names one;
 * every one otherwise (no command, help, a typo commander suggests a fix for), so help and errors read
 * exactly as with all of them loaded.
 */
function subcommandsFor(argv: readonly string[]): ReadonlyArray<readonly [string, () => Promise<Register>]> {
  for (let index = 0; index < argv.length; index += 1) {
    const word = argv[index] ?? '';
    if (word === '--') break;
    if (word.startsWith('-')) {
      if (GLOBAL_OPTIONS_WITH_VALUE.has(word)) index += 1;
      continue;
    }
    const named = SUBCOMMANDS.filter(([name]) => name === word);
    return named.length > 0 ? named : SUBCOMMANDS;
  }
  return SUBCOMMANDS;
}

const HELP_AFTER = `
Which daemon: -s SOCKET, else $APPD_SOCKET, else -n NAME, else the only appd
running (several: appctl lists them and asks for -n). Sockets live in
$XDG_RUNTIME_DIR/appd/, else /run/appd/ for root, else $TMPDIR/appd-UID/.

Exit codes: 0 done, 1 the operation failed or rolled back, 2 usage, 3 no daemon there.

Examples:
  appctl status --json | jq '.pools[0].workers[].pid'
  appctl scale +2          appctl scale web -1          appctl scale web 6
  appctl reload && echo "new generation serving"
  appctl restart jobs      appctl restart web 2         appctl stop-pool legacy
  appctl -n shop logs -f web
  appctl top               (live dashboard; press ? in it for the keys)`;

async function buildProgram(
  argv: readonly string[],
  run: (options: GlobalOptions, action: (context: CommandContext) => Promise<number>) => Promise<void>,
): Promise<Command> {
  const { Command } = await import('commander');
  const program = new Command('appctl')
    .usage('[-n NAME | -s SOCKET] [--json] COMMAND [ARGS]')
    .description('Control a running appd daemon over its control socket.')
    .option('-n, --name <NAME>', 'the daemon with this --name')
    .option('-s, --socket <PATH>', 'the control socket at PATH (also $APPD_SOCKET)')
    .option('--json', 'machine-readable output (stable for scripts)')
    .option(
      '--raw',
      "print the daemon's text as it is, control characters and escape sequences included (default: shown escaped, e.g. \\e)",
    )
    .option(
      '--timeout <SECONDS>',
      'give up after this long (default: 10 for status, ping, config, logs; none for jobs); logs -f and events follow this long, then exit 0',
    )
    .version(readPackageVersion(), '-v, --version')
    .helpOption('-h, --help', 'show this help')
    .helpCommand('help [COMMAND]', 'show help for a command')
    .showSuggestionAfterError(true)
    .addHelpText('after', HELP_AFTER)
    // Commander's parse errors in appctl's one-line style, like every other error ("appctl: ..."); the
    // subcommands registered below inherit it.
    .configureOutput({
      outputError: (text, write) =>
        write(
          `appctl: ${text
            .trim()
            .replace(/^error: /, '')
            .replace(/\s*\n\s*/g, ' ')}\n`,
        ),
    });
  const registers = await Promise.all(subcommandsFor(argv).map(([, load]) => load()));
  for (const register of registers) register(program, (action) => run(program.opts<GlobalOptions>(), action));
  return program;
}

/** Parses argv with commander, runs the subcommand; the boundary where errors become a message and an exit code. */
export async function runProgram(argv: readonly string[]): Promise<number> {
  exitQuietlyOnBrokenPipe();
  let exitCode: number = CTL_EXIT.ok;
  const { CommanderError } = await import('commander');
  const program = await buildProgram(argv, async (options, action) => {
    exitCode = await action(new CommandContext(options));
  });
  program.exitOverride();
  for (const command of program.commands) command.exitOverride();
  try {
    if (argv.length === 0) {
      program.outputHelp();
      return CTL_EXIT.usage;
    }
    await program.parseAsync([...argv], { from: 'user' });
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version exit 0; every parse error (already printed by commander) is a usage error.
      return error.exitCode === 0 ? CTL_EXIT.ok : CTL_EXIT.usage;
    }
    if (error instanceof AppdError) {
      if (program.opts<GlobalOptions>().json)
        writeOutput(`${JSON.stringify({ status: 'error', exitCode: error.exitCode, message: error.message }, null, 2)}\n`);
      process.stderr.write(`appctl: ${error.message}\n`);
      return error.exitCode;
    }
    throw error;
  }
}
