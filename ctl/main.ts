#!/usr/bin/env node
// Entry point of `appctl`, the client of appd's control socket: global options, one subcommand per file,
// and the one boundary where errors become a message and an exit code (0 done, 1 failed, 2 usage, 3 no daemon).

import { Command, CommanderError } from 'commander';
import { AppdError, describeError, hasErrorCode } from '../shared/errors.js';
import { readPackageVersion } from '../shared/version.js';
import { CommandContext, type GlobalOptions, type Register } from './commands/context.js';
import { registerConfig } from './commands/config.js';
import { CTL_EXIT } from './client/errors.js';
import { registerEvents } from './commands/events.js';
import { registerLogs } from './commands/logs.js';
import { registerPing } from './commands/ping.js';
import { registerRestart, registerStartPool, registerStopPool } from './commands/pools.js';
import { registerReload } from './commands/reload.js';
import { registerScale } from './commands/scale.js';
import { registerStatus } from './commands/status.js';
import { registerStop } from './commands/stop.js';
import { registerTop } from './top/command.js';
import { registerUpgrade } from './commands/upgrade.js';

const SUBCOMMANDS: readonly Register[] = [
  registerStatus, registerTop, registerScale, registerReload, registerRestart, registerStopPool, registerStartPool,
  registerUpgrade, registerStop, registerLogs, registerEvents, registerConfig, registerPing,
];

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

function buildProgram(run: (options: GlobalOptions, action: (context: CommandContext) => Promise<number>) => Promise<void>): Command {
  const program = new Command('appctl')
    .usage('[-n NAME | -s SOCKET] [--json] COMMAND [ARGS]')
    .description('Control a running appd daemon over its control socket.')
    .option('-n, --name <NAME>', 'the daemon with this --name')
    .option('-s, --socket <PATH>', 'the control socket at PATH (also $APPD_SOCKET)')
    .option('--json', 'machine-readable output (stable for scripts)')
    .option('--raw', 'print the daemon\'s text as it is, control characters and escape sequences included (default: shown escaped, e.g. \\e)')
    .option('--timeout <SECONDS>', 'give up after this long (default: 10 for status, ping, config, logs; none for jobs); logs -f and events follow this long, then exit 0')
    .version(readPackageVersion(), '-v, --version')
    .helpOption('-h, --help', 'show this help')
    .helpCommand('help [COMMAND]', 'show help for a command')
    .showSuggestionAfterError(true)
    .addHelpText('after', HELP_AFTER)
    // Commander's parse errors in appctl's one-line style, like every other error ("appctl: ..."); the
    // subcommands registered below inherit it.
    .configureOutput({ outputError: (text, write) => write(`appctl: ${text.trim().replace(/^error: /, '').replace(/\s*\n\s*/g, ' ')}\n`) });
  for (const register of SUBCOMMANDS) register(program, (action) => run(program.opts<GlobalOptions>(), action));
  return program;
}

async function main(argv: readonly string[]): Promise<number> {
  let exitCode: number = CTL_EXIT.ok;
  const program = buildProgram(async (options, action) => {
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
      if (program.opts<GlobalOptions>().json) process.stdout.write(`${JSON.stringify({ status: 'error', exitCode: error.exitCode, message: error.message }, null, 2)}\n`);
      process.stderr.write(`appctl: ${error.message}\n`);
      return error.exitCode;
    }
    throw error;
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
