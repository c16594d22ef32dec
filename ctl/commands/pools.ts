// `appctl restart [POOL [SLOT]]`, `appctl stop-pool POOL`, `appctl start-pool POOL`: supervisor-style
// control of pools and slots; each waits until the daemon has done it. Run by appctl.

import { runJob, type Register } from './context.js';
import { UsageError } from '../client/errors.js';

function parseSlot(text: string | undefined): number | null {
  if (text === undefined) return null;
  if (!/^\d{1,4}$/.test(text)) throw new UsageError(`invalid slot "${text}": expected a slot number such as 0 (see appctl status)`);
  return Number(text);
}

export const registerRestart: Register = (program, run) => {
  program
    .command('restart')
    .argument('[POOL]', 'only this pool (default: every pool)')
    .argument('[SLOT]', 'only this slot of the pool, e.g. 2 for web.2')
    .description('replace workers without re-reading the config (rolling; clears fatal slots); waits until done')
    .action((pool: string | undefined, slot: string | undefined) =>
      run((context) => runJob(context, { command: 'restart', pool: pool ?? null, slot: parseSlot(slot) }, { timeoutMs: null })),
    );
};

export const registerStopPool: Register = (program, run) => {
  program
    .command('stop-pool')
    .argument('<POOL>', 'the pool to stop')
    .description('stop every worker of a pool gracefully and keep it stopped (until start-pool)')
    .action((pool: string) => run((context) => runJob(context, { command: 'stop-pool', pool }, { timeoutMs: null })));
};

export const registerStartPool: Register = (program, run) => {
  program
    .command('start-pool')
    .argument('<POOL>', 'the pool to start')
    .description('start a stopped pool again (also clears fatal slots); waits until its workers run')
    .action((pool: string) => run((context) => runJob(context, { command: 'start-pool', pool }, { timeoutMs: null })));
};
