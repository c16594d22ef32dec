// `appctl scale [POOL] +N|-N|N`: relative or absolute worker count, applied by the daemon (never below
// one worker for an http pool); waits until the pool has that many ready workers. Run by appctl.

import type { ScaleChange } from '../../shared/control/protocol.js';
import { runJob, type Register } from './context.js';
import { UsageError } from '../client/errors.js';

/** "+2" and "-1" are deltas, "6" a count. (Commander passes "-1" through as an argument, not an option.) */
export function parseScaleChange(text: string): ScaleChange | null {
  const match = /^([+-]?)(\d{1,4})$/.exec(text.trim());
  if (!match) return null;
  const count = Number(match[2]);
  if (match[1] === '+') return { relative: count };
  if (match[1] === '-') return { relative: -count };
  return { absolute: count };
}

export const registerScale: Register = (program, run) => {
  program
    .command('scale')
    .argument('[POOL]', 'the pool (default: the first one)')
    // Both optional for commander, which fills arguments left to right; one given is the change.
    .argument('[CHANGE]', '+N more workers, -N fewer, or N exactly')
    .usage('[POOL] +N|-N|N')
    .description('change the number of workers (e.g. scale +2, scale web -1, scale web 6); waits until they are ready')
    .action((first: string | undefined, second: string | undefined) =>
      run((context) => {
        if (first === undefined) throw new UsageError('scale needs a change: +N, -N or N (e.g. appctl scale +2, appctl scale web 6)');
        const [pool, changeText] = second === undefined ? [null, first] : [first, second];
        const change = parseScaleChange(changeText);
        if (!change) throw new UsageError(`invalid change "${changeText}": expected +N, -N or N (e.g. appctl scale web +2)`);
        return runJob(context, { command: 'scale', pool, change }, { timeoutMs: null });
      }),
    );
};
