// A log follower that never reads (appctl logs -f, then SIGSTOP, as PM2's `pm2 logs` grew its daemon to
// 2.6 GB) must not grow the master: 100k log lines later it keeps no more memory and the follower was dropped.

import test from 'ava';
import { closeSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { appctl, followAppctl } from '../helpers/appctl.js';
import type { StatusSnapshot } from '../../shared/control/status.js';
import { fixture, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { get } from '../helpers/http.js';
import { killQuietly, waitFor } from '../helpers/processes.js';

const LINES = 100_000;
/** Characters per line: 100k lines are 20 MB, the growth an unbounded buffer would show. */
const LINE_SIZE = 200;
/**
 * What the master may keep after a full collection once the follower is gone: the subscription's
 * budget (1 MiB) is freed with the connection, so this is room for code the run compiled (+1.6 MiB
 * seen on Node 24, -0.2 on Node 20). Without the drop the master kept the whole flood as queued
 * frames: +35 MiB (heap + external after GC 11.1 -> 46.3 MiB).
 */
const RETAINED_LIMIT_BYTES = 8 * 1024 * 1024;

const mebibytes = (bytes: number): string => (bytes / 1048576).toFixed(1);

function rssBytes(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(match?.[1] ?? 0) * 1024;
}

/** The last 64 KiB of a file: the log grows to 40 MB, too much to read ten times a second. */
function tailOf(path: string): string {
  const descriptor = openSync(path, 'r');
  try {
    const size = fstatSync(descriptor).size;
    const tail = Buffer.alloc(Math.min(size, 64 * 1024));
    readSync(descriptor, tail, 0, tail.length, size - tail.length);
    return tail.toString('utf8');
  } finally {
    closeSync(descriptor);
  }
}

/** Has the worker print `LINES` lines and waits until the master has logged the last one. */
async function printLines(url: string, logfile: string, text: string): Promise<void> {
  await get(`${url}/print?text=${text}&count=${LINES}&size=${LINE_SIZE}`, { timeoutMs: 60_000 });
  await waitFor(`the master to log ${text} ${LINES - 1}`, () => tailOf(logfile).includes(`${text} ${LINES - 1}.`), 60_000, 100);
}

/**
 * What the master retains: under node --expose-gc it writes its heap and external memory (Buffers)
 * after a full collection to stderr as a reload starts (daemon/config/reload.ts). RSS cannot say it:
 * pages V8 and malloc took during the flood stay mapped, and varied by +-15 MiB between runs (CI saw
 * 69.7 -> 86.7 MiB while the heap after GC moved by 0.1 MiB).
 */
async function retainedAfterCollection(daemon: TestDaemon, runtimeDirectory: string): Promise<number> {
  const figures = (): number[] =>
    [...daemon.printed.matchAll(/heap after GC: (\d+) bytes, external (\d+) bytes/g)].map((match) => Number(match[1]) + Number(match[2]));
  const seen = figures().length;
  await appctl(['reload'], { runtimeDirectory });
  const after = await waitFor('the heap figure of the reload', () => (figures().length > seen ? figures() : null), 30_000);
  return after[after.length - 1] ?? 0;
}

test('a follower that never reads is dropped with a log line; 100k log lines later the master keeps no more memory', async (t) => {
  t.timeout(300_000);
  // The log goes to a file, so the test process does not have to carry 20 MB of it.
  const daemon = await startDaemon(t, {
    args: [fixture('print-app.mjs'), '-w', '1', '-b', '127.0.0.1:0', '--error-logfile', 'appd.log'],
    nodeArguments: ['--expose-gc'],
    waitFor: 'nothing',
  });
  const logfile = join(daemon.directory, 'appd.log');
  const runtimeDirectory = daemon.directory;
  await waitFor(
    'the daemon to be ready',
    async () => (await appctl(['ping'], { runtimeDirectory })).stdout.includes('running'),
    15_000,
    100,
  );
  const status = JSON.parse((await appctl(['status', '--json'], { runtimeDirectory })).stdout) as StatusSnapshot;
  const url = status.master.listeners[0] ?? '';

  // One round with nobody following fills the master's ring of recent lines and compiles the relay's code.
  await printLines(url, logfile, 'warmup');
  const before = await retainedAfterCollection(daemon, runtimeDirectory);
  const rssBefore = rssBytes(daemon.pid);

  const follower = followAppctl(t, ['logs', '-f', '--lines', '1'], { runtimeDirectory });
  await waitFor('the follower to subscribe', () => follower.output().length > 0);
  follower.child.kill('SIGSTOP');
  t.teardown(() => killQuietly(follower.child.pid ?? -1, 'SIGKILL'));

  await printLines(url, logfile, 'stuck');
  const rssAfter = rssBytes(daemon.pid);
  const after = await retainedAfterCollection(daemon, runtimeDirectory);
  const growth = after - before;
  t.log(
    `master heap + external after a full GC: ${mebibytes(before)} MiB before, ${mebibytes(after)} MiB after ${LINES} lines of ${LINE_SIZE} bytes (${((LINES * LINE_SIZE) / 1048576).toFixed(0)} MiB) with a stopped follower; RSS ${mebibytes(rssBefore)} -> ${mebibytes(rssAfter)} MiB`,
  );
  t.regex(
    readFileSync(logfile, 'utf8'),
    new RegExp(`dropped control client appctl \\(pid ${follower.child.pid}\\): it stopped reading the log \\(\\d+ KiB unread\\)`),
  );
  t.true(growth < RETAINED_LIMIT_BYTES, `the master kept ${mebibytes(growth)} MiB more`);
  t.is((await appctl(['ping'], { runtimeDirectory })).code, 0);
});
