// appctl status in one round trip: it sends its request in the same write as the hello; the daemon
// answers the welcome, then the reply, and a hello it refuses (another protocol version) keeps the
// request from running. Its output is one write to fd 1: a reader that went away ends it quietly, and
// a full stdout gets the rest when there is room (appctl exits straight after its output only when all of it is written).

import test from 'ava';
import { mkdirSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { ControlClient } from '../../ctl/client/connection.js';
import { encodeFrame, FrameDecoder } from '../../shared/control/frame-codec.js';
import { appctl, spawnAppctl, statusOf } from '../helpers/appctl.js';
import { HELLO, RawControlClient } from '../helpers/control-socket.js';
import { APPCTL, fixture, startDaemon, tempDirectory } from '../helpers/daemon.js';
import { runCommand } from '../helpers/other-users.js';

const isType = (type: string) => (message: Record<string, unknown>) => message['type'] === type;

test('a hello and a request in one write get the welcome, then the reply; a refused hello keeps its request from running', async (t) => {
  const daemon = await startDaemon(t, { args: [fixture('pid-app.mjs'), '-w', '1', '-b', '127.0.0.1:0'] });
  await daemon.waitForWorkers(1);
  const socket = join(daemon.directory, 'appd', 'appd.sock');

  const pipelined = await RawControlClient.connect(socket);
  t.teardown(() => pipelined.destroy());
  pipelined.write(Buffer.concat([encodeFrame(HELLO), encodeFrame({ type: 'request', id: 's1', request: { command: 'status' } })]));
  const reply = await pipelined.waitFor(isType('reply'));
  t.like(reply, { id: 's1', outcome: { status: 'completed', data: { format: 1, name: 'appd' } } });
  t.deepEqual(
    pipelined.messages.map((message) => message['type']),
    ['welcome', 'reply'],
  );

  // What a daemon of this version answers an appctl of another one that sends a request with its hello:
  // unsupported_protocol, then it closes without reading the request (here one that would scale to 3).
  const newer = await RawControlClient.connect(socket);
  t.teardown(() => newer.destroy());
  const scale = { type: 'request', id: 'n1', request: { command: 'scale', pool: 'web', change: { absolute: 3 } } };
  newer.write(Buffer.concat([encodeFrame({ ...HELLO, protocol: 2 }), encodeFrame(scale)]));
  await newer.closed;
  t.like(newer.messages, [{ type: 'error', id: null, code: 'unsupported_protocol' }]);
  t.regex(String(newer.messages[0]?.['message']), /speaks control protocol 1, the client speaks 2/);
  t.is(newer.messages.length, 1, 'no reply: the request was never read');
  const after = await statusOf(daemon.directory);
  t.is(after.pools[0]?.desired, 1, 'the scale request did not run');

  // The client library: the request given to connect() is answered once; another one is sent as usual.
  const request = { command: 'status' } as const;
  const client = await ControlClient.connect(socket, { request });
  t.teardown(() => client.close());
  t.like(await client.request(request), { status: 'completed', data: { name: 'appd' } });
  t.like(await client.request({ command: 'ping' }), { status: 'completed' });
});

test('appctl status sends its request with the hello, and says what a daemon of another protocol answered', async (t) => {
  const directory = tempDirectory(t);
  mkdirSync(join(directory, 'appd'), { mode: 0o700 });
  const path = join(directory, 'appd', 'newer.sock');
  const firstReads: unknown[][] = [];
  // A stand-in for a daemon of protocol 2: it refuses the hello as appd does, and closes.
  const server = net.createServer((connection) => {
    connection.once('data', (chunk: Buffer) => {
      firstReads.push(new FrameDecoder().push(chunk));
      const message = 'this appd (9.0.0) speaks control protocol 2, the client speaks 1: use the appctl installed with this appd';
      connection.end(encodeFrame({ type: 'error', id: null, code: 'unsupported_protocol', message }));
    });
    connection.on('error', () => connection.destroy());
  });
  await new Promise<void>((settle) => server.listen(path, settle));
  t.teardown(() => new Promise<void>((settle) => server.close(() => settle())));

  const result = await appctl(['-s', path, 'status'], { runtimeDirectory: directory });
  t.is(result.code, 1, result.stderr);
  t.is(result.stdout, '');
  t.regex(
    result.stderr,
    /^appctl: appd refused the request: this appd \(9\.0\.0\) speaks control protocol 2, the client speaks 1: .*\[unsupported_protocol\]\n$/,
  );
  // One write, one read: the hello and the status request arrived together.
  t.like(firstReads, [
    [
      { type: 'hello', protocol: 1, client: 'appctl' },
      { type: 'request', request: { command: 'status' } },
    ],
  ]);
});

test('appctl status whose reader went away before it printed exits 0 without a word (appctl status | head -0)', async (t) => {
  const daemon = await startDaemon(t, { args: [fixture('pid-app.mjs'), '-w', '1', '-b', '127.0.0.1:0'] });
  await daemon.waitForWorkers(1);
  for (const args of [['status'], ['status', '--json']]) {
    const child = spawnAppctl(args, { runtimeDirectory: daemon.directory });
    t.teardown(() => child.kill('SIGKILL'));
    // Closed before appctl has even started: its one write to stdout fails with EPIPE.
    child.stdout?.destroy();
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    const code = await new Promise<number | null>((settle) => child.on('close', (exitCode) => settle(exitCode)));
    t.is(code, 0, `${args.join(' ')}: ${stderr}`);
    t.is(stderr, '', args.join(' '));
  }
});

test('appctl status into a full non-blocking pipe waits for room and writes all of it (it exits at once only when all is written)', async (t) => {
  const daemon = await startDaemon(t, { args: [fixture('pid-app.mjs'), '-w', '1', '-b', '127.0.0.1:0'] });
  await daemon.waitForWorkers(1);
  const socket = join(daemon.directory, 'appd', 'appd.sock');
  for (const args of [['status'], ['status', '--json']]) {
    const result = await runCommand(['python3', fixture('full-pipe.py'), process.execPath, APPCTL, '-s', socket, ...args], {
      timeoutMs: 90_000,
    });
    t.is(result.code, 0, result.stderr);
    const outcome = JSON.parse(result.stdout) as { exitCode: number; bytes: number; runningWhenDrained: boolean; text: string };
    t.is(outcome.exitCode, 0, args.join(' '));
    t.true(outcome.runningWhenDrained, `${args.join(' ')}: appctl waited for room in the pipe`);
    if (args.includes('--json')) t.like(JSON.parse(outcome.text), { format: 1, name: 'appd' });
    else t.regex(outcome.text, /^appd 'appd': master pid \d+[^]*\nweb\.0 g1 +\d+ +ready[^\n]*\n$/);
  }
});
