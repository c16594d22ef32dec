// Socket activation with systemd-socket-activate: sockets passed as LISTEN_FDS/LISTEN_FDNAMES are adopted,
// the connection that triggered the start is answered, requests keep being answered across a reload.

import test from 'ava';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fixture, startDaemon, tempDirectory } from '../helpers/daemon.js';
import { get } from '../helpers/http.js';
import { freePort } from '../helpers/ports.js';

/** systemd-socket-activate passes only the environment it is told to. */
const PASS_ENVIRONMENT = ['-E', 'PATH', '-E', 'XDG_RUNTIME_DIR', '-E', 'APPD_CMD_ARGS'];

test('the request that activates appd is answered through the adopted fds, and requests keep being answered across HUP', async (t) => {
  const port = await freePort();
  const unixPath = join(tempDirectory(t, 'appd-sa-'), 'web.sock');
  const daemon = await startDaemon(t, {
    args: [fixture('pid-app.mjs'), '-w', '2'],
    wrapper: ['systemd-socket-activate', '-l', `127.0.0.1:${port}`, '-l', unixPath, '--fdname=web:admin', ...PASS_ENVIRONMENT],
    waitFor: 'nothing',
  });
  await daemon.waitForLog(/as 4\./); // both sockets bound; appd starts on the first connection

  // The connection waits in the backlog while appd boots: never refused.
  const first = await get(`http://127.0.0.1:${port}/`);
  t.regex(first.body, /generation=1/);
  await daemon.waitForLog(/\[INFO\] ready: /);
  t.regex(daemon.output, new RegExp(`Listening at: http://127\\.0\\.0\\.1:${port} \\(fd 3, systemd\\)`));
  t.regex(daemon.output, new RegExp(`Listening at: unix:${unixPath} \\(fd 4, systemd\\)`));
  t.is((await get('http://localhost/', { socketPath: unixPath })).status, 200);
  const before = await daemon.waitForWorkers(2);

  // Keep requesting over both sockets while the workers are replaced.
  let failures = 0;
  let answered = 0;
  let rolling = true;
  const client = (async () => {
    while (rolling) {
      for (const options of [{}, { socketPath: unixPath }]) {
        await get(`http://127.0.0.1:${port}/`, options).then(
          () => (answered += 1),
          () => (failures += 1),
        );
      }
    }
  })();
  daemon.signal('SIGHUP');
  await daemon.waitForLog(/pool web reloaded: generation 2/);
  rolling = false;
  await client;
  t.is(failures, 0, `every request during the reload was answered (${answered} were)`);
  t.true(answered > 0);
  const after = await daemon.waitForWorkers(2);
  t.deepEqual(after.filter((pid) => before.includes(pid)), [], 'the reload replaced every worker');
  t.regex((await get(`http://127.0.0.1:${port}/`)).body, /generation=2/);
  t.regex((await get('http://localhost/', { socketPath: unixPath })).body, /generation=2/);
  t.false(/LISTEN_FDS|LISTEN_PID/.test((await get(`http://127.0.0.1:${port}/`)).body));

  daemon.signal('SIGTERM');
  t.deepEqual(await daemon.exited(), { code: 0, signal: null });
  t.true(existsSync(unixPath), 'a socket file systemd created is systemd\'s to remove');
});

test('binds pick passed sockets by name (fd://NAME) or number (fd://N) without duplicating them; an unknown name is a usage error', async (t) => {
  const port = await freePort();
  const unixPath = join(tempDirectory(t, 'appd-sa-'), 'admin.sock');
  const socketActivate = ['systemd-socket-activate', '-l', `127.0.0.1:${port}`, '-l', unixPath, '--fdname=web:admin', ...PASS_ENVIRONMENT];

  const daemon = await startDaemon(t, { args: [fixture('pid-app.mjs'), '-b', 'fd://3', '-b', 'fd://admin'], wrapper: socketActivate, waitFor: 'nothing' });
  await daemon.waitForLog(/as 4\./);
  t.is((await get('http://localhost/', { socketPath: unixPath })).status, 200);
  await daemon.waitForLog(/\[INFO\] ready: /);
  t.is(daemon.output.match(/Listening at: /g)?.length, 2, daemon.output);
  t.is((await get(`http://127.0.0.1:${port}/`)).status, 200);
  daemon.signal('SIGTERM');
  t.deepEqual(await daemon.exited(), { code: 0, signal: null });

  const port2 = await freePort();
  const wrong = await startDaemon(t, {
    args: [fixture('pid-app.mjs'), '-b', 'fd://nope'],
    wrapper: ['systemd-socket-activate', '-l', `127.0.0.1:${port2}`, '--fdname=web', ...PASS_ENVIRONMENT],
    waitFor: 'nothing',
  });
  await wrong.waitForLog(/as 3\./);
  await get(`http://127.0.0.1:${port2}/`).catch(() => null); // starts appd; its connection is dropped
  t.deepEqual(await wrong.exited(), { code: 2, signal: null });
  t.regex(wrong.output, /cannot listen on fd:\/\/nope: no inherited socket is named "nope" \(LISTEN_FDNAMES has web\)/);
});
