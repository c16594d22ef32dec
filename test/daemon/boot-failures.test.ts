// First-start failures: exit 4 when the app cannot load, 3 when no worker becomes ready, 2 for bind
// errors; each with the app's own message on stderr and nothing left behind (pidfile, unix socket).

import test, { type ExecutionContext } from 'ava';
import { existsSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { fixture, startDaemon } from '../helpers/daemon.js';

async function failingStart(t: ExecutionContext, args: string[], files?: Record<string, string>) {
  const daemon = await startDaemon(t, { args, waitFor: 'nothing', ...(files ? { files } : {}) });
  const { code } = await daemon.exited();
  return { daemon, code, stderr: daemon.output };
}

test('a module with a syntax error: exit 4, the file and line on stderr, no pidfile or socket left', async (t) => {
  const { daemon, code, stderr } = await failingStart(t, [fixture('syntax-error.mjs'), '-b', 'unix:app.sock', '-p', 'app.pid']);
  t.is(code, 4);
  t.regex(stderr, /appd: cannot load app .*syntax-error\.mjs: .*syntax-error\.mjs:3\n/);
  t.regex(stderr, /SyntaxError: missing \) after argument list/);
  t.false(existsSync(join(daemon.directory, 'app.sock')), 'the unix socket is removed');
  t.false(existsSync(join(daemon.directory, 'app.pid')), 'the pidfile is removed');
  t.deepEqual(daemon.descendants(), []);
});

test('an app path that does not exist: exit 4 naming the path', async (t) => {
  const { code, stderr } = await failingStart(t, ['./no-such-app.js', '-b', '127.0.0.1:0']);
  t.is(code, 4);
  t.regex(stderr, /appd: app module not found: \/.*\/no-such-app\.js/);
});

test('an export that is not a handler: exit 4 saying what it is', async (t) => {
  const { code, stderr } = await failingStart(t, ['app.mjs:settings', '-b', '127.0.0.1:0'], {
    'app.mjs': 'export const settings = { port: 3000 };\n',
  });
  t.is(code, 4);
  t.regex(stderr, /export "settings" of app\.mjs is an object with keys port, not a request listener/);
});

test("a factory that always throws: exit 3 after boot-timeout with the app's error", async (t) => {
  const { daemon, code, stderr } = await failingStart(t, [
    `${fixture('factory-throws.mjs')}:createApp()`,
    '-w',
    '2',
    '-b',
    '127.0.0.1:0',
    '--boot-timeout',
    '5',
    '-p',
    'app.pid',
  ]);
  t.is(code, 3);
  t.regex(
    stderr,
    /appd: no worker became ready within boot-timeout \(5s\): .*createApp.*failed: Error: database unreachable: connect ECONNREFUSED/,
  );
  t.false(existsSync(join(daemon.directory, 'app.pid')));
  t.deepEqual(daemon.descendants(), []);
});

test('a port in use: exit 2 naming the address', async (t) => {
  const holder = net.createServer();
  await new Promise<void>((settle) => holder.listen(0, '127.0.0.1', () => settle()));
  t.teardown(() => holder.close());
  const port = (holder.address() as net.AddressInfo).port;
  const { code, stderr } = await failingStart(t, [fixture('pid-app.mjs'), '-b', `127.0.0.1:${port}`]);
  t.is(code, 2);
  t.is(
    stderr.trim().split('\n').at(-1),
    `appd: cannot listen on 127.0.0.1:${port}: address already in use (another process listens there) [EADDRINUSE]`,
  );
});

test('a unix path that is a regular file, or in a missing directory: exit 2, the file is untouched', async (t) => {
  const notSocket = await failingStart(t, [fixture('pid-app.mjs'), '-b', 'unix:taken'], { taken: 'precious\n' });
  t.is(notSocket.code, 2);
  t.regex(notSocket.stderr, /cannot listen on unix:taken: \/.*\/taken exists and is not a socket/);
  t.true(existsSync(join(notSocket.daemon.directory, 'taken')));
  const missing = await failingStart(t, [fixture('pid-app.mjs'), '-b', 'unix:nowhere/app.sock']);
  t.is(missing.code, 2);
  t.regex(missing.stderr, /cannot listen on unix:nowhere\/app\.sock: directory \/.*\/nowhere does not exist/);
});

test('a unix socket path longer than Linux allows: exit 2 with its length', async (t) => {
  const { code, stderr } = await failingStart(t, [fixture('pid-app.mjs'), '-b', `unix:/tmp/${'x'.repeat(120)}.sock`]);
  t.is(code, 2);
  t.regex(stderr, /invalid --bind \(from command line\): unix socket path is 130 bytes, longer than the 107 Linux allows/);
});

test('a stale unix socket left by a dead daemon is replaced', async (t) => {
  const daemon = await startDaemon(t, { args: [fixture('pid-app.mjs'), '-b', 'unix:app.sock'], waitFor: 'nothing' });
  await daemon.waitForLog(/ready: /, 60_000); // as long as startDaemon waits
  daemon.signal('SIGKILL');
  await daemon.exited();
  const socketPath = join(daemon.directory, 'app.sock');
  t.true(existsSync(socketPath), 'SIGKILL leaves the socket file behind');
  writeFileSync(join(daemon.directory, 'marker'), '');
  const second = await startDaemon(t, { args: [fixture('pid-app.mjs'), '-b', `unix:${socketPath}`] });
  t.regex(second.output, /Listening at: unix:.*app\.sock/);
});
