// Listeners: unix sockets with their mode, IPv6, several binds at once, and a descriptor passed in
// with fd://N; all served by the same workers.

import test from 'ava';
import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { APPD, fixture, startDaemon, tempDirectory } from '../helpers/daemon.js';
import { get } from '../helpers/http.js';
import { isAlive, killQuietly, waitFor } from '../helpers/processes.js';
import { bindTcpWithoutListening, socketAddress } from '../../daemon/sockets/server-handle.js';

test('a unix socket with the configured mode, a TCP port and IPv6 at once', async (t) => {
  const daemon = await startDaemon(t, {
    args: [fixture('pid-app.mjs'), '-b', 'unix:web.sock', '-b', '127.0.0.1:0', '-b', '[::1]:0', '--unix-socket-mode', '0600'],
  });
  const socketPath = join(daemon.directory, 'web.sock');
  t.is(statSync(socketPath).mode & 0o777, 0o600);
  t.is((await get('http://localhost/', { socketPath })).status, 200);
  t.is((await get(daemon.url)).status, 200);
  const v6 = /Listening at: http:\/\/\[::1\]:(\d+) /.exec(daemon.output);
  t.truthy(v6);
  t.is((await get(`http://[::1]:${v6?.[1]}/`)).status, 200);
  daemon.signal('SIGTERM');
  await daemon.exited();
  t.throws(() => statSync(socketPath), { code: 'ENOENT' }, 'the socket file is removed on exit');
});

test(':PORT listens on every interface', async (t) => {
  const daemon = await startDaemon(t, { args: [fixture('pid-app.mjs'), '-b', ':0'] });
  const port = Number(/Listening at: http:\/\/\[::\]:(\d+) /.exec(daemon.output)?.[1]);
  t.true(port > 0);
  t.is((await get(`http://127.0.0.1:${port}/`)).status, 200, 'IPv4 through the dual-stack socket');
  t.is((await get(`http://[::1]:${port}/`)).status, 200);
});

test('fd://N adopts a socket the caller bound and passed in', async (t) => {
  const directory = tempDirectory(t);
  const handle = bindTcpWithoutListening('127.0.0.1', 0, 4);
  t.teardown(() => handle.close());
  const port = socketAddress(handle)?.port ?? 0;
  const child = spawn(process.execPath, [APPD, fixture('pid-app.mjs'), '-b', 'fd://3'], {
    cwd: directory,
    stdio: ['ignore', 'pipe', 'pipe', handle.fd],
    detached: true,
    env: { ...process.env, XDG_RUNTIME_DIR: directory },
  });
  let output = '';
  child.stderr?.setEncoding('utf8').on('data', (text: string) => (output += text));
  t.teardown(async () => {
    killQuietly(-(child.pid ?? 0), 'SIGKILL');
    await waitFor('appd to exit', () => !isAlive(child.pid ?? -1));
  });
  await waitFor('ready', () => output.includes('ready: '));
  t.regex(output, new RegExp(`Listening at: http://127\\.0\\.0\\.1:${port} \\(fd 3, fd\\)`));
  t.is((await get(`http://127.0.0.1:${port}/`)).status, 200);
});

test('binding a port another process listens on fails even though bind() itself "succeeds"', (t) => {
  const holder = net.createServer();
  return new Promise<void>((settle) => {
    holder.listen(0, '127.0.0.1', () => {
      const port = (holder.address() as net.AddressInfo).port;
      t.throws(() => bindTcpWithoutListening('127.0.0.1', port, 4), { message: 'EADDRINUSE' });
      holder.close(() => settle());
    });
  });
});
