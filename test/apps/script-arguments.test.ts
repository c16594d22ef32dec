// Script arguments: everything after -- on the command line, or args in a config file or pool, is the
// script's process.argv after its path; json-server 0.17 gets its db file that way and serves it through
// reloads under load. Runs in the ava test process.

import test from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { APPD, fixture, PROJECT_ROOT, startDaemon, tempDirectory } from '../helpers/daemon.js';
import { get } from '../helpers/http.js';
import { runCommand } from '../helpers/other-users.js';
import { waitFor } from '../helpers/processes.js';
import { reloadAndWait } from '../helpers/reload.js';
import { assertNoFailures, underLoad } from '../helpers/under-load.js';

const JSON_SERVER = join(PROJECT_ROOT, 'node_modules/json-server/lib/cli/bin.js');
/** A reload boots new workers, which takes many seconds (a minute, seen) on a machine loaded by parallel test runs. */
const RELOAD_TIMEOUT_MS = 180_000;

test('appd --script S -- ARGS: each worker runs the script with ARGS, a second -- included', async (t) => {
  const daemon = await startDaemon(t, {
    args: ['--script', fixture('argv-script.mjs'), '-w', '2', '-b', '127.0.0.1:0', '--', 'db.json', '--port', '3000', '-w', '--', 'x'],
    timeoutMs: 60_000,
  });
  const answer = await get(`${daemon.url}/`);
  t.deepEqual(JSON.parse(answer.body), { args: ['db.json', '--port', '3000', '-w', '--', 'x'] });
  await daemon.waitForWorkers(2, 60_000); // -w 2 before -- was appd's; the -w after it was the script's
});

test('args in a config file pool, and --print-config showing where they came from', async (t) => {
  const config = {
    pools: {
      api: { script: fixture('argv-script.mjs'), args: ['one', 'two words'], bind: '127.0.0.1:0' },
      plain: { script: fixture('argv-script.mjs'), bind: '127.0.0.1:0' },
    },
  };
  const daemon = await startDaemon(t, {
    args: ['-c', 'appd.config.json'],
    files: { 'appd.config.json': JSON.stringify(config) },
    timeoutMs: 60_000,
  });
  t.deepEqual(JSON.parse((await get(`${daemon.urlOf('api')}/`)).body), { args: ['one', 'two words'] });
  t.deepEqual(JSON.parse((await get(`${daemon.urlOf('plain')}/`)).body), { args: [] }, 'args are per pool');

  const directory = tempDirectory(t);
  // Not spawnSync: it would stop this file's other tests from reading their daemons while appd starts.
  const printed = await runCommand([process.execPath, APPD, '--print-config', '--script', 'bin.js', '--', 'db.json', '--port', '3000'], {
    cwd: directory,
    timeoutMs: 60_000,
  });
  t.is(printed.code, 0, printed.stderr);
  t.regex(printed.stdout, /^args\s+= db\.json --port 3000\s+# command line$/m);
});

test('a script and an APP is still refused, with the way to pass the script its arguments', async (t) => {
  const directory = tempDirectory(t);
  writeFileSync(join(directory, 'bin.js'), '');
  const refused = await runCommand([process.execPath, APPD, '--script', 'bin.js', 'db.json'], { cwd: directory, timeoutMs: 60_000 });
  t.is(refused.code, 2, refused.stderr);
  t.regex(refused.stderr, /both app \(db\.json\) and script \(bin\.js\) are set.*appd --script bin\.js -- db\.json/);
});

test.serial('json-server 0.17 with its db file argument: 2 workers, 2 rolling reloads under load, no failed request', async (t) => {
  t.timeout(600_000);
  const database = { posts: [{ id: 1, title: 'appd' }], comments: [] };
  const daemon = await startDaemon(t, {
    args: [
      '--script',
      JSON_SERVER,
      '-w',
      '2',
      '-b',
      '127.0.0.1:0',
      '--graceful-timeout',
      '30',
      '--',
      'db.json',
      '--port',
      '3000',
      '--quiet',
    ],
    files: { 'db.json': JSON.stringify(database) },
    timeoutMs: 120_000,
  });
  await waitFor('2 workers', () => daemon.descendants().length === 2 || null, 60_000);
  t.deepEqual(JSON.parse((await get(`${daemon.url}/posts/1`)).body), { id: 1, title: 'appd' });
  const result = await underLoad(`${daemon.url}/posts`, async () => {
    await reloadAndWait(daemon, 2, RELOAD_TIMEOUT_MS);
    await reloadAndWait(daemon, 3, RELOAD_TIMEOUT_MS);
  });
  assertNoFailures(t, result, 'json-server, 2 reloads');
});
