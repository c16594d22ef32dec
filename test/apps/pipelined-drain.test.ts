// A draining worker answers what it has already read: requests a client pipelined on a connection
// before the drain are answered before the connection closes, the last one with Connection: close.
// Checked with h2load (nghttp2-client) pipelining 16 deep across 2 reloads. A keep-alive client that
// does not pipeline is told Connection: close even when the app ends its response only after writing
// the whole body (a file stream). Runs in the ava test process.

import test from 'ava';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { fixture, startDaemon } from '../helpers/daemon.js';
import { serialTestWith } from '../helpers/installed-tool.js';
import { reloadAndWait } from '../helpers/reload.js';
import { waitFor } from '../helpers/processes.js';
import { assertNoFailures, underLoad } from '../helpers/under-load.js';

/** A reload boots new workers, which takes many seconds (a minute, seen) on a machine loaded by parallel test runs. */
const RELOAD_TIMEOUT_MS = 180_000;

interface H2loadRun {
  readonly code: number | null;
  readonly started: number;
  readonly done: number;
  readonly line: string;
}

/** One h2load run; its "requests:" line says how many it started and how many were answered. */
function h2load(args: readonly string[]): Promise<H2loadRun> {
  return new Promise((settle, fail) => {
    const child = spawn('h2load', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => (output += text));
    child.stderr.setEncoding('utf8').on('data', (text: string) => (output += text));
    child.once('error', fail);
    child.once('close', (code) => {
      const line = /^requests: .*$/m.exec(output)?.[0] ?? output.trim();
      const number = (label: string): number => Number(new RegExp(`(\\d+) ${label}`).exec(line)?.[1] ?? Number.NaN);
      settle({ code, started: number('started'), done: number('done'), line });
    });
  });
}

test.serial('4 requests pipelined before a reload are all answered before the draining worker closes the connection', async (t) => {
  t.timeout(600_000);
  const daemon = await startDaemon(t, {
    args: [fixture('slow-app.mjs'), '-w', '1', '-b', '127.0.0.1:0', '--graceful-timeout', '20', '--keep-alive', '1'],
    timeoutMs: 120_000,
  });
  await daemon.waitForWorkers(1);
  const socket = net.connect(daemon.port, '127.0.0.1');
  t.teardown(() => socket.destroy());
  let received = '';
  socket.setEncoding('latin1').on('data', (text: string) => (received += text));
  const closed = new Promise<void>((settle) => socket.once('close', () => settle()));
  socket.on('error', () => undefined); // what happened shows in what was received
  await new Promise<void>((settle) => socket.once('connect', () => settle()));
  // Each takes 8 s, so all four are read and still waiting when the drain starts.
  socket.write('GET /?delay=8000 HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(4));
  await reloadAndWait(daemon, 2, RELOAD_TIMEOUT_MS);
  await closed;
  const statuses = received.match(/^HTTP\/1\.1 \d+/gm) ?? [];
  t.deepEqual(
    statuses,
    Array.from({ length: 4 }, () => 'HTTP/1.1 200'),
    received,
  );
});

serialTestWith({ h2load: 'nghttp2-client' }, 'h2load --h1 -m 16 across 2 reloads: every request started is answered', async (t) => {
  t.timeout(600_000);
  const daemon = await startDaemon(t, {
    args: [fixture('slow-app.mjs'), '-w', '2', '-b', '127.0.0.1:0', '--graceful-timeout', '20'],
    timeoutMs: 120_000,
  });
  await daemon.waitForWorkers(2);
  // Back-to-back short runs for as long as the reloads take, so every drain falls inside one of them.
  const runs: H2loadRun[] = [];
  let reloading = true;
  const load = (async () => {
    while (reloading || runs.length < 2) runs.push(await h2load(['--h1', '-c', '4', '-m', '16', '-n', '3000', `${daemon.url}/?delay=2`]));
  })();
  try {
    for (const generation of [2, 3]) {
      await waitFor('h2load to be running', () => runs.length > 0 || null, 20_000);
      await reloadAndWait(daemon, generation, RELOAD_TIMEOUT_MS);
    }
  } finally {
    reloading = false;
    await load;
  }
  const unanswered = runs.filter((run) => run.code !== 0 || run.started !== run.done || Number.isNaN(run.started));
  t.log(`${runs.length} h2load runs, ${runs.reduce((sum, run) => sum + run.done, 0)} requests answered`);
  t.deepEqual(
    unanswered.map((run) => run.line),
    [],
    'runs in which a started request was not answered',
  );
});

test.serial(
  'a keep-alive client of an app that ends its response after writing the whole body (a file stream) is told Connection: close by a draining worker, not cut at graceful-timeout',
  async (t) => {
    t.timeout(600_000);
    const daemon = await startDaemon(t, {
      args: [fixture('late-end-app.mjs'), '-w', '1', '-b', '127.0.0.1:0', '--graceful-timeout', '30'],
      timeoutMs: 120_000,
    });
    const [oldWorker] = await daemon.waitForWorkers(1, 60_000);
    // The load runs on until the old worker is gone: before, its keep-alive connections looked pipelined,
    // were never told to close, and were cut at graceful-timeout.
    const result = await underLoad(
      daemon.url,
      async () => {
        const from = await reloadAndWait(daemon, 2, RELOAD_TIMEOUT_MS);
        await daemon.waitForLog(new RegExp(`worker web\\.0 g1 \\(pid ${oldWorker}\\) exited`), 120_000, from);
      },
      { concurrency: 4 },
    );
    assertNoFailures(t, result, 'keep-alive clients of a late-ending app, 1 reload');
    t.notRegex(daemon.output, /graceful-timeout \(30s\) reached/);
  },
);
