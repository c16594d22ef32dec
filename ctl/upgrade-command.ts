// `appctl upgrade`: the same event as USR2; waits for the outcome (a new master serving, or the old one
// kept). Run by appctl.

import { runJob, type Register } from './command-context.js';

export const registerUpgrade: Register = (program, run) => {
  program
    .command('upgrade')
    .description('replace the master with a new one on the same sockets (like USR2); waits for the outcome')
    .action(() => run((context) => runJob(context, { command: 'upgrade' }, { timeoutMs: null })));
};
