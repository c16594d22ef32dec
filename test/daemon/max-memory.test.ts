// --max-memory: a worker whose RSS grows past the limit is replaced, its successor ready first, and the
// pool keeps serving throughout.

import test from 'ava';
import { fixture, startDaemon } from '../helpers/daemon.js';
import { get } from '../helpers/http.js';
import { isAlive, waitFor } from '../helpers/processes.js';

test('a worker over max-memory is recycled with its successor ready before it drains', async (t) => {
  const daemon = await startDaemon(t, { args: [fixture('leaky-app.mjs'), '-w', '1', '-b', '127.0.0.1:0', '--max-memory', '150M'] });
  const [leaky] = await daemon.waitForWorkers(1);
  await get(`${daemon.url}/grow`);
  await get(`${daemon.url}/grow`);
  await waitFor('the leaky worker to be replaced', () => !isAlive(leaky ?? -1), 15_000);
  // Waited for, not read at once: the master's lines can reach the test after the worker is gone.
  await daemon.waitForLog(new RegExp(`worker web\\.0 g1 \\(pid ${leaky}\\) exited`));
  const log = daemon.output;
  const over = log.search(new RegExp(`worker web\\.0 g1 \\(pid ${leaky}\\): RSS \\d+ MB is over max-memory 150 MB; replacing it`));
  const successorReady = log.indexOf('ready in', over);
  const stopping = log.indexOf(`stopping worker web.0 g1 (pid ${leaky}): replaced by`);
  t.true(over > 0, 'the master noticed the RSS');
  t.true(successorReady > over && stopping > successorReady, 'the successor was ready before the old worker was stopped');
  t.regex((await get(daemon.url)).body, /leaked=0/);
});
