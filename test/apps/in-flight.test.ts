// In-flight counts cannot leak: requests a client pipelines and then abandons (the connection closed
// before they were answered) are no longer counted once their connection is gone, whatever stage each
// was at. Runs in the ava test process.

import test, { type ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { statusOf, statusPoller } from '../helpers/appctl.js';
import type { StatusSnapshot } from '../../shared/control/status.js';
import { fixture, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { serialTestWith } from '../helpers/installed-tool.js';
import { waitFor } from '../helpers/processes.js';

interface Counts {
  readonly inFlight: number;
  readonly connections: number;
  readonly requests: number;
}

/** inFlight, connections and requests summed over the ready workers of a status snapshot. */
function counts(snapshot: StatusSnapshot): Counts {
  const workers = snapshot.pools.flatMap((pool) => pool.workers).filter((worker) => worker.state === 'ready');
  const sum = (pick: (worker: (typeof workers)[number]) => number | null): number =>
    workers.reduce((total, worker) => total + (pick(worker) ?? 0), 0);
  return {
    inFlight: sum((worker) => worker.inFlight),
    connections: sum((worker) => worker.connections),
    requests: sum((worker) => worker.requests),
  };
}

async function startSlowApp(t: ExecutionContext): Promise<TestDaemon> {
  const daemon = await startDaemon(t, { args: [fixture('slow-app.mjs'), '-w', '2', '-b', '127.0.0.1:0'], timeoutMs: 60_000 });
  await daemon.waitForWorkers(2);
  return daemon;
}

/**
 * Waits until the workers report nothing in flight and no connection (the app would answer those
 * requests only a minute later), then checks what `appctl status --json` says; fails naming the counts.
 */
async function expectNothingLeft(t: ExecutionContext, daemon: TestDaemon, status: () => Promise<StatusSnapshot>): Promise<void> {
  let last: Counts | null = null;
  try {
    await waitFor(
      'inFlight and connections to reach 0',
      async () => {
        last = counts(await status());
        return last.inFlight === 0 && last.connections === 0;
      },
      20_000,
      200,
    );
  } catch {
    t.fail(`still counted after every client left: ${JSON.stringify(last)}`);
    return;
  }
  t.like(counts(await statusOf(daemon.directory)), { inFlight: 0, connections: 0 }, 'appctl status --json');
}

test.serial('4 connections with 16 pipelined requests each, closed at once: inFlight returns to 0', async (t) => {
  const daemon = await startSlowApp(t);
  const sockets = await Promise.all(
    Array.from(
      { length: 4 },
      () =>
        new Promise<net.Socket>((settle, fail) => {
          const socket = net.connect(daemon.port, '127.0.0.1', () => settle(socket));
          socket.on('error', fail);
        }),
    ),
  );
  const status = await statusPoller(t, daemon);
  const request = `GET /?delay=60000 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`;
  for (const socket of sockets) {
    socket.on('error', () => undefined); // the reset we cause ourselves
    socket.write(request.repeat(16));
  }
  // The first request of each connection is with the app; the other 15 wait behind it.
  await waitFor('the workers to count every request in flight', async () => counts(await status()).inFlight === 64, 20_000, 200);
  for (const socket of sockets) socket.resetAndDestroy();
  await expectNothingLeft(t, daemon, status);
});

serialTestWith({ h2load: 'nghttp2-client' }, 'h2load -D (requests outstanding when its time is up): inFlight returns to 0', async (t) => {
  const daemon = await startSlowApp(t);
  const status = await statusPoller(t, daemon);
  const h2load = spawn('h2load', ['--h1', '-c', '4', '-m', '16', '-D', '2', `${daemon.url}/?delay=500`], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  h2load.stdout.setEncoding('utf8').on('data', (text: string) => (output += text));
  h2load.stderr.setEncoding('utf8').on('data', (text: string) => (output += text));
  t.teardown(() => void (h2load.exitCode === null && h2load.kill('SIGKILL')));
  const code = await new Promise<number | null>((settle) => h2load.once('close', settle));
  t.log(/^requests: .*$/m.exec(output)?.[0] ?? output);
  t.is(code, 0, output);
  await expectNothingLeft(t, daemon, status);
});
