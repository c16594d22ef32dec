// A log follower that never reads (appctl logs -f, then SIGSTOP, as PM2's `pm2 logs` grew its daemon to
// 2.6 GB) must not grow the master: 100k log lines later its RSS is flat and the follower was dropped.

import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { appctl, followAppctl } from '../helpers/appctl.js';
import type { StatusSnapshot } from '../../shared/control/status.js';
import { fixture, startDaemon } from '../helpers/daemon.js';
import { get } from '../helpers/http.js';
import { killQuietly, waitFor } from '../helpers/processes.js';

const LINES = 100_000;
/** Characters per line: 100k lines are 20 MB, the growth an unbounded buffer would show. */
const LINE_SIZE = 200;

function rssBytes(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(match?.[1] ?? 0) * 1024;
}

/** Has the worker print `LINES` lines and waits until the master has logged the last one. */
async function printLines(url: string, logfile: string, text: string): Promise<void> {
  await get(`${url}/print?text=${text}&count=${LINES}&size=${LINE_SIZE}`, { timeoutMs: 60_000 });
  await waitFor(`the master to log ${text} ${LINES - 1}`, () => readFileSync(logfile, 'utf8').includes(`${text} ${LINES - 1}.`), 60_000, 100);
}

test('a follower that never reads is dropped with a log line; 100k log lines later the master RSS is flat', async (t) => {
  // The log goes to a file, so the test process does not have to carry 20 MB of it.
  const daemon = await startDaemon(t, {
    args: [fixture('print-app.mjs'), '-w', '1', '-b', '127.0.0.1:0', '--error-logfile', 'appd.log'],
    // RSS must show what the master keeps, not how big V8 lets its nursery grow: under this flood
    // Node 24's young generation grows to 128 MiB (Node 20's to 32), garbage that RSS counts and
    // no round gives back. With a 1 MiB semi-space, RSS follows what is really retained.
    nodeArguments: ['--max-semi-space-size=1'],
    waitFor: 'nothing',
  });
  const logfile = join(daemon.directory, 'appd.log');
  const runtimeDirectory = daemon.directory;
  await waitFor('the daemon to be ready', async () => (await appctl(['ping'], { runtimeDirectory })).stdout.includes('running'), 15_000, 100);
  const status = JSON.parse((await appctl(['status', '--json'], { runtimeDirectory })).stdout) as StatusSnapshot;
  const url = status.master.listeners[0] ?? '';

  // Two rounds with nobody following let the master's heap reach its working size (the second round
  // alone still grows it by about 12 MiB; a third grows it by less than 1).
  await printLines(url, logfile, 'warmup-one');
  await printLines(url, logfile, 'warmup-two');
  const before = rssBytes(daemon.pid);

  const follower = followAppctl(t, ['logs', '-f', '--lines', '1'], { runtimeDirectory });
  await waitFor('the follower to subscribe', () => follower.output().includes('warmup-two'));
  follower.child.kill('SIGSTOP');
  t.teardown(() => killQuietly(follower.child.pid ?? -1, 'SIGKILL'));

  await printLines(url, logfile, 'stuck');
  const after = rssBytes(daemon.pid);
  const growth = after - before;
  t.log(`master RSS ${(before / 1048576).toFixed(1)} MiB before, ${(after / 1048576).toFixed(1)} MiB after ${LINES} lines of ${LINE_SIZE} bytes (${((LINES * LINE_SIZE) / 1048576).toFixed(0)} MiB) with a stopped follower`);
  t.regex(readFileSync(logfile, 'utf8'), new RegExp(`dropped control client appctl \\(pid ${follower.child.pid}\\): it stopped reading the log \\(\\d+ KiB unread\\)`));
  t.true(growth < 8 * 1024 * 1024, `the master grew by ${(growth / 1048576).toFixed(1)} MiB`);
  t.is((await appctl(['ping'], { runtimeDirectory })).code, 0);
});
