#!/usr/bin/env node
// Entry point of `appctl`, the client of appd's control socket: global options, one subcommand per file,
// and the one boundary where errors become a message and an exit code (0 done, 1 failed, 2 usage, 3 no daemon).

import type { Command } from 'commander';
import { AppdError, describeError, hasErrorCode } from '../shared/errors.js';
import { readPackageVersion } from '../shared/version.js';
import type { CommandContext, GlobalOptions, Register } from './commands/context.js';
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

/** Global options that take a value as the next word (commander also accepts --name=X and -nX). */
const OPTIONS_WITH_VALUE = new Set(['-n', '--name', '-s', '--socket', '--timeout']);

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
      if (OPTIONS_WITH_VALUE.has(word)) index += 1;
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

/**
 * The options of `appctl [-n NAME | -s SOCKET] [--json] [--raw] [--timeout S] status` when argv is exactly
 * that (each option spelled as a separate word), else null and commander parses. Health checks run
 * status every few seconds: commander is a sixth of its start-up.
 */
function plainStatusOptions(argv: readonly string[]): GlobalOptions | null {
  const options: { name?: string; socket?: string; json?: boolean; raw?: boolean; timeout?: string } = {};
  let sawStatus = false;
  for (let index = 0; index < argv.length; index += 1) {
    const word = argv[index] ?? '';
    const value = argv[index + 1];
    if (word === 'status' && !sawStatus) sawStatus = true;
    else if (word === '--json') options.json = true;
    else if (word === '--raw') options.raw = true;
    else if (OPTIONS_WITH_VALUE.has(word) && value !== undefined && !value.startsWith('-') && !sawStatus) {
      if (word === '-n' || word === '--name') options.name = value;
      else if (word === '-s' || word === '--socket') options.socket = value;
      else options.timeout = value;
      index += 1;
    } else return null;
  }
  return sawStatus ? options : null;
}

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

async function main(argv: readonly string[]): Promise<number> {
  let exitCode: number = CTL_EXIT.ok;
  const plainStatus = plainStatusOptions(argv);
  if (plainStatus !== null) return runPlainStatus(plainStatus);
  const [{ CommanderError }, { CommandContext }] = await Promise.all([import('commander'), import('./commands/context.js')]);
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
        process.stdout.write(`${JSON.stringify({ status: 'error', exitCode: error.exitCode, message: error.message }, null, 2)}\n`);
      process.stderr.write(`appctl: ${error.message}\n`);
      return error.exitCode;
    }
    throw error;
  }
}

/** `appctl status` without commander; errors end the same way as in main's boundary below. */
async function runPlainStatus(options: GlobalOptions): Promise<number> {
  const [{ CommandContext }, { showStatus }] = await Promise.all([import('./commands/context.js'), import('./commands/status.js')]);
  try {
    return await showStatus(new CommandContext(options));
  } catch (error) {
    if (!(error instanceof AppdError)) throw error;
    if (options.json)
      process.stdout.write(`${JSON.stringify({ status: 'error', exitCode: error.exitCode, message: error.message }, null, 2)}\n`);
    process.stderr.write(`appctl: ${error.message}\n`);
    return error.exitCode;
  }
}

// `appctl logs -f | head -1`: the reader went away, which ends our work; exit quietly, not with a stack.
process.stdout.on('error', (error) => {
  if (!hasErrorCode(error, 'EPIPE')) throw error;
  process.exit(CTL_EXIT.ok);
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`appctl: unexpected failure: ${describeError(error)}\n`);
    process.exitCode = CTL_EXIT.failed;
  },
);
