// Attacks 2 and 3 of the security issue: code another user can write must never run in a root master.
// A config file dropped later in a start directory nobody owns is not searched for on reload; a config
// file or a directory above it that another uid could change is refused at start and on every reload;
// `appctl upgrade` refuses a `node` nobody dropped in a PATH directory. (The rule alone, in-process:
// test/shared/file-trust.test.ts.)

import { chmodSync, chownSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { appctl } from '../helpers/appctl.js';
import { APPD, fixture, startDaemon, tempDirectory } from '../helpers/daemon.js';
import { get } from '../helpers/http.js';
import { installationForOthers, NOBODY, runAsNobody, runCommand, testAsNobody } from '../helpers/other-users.js';

/** A config module that proves it ran, and as whom, by writing a file next to itself. */
const PROOF_CONFIG = `import { writeFileSync } from 'node:fs';
writeFileSync(new URL('./pwned', import.meta.url), String(process.getuid()));
export default { workers: 2 };
`;

/** Writes `content` to `path` as nobody (the attacker's own account). */
async function writeAsNobody(path: string, content: string): Promise<void> {
  const result = await runAsNobody([
    process.execPath,
    '-e',
    `require('node:fs').writeFileSync(${JSON.stringify(path)}, ${JSON.stringify(content)}, { mode: 0o755 })`,
  ]);
  if (result.code !== 0) throw new Error(`writing ${path} as nobody failed: ${result.stderr}`);
}

testAsNobody('a config file nobody drops in the start directory after start is never imported on reload', async (t) => {
  const daemon = await startDaemon(t, {
    args: ['app.mjs', '-b', '127.0.0.1:0', '--user', 'nobody'],
    appd: installationForOthers(t).appd,
    files: { 'app.mjs': 'export default (request, response) => response.end(`generation ${process.env.APPD_GENERATION}`);\n' },
    // The app directory belongs to the app's user, as it often does.
    prepare: (directory) => {
      chownSync(directory, NOBODY, NOBODY);
      chmodSync(directory, 0o755);
    },
  });
  await writeAsNobody(join(daemon.directory, 'appd.config.mjs'), PROOF_CONFIG);
  const reload = await appctl(['reload'], { runtimeDirectory: daemon.directory, timeoutMs: 60_000 });
  t.log(`appctl reload: exit ${reload.code}: ${reload.stdout.trim()} ${reload.stderr.trim()}`);
  t.is(reload.code, 0, 'the reload itself works: it re-reads the sources the master started with (no file)');
  t.false(existsSync(join(daemon.directory, 'pwned')), 'the dropped config file never ran in the master');
  t.is((await get(daemon.url)).body, 'generation 2');
});

testAsNobody('a config file in a directory nobody owns is refused at start, naming the directory and the fix', async (t) => {
  const directory = tempDirectory(t);
  const site = join(directory, 'site');
  mkdirSync(site);
  chmodSync(directory, 0o755);
  writeFileSync(join(site, 'appd.config.mjs'), PROOF_CONFIG);
  chownSync(site, NOBODY, NOBODY);
  const result = await runCommand([process.execPath, APPD, fixture('pid-app.mjs'), '-b', '127.0.0.1:0', '-c', 'site/appd.config.mjs'], {
    env: { ...process.env, XDG_RUNTIME_DIR: directory },
    timeoutMs: 30_000,
    cwd: directory,
  });
  t.is(result.code, 2);
  t.is(
    result.stderr.trim(),
    `appd: config file ${join(site, 'appd.config.mjs')} refused: ${site} is owned by uid ${NOBODY}, not by root (fix: chown root ${site}); only root or the user running appd may be able to change it`,
  );
  t.false(existsSync(join(site, 'pwned')));
});

testAsNobody('a config file made writable by others after start is refused on reload; the master keeps its configuration', async (t) => {
  const daemon = await startDaemon(t, {
    args: ['-c', 'conf/appd.config.mjs', '-b', '127.0.0.1:0'],
    files: { 'conf/appd.config.mjs': `export default { app: ${JSON.stringify(fixture('pid-app.mjs'))}, workers: 1 };\n` },
    prepare: (directory) => chmodSync(directory, 0o755),
  });
  const config = join(daemon.directory, 'conf', 'appd.config.mjs');
  // A careless chmod, then the other user writes code into it.
  chmodSync(config, 0o666);
  await writeAsNobody(config, PROOF_CONFIG);
  const reload = await appctl(['reload'], { runtimeDirectory: daemon.directory, timeoutMs: 60_000 });
  t.not(reload.code, 0);
  t.regex(
    reload.stdout + reload.stderr,
    new RegExp(`config file ${config} refused: ${config} is (?:owned by uid ${NOBODY}|writable by every user)`),
  );
  t.false(existsSync(join(daemon.directory, 'conf', 'pwned')), 'the config never ran');
  t.is((await get(daemon.url)).status, 200, 'the master serves on with the configuration it had');
});

testAsNobody('appctl upgrade refuses a node that nobody dropped in a PATH directory, and runs nothing', async (t) => {
  const daemon = await startDaemon(t, {
    // The master runs as `node`, looked up in PATH, as `#!/usr/bin/env node` or npx would run it; the
    // first PATH entry is relative (npx puts node_modules/.bin first), resolved in the start directory.
    wrapper: ['/bin/sh', '-c', 'shift; exec node "$@"', 'sh'],
    args: [fixture('pid-app.mjs'), '-b', '127.0.0.1:0'],
    env: { PATH: `node_modules/.bin:${dirname(process.execPath)}:/usr/bin:/bin` },
    prepare: (directory) => {
      chmodSync(directory, 0o755);
      mkdirSync(join(directory, 'node_modules', '.bin'), { recursive: true });
      chownSync(join(directory, 'node_modules'), NOBODY, NOBODY);
      chownSync(join(directory, 'node_modules', '.bin'), NOBODY, NOBODY);
    },
  });
  const planted = join(daemon.directory, 'node_modules', '.bin', 'node');
  await writeAsNobody(planted, `#!/bin/sh\nid -u > ${join(daemon.directory, 'pwned')}\nexit 1\n`);
  const upgrade = await appctl(['upgrade'], { runtimeDirectory: daemon.directory, timeoutMs: 60_000 });
  t.log(`appctl upgrade: exit ${upgrade.code}: ${(upgrade.stdout + upgrade.stderr).trim()}`);
  t.false(existsSync(join(daemon.directory, 'pwned')), 'the planted node never ran');
  t.not(upgrade.code, 0);
  t.regex(
    upgrade.stdout + upgrade.stderr,
    new RegExp(`upgrade refused: the Node binary for the new master ${planted} refused: ${planted} is owned by uid ${NOBODY}`),
  );
  t.is((await get(daemon.url)).status, 200, 'the old master serves on');
});
