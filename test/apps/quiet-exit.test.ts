// No noise that looks like a bug: a worker that calls process.exit() prints no "Waiting for the debugger
// to disconnect..." (the watchdog thread's inspector session), at boot or later, and Node's own hints name
// `node`, not the padded argv0 that makes room for worker titles. Runs in the ava test process.

import test from 'ava';
import { APPD, fixture, startDaemon, tempDirectory } from '../helpers/daemon.js';
import { get } from '../helpers/http.js';
import { runCommand } from '../helpers/other-users.js';

const DEBUGGER_NOISE = 'Waiting for the debugger';

test("Node's own hints in a worker name node, not the padded argv0", async (t) => {
  const daemon = await startDaemon(t, { args: [fixture('exit-app.mjs'), '-w', '1', '-b', '127.0.0.1:0'], timeoutMs: 60_000 });
  await get(`${daemon.url}/warn`);
  await daemon.waitForLog(/to show where the warning was created/, 30_000);
  t.is(/\(Use `(.*?) --trace-warnings/.exec(daemon.output)?.[1], 'node', 'the hint names the program as a user would run it');
});

test("a worker calling process.exit() with the watchdog's inspector session connected prints no debugger message", async (t) => {
  const daemon = await startDaemon(t, { args: [fixture('exit-app.mjs'), '-w', '1', '-b', '127.0.0.1:0'], timeoutMs: 60_000 });
  await get(`${daemon.url}/exit`);
  await daemon.waitForLog(/exited unexpectedly \(exit code 0\)/, 60_000);
  await daemon.waitForLog(/worker web\.0 g1 \(pid \d+\) ready[\s\S]*worker web\.0 g1 \(pid \d+\) ready/, 60_000);
  t.false(daemon.output.includes(DEBUGGER_NOISE));
});

test("a worker exiting during boot: the boot failure message carries the app's words, no debugger message", async (t) => {
  const directory = tempDirectory(t);
  // Not spawnSync: it would stop this file's other tests until appd gives up. --start-retries 1: appd
  // gives up after the second exit during boot ('no worker could start', with the app's last output)
  // instead of retrying until boot-timeout (30 s; its message is tested in daemon/boot-failures).
  const args = [APPD, fixture('boot-exit-app.mjs'), '-w', '1', '-b', '127.0.0.1:0', '--start-retries', '1'];
  const result = await runCommand([process.execPath, ...args], {
    cwd: directory,
    timeoutMs: 90_000,
    env: { ...process.env, XDG_RUNTIME_DIR: directory, APPD_CMD_ARGS: '' },
  });
  const output = `${result.stdout}${result.stderr}`;
  t.is(result.code, 3, output);
  t.true(output.includes('no DATABASE_URL; exiting'), output);
  t.false(output.includes(DEBUGGER_NOISE), output);
});
