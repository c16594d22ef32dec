// `appctl stop [--quick]`: the same events as TERM (graceful) and QUIT (quick); returns when the
// workers are gone and the master is exiting. Run by appctl.

import { runJob, type Register } from './context.js';

/** After "stopped", the master still closes its listeners and removes its files; then it hangs up. */
const HANG_UP_WAIT_MS = 5000;

export const registerStop: Register = (program, run) => {
  program
    .command('stop')
    .option('-q, --quick', 'stop at once instead of letting in-flight requests finish (like QUIT)')
    .description('stop the daemon gracefully (like TERM); waits until its workers have exited')
    .action((options: { quick?: boolean }) =>
      run((context) =>
        runJob(
          context,
          { command: 'stop', mode: options.quick ? 'quick' : 'graceful' },
          {
            timeoutMs: null,
            // Returning only once the daemon hung up makes `appctl stop && appd …` safe: its port,
            // pidfile and control socket are free by then.
            afterCompleted: (client) =>
              Promise.race([client.closed(), new Promise<void>((settle) => setTimeout(settle, HANG_UP_WAIT_MS).unref())]),
          },
        ),
      ),
    );
};
