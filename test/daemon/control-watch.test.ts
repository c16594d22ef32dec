// The `watch` subscription appctl top reads, against a real daemon: a snapshot at once, the next ones
// as the daemon changes (a scale shows without waiting for a poll), the heartbeat age request rates
// need, and a log follower capped in lines a second.

import test from 'ava';
import { join } from 'node:path';
import { omittedLinesCount, type LogLineMessage } from '../../shared/control/protocol.js';
import type { StatusSnapshot } from '../../shared/control/status.js';
import { appctl } from '../helpers/appctl.js';
import { HELLO, RawControlClient } from '../helpers/control-socket.js';
import { fixture, startDaemon } from '../helpers/daemon.js';
import { get } from '../helpers/http.js';
import { waitFor } from '../helpers/processes.js';

test('watch streams status snapshots: at once, after a scale, with stats and their age', async (t) => {
  const daemon = await startDaemon(t, { args: [fixture('pid-app.mjs'), '-w', '2', '-b', '127.0.0.1:0', '--name', 'watched'] });
  const pids = await daemon.waitForWorkers(2);
  const client = await RawControlClient.connect(join(daemon.directory, 'appd', 'watched.sock'));
  t.teardown(() => client.destroy());
  client.send(HELLO);
  client.send({ type: 'request', id: 'watch-1', request: { command: 'watch' } });
  const snapshots = () =>
    client.messages
      .filter((message) => message['type'] === 'status' && message['id'] === 'watch-1')
      .map((message) => message['snapshot'] as StatusSnapshot);

  await client.waitFor((message) => message['type'] === 'status');
  t.deepEqual(
    snapshots()[0]
      ?.pools[0]?.workers.map((worker) => worker.pid)
      .sort(),
    [...pids].sort(),
  );

  t.is((await appctl(['scale', '+1'], { runtimeDirectory: daemon.directory })).code, 0);
  await waitFor('a snapshot with three ready workers', () =>
    snapshots().some((snapshot) => snapshot.pools[0]?.workers.filter((worker) => worker.state === 'ready').length === 3),
  );

  await get(daemon.url);
  const counted = await waitFor('a snapshot counting the request', () =>
    snapshots().find((snapshot) => (snapshot.pools[0]?.workers ?? []).reduce((sum, worker) => sum + (worker.requests ?? 0), 0) >= 1),
  );
  for (const worker of counted.pools[0]?.workers ?? []) {
    if (worker.requests === null) continue;
    t.true((worker.statsAgeMs ?? -1) >= 0, 'the heartbeat age comes with the counters');
    t.true((worker.loopDelayP50Ms ?? -1) >= 0 && (worker.loopDelayP99Ms ?? -1) < 1000);
  }
  const times = client.messages.filter((message) => message['type'] === 'status').map((message) => Number(message['time']));
  t.true(
    times.every((time, index) => index === 0 || time > (times[index - 1] ?? 0)),
    'one snapshot at a time, in order',
  );
  t.is(client.messages.filter((message) => message['type'] === 'reply').length, 0, 'a watch is answered only when the daemon stops');
});

test('a log follower with maxLinesPerSecond gets that many lines a second and a count of the rest', async (t) => {
  const daemon = await startDaemon(t, { args: [fixture('print-app.mjs'), '-w', '1', '-b', '127.0.0.1:0', '--name', 'capped'] });
  const client = await RawControlClient.connect(join(daemon.directory, 'appd', 'capped.sock'));
  t.teardown(() => client.destroy());
  client.send(HELLO);
  client.send({ type: 'request', id: 'logs-1', request: { command: 'logs', pool: null, lines: 0, follow: true, maxLinesPerSecond: 50 } });
  const lines = () =>
    client.messages.filter((message) => message['type'] === 'log').flatMap((message) => message['lines'] as LogLineMessage[]);
  // The daemon takes the subscription in its next loop pass; a ping on the same connection comes after it.
  client.send({ type: 'request', id: 'ping-1', request: { command: 'ping' } });
  await client.waitFor((message) => message['type'] === 'reply' && message['id'] === 'ping-1');

  const started = Date.now();
  await get(`${daemon.url}/print?text=burst&count=2000`);
  // Every burst line is either sent or counted by a note, which comes with the first line of a later
  // second. On a busy machine the burst takes several seconds to pass the master, so there may be a
  // note for each of them: add them up.
  const burstSent = () => lines().filter((line) => line.text.startsWith('burst')).length;
  const omitted = () => lines().reduce((total, line) => total + (omittedLinesCount(line) ?? 0), 0);
  let laterLines = 0;
  await waitFor(
    'every burst line sent or counted',
    async () => {
      await get(`${daemon.url}/print?text=later&count=1`);
      laterLines += 1;
      return burstSent() + omitted() >= 2000;
    },
    30_000,
    300,
  );
  const seconds = Math.ceil((Date.now() - started) / 1000);
  t.true(burstSent() <= 50 * (seconds + 1), `${burstSent()} burst lines sent in ${seconds} s (at most 50 a second)`);
  t.true(omitted() <= 2000 + laterLines, `${omitted()} counted as left out, of ${2000 + laterLines} printed`);
  t.log(
    `${burstSent()} burst lines sent, ${omitted()} counted in ${lines().filter((line) => omittedLinesCount(line) !== null).length} note(s), over ${seconds} s`,
  );
});
