// `appctl logs [-f] [POOL]`: recent lines from the daemon's ring buffer, then (with -f) every new line
// until interrupted or the daemon stops; --json prints one JSON object per line. Run by appctl.

import { followFor, QUICK_TIMEOUT_MS, type Register } from './context.js';
import { CTL_EXIT, UsageError } from '../client/errors.js';
import { renderLogLine } from '../render/log-line.js';

const DEFAULT_LINES = 100;

export const registerLogs: Register = (program, run) => {
  program
    .command('logs')
    .argument(
      '[POOL|POOL.SLOT]',
      "only this pool's workers, or one slot's (its output and the master's lines about it); default: everything",
    )
    .option('-f, --follow', 'keep printing new lines until interrupted')
    .option('-l, --lines <N>', `how many recent lines to start with (default ${DEFAULT_LINES})`)
    .description("print the daemon's recent log lines (a ring buffer); -f follows")
    .action((pool: string | undefined, options: { follow?: boolean; lines?: string }) =>
      run(async (context) => {
        const lines = options.lines === undefined ? DEFAULT_LINES : Number(options.lines);
        if (!Number.isInteger(lines) || lines < 0) throw new UsageError(`--lines expects a whole number, got "${options.lines}"`);
        const follow = options.follow === true;
        // Following, --timeout says how long to follow; otherwise how long to wait for the lines.
        const client = await context.connect(undefined, follow ? null : context.timeoutMs(QUICK_TIMEOUT_MS));
        // Ctrl-C ends following: that is the normal way out, so exit 0.
        const interrupted = new Promise<number>((settle) => process.once('SIGINT', () => settle(CTL_EXIT.ok)));
        try {
          const request = client.request(
            { command: 'logs', pool: pool ?? null, lines, follow },
            {
              log: (batch) => {
                const text = batch.map((line) => (context.json ? JSON.stringify(line) : renderLogLine(line))).join('\n');
                // A slow reader of our stdout slows our reading of the socket: the daemon then sees a
                // slow client and drops it, instead of appctl growing without bound.
                if (text !== '' && !process.stdout.write(`${text}\n`)) {
                  client.pause();
                  process.stdout.once('drain', () => client.resume());
                }
              },
            },
          );
          const finished = request.then((outcome) => {
            if (outcome.status === 'completed') return CTL_EXIT.ok;
            process.stderr.write(`appctl: ${outcome.message}\n`);
            return CTL_EXIT.failed;
          });
          return await Promise.race([finished, interrupted, ...(follow ? [followFor(context.timeoutMs(null))] : [])]);
        } finally {
          client.close();
        }
      }),
    );
};
