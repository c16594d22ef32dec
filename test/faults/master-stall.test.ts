// Fault injection on the master's sense of time: it is stopped (SIGSTOP) for longer than --timeout,
// and its wall clock (then both clocks) jumps under libfaketime. No healthy worker may be killed for
// it; a worker that really hangs must still be. Runs real daemons; the faketime tests need libfaketime.

import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import type { StatusSnapshot } from '../../shared/control/status.js';
import { ControlClient } from '../../ctl/client/connection.js';
import { fixture, startDaemon, tempDirectory, type TestDaemon } from '../helpers/daemon.js';
import { sleep, waitFor } from '../helpers/processes.js';

const LIBFAKETIME = ['/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1', '/usr/lib/faketime/libfaketime.so.1'].find((path) =>
  existsSync(path),
);

/** Every worker of the status: pid and state. */
function workersOf(snapshot: StatusSnapshot): string[] {
  return snapshot.pools.flatMap((pool) => pool.workers.map((worker) => `${worker.pid} ${worker.state}`)).sort();
}

/**
 * Watches the daemon until its own uptime (its monotonic clock) has moved `ms` past the first look:
 * at every look the workers must be exactly `expected` (same pids, all ready). A master that kills
 * after a stall does so at its first pass, long before this ends.
 */
async function holdsFor(t: ExecutionContext, status: () => Promise<StatusSnapshot>, expected: string[], ms: number): Promise<void> {
  const first = await status();
  let uptime = first.master.uptimeMs;
  t.deepEqual(workersOf(first), expected);
  while (uptime - first.master.uptimeMs < ms) {
    await sleep(250);
    const snapshot = await status();
    uptime = snapshot.master.uptimeMs;
    t.deepEqual(workersOf(snapshot), expected, `at ${uptime - first.master.uptimeMs} ms after the first look`);
  }
}

/** Waits until every worker is ready and has sent a heartbeat; returns a status reader and the workers. */
async function readyWorkers(daemon: TestDaemon, count: number): Promise<{ status: () => Promise<StatusSnapshot>; expected: string[] }> {
  // A new control connection per look: under libfaketime a monotonic jump of 60 s makes a long-lived
  // connection look idle for 60 s, and the control server closes it (its idle limit), as it would after
  // a real stall that long.
  const socket = (await daemon.waitForLog(/Control socket: (\S+)/))[1] ?? '';
  const status = async (): Promise<StatusSnapshot> => {
    const client = await ControlClient.connect(socket);
    try {
      const outcome = await client.request({ command: 'status' });
      if (outcome.status !== 'completed') throw new Error(`status: ${JSON.stringify(outcome)}`);
      return outcome.data as StatusSnapshot;
    } finally {
      client.close();
    }
  };
  const expected = await waitFor(
    'every worker ready and heartbeating',
    async () => {
      const snapshot = await status();
      const workers = snapshot.pools[0]?.workers ?? [];
      return workers.length === count && workers.every((worker) => worker.state === 'ready' && worker.statsAgeMs !== null)
        ? workersOf(snapshot)
        : null;
    },
    30_000,
    100,
  );
  return { status, expected };
}

test('master SIGSTOPped for 8 s with --timeout 5: no healthy worker is killed; it says it stalled', async (t) => {
  t.timeout(120_000);
  const daemon = await startDaemon(t, { args: [fixture('pid-app.mjs'), '-w', '4', '-b', '127.0.0.1:0', '--timeout', '5'] });
  const { status, expected } = await readyWorkers(daemon, 4);
  daemon.signal('SIGSTOP');
  t.teardown(() => daemon.signal('SIGCONT'));
  // The stall itself is the fault: longer than --timeout.
  await sleep(8000);
  daemon.signal('SIGCONT');
  await holdsFor(t, status, expected, 4000);
  t.false(/WORKER TIMEOUT/.test(daemon.output), 'no worker was judged silent');
  // At least the 8 s it was stopped; more on a loaded machine (11.5 s once), so no upper bound.
  const stalled = Number(/the master did not run for (\d+\.\d)s/.exec(daemon.output)?.[1]);
  t.true(stalled >= 7.9, `it said it stalled ${stalled} s`);
});

const faketimeTitle = (what: string): string =>
  LIBFAKETIME ? what : `${what} (skipped: libfaketime is not installed; apt-get install faketime)`;

/**
 * libfaketime (LD_PRELOAD, master and workers) reads the offset from a file at every clock read, so
 * writing the file steps the clocks of the running daemon. It fakes CLOCK_MONOTONIC too unless told
 * not to: with the wall clock alone the master must not even notice; with both, a jump forward looks
 * like a stall and is handled as one. (A monotonic clock going back happens only under libfaketime.)
 */
for (const [what, fakeMonotonic, steps] of [
  ["the master's wall clock jumps +60 s, then back an hour", false, ['+60s', '-3540s']],
  ["the master's wall and monotonic clocks jump +60 s", true, ['+60s']],
] as const) {
  (LIBFAKETIME ? test : test.skip)(faketimeTitle(`${what} under libfaketime: no worker is killed`), async (t) => {
    t.timeout(120_000);
    const offsetFile = join(tempDirectory(t, 'appd-faketime-'), 'offset');
    writeFileSync(offsetFile, '+0\n');
    const daemon = await startDaemon(t, {
      args: [fixture('pid-app.mjs'), '-w', '2', '-b', '127.0.0.1:0', '--timeout', '5'],
      env: {
        LD_PRELOAD: LIBFAKETIME ?? '',
        FAKETIME_TIMESTAMP_FILE: offsetFile,
        FAKETIME_NO_CACHE: '1',
        ...(fakeMonotonic ? {} : { FAKETIME_DONT_FAKE_MONOTONIC: '1' }),
      },
    });
    const { status, expected } = await readyWorkers(daemon, 2);
    for (const step of steps) {
      writeFileSync(offsetFile, `${step}\n`);
      await holdsFor(t, status, expected, 3000);
    }
    t.false(/WORKER TIMEOUT/.test(daemon.output), 'no worker was judged silent');
  });
}
