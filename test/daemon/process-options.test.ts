// Process options: --daemon returns only once workers are ready (or with the daemon's error),
// --pidfile refuses a live daemon, --env, --chdir and --user reach the workers.

import test from 'ava';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { APPD, fixture, startDaemon, tempDirectory } from '../helpers/daemon.js';
import { get } from '../helpers/http.js';
import { installationForOthers, runCommand, testAsNobody } from '../helpers/other-users.js';
import { isAlive, killQuietly, readStat, waitFor } from '../helpers/processes.js';

const ENV_APP = `export default (request, response) => response.end(JSON.stringify({
  greeting: process.env.GREETING, cwd: process.cwd(), uid: process.getuid(), pool: process.env.APPD_POOL,
}));\n`;

test('--env and --chdir reach the workers', async (t) => {
  const daemon = await startDaemon(t, {
    args: ['app.mjs', '-b', '127.0.0.1:0', '--env', 'GREETING=hi there', '--chdir', 'site'],
    files: { 'site/app.mjs': ENV_APP },
  });
  const body = JSON.parse((await get(daemon.url)).body) as Record<string, unknown>;
  t.is(body['greeting'], 'hi there');
  t.is(body['cwd'], join(daemon.directory, 'site'));
  t.is(body['pool'], 'web');
});

testAsNobody('--user runs workers as another user while the master stays root', async (t) => {
  const nobody = Number(execFileSync('id', ['-u', 'nobody'], { encoding: 'utf8' }));
  // The worker's own code must be readable by nobody: the checkout, or a copy if it is out of reach.
  const appd = installationForOthers(t).appd;
  const refused = await startDaemon(t, {
    args: ['app.mjs', '-b', '127.0.0.1:0', '--user', 'nobody'],
    files: { 'app.mjs': ENV_APP },
    waitFor: 'nothing',
    appd,
  });
  t.is((await refused.exited()).code, 4, 'the temp directory is 0700: nobody cannot read the app');
  t.regex(refused.output, new RegExp(`cannot read app module .*app\\.mjs as uid ${nobody}: permission denied`));
  const daemon = await startDaemon(t, {
    args: ['app.mjs', '-b', '127.0.0.1:0', '--user', 'nobody'],
    files: { 'app.mjs': ENV_APP },
    prepare: (directory) => chmodSync(directory, 0o755),
    appd,
  });
  const body = JSON.parse((await get(daemon.url)).body) as Record<string, unknown>;
  t.is(body['uid'], nobody);
  t.is(readFileSync(`/proc/${daemon.pid}/status`, 'utf8').match(/^Uid:\s+(\d+)/m)?.[1], '0');
});

test('--pidfile: written with the master pid, a second daemon refused, removed on stop', async (t) => {
  const daemon = await startDaemon(t, { args: [fixture('pid-app.mjs'), '-b', '127.0.0.1:0', '-p', 'app.pid'] });
  const pidfile = join(daemon.directory, 'app.pid');
  t.is(readFileSync(pidfile, 'utf8'), `${daemon.pid}\n`);
  // Its own runtime directory: with the default one, a suite running beside this one shares the name's socket.
  const second = await runCommand([process.execPath, APPD, fixture('pid-app.mjs'), '-b', '127.0.0.1:0', '-p', pidfile], {
    timeoutMs: 60_000,
    env: { ...process.env, XDG_RUNTIME_DIR: daemon.directory, APPD_CMD_ARGS: '' },
  });
  t.is(second.code, 2);
  t.is(second.stderr.trim(), `appd: pidfile ${pidfile} names process ${daemon.pid}, which is running: is appd already running?`);
  daemon.signal('SIGTERM');
  await daemon.exited();
  t.false(existsSync(pidfile));
});

test('--daemon returns 0 once the workers are ready, and the daemon runs detached', async (t) => {
  const directory = tempDirectory(t);
  // Asynchronously (not spawnSync): the file's other tests keep running while this daemon starts.
  const result = await runCommand(
    [process.execPath, APPD, fixture('pid-app.mjs'), '-b', '127.0.0.1:0', '--daemon', '-p', 'app.pid', '--error-logfile', 'error.log'],
    {
      cwd: directory,
      timeoutMs: 90_000,
      env: { ...process.env, XDG_RUNTIME_DIR: directory },
    },
  );
  t.is(result.code, 0, result.stderr);
  const pid = Number(readFileSync(join(directory, 'app.pid'), 'utf8'));
  t.teardown(async () => {
    killQuietly(-pid, 'SIGKILL');
    await waitFor('the daemon to exit', () => !isAlive(pid));
  });
  t.regex(result.stderr, new RegExp(`appd: running in the background as pid ${pid} \\(1 worker ready in \\d+ms\\)`));
  t.true(isAlive(pid));
  t.is(readStat(pid)?.ppid, 1, 'detached from the command that started it');
  const port = /Listening at: http:\/\/127\.0\.0\.1:(\d+)/.exec(readFileSync(join(directory, 'error.log'), 'utf8'))?.[1];
  t.is((await get(`http://127.0.0.1:${port}/`)).status, 200);
  process.kill(pid, 'SIGTERM');
  await waitFor('the daemon to stop', () => !isAlive(pid));
  t.false(existsSync(join(directory, 'app.pid')));
});

test("--daemon with a broken app exits with the daemon's code and error", async (t) => {
  const directory = tempDirectory(t);
  mkdirSync(join(directory, 'logs'));
  writeFileSync(join(directory, 'broken.mjs'), 'export default 42;\n');
  const result = await runCommand(
    [process.execPath, APPD, 'broken.mjs', '-b', '127.0.0.1:0', '--daemon', '--error-logfile', 'logs/error.log'],
    {
      cwd: directory,
      timeoutMs: 90_000,
      env: { ...process.env, XDG_RUNTIME_DIR: directory },
    },
  );
  t.is(result.code, 4, result.stderr);
  t.regex(result.stderr, /appd: the default export of broken\.mjs is number, not a request listener/);
});
