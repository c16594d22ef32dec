// `appctl events [--json]`: every worker state change (spawned, ready, stopping, exited) as it happens,
// until interrupted or the daemon stops; for scripts and dashboards that react instead of polling. Run by appctl.

import type { WorkerEventMessage } from '../../shared/control/protocol.js';
import { followFor, type Register } from './context.js';
import { CTL_EXIT } from '../client/errors.js';
import { formatTime } from '../render/log-line.js';

export function renderWorkerEvent(event: WorkerEventMessage): string {
  return `${formatTime(event.time)} ${event.tag} (pid ${event.pid}) ${event.state}${event.detail ? `: ${event.detail}` : ''}`;
}

export const registerEvents: Register = (program, run) => {
  program
    .command('events')
    .description('print worker state changes (starting, ready, stopping, exited) as they happen, until interrupted')
    .action(() =>
      run(async (context) => {
        const client = await context.connect();
        // Ctrl-C is the normal way out.
        const interrupted = new Promise<number>((settle) => process.once('SIGINT', () => settle(CTL_EXIT.ok)));
        try {
          const request = client.request(
            { command: 'events' },
            {
              events: (batch) => {
                const text = batch.map((event) => (context.json ? JSON.stringify(event) : renderWorkerEvent(event))).join('\n');
                if (text !== '' && !process.stdout.write(`${text}\n`)) {
                  client.pause();
                  process.stdout.once('drain', () => client.resume());
                }
              },
            },
          );
          const finished = request.then((outcome) => (outcome.status === 'completed' ? CTL_EXIT.ok : CTL_EXIT.failed));
          return await Promise.race([finished, interrupted, followFor(context.timeoutMs(null))]);
        } finally {
          client.close();
        }
      }),
    );
};
