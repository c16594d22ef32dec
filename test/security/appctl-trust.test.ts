// Attack 6 of the security issue: appctl trusted any socket where it looked. As nobody, plant
// $TMPDIR/appd-0/x.sock with a fake daemon; root's `appctl -n x stop` (no XDG_RUNTIME_DIR) must refuse
// it with one line instead of printing the fake's "stopped" and exiting 0. Text from a daemon is shown
// with its control characters escaped (a window title, colours and a clipboard write in it), unless --raw.

import test, { type ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { APPCTL, fixture, tempDirectory } from '../helpers/daemon.js';
import { AS_NOBODY, installationForOthers, NOBODY, runAsNobody, runCommand, testAsNobody } from '../helpers/other-users.js';
import { killQuietly, waitFor } from '../helpers/processes.js';

const ESCAPED_HOSTILE = '\\e]0;pwned title\\x07\\e[31mred\\e[0m\\e]52;c;cm0gLXJmIH4K\\x07';

/** Starts the fake daemon (as `command` prefix says) at `path`; killed by pid when the test ends. */
async function startFake(t: ExecutionContext, prefix: readonly string[], script: string, path: string): Promise<void> {
  const [program = '', ...args] = [...prefix, process.execPath, script, path, 'x'];
  const child = spawn(program, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => killQuietly(child.pid ?? -1));
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => (output += text));
  await waitFor('the fake daemon to listen', () => output.includes('listening'), 15_000);
}

/** appctl's environment without the variables that would point it elsewhere. */
function appctlEnvironment(temporary: string): NodeJS.ProcessEnv {
  const environment: NodeJS.ProcessEnv = { ...process.env, TMPDIR: temporary };
  delete environment['XDG_RUNTIME_DIR'];
  delete environment['APPD_SOCKET'];
  return environment;
}

testAsNobody("root's appctl refuses a socket directory another user planted in $TMPDIR, with one line", async (t) => {
  const temporary = tempDirectory(t);
  chmodSync(temporary, 0o1777);
  const planted = join(temporary, `appd-0`);
  const made = await runAsNobody(['/bin/mkdir', '-m', '0700', planted]);
  t.is(made.code, 0, made.stderr);
  await startFake(t, AS_NOBODY, installationForOthers(t).fixture('security/fake-control-server.mjs'), join(planted, 'x.sock'));

  const stop = await runCommand([process.execPath, APPCTL, '-n', 'x', 'stop'], { env: appctlEnvironment(temporary) });
  t.log(`appctl -n x stop: exit ${stop.code}\n${stop.stdout}${stop.stderr}`);
  const refusal = `appctl: refusing the control socket ${join(planted, 'x.sock')}: the socket directory ${planted} belongs to uid ${NOBODY}, not to you (uid 0) or root, so someone else could stand in for the daemon there\n`;
  t.is(stop.code, 2);
  t.is(stop.stderr, refusal);
  t.is(stop.stdout, '', "nothing of the fake's answer");
  const explicit = await runCommand([process.execPath, APPCTL, '-s', join(planted, 'x.sock'), 'ping'], {
    env: appctlEnvironment(temporary),
  });
  t.is(explicit.code, 2);
  t.is(explicit.stderr, refusal, '-s is checked the same way');
  // A plain status takes its own route through appctl (main.ts, without commander): checked the same way.
  for (const args of [
    ['-n', 'x', 'status'],
    ['-s', join(planted, 'x.sock'), 'status'],
  ]) {
    const status = await runCommand([process.execPath, APPCTL, ...args], { env: appctlEnvironment(temporary) });
    t.is(status.code, 2, args.join(' '));
    t.is(status.stderr, refusal, `appctl ${args.join(' ')} is refused the same way`);
    t.is(status.stdout, '');
  }
});

test("a daemon's text reaches the terminal escaped (window title, colours, clipboard), raw only with --raw", async (t) => {
  const directory = tempDirectory(t);
  const own = join(directory, 'run');
  mkdirSync(own, { mode: 0o700 });
  const socket = join(own, 'x.sock');
  await startFake(t, [], fixture('security/fake-control-server.mjs'), socket);

  const escaped = await runCommand([process.execPath, APPCTL, '-s', socket, 'stop'], { env: appctlEnvironment(directory) });
  t.log(`appctl stop: exit ${escaped.code}\n${escaped.stdout}${escaped.stderr}`);
  t.false(/[\u001b\u0007]/.test(escaped.stdout + escaped.stderr), 'no raw escape sequence');
  t.true(escaped.stdout.includes(`stopped ${ESCAPED_HOSTILE}`), 'the text is there, visibly escaped');
  const raw = await runCommand([process.execPath, APPCTL, '--raw', '-s', socket, 'stop'], { env: appctlEnvironment(directory) });
  t.true(raw.stdout.includes('stopped \u001b]0;pwned title\u0007'), '--raw passes it through');
});

testAsNobody(
  "root's appctl talks to a socket directory root handed to another user (systemd's RuntimeDirectory= with User=), not one in a directory others may write",
  async (t) => {
    const temporary = tempDirectory(t);
    chmodSync(temporary, 0o755); // root's, written by no one else: like /run
    const handed = join(temporary, 'appd');
    mkdirSync(handed, { mode: 0o700 });
    chownSync(handed, NOBODY, NOBODY);
    await startFake(t, AS_NOBODY, installationForOthers(t).fixture('security/fake-control-server.mjs'), join(handed, 'x.sock'));
    const stop = await runCommand([process.execPath, APPCTL, '-s', join(handed, 'x.sock'), 'stop'], { env: appctlEnvironment(temporary) });
    t.is(stop.code, 0, stop.stderr);
    t.true(stop.stdout.includes('stopped'), 'the daemon root chose to run as nobody answered');

    chmodSync(temporary, 0o777); // now nobody could have made that directory itself
    const refused = await runCommand([process.execPath, APPCTL, '-s', join(handed, 'x.sock'), 'stop'], {
      env: appctlEnvironment(temporary),
    });
    t.is(refused.code, 2);
    t.regex(refused.stderr, /belongs to uid 65534, not to you \(uid 0\) or root/);
  },
);
