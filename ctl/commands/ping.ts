// `appctl ping`: proves the master's loop answers (the request goes through the arbiter's queue, not
// just the socket); for health checks and scripts. Run by appctl.

import { isPingData, replyData } from '../client/reply-data.js';
import { QUICK_TIMEOUT_MS, runJob, type Register } from './context.js';
import { formatDuration } from '../render/format.js';

export const registerPing: Register = (program, run) => {
  program
    .command('ping')
    .description('check that the daemon answers (exit 0), with its pid and the round-trip time')
    .action(() =>
      run((context) => {
        const sentAt = process.hrtime.bigint();
        return runJob(
          context,
          { command: 'ping' },
          {
            timeoutMs: QUICK_TIMEOUT_MS,
            render: (outcome) => {
              const milliseconds = Number(process.hrtime.bigint() - sentAt) / 1e6;
              const data = replyData(outcome, 'ping', isPingData, 'its name, pid, phase and uptime');
              return `pong from appd '${data.name}' (pid ${data.pid}, ${data.phase}, up ${formatDuration(data.uptimeMs)}) in ${milliseconds.toFixed(1)} ms`;
            },
          },
        );
      }),
    );
};
