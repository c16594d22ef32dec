// `appctl status [--json]`: the daemon's pools and workers (pid, slot, generation, state, uptime,
// requests, in flight, RSS, CPU, restarts); --json prints the snapshot as is, a stable format. Run by appctl.

import { STATUS_FORMAT } from '../../shared/control/status.js';
import { isStatusSnapshot, replyData } from '../client/reply-data.js';
import { QUICK_TIMEOUT_MS, withTimeout, type CommandContext, type Register } from './context.js';
import { CTL_EXIT, ControlFailure } from '../client/errors.js';
import { renderStatus } from '../render/status.js';

/** What `appctl status` does; appctl's main calls it directly, without commander, for the plain form. */
export async function showStatus(context: CommandContext): Promise<number> {
  // Sent with the hello: one round trip to the daemon instead of two.
  const request = { command: 'status' } as const;
  const client = await context.connect(request);
  try {
    const outcome = await withTimeout(client.request(request), context.timeoutMs(QUICK_TIMEOUT_MS), client);
    if (outcome.status !== 'completed') throw new ControlFailure(outcome.message);
    const format: unknown =
      typeof outcome.data === 'object' && outcome.data !== null && 'format' in outcome.data ? outcome.data.format : undefined;
    if (format !== undefined && format !== STATUS_FORMAT) {
      throw new ControlFailure(
        `the daemon sent status format ${String(format)}, this appctl reads ${STATUS_FORMAT}: use the appctl installed with the daemon`,
      );
    }
    const snapshot = replyData(outcome, 'status', isStatusSnapshot, `a status snapshot (format ${STATUS_FORMAT})`);
    if (context.json) context.printJson(snapshot);
    else context.print(renderStatus(snapshot));
    return CTL_EXIT.ok;
  } finally {
    client.close();
  }
}

export const registerStatus: Register = (program, run) => {
  program
    .command('status')
    .description('show the master, pools and workers; --json for the stable machine-readable snapshot')
    .action(() => run(showStatus));
};
