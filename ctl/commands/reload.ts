// `appctl reload [POOL]`: the same event as HUP; blocks until the new generation serves (exit 0) or the
// reload fails or rolls back (exit 1), printing progress on the way. Run by appctl.

import { runJob, type Register } from './context.js';

export const registerReload: Register = (program, run) => {
  program
    .command('reload')
    .argument('[POOL]', 'only this pool (default: every pool)')
    .description('re-read the config and roll workers to a new generation (like HUP); waits until it serves')
    .action((pool: string | undefined) =>
      run((context) => runJob(context, { command: 'reload', pool: pool ?? null }, { timeoutMs: null })),
    );
};
