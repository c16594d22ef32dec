// Fault injection: an upgrade interrupted by a kill. PIDFILE.oldbin names the old master only while it
// runs: when the old master is SIGKILLed mid-dance the new one removes the file, and a fresh start
// removes one that both masters' deaths left behind, so `kill $(cat app.pid.oldbin)` never hits a
// process that got the pid since.

import test from 'ava';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { appctl } from '../helpers/appctl.js';
import { fixture, startDaemon } from '../helpers/daemon.js';
import { get } from '../helpers/http.js';
import { isAlive, killQuietly, waitFor } from '../helpers/processes.js';

test('the old master SIGKILLed during a USR2 dance: the new master removes app.pid.oldbin and serves on', async (t) => {
  const daemon = await startDaemon(t, {
    args: [fixture('pid-app.mjs'), '-w', '1', '-b', '127.0.0.1:0', '--pidfile', 'app.pid'],
    timeoutMs: 60_000,
  });
  const oldbin = join(daemon.directory, 'app.pid.oldbin');
  const old = daemon.pid;
  daemon.signal('SIGUSR2');
  const successor = await waitFor(
    'the new master to take over (app.pid.oldbin written)',
    () => {
      if (!existsSync(oldbin)) return null;
      const pid = Number(readFileSync(join(daemon.directory, 'app.pid'), 'utf8').trim());
      return pid !== old ? pid : null;
    },
    60_000,
  );
  // The successor outlives the harness's master: stopped through appctl below, killed by pid if that fails.
  t.teardown(() => killQuietly(successor));
  t.is(readFileSync(oldbin, 'utf8'), `${old}\n`);
  await daemon.waitForLog(/upgrade: both masters serve now/, 60_000);
  daemon.signal('SIGKILL');
  await waitFor('app.pid.oldbin to be removed', () => !existsSync(oldbin), 30_000);
  await daemon.waitForLog(new RegExp(`removed .*app\\.pid\\.oldbin: the old master \\(pid ${old}\\) has exited`));
  t.true(isAlive(successor), 'the new master serves on');
  t.is((await get(daemon.url)).status, 200);
  const stop = await appctl(['stop'], { runtimeDirectory: daemon.directory, timeoutMs: 60_000 });
  t.is(stop.code, 0, stop.stderr);
  await waitFor('the new master to exit', () => !isAlive(successor), 30_000);
  t.false(existsSync(join(daemon.directory, 'app.pid')));
});

test('a fresh start removes an app.pid.oldbin naming a pid that no longer runs', async (t) => {
  // A pid that surely ran and is gone: a child that has exited.
  const gone = spawnSync('/bin/sh', ['-c', 'echo $$'], { encoding: 'utf8' });
  const deadPid = Number(gone.stdout.trim());
  t.false(isAlive(deadPid));
  const daemon = await startDaemon(t, {
    args: [fixture('pid-app.mjs'), '-w', '1', '-b', '127.0.0.1:0', '--pidfile', 'app.pid'],
    files: { 'app.pid.oldbin': `${deadPid}\n` },
    timeoutMs: 60_000,
  });
  t.false(existsSync(join(daemon.directory, 'app.pid.oldbin')));
  t.regex(
    daemon.output,
    new RegExp(`removed .*app\\.pid\\.oldbin: it named pid ${deadPid}, which is not running \\(left by an interrupted upgrade\\)`),
  );
});

test('a fresh start removes an app.pid.oldbin naming a live process that is not an appd master', async (t) => {
  const daemon = await startDaemon(t, {
    args: [fixture('pid-app.mjs'), '-w', '1', '-b', '127.0.0.1:0', '--pidfile', 'app.pid'],
    // The test process itself: alive, and not an appd master (a reused pid).
    files: { 'app.pid.oldbin': `${process.pid}\n` },
    timeoutMs: 60_000,
  });
  t.false(existsSync(join(daemon.directory, 'app.pid.oldbin')));
  t.regex(daemon.output, new RegExp(`removed .*app\\.pid\\.oldbin: it named pid ${process.pid}, which is not an appd master`));
});
