// appd_listen_queue counts the connections waiting in the kernel's accept queue: with the only worker
// stopped (SIGSTOP), each new connection waits there, and /metrics and status say how many. Reading
// the queues opens only the /proc/net tables that hold appd's listeners (strace of the master).

import test, { type ExecutionContext } from 'ava';
import net from 'node:net';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { statusOf } from '../helpers/appctl.js';
import { fixture, startDaemon, tempDirectory } from '../helpers/daemon.js';
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

const STRACE = '/usr/bin/strace';

/**
 * The /proc/net tables the master opens while it answers one status, and the queues status shows.
 * /proc/net/tcp6 lists every IPv4 socket's place too: reading it walks the machine's whole
 * connection table (8-16 ms per status with 28,000 TIME_WAIT sockets, measured), so it is opened
 * only for an IPv6 listener.
 */
async function tablesReadByStatus(t: ExecutionContext, binds: readonly string[]): Promise<{ tables: string[]; binds: string[] }> {
  const trace = join(tempDirectory(t), 'strace.log');
  const daemon = await startDaemon(t, {
    // The master's main thread only: status is answered there (-f would trace the workers too).
    wrapper: [STRACE, '-qq', '-o', trace, '-e', 'trace=openat', '-e', 'signal=none'],
    args: [fixture('pid-app.mjs'), '-w', '1', ...binds.flatMap((bind) => ['-b', bind])],
    timeoutMs: 60_000,
  });
  await daemon.waitForWorkers(1);
  const before = readFileSync(trace, 'utf8').length;
  const snapshot = await statusOf(daemon.directory);
  const tables = [
    ...readFileSync(trace, 'utf8')
      .slice(before)
      .matchAll(/"\/proc\/self\/net\/(tcp6?)"/g),
  ].map((match) => match[1] ?? '');
  return { tables, binds: (snapshot.master.listenQueues ?? []).map((queue) => queue.bind).sort() };
}

test('status reads /proc/net/tcp for IPv4 listeners and opens tcp6 only for an IPv6 one', async (t) => {
  if (!existsSync(STRACE)) return t.fail(`${STRACE} is missing (.ci/run installs strace)`);
  const ipv4 = await tablesReadByStatus(t, ['127.0.0.1:0']);
  t.deepEqual(ipv4.tables, ['tcp'], 'IPv4 only: tcp, not tcp6');
  t.is(ipv4.binds.length, 1);
  t.regex(ipv4.binds[0] ?? '', /^127\.0\.0\.1:\d+$/);
  const both = await tablesReadByStatus(t, ['127.0.0.1:0', '[::1]:0']);
  t.deepEqual(both.tables, ['tcp', 'tcp6']);
  t.is(both.binds.length, 2, `both listeners have a queue: ${both.binds.join(', ')}`);
  t.regex(both.binds[0] ?? '', /^127\.0\.0\.1:\d+$/);
  t.regex(both.binds[1] ?? '', /^\[::1\]:\d+$/);
});
