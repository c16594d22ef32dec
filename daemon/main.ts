#!/usr/bin/env node
// Entry point of the `appd` command: reads the configuration, then runs the master (in the foreground,
// or detached with --daemon). The one boundary where errors become messages and exit codes.

import './master/master-builtins.js'; // first: before V8's flags change (master-builtins.ts says why)
import './master/optimizing-compilers.js'; // before any of the master's code can get hot
import './master/young-generation.js'; // second: before the master allocates anything of note
import { AppdError, describeError, EXIT } from '../shared/errors.js';
import { CommandLineAnswered } from './config/cli-arguments.js';
import { readConfig, type ConfigSources } from './config/sources.js';
import { detachAndWait, isDaemonChild, reportToForeground, DAEMON_CHILD_VARIABLE } from './master/daemonize.js';
import { checkStartable, runMaster } from './master/start.js';
import { closeStrayDescriptors, descriptorsToKeep } from './master/stray-descriptors.js';
import { PredecessorLink } from './upgrade/successor.js';
import { stderrMessage } from '../shared/trust/escape-text.js';

async function main(argv: readonly string[]): Promise<number> {
  const daemonChild = isDaemonChild();
  delete process.env[DAEMON_CHILD_VARIABLE];
  // Started by an upgrade: the old master waits to hear whether this one can take over.
  const predecessor = PredecessorLink.fromEnvironment(process.env);
  const sources: ConfigSources = {
    argv,
    environmentArguments: process.env['APPD_CMD_ARGS'],
    environment: process.env,
    directory: process.cwd(),
  };
  const fail = async (exitCode: number, message: string): Promise<number> => {
    if (daemonChild) reportToForeground({ type: 'daemon-failed', exitCode, message });
    process.stderr.write(stderrMessage(message));
    await predecessor?.report({ type: 'successor-failed', exitCode, message });
    return exitCode;
  };
  let start;
  let strayDescriptors: string[] = [];
  try {
    start = await readConfig(sources);
    // Before any child (a --check-config boot, --daemon, workers) can inherit what our caller left open.
    strayDescriptors = closeStrayDescriptors(descriptorsToKeep(start.resolved.values, process.env));
    // Once, at start (a reload reads the file again and says nothing): before the log exists, on stderr.
    for (const warning of start.warnings) process.stderr.write(`appd: warning: ${warning}\n`);
    // The one-shot actions' code (print-config, the systemd unit, check-config) is imported when asked for:
    // a master compiles the code it loads at start in one go and keeps it for its life (Node 24: the bundle's
    // compile leaves ~1.8 MB of malloc heap behind; less code, less of it).
    if (start.actions.printConfig) {
      const { renderConfig } = await import('./config/print-config.js');
      process.stdout.write(renderConfig(start.resolved));
      return EXIT.ok;
    }
    checkStartable(start.resolved);
    if (start.actions.printSystemdUnit) {
      const { printableUnit } = await import('./systemd/unit-file.js');
      process.stdout.write(printableUnit(start.resolved, sources));
      return EXIT.ok;
    }
    if (start.actions.checkConfig) {
      const { checkAppsLoad } = await import('./config/check-app.js');
      const checked = await checkAppsLoad(start.resolved, sources.directory);
      process.stdout.write(
        `appd: configuration OK${start.resolved.configFile ? ` (${start.resolved.configFile})` : ''}\n${checked.map((line) => `  ${line}\n`).join('')}`,
      );
      return EXIT.ok;
    }
  } catch (error) {
    if (error instanceof CommandLineAnswered) return error.exitCode; // --help or --version, already printed
    if (error instanceof AppdError) return fail(error.exitCode, error.message);
    throw error;
  }
  // A successor runs where its old master ran: already in the background if that one was.
  if (start.resolved.values.daemon && !daemonChild && !predecessor) {
    if (start.resolved.values.errorLogfile === '-') {
      process.stderr.write('appd: note: with --daemon and error-logfile "-" the log is discarded; set --error-logfile\n');
    }
    return detachAndWait(argv);
  }
  const outcome = await runMaster(
    start.resolved,
    sources,
    {
      ready: (summary) => {
        if (daemonChild) reportToForeground({ type: 'daemon-ready', summary });
      },
    },
    predecessor,
    strayDescriptors.length > 0
      ? [
          `closed ${strayDescriptors.join(', ')}: open without close-on-exec when appd started (every worker would have inherited ${strayDescriptors.length === 1 ? 'it' : 'them'})`,
        ]
      : [],
  );
  if (outcome.error) {
    // Also into the log file, where an operator of a daemon will look.
    if (outcome.logger && outcome.logger.path !== '-') outcome.logger.critical(outcome.error.message);
    outcome.logger?.close();
    return fail(outcome.error.exitCode, outcome.error.message);
  }
  outcome.logger?.close();
  return outcome.exitCode;
}

// A reader that went away (appctl status | head) is not an error worth a stack trace.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exit(code);
  },
  (error: unknown) => {
    process.stderr.write(`appd: unexpected failure: ${describeError(error)}\n`);
    process.exit(EXIT.runtimeFailure);
  },
);
