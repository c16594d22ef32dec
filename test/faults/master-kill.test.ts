// Fault injection: the master is SIGKILLed under load. Every worker notices its IPC channel drop,
// drains and exits within 2 s (no orphan keeps the port), and a new appd binds the same port at once
// and serves. (test/daemon/signals.test.ts has the same kill without load.)

import test from 'ava';
import { fixture, startDaemon } from '../helpers/daemon.js';
import { get } from '../helpers/http.js';
import { describeLoad, runLoad } from '../helpers/load-client.js';
import { isAlive, sleep, waitFor } from '../helpers/processes.js';

test('master SIGKILLed under load: workers gone within 2 s, a new appd binds the same port at once', async (t) => {
  const first = await startDaemon(t, { args: [fixture('pid-app.mjs'), '-w', '3', '-b', '127.0.0.1:0', '--name', 'first'] });
  const workers = await first.waitForWorkers(3);
  const port = first.port;
  const stopLoad = new AbortController();
  t.teardown(() => stopLoad.abort());
  const loads = Promise.all([
    runLoad({ url: `${first.url}/`, mode: 'keep-alive', concurrency: 6, durationMs: 60_000, signal: stopLoad.signal, timeoutMs: 5000 }),
    runLoad({ url: `${first.url}/`, mode: 'close', concurrency: 2, durationMs: 60_000, signal: stopLoad.signal, timeoutMs: 5000 }),
  ]);
  await waitFor('the load to be served', async () => (await get(first.url)).status === 200);
  await sleep(500);

  const killedAt = Date.now();
  first.signal('SIGKILL');
  // Polled at 10 ms: what is measured is the workers' own reaction, not the poll.
  await waitFor('every worker to exit', () => workers.every((pid) => !isAlive(pid)), 2000, 10);
  const goneAfter = Date.now() - killedAt;

  const second = await startDaemon(t, { args: [fixture('pid-app.mjs'), '-w', '3', '-b', `127.0.0.1:${port}`, '--name', 'second'] });
  const servingAfter = Date.now() - killedAt;
  t.is(second.port, port);
  const response = await get(`http://127.0.0.1:${port}/`);
  const answeredBy = Number(/pid=(\d+)/.exec(response.body)?.[1]);
  t.true((await second.waitForWorkers(3)).includes(answeredBy), "the new daemon's workers answer");
  stopLoad.abort();
  const [keepAlive, close] = await loads;

  t.log(
    `every worker gone ${goneAfter} ms after the master's SIGKILL (limit 2000 ms); a new appd on port ${port} ready ${servingAfter} ms after the kill`,
  );
  t.log(
    `load through it all: keep-alive ${describeLoad(keepAlive)}; close ${describeLoad(close)} (failures are the gap with nobody serving)`,
  );
  t.true(keepAlive.ok > 0 && close.ok > 0);
  t.false(/EADDRINUSE/.test(second.output));
});
