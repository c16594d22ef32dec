// /livez, /readyz and /startupz of the admin listener: answered by the master while a worker spins in
// a busy loop; /readyz turns 503 as soon as a TERM arrives while /livez stays 200 until the master exits.

import test from 'ava';
import { fixture, startDaemon } from '../helpers/daemon.js';
import { request } from '../helpers/http.js';
import { metricsAddress } from '../helpers/metrics.js';
import { isAlive, readStat, waitFor } from '../helpers/processes.js';

interface Probe {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

async function probe(admin: string, path: string): Promise<Probe> {
  const answer = await request(`http://${admin}${path}`, { timeoutMs: 5000 });
  return { status: answer.status, body: JSON.parse(answer.body) as Record<string, unknown> };
}

test('probes answer while a worker spins; /readyz says 503 from the TERM on, /livez 200 until exit', async (t) => {
  const daemon = await startDaemon(t, {
    args: [
      fixture('busy-app.mjs'),
      '-w',
      '1',
      '-b',
      '127.0.0.1:0',
      '--metrics-bind',
      '127.0.0.1:0',
      '--graceful-timeout',
      '2',
      '--timeout',
      '60',
    ],
  });
  const admin = metricsAddress(daemon);
  t.deepEqual(await probe(admin, '/startupz'), { status: 200, body: { status: 'started' } });
  t.deepEqual(await probe(admin, '/readyz'), { status: 200, body: { status: 'ready', ready: { web: 1 } } });

  // The only worker spins for ever: it answers nothing, its heartbeat stops; the master answers probes.
  const [worker] = await daemon.waitForWorkers(1);
  void request(`${daemon.url}/spin`, { timeoutMs: 30_000 }).catch(() => undefined);
  const spinning = (): boolean => readStat(worker ?? -1)?.state === 'R';
  await waitFor('the worker to spin', spinning, 10_000);
  const during: Probe[] = [];
  for (let round = 0; round < 10; round += 1) during.push(await probe(admin, '/livez'), await probe(admin, '/readyz'));
  t.true(
    during.every((answer) => answer.status === 200),
    JSON.stringify(during),
  );
  t.true(spinning(), 'the worker was still spinning while the probes were answered');

  // TERM: the spinning worker ignores it (its JS handler never runs), so the master waits out graceful-timeout.
  const termAt = performance.now();
  daemon.signal('SIGTERM');
  // When each probe was sent: the switch to 503 came after the last 200's and before the first 503's.
  let lastReadySentMs = 0;
  let notReadySentMs = 0;
  const notReady = await waitFor(
    '/readyz to say 503',
    async () => {
      const sentMs = performance.now() - termAt;
      const answer = await probe(admin, '/readyz');
      if (answer.status === 200) lastReadySentMs = sentMs;
      else notReadySentMs = sentMs;
      return answer.status === 503 ? answer : null;
    },
    10_000,
    5,
  );
  const latencyMs = performance.now() - termAt;
  t.deepEqual(notReady.body, { status: 'not ready', reason: 'the daemon is stopping' });
  const whileStopping: Probe[] = [];
  const giveUpAt = performance.now() + 30_000;
  while (isAlive(daemon.pid) && performance.now() < giveUpAt) {
    const [live, ready] = await Promise.all([probe(admin, '/livez'), probe(admin, '/readyz')]).catch(() => [null, null]);
    if (!live || !ready) break; // the master closed the admin listener on its way out
    whileStopping.push(live, ready);
  }
  t.true(whileStopping.length >= 2, 'probed while the master drained');
  t.true(
    whileStopping
      .filter((answer) => answer.body['status'] === 'alive')
      .every((answer) => answer.status === 200 && answer.body['phase'] === 'stopping'),
  );
  t.true(whileStopping.filter((answer) => answer.body['status'] !== 'alive').every((answer) => answer.status === 503));
  await daemon.exited();
  t.log(
    `/readyz: the last 200 was asked ${lastReadySentMs.toFixed(1)} ms after the TERM, the first 503 asked ${notReadySentMs.toFixed(1)} ms and answered ${latencyMs.toFixed(1)} ms after it; /livez 200 through ${whileStopping.length / 2} rounds until exit`,
  );
});

test('startupz is 503 until the first generation is ready; readyz names the pool without a ready worker', async (t) => {
  const daemon = await startDaemon(t, {
    args: [`${fixture('slow-boot-app.mjs')}:create()`, '-w', '1', '-b', '127.0.0.1:0', '--metrics-bind', '127.0.0.1:0'],
    waitFor: 'nothing',
    env: { BOOT_DELAY_MS: '3000' },
  });
  await daemon.waitForLog(/Metrics and health at/);
  const admin = metricsAddress(daemon);
  const starting = await probe(admin, '/startupz');
  const ready = await probe(admin, '/readyz');
  t.is(starting.status, 503);
  t.is(starting.body['status'], 'starting');
  t.is(ready.status, 503);
  t.regex(String(ready.body['reason']), /no ready worker in pool web/);
  t.deepEqual((await probe(admin, '/livez')).status, 200, 'alive while booting');
  await daemon.waitForLog(/\[INFO\] ready: /, 30_000);
  t.is((await probe(admin, '/startupz')).status, 200);
  t.is((await probe(admin, '/readyz')).status, 200);
});
