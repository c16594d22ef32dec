// `appctl upgrade`: USR2's event, but the old master also retires by itself once the new one serves;
// waits for the outcome (the old master gone, or the new one rolled back: exit 1). Run by appctl.

import { runJob, type Register } from './context.js';

export const registerUpgrade: Register = (program, run) => {
  program
    .command('upgrade')
    .description('replace the master with a new one on the same sockets (like USR2), then retire the old one; waits until it is gone')
    .action(() => run((context) => runJob(context, { command: 'upgrade' }, { timeoutMs: null })));
};
