// `appctl status [--json]`: the daemon's pools and workers (pid, slot, generation, state, uptime,
// requests, in flight, RSS, CPU, restarts); --json prints the snapshot as is, a stable format. Run by appctl.

import { STATUS_FORMAT } from '../../shared/control/status.js';
import { isStatusSnapshot, replyData } from '../client/reply-data.js';
import { QUICK_TIMEOUT_MS, type CommandContext, type Register } from './context.js';
import { CTL_EXIT, ControlFailure } from '../client/errors.js';
import { renderStatus } from '../render/status.js';
import type { ControlClient } from '../client/connection.js';

/** The status request; sent with the hello: one round trip to the daemon instead of two. */
export const STATUS_REQUEST = { command: 'status' } as const;

/** Connects with STATUS_REQUEST sent with the hello, and --timeout (10 s by default) for its answer. */
export function connectForStatus(context: CommandContext): Promise<ControlClient> {
  return context.connect(STATUS_REQUEST, context.timeoutMs(QUICK_TIMEOUT_MS));
}

/** What `appctl status` does (through commander): connects, prints the status, closes. */
export async function showStatus(context: CommandContext): Promise<number> {
  const client = await connectForStatus(context);
  try {
    return await printStatus(context, client);
  } finally {
    client.close();
  }
}

/**
 * Prints the status answering STATUS_REQUEST on `client` (from connectForStatus); leaves the
 * connection open. appctl's main calls it directly for the plain form, without commander, and exits
 * instead of closing.
 */
export async function printStatus(context: CommandContext, client: ControlClient): Promise<number> {
  const outcome = await client.request(STATUS_REQUEST);
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
}

export const registerStatus: Register = (program, run) => {
  program
    .command('status')
    .description('show the master, pools and workers; --json for the stable machine-readable snapshot')
    .action(() => run(showStatus));
};
