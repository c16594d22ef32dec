// `appctl top`: the live dashboard (pools, workers, logs; scale, reload, restart and upgrade from the
// keyboard) on a terminal, or plain frames when there is none to drive. Run by appctl.

import { type Register } from '../commands/context.js';
import { UsageError } from '../client/errors.js';
import { helpLines } from './help.js';
import { plainPainter } from './style.js';

/** A terminal blessed can drive: both ends are TTYs and terminfo says more than "dumb". */
function canDrawFullScreen(): boolean {
  const term = process.env['TERM'] ?? '';
  return process.stdin.isTTY === true && process.stdout.isTTY === true && term !== '' && term !== 'dumb';
}

export const registerTop: Register = (program, run) => {
  program
    .command('top')
    .description('live dashboard of pools, workers and logs; keys scale, reload, restart and upgrade (? shows them)')
    .addHelpText(
      'after',
      `\n${helpLines(80, plainPainter(false))
        .map((line) => line.trimEnd())
        .join('\n')}`,
    )
    .action(() =>
      run(async (context) => {
        if (context.json) throw new UsageError('top is interactive; for scripts use appctl status --json');
        // Before the screen changes: no daemon is exit 3 with the usual message, as for every command.
        const client = await context.connect();
        // Loaded here, not at the top: blessed alone is ~50 files, which every other command would pay for.
        if (!canDrawFullScreen()) return (await import('./batch.js')).runPlainFrames(client);
        const { Dashboard } = await import('./dashboard.js');
        return new Dashboard(client).run();
      }),
    );
};
