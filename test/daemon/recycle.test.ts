// --max-requests recycling: the replacement is spawned and ready before the old worker retires, so
// capacity never drops; --max-requests-jitter spreads the limits.

import test from 'ava';
import { fixture, startDaemon } from '../helpers/daemon.js';
import { get } from '../helpers/http.js';
import { isAlive, waitFor } from '../helpers/processes.js';

test('a worker past max-requests is replaced, its successor ready before it drains', async (t) => {
  const daemon = await startDaemon(t, { args: [fixture('pid-app.mjs'), '-w', '1', '-b', '127.0.0.1:0', '--max-requests', '5'] });
  const [first] = await daemon.waitForWorkers(1);
  for (let index = 0; index < 5; index += 1) t.is((await get(daemon.url)).status, 200);
  await waitFor('the first worker to retire', () => !isAlive(first ?? -1));
  // The master's lines can reach this process after the worker is gone from /proc: wait for the last one.
  await daemon.waitForLog(new RegExp(`worker web\\.0 g1 \\(pid ${first}\\) exited`));
  const log = daemon.output;
  const asked = log.indexOf(`worker web.0 g1 (pid ${first}) asks to be replaced: served 5 requests (max-requests 5)`);
  const successorReady = log.indexOf('ready in', asked);
  const stopping = log.indexOf(`stopping worker web.0 g1 (pid ${first}): replaced by`);
  t.true(asked > 0, 'the worker asked to be recycled');
  t.true(successorReady > asked && stopping > successorReady, 'the successor was ready before the old worker was stopped');
  const [second] = await daemon.waitForWorkers(1);
  t.not(second, first);
  t.is((await get(daemon.url)).status, 200);
});
