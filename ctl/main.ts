// What `appctl` runs, the client of appd's control socket (started by bin.ts): a plain `appctl status` runs
// here directly; everything else loads the commander program (program.ts). Exit codes: 0 done, 1 failed,
// 2 usage, 3 no daemon.

import { AppdError, describeError } from '../shared/errors.js';
import { CommandContext, isOutputQueued, writeOutput, type GlobalOptions } from './commands/context.js';
import { plainStatusOptions } from './plain-status.js';
import { CTL_EXIT } from './client/errors.js';
import type { ControlClient } from './client/connection.js';

async function main(argv: readonly string[]): Promise<number> {
  const plainStatus = plainStatusOptions(argv);
  if (plainStatus !== null) return runPlainStatus(plainStatus);
  // The bundle keeps program.ts (commander, help, every other subcommand) in a file of its own, read
  // only here: compiling it cost appctl status 6-10 ms of CPU (Node 20 and 24, loaded machine).
  const { runProgram } = await import('./program.js');
  return runProgram(argv);
}

/** `appctl status` without commander; errors end the same way as in main's boundary below. */
async function runPlainStatus(options: GlobalOptions): Promise<number> {
  const { connectForStatus, printStatus } = await import('./commands/status.js');
  const context = new CommandContext(options);
  let client: ControlClient | null = null;
  try {
    client = await connectForStatus(context);
    const code = await printStatus(context, client);
    // The status is written (by writeSync): exiting now, with the connection open (the daemon sees it
    // end with the process), skips closing the connection (over node:net, its stream teardown run for
    // the first time: 0.2-0.3 ms), the loop turn that waits for its close and Node's teardown of the heap, 2-4 ms
    // of wall time after the output (medians, Node 20 and 24). Not when output is queued on a full stdout.
    if (!isOutputQueued()) process.exit(code);
    return code;
  } catch (error) {
    if (!(error instanceof AppdError)) throw error;
    if (options.json) writeOutput(`${JSON.stringify({ status: 'error', exitCode: error.exitCode, message: error.message }, null, 2)}\n`);
    process.stderr.write(`appctl: ${error.message}\n`);
    return error.exitCode;
  } finally {
    client?.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`appctl: unexpected failure: ${describeError(error)}\n`);
    process.exitCode = CTL_EXIT.failed;
  },
);
