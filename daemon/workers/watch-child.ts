// Connects a freshly spawned worker process to the arbiter: its exit, errors and IPC messages become
// events on the queue, and its stdout/stderr lines go to the log tagged with the worker. Run by the appd master.

import type { Socket } from 'node:net';
import type { ArbiterEvent } from '../arbiter/events.js';
import type { Logger } from '../master/logger.js';
import { relayLines } from './output-relay.js';
import type { WorkerHandle } from './handle.js';
import { channelFd } from '../contracts/worker-messages.js';
import { WorkerChannel } from './worker-channel.js';

export function watchChild(worker: WorkerHandle, enqueue: (event: ArbiterEvent) => void, logger: Logger, listenerCount: number): void {
  const { child, id } = worker;
  const channel = worker.settings.kind === 'command' ? undefined : child.stdio[channelFd(listenerCount)];
  if (channel && 'write' in channel) {
    worker.channel = new WorkerChannel(channel as Socket, {
      message: (message) => enqueue({ type: 'worker-message', workerId: id, message }),
      foreign: (type) => logger.warning(`worker ${worker.label} sent a message appd does not know (type ${type}); ignored, and so are any more`),
      violation: (reason) => enqueue({ type: 'worker-misbehaved', workerId: id, reason }),
    });
  }
  child.on('exit', (code, signal) => enqueue({ type: 'worker-exit', workerId: id, code, signal }));
  child.on('error', (error) => enqueue({ type: 'worker-spawn-failed', workerId: id, error }));
  // An HTTP worker's stdin is its watchdog pipe; writing to a worker that just died fails with EPIPE,
  // which the exit event already reports.
  child.stdin?.on('error', () => undefined);
  const output = (stream: 'stdout' | 'stderr') => (line: string) => {
    worker.rememberOutput(line);
    logger.workerOutput(worker.tag, worker.pid, stream, line);
  };
  relayLines(child.stdout, output('stdout'));
  relayLines(child.stderr, output('stderr'));
}
