// appd_listen_queue counts the connections waiting in the kernel's accept queue: with the only worker
// stopped (SIGSTOP), each new connection waits there, and /metrics and status say how many.

import test from 'ava';
import net from 'node:net';
import { statusOf } from '../helpers/appctl.js';
import { fixture, startDaemon } from '../helpers/daemon.js';
import { get } from '../helpers/http.js';
import { metricsAddress } from '../helpers/metrics.js';
import { killQuietly, waitFor } from '../helpers/processes.js';

test('connections nobody accepts show in appd_listen_queue and status, and leave it once a worker accepts again', async (t) => {
  const daemon = await startDaemon(t, {
    args: [fixture('pid-app.mjs'), '-w', '1', '-b', '127.0.0.1:0', '--metrics-bind', '127.0.0.1:0', '--backlog', '32', '--timeout', '0'],
  });
  const admin = metricsAddress(daemon);
  const [worker = -1] = await daemon.waitForWorkers(1);
  const queueLine = (): RegExp => new RegExp(`^appd_listen_queue\\{bind="127\\.0\\.0\\.1:${daemon.port}"\\} (\\d+)$`, 'm');
  t.regex((await get(`http://${admin}/metrics`)).body, /^appd_listen_queue_max\{bind="127\.0\.0\.1:\d+"\} 32$/m);
  process.kill(worker, 'SIGSTOP');
  t.teardown(() => killQuietly(worker, 'SIGCONT'));
  const clients = await Promise.all(
    Array.from(
      { length: 5 },
      () =>
        new Promise<net.Socket>((settle, fail) => {
          const socket = net.connect(daemon.port, '127.0.0.1', () => settle(socket));
          socket.once('error', fail);
        }),
    ),
  );
  t.teardown(() => clients.forEach((socket) => socket.destroy()));
  const queued = await waitFor(
    '5 connections in the accept queue',
    async () => {
      const match = queueLine().exec((await get(`http://${admin}/metrics`)).body);
      return match?.[1] === '5' ? 5 : null;
    },
    10_000,
    100,
  );
  t.is(queued, 5);
  t.like((await statusOf(daemon.directory)).master.listenQueues?.[0], { queued: 5, limit: 32 });
  process.kill(worker, 'SIGCONT');
  await waitFor(
    'the queue to empty',
    async () => (queueLine().exec((await get(`http://${admin}/metrics`)).body)?.[1] === '0' ? true : null),
    10_000,
    100,
  );
  t.pass();
});
