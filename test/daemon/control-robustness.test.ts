// Throws garbage at a real daemon's control socket (random bytes, a 4 GiB length, truncated frames, 1000
// abandoned connections, unknown commands, a wrong protocol version) while HTTP and `appctl ping` must
// keep answering throughout, and every bad client gets an error or a close.

import test from 'ava';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { encodeFrame } from '../../shared/control/frame-codec.js';
import { appctl } from '../helpers/appctl.js';
import { HELLO, RawControlClient } from '../helpers/control-socket.js';
import { fixture, startDaemon } from '../helpers/daemon.js';
import { get } from '../helpers/http.js';
import { isAlive, sleep } from '../helpers/processes.js';

/** Keeps doing `probe` until stopped; counts failures with their reasons. */
function keepProbing(probe: () => Promise<void>, pauseMs: number): { stop: () => Promise<{ ok: number; failures: string[] }> } {
  let running = true;
  let ok = 0;
  const failures: string[] = [];
  const loop = (async () => {
    while (running) {
      try {
        await probe();
        ok += 1;
      } catch (error) {
        failures.push(error instanceof Error ? error.message : String(error));
      }
      await sleep(pauseMs);
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return { ok, failures };
    },
  };
}

const isError = (code: string) => (message: Record<string, unknown>) => message['type'] === 'error' && message['code'] === code;

test('garbage on the control socket: each bad client gets an error or a close; HTTP and appctl ping never stop', async (t) => {
  const daemon = await startDaemon(t, { args: [fixture('pid-app.mjs'), '-w', '2', '-b', '127.0.0.1:0'] });
  const workers = await daemon.waitForWorkers(2);
  const socket = join(daemon.directory, 'appd', 'appd.sock');
  const http = keepProbing(async () => {
    const response = await get(daemon.url);
    if (response.status !== 200) throw new Error(`HTTP ${response.status}`);
  }, 20);
  const pings = keepProbing(async () => {
    const result = await appctl(['ping'], { runtimeDirectory: daemon.directory });
    if (result.code !== 0) throw new Error(`appctl ping exited ${result.code}: ${result.stderr}`);
  }, 100);
  t.teardown(async () => {
    await http.stop();
    await pings.stop();
  });

  // Left hanging in the middle of its hello; checked at the end (the hello timeout is 5 s).
  const hanging = await RawControlClient.connect(socket);
  hanging.write(encodeFrame(HELLO).subarray(0, 5));

  // Random bytes: whatever length they start with, the frame is refused and the connection closed.
  for (let round = 0; round < 20; round += 1) {
    const client = await RawControlClient.connect(socket);
    client.write(randomBytes(1 + Math.floor(Math.random() * 70_000)));
    const error = await client.waitFor((message) => message['type'] === 'error');
    t.true(
      error === null || ['bad_frame', 'frame_too_large', 'bad_message', 'hello_required', 'timeout'].includes(String(error['code'])),
      JSON.stringify(error),
    );
    await client.closed;
  }

  // A frame length of 4 GiB is refused from its four bytes; nothing of the "body" is buffered
  // (before the hello, frames of a few KiB only).
  const huge = await RawControlClient.connect(socket);
  huge.write(Buffer.from([0xff, 0xff, 0xff, 0xff]));
  t.regex(String((await huge.waitFor(isError('frame_too_large')))?.['message']), /4294967295 exceeds the limit of 4096/);
  await huge.closed;

  // A truncated frame: cut off by the client's end (the one left hanging above is the other kind).
  const cut = await RawControlClient.connect(socket);
  cut.send(HELLO);
  const frame = encodeFrame({ type: 'request', id: 'cut', request: { command: 'status' } });
  cut.write(frame.subarray(0, frame.length - 3));
  cut.socket.end();
  t.regex(String((await cut.waitFor(isError('bad_frame')))?.['message']), /truncated frame/);
  await cut.closed;

  // A wrong protocol version, a request before the hello, a message that is not a map, a second hello.
  const version = await RawControlClient.connect(socket);
  version.send({ ...HELLO, protocol: 99 });
  t.regex(String((await version.waitFor(isError('unsupported_protocol')))?.['message']), /speaks control protocol 1, the client speaks 99/);
  await version.closed;
  for (const [messages, code] of [
    [[{ type: 'request', id: 'early', request: { command: 'ping' } }], 'hello_required'],
    [[12345], 'bad_message'],
    [[HELLO, HELLO], 'bad_message'],
  ] as const) {
    const client = await RawControlClient.connect(socket);
    for (const message of messages) client.send(message);
    t.truthy(await client.waitFor(isError(code)), code);
    await client.closed;
  }

  // Unknown commands and bad arguments are answered by id, and the same connection keeps working.
  const polite = await RawControlClient.connect(socket);
  polite.send(HELLO);
  polite.send({ type: 'request', id: 'u1', request: { command: 'format-disk' } });
  polite.send({ type: 'request', id: 'u2', request: { command: 'scale', pool: null, change: { relative: 'lots' } } });
  polite.send({ type: 'request', id: 'p1', request: { command: 'ping' } });
  t.like(await polite.waitFor((message) => message['id'] === 'u1'), { type: 'error', code: 'unknown_command' });
  t.like(await polite.waitFor((message) => message['id'] === 'u2'), { type: 'error', code: 'bad_request' });
  t.like(await polite.waitFor((message) => message['id'] === 'p1'), { type: 'reply', outcome: { status: 'completed', message: 'pong' } });
  polite.destroy();

  // 1000 connections opened and abandoned (half of them with half a hello): all closed by the daemon.
  const abandoned: RawControlClient[] = [];
  // In batches: 1000 connect() calls at one instant overflow any accept queue (EAGAIN, our side).
  while (abandoned.length < 1000)
    abandoned.push(...(await Promise.all(Array.from({ length: 100 }, () => RawControlClient.connect(socket)))));
  for (const [index, client] of abandoned.entries()) if (index % 2 === 0) client.write(encodeFrame(HELLO).subarray(0, 3));
  const afterFlood = await appctl(['ping'], { runtimeDirectory: daemon.directory });
  t.is(afterFlood.code, 0, `ping with 1000 abandoned connections open: ${afterFlood.stderr}`);
  await Promise.all(abandoned.map((client) => client.closed));
  t.truthy(await hanging.waitFor(isError('timeout'), 10_000), 'a connection that never completes its hello is closed');
  await hanging.closed;

  const httpResult = await http.stop();
  const pingResult = await pings.stop();
  t.log(`during the attack: ${httpResult.ok} HTTP requests and ${pingResult.ok} appctl pings answered`);
  t.deepEqual(httpResult.failures, []);
  t.deepEqual(pingResult.failures, []);
  // How many fit in depends on the machine's load; that every one of them succeeded is the point.
  t.true(pingResult.ok > 0 && httpResult.ok > 0);
  t.true(isAlive(daemon.pid));
  t.deepEqual(daemon.workers().sort(), [...workers].sort(), 'no worker was disturbed');
  t.notRegex(daemon.output, /internal error|master loop error/);
});
