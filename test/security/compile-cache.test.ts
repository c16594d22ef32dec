// appctl's code cache (shared/compile-cache.ts) runs as compiled code whatever it holds, so only a cache
// this user alone could have written may be loaded. The attack: nobody plants V8 code in a home directory
// root's appctl then runs with (sudo keeping HOME, or XDG_CACHE_HOME pointing there); a control run shows
// the same file printing PWNED when appctl does take it. Also: the cache is made private and reused, and
// appctl runs without one when it cannot be kept. Runs in the ava test process.

import test, { type ExecutionContext } from 'ava';
import { chmodSync, copyFileSync, existsSync, lstatSync, mkdirSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { APPCTL, PROJECT_ROOT, tempDirectory } from '../helpers/daemon.js';
import { installationForOthers, runAsNobody, runCommand, testAsNobody } from '../helpers/other-users.js';

const PLANT = join(PROJECT_ROOT, 'test/fixtures/security/plant-code-cache.cjs');
const NO_DAEMON = /^appctl: no appd is listening on .*none\.sock \(no such socket\)/;

/** appctl status against a socket that does not exist, with this environment for its cache. */
function statusWith(appctl: string, directory: string, environment: Record<string, string>) {
  const env: NodeJS.ProcessEnv = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...environment };
  return runCommand([process.execPath, appctl, '-s', join(directory, 'none.sock'), 'status'], { env });
}

testAsNobody("root's appctl never runs a code cache another user planted in its HOME or XDG_CACHE_HOME", async (t) => {
  const installation = installationForOthers(t);
  const bundle = join(installation.appctl, '..', 'appctl-main.cjs');
  const temporary = tempDirectory(t);
  chmodSync(temporary, 0o1777);
  // Where appctl looks for its (absent) socket: a directory of root's only, which appctl trusts.
  const sockets = tempDirectory(t);

  // Control: the same file in root's own private cache directory is taken, and its code runs.
  const rootHome = join(temporary, 'root-home');
  mkdirSync(rootHome, { mode: 0o700 });
  const planted = await runCommand([process.execPath, PLANT, bundle, join(rootHome, '.cache/appd'), 'appctl-status']);
  t.is(planted.code, 0, planted.stderr);
  const taken = await statusWith(installation.appctl, sockets, { HOME: rootHome });
  t.is(taken.stdout, 'PWNED\n', 'a cache appctl trusts is run as code: the control run shows the planted file is one appctl loads');

  // The attack: nobody's home, nobody's cache directory, the same kind of file.
  const attackerHome = join(temporary, 'attacker-home');
  const made = await runAsNobody(['/bin/mkdir', '-m', '0755', attackerHome]);
  t.is(made.code, 0, made.stderr);
  const plantedByNobody = await runAsNobody([
    process.execPath,
    installation.fixture('security/plant-code-cache.cjs'),
    bundle,
    join(attackerHome, '.cache/appd'),
    'appctl-status',
  ]);
  t.is(plantedByNobody.code, 0, plantedByNobody.stderr);
  const before = readdirSync(join(attackerHome, '.cache/appd'));
  const environments: Record<string, string>[] = [{ HOME: attackerHome }, { HOME: rootHome, XDG_CACHE_HOME: join(attackerHome, '.cache') }];
  for (const environment of environments) {
    const run = await statusWith(installation.appctl, sockets, environment);
    t.log(`${JSON.stringify(environment)}: exit ${run.code}\n${run.stdout}${run.stderr}`);
    t.false(run.stdout.includes('PWNED'), `appctl ran nobody's code cache (${JSON.stringify(environment)})`);
    t.is(run.code, 3);
    t.regex(run.stderr, NO_DAEMON);
  }
  t.deepEqual(readdirSync(join(attackerHome, '.cache/appd')), before, "root wrote nothing into nobody's cache directory");
});

test("root's appctl does not take a code cache from a directory of its own that its group may write", async (t) => {
  const home = tempDirectory(t);
  const planted = await runCommand([
    process.execPath,
    PLANT,
    join(PROJECT_ROOT, 'dist/ctl/appctl-main.cjs'),
    join(home, '.cache/appd'),
    'appctl-status',
  ]);
  t.is(planted.code, 0, planted.stderr);
  chmodSync(join(home, '.cache/appd'), 0o775);
  const run = await statusWith(APPCTL, home, { HOME: home });
  t.false(run.stdout.includes('PWNED'), 'appctl ran a cache from a group-writable directory');
  t.is(run.code, 3);
  t.regex(run.stderr, NO_DAEMON);
});

test('appctl keeps its code cache private, reuses it, and runs without one when it cannot keep one', async (t) => {
  const home = tempDirectory(t);
  const first = await statusWith(APPCTL, home, { HOME: home });
  t.is(first.code, 3);
  const directory = join(home, '.cache/appd');
  t.is(lstatSync(directory).mode & 0o777, 0o700);
  const [cache, ...others] = readdirSync(directory);
  t.deepEqual(others, [], 'one file');
  t.regex(cache ?? '', new RegExp(`^appctl-status-${process.version}-${process.arch}-[0-9a-f]{8}-[0-9a-f]{8}-\\d+-\\d+-\\d+\\.v8$`));
  const path = join(directory, cache ?? '');
  const written = statSync(path);
  t.is(written.mode & 0o777, 0o600);
  t.true(written.size > 10_000, 'it holds compiled code');
  // A second run reads it and, finding it valid, writes nothing (a rejected or missing cache is rewritten).
  const second = await statusWith(APPCTL, home, { HOME: home });
  t.is(second.code, 3);
  t.is(statSync(path).mtimeMs, written.mtimeMs);
  t.is(statSync(path).ino, written.ino);

  const disabled = tempDirectory(t);
  const off = await statusWith(APPCTL, disabled, { HOME: disabled, NODE_DISABLE_COMPILE_CACHE: '1' });
  t.is(off.code, 3);
  t.deepEqual(readdirSync(disabled), [], 'NODE_DISABLE_COMPILE_CACHE=1: no cache directory');

  // An XDG_CACHE_HOME that does not exist is not made (it may sit in another user's home, under sudo -E).
  const missingXdg = join(tempDirectory(t), 'cache');
  const xdgRun = await statusWith(APPCTL, tempDirectory(t), { HOME: tempDirectory(t), XDG_CACHE_HOME: missingXdg });
  t.is(xdgRun.code, 3, xdgRun.stderr);
  t.false(existsSync(missingXdg), 'appctl made the missing XDG_CACHE_HOME');
  // No home at all, or a file where it should be: the command runs as ever, uncached.
  const elsewhere = tempDirectory(t);
  for (const home of [join(elsewhere, 'missing'), join(PROJECT_ROOT, 'package.json')]) {
    const run = await statusWith(APPCTL, elsewhere, { HOME: home });
    t.is(run.code, 3, run.stderr);
    t.regex(run.stderr, NO_DAEMON);
  }
});

test('a temporary cache file a killed writer left is removed by the next write; a young one is left to its writer', async (t) => {
  const home = tempDirectory(t);
  const directory = join(home, '.cache/appd');
  mkdirSync(directory, { recursive: true, mode: 0o700 });
  // What a worker SIGKILLed while writing its cache at exit leaves: its temporary file, never renamed.
  const abandoned = join(directory, `worker-${process.version}-x64-0-1-2-3.v8.4242.tmp`);
  const young = join(directory, `worker-${process.version}-x64-0-1-2-3.v8.4243.tmp`);
  writeFileSync(abandoned, '');
  writeFileSync(young, '');
  const twoMinutesAgo = new Date(Date.now() - 120_000);
  utimesSync(abandoned, twoMinutesAgo, twoMinutesAgo);
  const run = await statusWith(APPCTL, home, { HOME: home });
  t.is(run.code, 3, run.stderr);
  t.false(existsSync(abandoned), 'the abandoned temporary file is still there');
  t.true(existsSync(young), 'a temporary file another writer may still be writing was removed');
  t.is(readdirSync(directory).filter((name) => name.startsWith('appctl-status-')).length, 1, 'the cache was written');
});

/** A copy of appctl's bundles (and the package.json they read) in its own directory: another installation. */
function appctlInstallation(t: ExecutionContext): string {
  const root = tempDirectory(t);
  mkdirSync(join(root, 'dist/ctl'), { recursive: true });
  copyFileSync(join(PROJECT_ROOT, 'package.json'), join(root, 'package.json'));
  for (const bundle of ['appctl.cjs', 'appctl-main.cjs', 'appctl-program.cjs']) {
    copyFileSync(join(PROJECT_ROOT, 'dist/ctl', bundle), join(root, 'dist/ctl', bundle));
  }
  return join(root, 'dist/ctl/appctl.cjs');
}

test("two installations of appctl used in turn keep a cache each; another's written over 30 days ago is removed", async (t) => {
  const home = tempDirectory(t);
  const directory = join(home, '.cache/appd');
  const [first, second] = [appctlInstallation(t), appctlInstallation(t)];
  const caches = (): string[] => readdirSync(directory).filter((name) => name.startsWith('appctl-status-'));
  t.is((await statusWith(first, home, { HOME: home })).code, 3);
  const [firstCache] = caches();
  const written = statSync(join(directory, firstCache ?? ''));
  // Caches of installations gone or idle: one written 31 days ago, one 29 days ago.
  const stale = join(directory, `appctl-status-${process.version}-${process.arch}-00000000-00000000-1-2-3.v8`);
  const recent = join(directory, `appctl-status-${process.version}-${process.arch}-00000000-00000000-4-5-6.v8`);
  const day = 24 * 3600 * 1000;
  for (const [path, age] of [
    [stale, 31 * day],
    [recent, 29 * day],
  ] as const) {
    writeFileSync(path, 'x', { mode: 0o600 });
    utimesSync(path, new Date(Date.now() - age), new Date(Date.now() - age));
  }
  t.is((await statusWith(second, home, { HOME: home })).code, 3);
  t.true(existsSync(join(directory, firstCache ?? '')), "the second installation's write removed the first's cache");
  t.is(caches().length, 3, `the caches of both installations and the recent one (${caches().join(', ')})`);
  t.false(existsSync(stale), 'a cache written 31 days ago is still there');
  t.true(existsSync(recent), 'a cache written 29 days ago was removed');
  // The first installation's next run takes its cache as it was: not removed, not written again.
  t.is((await statusWith(first, home, { HOME: home })).code, 3);
  const again = statSync(join(directory, firstCache ?? ''));
  t.deepEqual([again.ino, again.mtimeMs], [written.ino, written.mtimeMs], "the first installation's cache was rewritten");
});

test("appctl's commander program (every command but a plain status) runs from a cache of its own, trusted the same way", async (t) => {
  const home = tempDirectory(t);
  const version = (environment: Record<string, string>) =>
    runCommand([process.execPath, APPCTL, '--version'], { env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...environment } });
  const first = await version({ HOME: home });
  t.is(first.code, 0, first.stderr);
  const directory = join(home, '.cache/appd');
  const program = readdirSync(directory).filter((name) => name.startsWith('appctl-program-'));
  t.is(program.length, 1, `one cache of the program among ${readdirSync(directory).join(', ')}`);
  const path = join(directory, program[0] ?? '');
  const written = statSync(path);
  t.is(written.mode & 0o777, 0o600);
  t.true(written.size > 10_000, 'it holds compiled code');
  const second = await version({ HOME: home });
  t.is(second.stdout, first.stdout);
  t.is(statSync(path).ino, written.ino, 'a valid cache is reused, not rewritten');
  // A plain status after it keeps a cache of its own route: the one --version wrote holds none of the
  // status client's code, and a status run taking it would compile that code on every run.
  const status = await statusWith(APPCTL, home, { HOME: home });
  t.is(status.code, 3, status.stderr);
  const routes = readdirSync(directory).map((name) => name.replace(/-v\d.*$/, ''));
  t.deepEqual(routes.sort(), ['appctl', 'appctl-program', 'appctl-status']);

  // Control: a planted program cache in a private directory of root's is run (so the program is loaded
  // through the cache); the same file in a directory its group may write is not.
  const plantedHome = tempDirectory(t);
  const bundle = join(PROJECT_ROOT, 'dist/ctl/appctl-program.cjs');
  const planted = await runCommand([process.execPath, PLANT, bundle, join(plantedHome, '.cache/appd'), 'appctl-program']);
  t.is(planted.code, 0, planted.stderr);
  t.is((await version({ HOME: plantedHome })).stdout, 'PWNED\n', 'the control run: appctl loads the program from this cache');
  const groupHome = tempDirectory(t);
  t.is((await runCommand([process.execPath, PLANT, bundle, join(groupHome, '.cache/appd'), 'appctl-program'])).code, 0);
  chmodSync(join(groupHome, '.cache/appd'), 0o775);
  const refused = await version({ HOME: groupHome });
  t.is(refused.code, 0, refused.stderr);
  t.is(refused.stdout, first.stdout, 'appctl ran a program cache from a group-writable directory');
});
