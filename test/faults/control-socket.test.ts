// Fault injection: a client of another user at the control socket. The socket is 0600 in a 0700
// directory, so the kernel refuses the connection before the daemon sees a byte, whether the directory
// is the default one or a world-readable --control-socket directory; appctl says why and exits 1.
// Garbage, floods and slow readers on the socket are test/daemon/control-robustness.test.ts and
// control-slow-subscriber.test.ts.

import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { appctl } from '../helpers/appctl.js';
import { fixture, startDaemon } from '../helpers/daemon.js';
import { AS_NOBODY, installationForOthers, NOBODY, testAsNobody } from '../helpers/other-users.js';

/** Runs node as nobody with `args`; resolves with exit code and output. */
function asNobody(args: readonly string[]): Promise<{ code: number | null; output: string }> {
  const [command = '', ...rest] = [...AS_NOBODY, process.execPath, ...args];
  const child = spawn(command, rest, { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env['PATH'] ?? '' } });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => (output += text));
  child.stderr.setEncoding('utf8').on('data', (text: string) => (output += text));
  return new Promise((settle) => child.on('close', (code) => settle({ code, output: output.trim() })));
}

/** What a raw connect(2) as nobody gets: "connected" or the error code. */
function rawConnect(path: string): Promise<string> {
  const probe = `require('node:net').connect(${JSON.stringify(path)}).on('connect', () => { console.log('connected'); process.exit(0); }).on('error', (error) => { console.log(error.code); process.exit(0); });`;
  return asNobody(['-e', probe]).then(({ output }) => output);
}

testAsNobody('a client of another uid is refused by permissions, default and custom socket paths', async (t) => {
  const { appctl: appctlForOthers } = installationForOthers(t);
  const daemon = await startDaemon(t, {
    args: [fixture('pid-app.mjs'), '-b', '127.0.0.1:0', '--name', 'guarded', '--control-socket', 'public/guarded.sock'],
    // A directory anyone may enter: only the socket's own mode keeps others out.
    prepare: (directory) => {
      chmodSync(directory, 0o755);
      mkdirSync(join(directory, 'public'), { mode: 0o755 });
    },
  });
  const custom = join(daemon.directory, 'public', 'guarded.sock');
  const second = await startDaemon(t, { args: [fixture('pid-app.mjs'), '-b', '127.0.0.1:0', '--name', 'private'] });
  const defaultPath = join(second.directory, 'appd', 'private.sock');

  t.is(statSync(custom).mode & 0o777, 0o600);
  t.is(statSync(defaultPath).mode & 0o777, 0o600);
  t.is(statSync(join(second.directory, 'appd')).mode & 0o777, 0o700);
  const refusedCustom = await rawConnect(custom);
  const refusedDefault = await rawConnect(defaultPath);
  const ctlCustom = await asNobody([appctlForOthers, '-s', custom, 'ping']);
  const ctlDefault = await asNobody([appctlForOthers, '-s', defaultPath, 'status']);
  t.log(
    `as uid ${NOBODY}: connect() to a 0600 socket in a 0755 directory: ${refusedCustom}; in the default 0700 directory: ${refusedDefault}`,
  );
  t.log(`appctl ping as uid ${NOBODY}: exit ${ctlCustom.code}: ${ctlCustom.output}`);
  t.is(refusedCustom, 'EACCES');
  t.is(refusedDefault, 'EACCES');
  t.is(ctlCustom.code, 1);
  t.regex(ctlCustom.output, /permission denied on .*guarded\.sock: the control socket is only for the user running the daemon/);
  t.is(ctlDefault.code, 1);
  // The daemon's own user still gets in, and the daemon saw nothing of the refused clients.
  t.is((await appctl(['-s', custom, 'ping'], { runtimeDirectory: daemon.directory })).code, 0);
  t.is((await appctl(['ping'], { runtimeDirectory: second.directory })).code, 0);
  t.notRegex(daemon.output + second.output, /control client|bad_frame|internal error/);
});
