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
import { killQuietly, stopProcess, waitFor } from '../helpers/processes.js';
import { ListenQueueSampler } from '../../daemon/metrics/listen-queue.js';

test('connections nobody accepts show in appd_listen_queue and status, and leave it once a worker accepts again', async (t) => {
  const daemon = await startDaemon(t, {
    args: [fixture('pid-app.mjs'), '-w', '1', '-b', '127.0.0.1:0', '--metrics-bind', '127.0.0.1:0', '--backlog', '32', '--timeout', '0'],
  });
  const admin = metricsAddress(daemon);
  const [worker = -1] = await daemon.waitForWorkers(1);
  const queueLine = (): RegExp => new RegExp(`^appd_listen_queue\\{bind="127\\.0\\.0\\.1:${daemon.port}"\\} (\\d+)$`, 'm');
  t.regex((await get(`http://${admin}/metrics`)).body, /^appd_listen_queue_max\{bind="127\.0\.0\.1:\d+"\} 32$/m);
  await stopProcess(worker);
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

/** What the master's main thread did (the system calls named) while it answered one status, and that status. */
async function traceStatus(
  t: ExecutionContext,
  binds: readonly string[],
  syscalls: string,
): Promise<{ trace: string; snapshot: Awaited<ReturnType<typeof statusOf>> }> {
  const trace = join(tempDirectory(t), 'strace.log');
  const daemon = await startDaemon(t, {
    // The master's main thread only: status is answered there (-f would trace the workers too).
    wrapper: [STRACE, '-qq', '-o', trace, '-e', `trace=${syscalls}`, '-e', 'signal=none'],
    args: [fixture('pid-app.mjs'), '-w', '1', ...binds.flatMap((bind) => ['-b', bind])],
    timeoutMs: 60_000,
  });
  await daemon.waitForWorkers(1);
  const before = readFileSync(trace, 'utf8').length;
  const snapshot = await statusOf(daemon.directory);
  return { trace: readFileSync(trace, 'utf8').slice(before), snapshot };
}

/**
 * The /proc/net tables the master opens while it answers one status, and the queues status shows.
 * /proc/net/tcp6 lists every IPv4 socket's place too: reading it walks the machine's whole
 * connection table (8-16 ms per status with 28,000 TIME_WAIT sockets, measured), so it is opened
 * only for an IPv6 listener.
 */
async function tablesReadByStatus(t: ExecutionContext, binds: readonly string[]): Promise<{ tables: string[]; binds: string[] }> {
  const { trace, snapshot } = await traceStatus(t, binds, 'openat');
  const tables = [...trace.matchAll(/"\/proc\/self\/net\/(tcp6?)"/g)].map((match) => match[1] ?? '');
  return { tables, binds: (snapshot.master.listenQueues ?? []).map((queue) => queue.bind).sort() };
}

test('the master reads the accept queues as a control client connects, before it reads the request', async (t) => {
  if (!existsSync(STRACE)) return t.fail(`${STRACE} is missing (.ci/run installs strace)`);
  const { trace, snapshot } = await traceStatus(t, ['127.0.0.1:0'], 'accept4,openat,read');
  const lines = trace.split('\n');
  const accepted = lines.findIndex((line) => /^accept4\(.*\) = \d+$/.test(line));
  t.true(accepted >= 0, `the control client's accept: ${trace.slice(0, 2000)}`);
  const connection = /= (\d+)$/.exec(lines[accepted] ?? '')?.[1] ?? '';
  const table = lines.findIndex((line, index) => index > accepted && line.includes('"/proc/self/net/tcp"'));
  const request = lines.findIndex((line, index) => index > accepted && line.startsWith(`read(${connection}, `));
  t.true(table > accepted && request > accepted, `after the accept, a table read and a request read: ${trace.slice(0, 4000)}`);
  t.true(table < request, `/proc/self/net/tcp (line ${table}) before the request (line ${request})`);
  t.is(lines.filter((line) => line.includes('"/proc/self/net/tcp"')).length, 1, 'read once for the connection and its status');
  t.is(snapshot.master.listenQueues?.length, 1);
});

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

// In-process, with a counting reader and a hand-moved clock: when the sampler reads the table.
test('ListenQueueSampler: read as a client connects, taken by its status, once; a burst of clients shares a reading', (t) => {
  let now = 1000;
  let reads = 0;
  const sampler = new ListenQueueSampler(
    () => {
      reads += 1;
      return [{ bind: '127.0.0.1:8000', queued: reads, limit: 511 }];
    },
    () => now,
  );
  sampler.prefetch();
  t.is(reads, 1, 'read as the client connects');
  now += 400;
  t.deepEqual(
    sampler.current(),
    [{ bind: '127.0.0.1:8000', queued: 1, limit: 511 }],
    'its request, late on a loaded host, takes that reading',
  );
  t.is(reads, 1);
  t.is(sampler.current()[0]?.queued, 2, 'a second snapshot (appctl top, a request on the same connection) reads again');
  now += 1;
  for (let index = 0; index < 50; index += 1) sampler.prefetch();
  t.is(reads, 3, 'fifty clients connecting at once: one reading');
  now += 11;
  sampler.prefetch();
  t.is(reads, 4, 'a client 11 ms after it: its own reading');
  now += 1001;
  t.is(sampler.current()[0]?.queued, 5, 'a reading no request took for over a second is not used');
});
