// Connects a freshly spawned worker process to the master: its exit, errors, channel messages and
// output lines go to the supervisor's ProcessEvents (which queue them for the arbiter). Run by the appd master.

import type { ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { relayLines } from './output-relay.js';
import type { ProcessEvents } from './spawn/spawner.js';
import { channelFd } from '../contracts/worker-messages.js';
import { WorkerChannel } from './worker-channel.js';

/** Returns the HTTP worker's message channel (null for a command, which has none). */
export function watchChild(
  child: ChildProcess,
  events: ProcessEvents,
  kind: 'http' | 'command',
  listenerCount: number,
): WorkerChannel | null {
  const stream = kind === 'command' ? undefined : child.stdio[channelFd(listenerCount)];
  const channel =
    stream && 'write' in stream
      ? new WorkerChannel(stream as Socket, { message: events.message, foreign: events.foreign, violation: events.misbehaved })
      : null;
  child.on('exit', (code, signal) => events.exit(code, signal));
  child.on('error', (error) => events.spawnFailed(error));
  // An HTTP worker's stdin is its watchdog pipe; writing to a worker that just died fails with EPIPE,
  // which the exit event already reports.
  child.stdin?.on('error', () => undefined);
  relayLines(child.stdout, (lines) => events.output('stdout', lines));
  relayLines(child.stderr, (lines) => events.output('stderr', lines));
  return channel;
}
