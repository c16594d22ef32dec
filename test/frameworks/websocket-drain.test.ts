// WebSockets across a rolling reload, with real daemons: an open connection keeps working on its
// draining worker until it closes, onDrain gets its chance to send a close frame, and graceful-timeout
// cuts what is left. Runs in the ava test process.

import test, { type ExecutionContext } from 'ava';
import { join } from 'node:path';
import { fixture, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { get } from '../helpers/http.js';
import { isAlive, waitFor } from '../helpers/processes.js';
import { reloadAndWait } from '../helpers/reload.js';
import { TestSocket } from '../helpers/websocket.js';

const WS_ECHO = `${fixture(join('frameworks', 'ws-echo.mjs'))}:attach(server)`;

async function connect(t: ExecutionContext, daemon: TestDaemon): Promise<{ client: TestSocket; pid: number; generation: number }> {
  const client = await TestSocket.open(`ws://127.0.0.1:${daemon.port}/`);
  t.teardown(() => client.terminate());
  const hello = /^hello pid=(\d+) generation=(\d+)$/.exec(await client.next());
  if (!hello) throw new Error('no hello from the WebSocket server');
  return { client, pid: Number(hello[1]), generation: Number(hello[2]) };
}

test('an open WebSocket keeps echoing on its draining worker through a reload; closing it lets the worker exit', async (t) => {
  const daemon = await startDaemon(t, {
    args: [WS_ECHO, '-w', '2', '-b', '127.0.0.1:0', '--graceful-timeout', '60'],
    env: { WS_ON_DRAIN: 'notify' },
  });
  await daemon.waitForWorkers(2);
  const { client, pid, generation } = await connect(t, daemon);
  t.is(generation, 1);
  t.is(await client.roundTrip('before'), 'echo before');

  await reloadAndWait(daemon, 2);
  t.regex((await get(daemon.url)).body, /generation=2/, 'new connections go to the new generation');
  t.is(await client.next(), 'draining within 60000ms', "the app's onDrain ran");
  t.true(isAlive(pid), 'the old worker waits for its WebSocket');
  t.is(await client.roundTrip('during'), 'echo during', 'the WebSocket still works on the draining worker');

  client.close();
  t.is((await client.closed).code, 1000);
  // Far below the 60 s graceful-timeout: the worker exits because its last connection closed.
  await waitFor('the drained worker to exit', () => !isAlive(pid), 10_000);
  await daemon.waitForLog(new RegExp(`worker web\\.\\d g1 \\(pid ${pid}\\) exited \\(exit code 0\\)`));
  t.pass();
});

test('onDrain sends close frame 1001; a reconnect reaches the new generation', async (t) => {
  const daemon = await startDaemon(t, {
    args: [WS_ECHO, '-w', '2', '-b', '127.0.0.1:0', '--graceful-timeout', '60'],
    env: { WS_ON_DRAIN: 'close' },
  });
  const { client, pid } = await connect(t, daemon);
  await reloadAndWait(daemon, 2);
  t.deepEqual(await client.closed, { code: 1001, reason: 'server restarting' });
  await waitFor('the drained worker to exit', () => !isAlive(pid), 10_000);
  const again = await connect(t, daemon);
  t.is(again.generation, 2);
  t.is(await again.client.roundTrip('after'), 'echo after');
});

test('a WebSocket still open at graceful-timeout is cut, and the worker exits', async (t) => {
  const daemon = await startDaemon(t, {
    args: [WS_ECHO, '-w', '1', '-b', '127.0.0.1:0', '--graceful-timeout', '1'],
    env: { WS_ON_DRAIN: 'notify' },
  });
  const { client, pid } = await connect(t, daemon);
  await reloadAndWait(daemon, 2);
  t.is(await client.next(), 'draining within 1000ms');
  t.is((await client.closed).code, 1006, 'cut without a close frame');
  await waitFor('the old worker to exit', () => !isAlive(pid), 10_000);
});

test('an unmodified ws script (own port, appd:drain event) is adopted and closes its clients on drain', async (t) => {
  const daemon = await startDaemon(t, {
    args: ['--script', fixture(join('frameworks', 'ws-script.mjs')), '-w', '2', '-b', '127.0.0.1:0'],
  });
  const { client, generation } = await connect(t, daemon);
  t.is(generation, 1);
  t.is(await client.roundTrip('hi'), 'echo hi');
  await reloadAndWait(daemon, 2);
  t.deepEqual(await client.closed, { code: 1001, reason: 'server restarting' });
  const again = await connect(t, daemon);
  t.is(again.generation, 2);
});
