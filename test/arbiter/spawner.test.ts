// The real spawner's process wrapper: what the master does to a worker process that could not start.
// Runs in the ava test process (process.kill is replaced by a recorder: nothing is really signalled).

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import test from 'ava';
import { ChildWorkerProcess } from '../../daemon/workers/spawn/spawner.js';

test.serial('signalling a worker whose process never started is a no-op, never kill(-1)', async (t) => {
  const child = spawn('/nonexistent/appd-test-program');
  const [error] = (await once(child, 'error')) as [NodeJS.ErrnoException];
  t.is(error.code, 'ENOENT');
  const worker = new ChildWorkerProcess(child);
  const sent: [number, string | number | undefined][] = [];
  const realKill = process.kill;
  process.kill = ((pid: number, signal?: string | number) => {
    sent.push([pid, signal]);
    return true;
  }) as typeof process.kill;
  try {
    worker.signal('SIGTERM');
    worker.signal('SIGKILL');
  } finally {
    process.kill = realKill;
  }
  t.is(worker.pid, -1);
  t.deepEqual(sent, [], 'kill(-1, ...) would signal every process this user may signal');
});
