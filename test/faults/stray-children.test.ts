// Fault injection: workers whose children ignore SIGTERM (an HTTP app that shells out, a command that
// leaves a TERM-trapping subshell behind). After a reload, a stop and a SIGKILL of the master, nothing
// of their process groups is left: each worker leads its own group, what remains of it gets TERM then
// KILL 2 s later, and the group keeper does the same when the master was killed. The time each took is
// logged against the bound (graceful-timeout + 5 s) but not asserted: on a loaded machine
// appctl's own start and the new workers' boot stretch it; before, the children lived on for good.

import test from 'ava';
import { appctl } from '../helpers/appctl.js';
import { fixture, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { childrenOf, commandLine, isAlive, waitFor } from '../helpers/processes.js';

const GRACEFUL_TIMEOUT_SECONDS = 2;
/** The bound: everything gone within graceful-timeout + 5 s of the operator's action (logged). */
const BOUND_MS = (GRACEFUL_TIMEOUT_SECONDS + 5) * 1000;
const WORKERS_PER_POOL = 2;

const CONFIG = `export default {
  gracefulTimeout: ${GRACEFUL_TIMEOUT_SECONDS},
  pools: {
    web: { app: ${JSON.stringify(fixture('stubborn-child-app.mjs'))}, workers: ${WORKERS_PER_POOL}, bind: ['127.0.0.1:0'] },
    jobs: { command: ['sh', '-c', '(trap "" TERM; sleep 1000; :) & exec sleep 999'], workers: ${WORKERS_PER_POOL}, startSeconds: 0 },
  },
};
`;

/** The master's workers (its direct children but the group keeper). */
function workersOf(daemon: TestDaemon): number[] {
  return childrenOf(daemon.pid).filter((pid) => !commandLine(pid).startsWith('appd: group keeper'));
}

/**
 * Every descendant of the master once each worker has started its stubborn child: an HTTP worker, its
 * shell and the shell's sleep (3); a command (sleep 999, which stops on TERM), the subshell it left in
 * the background and that one's sleep (3). Found through the process tree, not the process groups, so
 * that the test proves the property on a spawner that made no groups at all.
 */
async function workerGroups(daemon: TestDaemon): Promise<number[]> {
  const expected = WORKERS_PER_POOL * 3 * 2;
  return waitFor(
    `${expected} processes under the master`,
    () => {
      const members = daemon.descendants();
      return workersOf(daemon).length === WORKERS_PER_POOL * 2 && members.length === expected ? members : null;
    },
    30_000,
  );
}

/** `received`: when the daemon logged the request (appctl's own start is slow on a loaded machine). */
async function waitUntilGone(
  t: { log(message: string): void },
  what: string,
  pids: readonly number[],
  since: number,
  received: Promise<number> = Promise.resolve(since),
): Promise<void> {
  await waitFor(`${what}: ${pids.join(' ')} to be gone`, () => pids.every((pid) => !isAlive(pid)), BOUND_MS + 30_000, 50);
  const goneAt = Date.now();
  const receivedAt = await received;
  const daemonSide = receivedAt === since ? '' : `, ${goneAt - receivedAt} ms after the daemon logged the request`;
  t.log(
    `${what}: ${pids.length} processes (workers, their TERM-ignoring shells and sleeps) gone ${goneAt - since} ms after it${daemonSide} (bound ${BOUND_MS} ms)`,
  );
}

/** When the daemon logs that appctl's request arrived (polled). */
function requestLogged(daemon: TestDaemon, pattern: RegExp): Promise<number> {
  return daemon.waitForLog(pattern, 60_000).then(() => Date.now());
}

test("after appctl reload, the old workers' TERM-ignoring children are gone", async (t) => {
  t.timeout(120_000);
  const daemon = await startDaemon(t, { args: ['-c', 'appd.config.mjs', '--name', 'strays'], files: { 'appd.config.mjs': CONFIG } });
  const members = await workerGroups(daemon);
  const reloadedAt = Date.now();
  const received = requestLogged(daemon, /appctl \(pid \d+\): reloading/);
  const reload = await appctl(['reload'], { runtimeDirectory: daemon.directory, timeoutMs: 60_000 });
  t.is(reload.code, 0, reload.stderr);
  await waitUntilGone(t, 'reload', members, reloadedAt, received);
  t.regex(daemon.output, /worker web\.\d g1 \(pid \d+\) left processes in its process group: TERM/);
  t.regex(daemon.output, /processes of its group outlived TERM by 2s: KILL/);
});

test('after appctl stop, nothing the pools started is left', async (t) => {
  t.timeout(120_000);
  const daemon = await startDaemon(t, { args: ['-c', 'appd.config.mjs', '--name', 'strays'], files: { 'appd.config.mjs': CONFIG } });
  const members = await workerGroups(daemon);
  const stoppedAt = Date.now();
  const received = requestLogged(daemon, /appctl \(pid \d+\): graceful stop/);
  const stop = await appctl(['stop'], { runtimeDirectory: daemon.directory, timeoutMs: 60_000 });
  t.is(stop.code, 0, stop.stderr);
  await waitUntilGone(t, 'stop', members, stoppedAt, received);
  await daemon.exited();
});

test('after a SIGKILL of the master, the group keeper leaves nothing the pools started', async (t) => {
  t.timeout(120_000);
  const daemon = await startDaemon(t, { args: ['-c', 'appd.config.mjs', '--name', 'strays'], files: { 'appd.config.mjs': CONFIG } });
  const members = await workerGroups(daemon);
  const keeper = childrenOf(daemon.pid).filter((pid) => commandLine(pid).startsWith('appd: group keeper [strays]'));
  t.is(keeper.length, 1, 'one group keeper');
  const killedAt = Date.now();
  daemon.signal('SIGKILL');
  await waitUntilGone(t, 'master SIGKILL', members, killedAt);
  await waitFor('the group keeper to exit once its work is done', () => keeper.every((pid) => !isAlive(pid)), 30_000);
  t.pass();
});
