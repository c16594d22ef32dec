// Liveness: a worker stuck in a busy loop is killed after --timeout, replaced, and the log shows the
// JavaScript stack it was stuck in; the other worker keeps serving meanwhile.

import test from 'ava';
import { fixture, startDaemon } from '../helpers/daemon.js';
import { get } from '../helpers/http.js';
import { isAlive, waitFor } from '../helpers/processes.js';

test('a busy-looping worker is killed after its timeout, with its stack in the log', async (t) => {
  const daemon = await startDaemon(t, { args: [fixture('busy-app.mjs'), '-w', '2', '-b', '127.0.0.1:0', '--timeout', '2'] });
  const before = await daemon.waitForWorkers(2);
  get(`${daemon.url}/spin`, { timeoutMs: 20_000 }).catch(() => undefined); // this request never gets an answer
  const [, stuckPid] = await daemon.waitForLog(/WORKER TIMEOUT web\.\d g1 \(pid (\d+)\): no heartbeat for/, 15_000);
  t.true(before.includes(Number(stuckPid)));
  // The worker's stack lines are tagged with it; other log lines may come between them on a busy machine.
  const header = await daemon.waitForLog(
    new RegExp(`\\[${stuckPid}\\] \\[web\\.\\d g1 stderr\\] worker web\\.\\d g1 timed out; its main thread was running:`),
  );
  await daemon.waitForLog(
    new RegExp(`\\[${stuckPid}\\] \\[web\\.\\d g1 stderr\\]     at spinForever \\(file:///.*busy-app\\.mjs:3:\\d+\\)`),
    10_000,
    header.index,
  );
  t.regex(daemon.output, new RegExp(`\\[${stuckPid}\\] \\[web\\.\\d g1 stderr\\]     at default \\(file:///.*busy-app\\.mjs:9:\\d+\\)`));
  await waitFor('the stuck worker to die', () => !isAlive(Number(stuckPid)));
  // Waited for: under a loaded suite the master's line can reach this process after the death shows in /proc.
  await daemon.waitForLog(new RegExp(`killing worker web\\.\\d g1 \\(pid ${stuckPid}\\): timed out`));
  await daemon.waitForWorkers(2);
  t.is((await get(daemon.url)).status, 200, 'the pool is whole and serving');
});

test('with --no-timeout-stack the stuck worker is killed without a stack', async (t) => {
  const daemon = await startDaemon(t, {
    args: [fixture('busy-app.mjs'), '-w', '1', '-b', '127.0.0.1:0', '--timeout', '1', '--no-timeout-stack'],
  });
  const [worker] = await daemon.waitForWorkers(1);
  get(`${daemon.url}/spin`, { timeoutMs: 20_000 }).catch(() => undefined);
  await waitFor('the stuck worker to die', () => !isAlive(worker ?? -1), 15_000);
  await daemon.waitForWorkers(1);
  t.notRegex(daemon.output, /main thread was running/);
  t.regex(daemon.output, /WORKER TIMEOUT/);
});
