// What a socket unit buys: the listening socket outlives the service, so a restart (a new master, new
// workers) refuses and fails no request. test/fixtures/socket-holder.py plays systemd's part.

import test from 'ava';
import { spawn } from 'node:child_process';
import { APPD, fixture, tempDirectory } from '../helpers/daemon.js';
import { get } from '../helpers/http.js';
import { PYTHON } from '../helpers/notify-listener.js';
import { freePort } from '../helpers/ports.js';
import { isAlive, killQuietly, waitFor } from '../helpers/processes.js';

test('a restart with the socket held by the service manager refuses and fails no request', async (t) => {
  const port = await freePort();
  const directory = tempDirectory(t, 'appd-restart-');
  const holder = spawn(PYTHON, [fixture('socket-holder.py'), String(port), process.execPath, APPD, fixture('pid-app.mjs'), '-w', '2'], {
    cwd: directory,
    detached: true, // its own process group, killed whole in teardown
    env: { ...process.env, XDG_RUNTIME_DIR: directory, APPD_CMD_ARGS: '' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  t.teardown(async () => {
    killQuietly(-(holder.pid ?? 0));
    await waitFor('the socket holder to exit', () => !isAlive(holder.pid ?? -1), 10_000);
  });
  let output = '';
  holder.stdout.setEncoding('utf8').on('data', (text: string) => (output += text));
  holder.stderr.setEncoding('utf8').on('data', (text: string) => (output += text));
  const readyCount = (): number => output.match(/\[INFO\] ready: /g)?.length ?? 0;
  await waitFor(`appd to be ready:\n${output}`, () => readyCount() === 1, 15_000);
  t.regex(output, new RegExp(`Listening at: http://127\\.0\\.0\\.1:${port} \\(fd 3, systemd\\)`));

  const failures: string[] = [];
  const workers = new Set<string>();
  let running = true;
  let answered = 0;
  let slowestMs = 0;
  const clientLoop = async (): Promise<void> => {
    while (running) {
      const sentAt = Date.now();
      // Connections wait in the backlog while the service restarts, for as long as Node and the workers
      // take to boot on a loaded machine: a slow answer is no failure, a refused or reset one is.
      await get(`http://127.0.0.1:${port}/`, { timeoutMs: 60_000 }).then(
        (response) => {
          answered += 1;
          slowestMs = Math.max(slowestMs, Date.now() - sentAt);
          workers.add(/pid=(\d+)/.exec(response.body)?.[1] ?? '?');
        },
        (error: NodeJS.ErrnoException) => failures.push(error.code ?? error.message),
      );
    }
  };
  // Four connections at a time, each request on a fresh connection (the case a dropped socket would refuse).
  const client = Promise.all([clientLoop(), clientLoop(), clientLoop(), clientLoop()]);
  await waitFor('requests to flow', () => workers.size > 0);
  try {
    holder.stdin.write('restart\n');
    await waitFor('the restarted appd to be ready', () => readyCount() === 2, 60_000);
    // The new master's workers, from its log: one of them must answer through the same socket.
    const restartedLog = output.slice(output.lastIndexOf('"started"'));
    const newWorkers = [...restartedLog.matchAll(/worker web\.\d+ g1 \(pid (\d+)\) ready/g)].map((match) => match[1] ?? '');
    await waitFor('a new worker to answer', () => newWorkers.some((pid) => workers.has(pid)), 10_000);
  } finally {
    running = false;
    await client;
  }

  t.log(`${answered} requests answered while the service restarted; the slowest waited ${slowestMs} ms in the backlog`);
  t.deepEqual(failures, [], 'no request was refused or reset while the service restarted');
  t.regex(output, /"exited": \d+, "code": 0/, 'the old master drained and exited 0');
  t.is(output.match(/"started": \d+/g)?.length, 2, 'a second master started');
  holder.stdin.end();
  await waitFor('the holder to stop the service and exit', () => holder.exitCode !== null, 15_000);
});
