// --check-config loads each HTTP pool's app the way a worker would (a child process, the worker's user,
// directory, node options and loader) and exits 4 when the module cannot load, 3 when its factory fails
// or a script does not reach the listen() appd would adopt, 0 with a line per pool when all load.

import test from 'ava';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { APPD, fixture, tempDirectory } from '../helpers/daemon.js';
import { installationForOthers, NOBODY, testAsNobody } from '../helpers/other-users.js';
import { isAlive, killQuietly, waitFor } from '../helpers/processes.js';

interface Checked {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** appd --check-config ARGS in `directory`, without the suite's APPD_CMD_ARGS or PORT. */
function check(directory: string, args: readonly string[], appd = APPD): Promise<Checked> {
  const environment = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !['APPD_CMD_ARGS', 'PORT', 'WEB_CONCURRENCY'].includes(name)),
  );
  const child = spawn(process.execPath, [appd, '--check-config', ...args], {
    cwd: directory,
    env: environment,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  return new Promise((settle) => child.on('close', (code) => settle({ code, stdout, stderr })));
}

const SCRIPT =
  "import http from 'node:http';\nhttp.createServer((request, response) => response.end('ok')).listen(process.env.PORT ?? 3000);\n";

test('an app module with a syntax error, a missing one, a bad export: exit 4 with the error a worker would give', async (t) => {
  const directory = tempDirectory(t);
  const syntax = await check(directory, [fixture('syntax-error.mjs'), '-b', '127.0.0.1:0']);
  t.is(syntax.code, 4, syntax.stderr);
  t.regex(syntax.stderr, /^appd: cannot load app .*syntax-error\.mjs: .*syntax-error\.mjs:3\n/);
  t.regex(syntax.stderr, /SyntaxError: missing \) after argument list/);
  t.notRegex(syntax.stdout, /configuration OK/);

  const missing = await check(directory, ['./examples/helo.js', '-b', '127.0.0.1:0']);
  t.is(missing.code, 4);
  t.is(missing.stderr, `appd: app module not found: ${join(directory, 'examples/helo.js')}\n`);

  const noExport = await check(directory, [`${fixture('pid-app.mjs')}:handler`, '-b', '127.0.0.1:0']);
  t.is(noExport.code, 4);
  t.regex(noExport.stderr, /has no export "handler"/);
});

test('a factory that throws: exit 3 with its error; a good app: exit 0 saying what loaded', async (t) => {
  const directory = tempDirectory(t);
  const failing = await check(directory, [`${fixture('factory-throws.mjs')}:createApp()`, '-b', '127.0.0.1:0']);
  t.is(failing.code, 3, failing.stderr);
  t.regex(failing.stderr, /^appd: createApp\(\) of .*factory-throws\.mjs failed: Error: database unreachable/);

  const good = await check(directory, [fixture('pid-app.mjs'), '-b', '127.0.0.1:0']);
  t.is(good.code, 0, good.stderr);
  t.regex(good.stdout, /^appd: configuration OK\n {2}pool web: app .*pid-app\.mjs loads: a request handler\n$/);
});

test('an app that keeps the event loop busy or starts timers is checked and leaves no process', async (t) => {
  const directory = tempDirectory(t);
  writeFileSync(
    join(directory, 'app.mjs'),
    `import { writeFileSync } from 'node:fs';\nwriteFileSync('check.pid', String(process.pid));\nsetInterval(() => {}, 1000);\nexport default (request, response) => response.end();\n`,
  );
  const result = await check(directory, ['app.mjs', '-b', '127.0.0.1:0']);
  t.is(result.code, 0, result.stderr);
  const pid = Number(readFileSync(join(directory, 'check.pid'), 'utf8'));
  t.teardown(() => killQuietly(pid));
  await waitFor('the check process to be gone', () => !isAlive(pid), 10_000);
  t.pass();
});

test('a script: checked up to its listen() (PORT set to the bound port), or exit 3/4 with why not', async (t) => {
  const directory = tempDirectory(t);
  writeFileSync(join(directory, 'server.mjs'), SCRIPT);
  writeFileSync(join(directory, 'broken.mjs'), "import './missing-module.mjs';\n");
  writeFileSync(join(directory, 'quiet.mjs'), "console.log('nothing to serve');\n");
  const good = await check(directory, ['--script', './server.mjs', '-b', '127.0.0.1:8123', '--adopt-listen', 'env']);
  t.is(good.code, 0, good.stderr);
  t.regex(good.stdout, /pool web: script \.\/server\.mjs reaches listen\(port 8123\)/);
  const wrongPort = await check(directory, ['--script', './server.mjs', '-b', '127.0.0.1:8123', '--adopt-listen', '9999']);
  t.is(wrongPort.code, 3);
  t.regex(wrongPort.stderr, /^appd: listen\(port 8123\) does not match adopt-listen 9999/);
  const broken = await check(directory, ['--script', './broken.mjs', '-b', '127.0.0.1:0']);
  t.is(broken.code, 4);
  t.regex(broken.stderr, /^appd: script .*broken\.mjs failed: Error \[ERR_MODULE_NOT_FOUND\]: Cannot find module .*missing-module\.mjs/);
  const quiet = await check(directory, ['--script', './quiet.mjs', '-b', '127.0.0.1:0']);
  t.is(quiet.code, 3);
  t.regex(
    quiet.stderr,
    /^appd: script .*quiet\.mjs exited with code 0 before it called listen\(\):\n {2}nothing to serve$/m,
    "its output indented under appd's line",
  );
});

test('pools: each HTTP pool checked in its own directory (chdir), the failing one named', async (t) => {
  const directory = tempDirectory(t);
  mkdirSync(join(directory, 'site'));
  writeFileSync(join(directory, 'site/app.mjs'), 'export default (request, response) => response.end();\n');
  const config = `export default { chdir: 'site', pools: {
    web: { app: './app.mjs', bind: '127.0.0.1:0' },
    jobs: { command: ['sleep', '100'] },
    api: { app: './api.mjs', bind: '127.0.0.1:0' },
  } };\n`;
  writeFileSync(join(directory, 'appd.config.mjs'), config);
  const failing = await check(directory, []);
  t.is(failing.code, 4, failing.stderr);
  t.is(failing.stderr, `appd: pool api: app module not found: ${join(directory, 'site/api.mjs')}\n`);
  writeFileSync(join(directory, 'site/api.mjs'), 'export default { fetch: () => new Response("ok") };\n');
  const good = await check(directory, []);
  t.is(good.code, 0, good.stderr);
  // Paths from a config file are shown as they were resolved: against chdir, itself relative to the file.
  t.regex(
    good.stdout,
    /pool web: app \/.*\/site\/app\.mjs loads: a request handler\n {2}pool api: app \/.*\/site\/api\.mjs loads: a request handler\n$/,
  );
});

testAsNobody('as the worker user: an app nobody may read fails the check (exit 4) as the worker would', async (t) => {
  const directory = tempDirectory(t);
  const { appd } = installationForOthers(t);
  writeFileSync(join(directory, 'app.mjs'), 'export default (request, response) => response.end();\n');
  // tempDirectory is 0700 and root's: the master (root) reads the app, the worker user cannot.
  const refused = await check(directory, ['app.mjs', '-b', '127.0.0.1:0', '--user', 'nobody'], appd);
  t.is(refused.code, 4, refused.stderr);
  t.is(
    refused.stderr,
    `appd: cannot read app module ${join(directory, 'app.mjs')} as uid ${NOBODY}: permission denied (check --user and the directory modes)\n`,
  );
  chmodSync(directory, 0o755);
  const allowed = await check(directory, ['app.mjs', '-b', '127.0.0.1:0', '--user', 'nobody'], appd);
  t.is(allowed.code, 0, allowed.stderr);
});
