// The npm package: `npm pack` holds only what appd needs, `npm install -g` of the tarball into an empty
// prefix gives working appd and appctl commands, man pages and systemd units that systemd accepts.

import test from 'ava';
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixture, PROJECT_ROOT, tempDirectory } from '../helpers/daemon.js';
import { get } from '../helpers/http.js';
import { isAlive, killQuietly, waitFor } from '../helpers/processes.js';

interface PackResult {
  readonly filename: string;
  readonly files: readonly { path: string }[];
}

/** What a clean shell would have: npm test's own npm_* variables would steer the child npm. */
function cleanEnvironment(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const environment = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name)));
  return { ...environment, ...extra };
}

function run(command: string, args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): SpawnSyncReturns<string> {
  return spawnSync(command, args, {
    encoding: 'utf8',
    timeout: 180_000,
    env: options.env ?? cleanEnvironment(),
    cwd: options.cwd ?? PROJECT_ROOT,
  });
}

function describe(result: SpawnSyncReturns<string>): string {
  return `exit ${result.status}${result.error ? ` (${result.error.message})` : ''}\n${result.stdout}\n${result.stderr}`;
}

const version = (JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

test('npm pack ships only the built code, man pages and units; a global install from it works on an empty prefix', async (t) => {
  const work = tempDirectory(t, 'appd-pack-');
  // dist/ is already built by npm test; --ignore-scripts keeps pack from rebuilding it under running tests.
  const pack = run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', work]);
  t.is(pack.status, 0, describe(pack));
  const [packed] = JSON.parse(pack.stdout) as PackResult[];
  const paths = (packed?.files ?? []).map((file) => file.path);
  const allowed =
    /^(package\.json|README\.md|LICENSE|dist\/(daemon|ctl|shared)\/.+\.c?js|man\/[a-z.]+\.[1-8]|systemd\/[a-z@]+\.(service|socket))$/;
  t.deepEqual(
    paths.filter((path) => !allowed.test(path)),
    [],
    'nothing else is packed (no tests, sources, maps, tools)',
  );
  for (const needed of [
    'dist/daemon/main.js',
    'dist/daemon/appd.cjs',
    'dist/daemon/worker/worker.cjs',
    'dist/daemon/worker/memory-reducer.cjs',
    'dist/ctl/main.js',
    'dist/ctl/appctl.cjs',
    'dist/ctl/appctl-main.cjs',
    'dist/ctl/appctl-program.cjs',
    'man/appd.8',
    'man/appctl.1',
    'man/appd.config.5',
    'systemd/appd.service',
    'systemd/appd.socket',
    'systemd/appd@.service',
  ]) {
    t.true(paths.includes(needed), `${needed} is in the tarball`);
  }

  const prefix = join(work, 'prefix');
  const install = run('npm', [
    'install',
    '-g',
    '--prefix',
    prefix,
    '--no-audit',
    '--no-fund',
    '--prefer-offline',
    join(work, packed?.filename ?? 'missing.tgz'),
  ]);
  t.is(install.status, 0, describe(install));
  const bin = join(prefix, 'bin');
  const path = `${bin}:${process.env['PATH'] ?? ''}`;

  const appdVersion = run(join(bin, 'appd'), ['--version']);
  t.is(appdVersion.stdout.trim(), version, describe(appdVersion));
  const help = run(join(bin, 'appctl'), ['--help']);
  t.is(help.status, 0, describe(help));
  t.regex(help.stdout, /Usage: appctl/);
  for (const [page, section] of [
    ['appctl', '1'],
    ['appd', '8'],
    ['appd.config', '5'],
  ] as const) {
    const found = run('man', ['-w', section, page], { env: cleanEnvironment({ PATH: path }) });
    t.true(
      existsSync(join(prefix, 'share/man', `man${section}`, `${page}.${section}`)),
      `npm linked ${page}.${section} into the prefix's share/man`,
    );
    // man resolves the link: the page found is the package's own copy under the prefix.
    t.is(
      found.stdout.trim(),
      join(prefix, 'lib/node_modules/appd/man', `${page}.${section}`),
      `man -w ${section} ${page}: ${describe(found)}`,
    );
  }
  const rendered = run('man', ['appctl'], { env: cleanEnvironment({ PATH: path, MANPAGER: 'cat', MANWIDTH: '80' }) });
  t.regex(rendered.stdout, /appctl - control a running appd/, describe(rendered));

  // The installed command serves: it finds its worker script and dependencies inside the prefix.
  const daemon = spawn(join(bin, 'appd'), [fixture('pid-app.mjs'), '-b', '127.0.0.1:0', '-w', '1'], {
    cwd: work,
    env: cleanEnvironment({ PATH: path, XDG_RUNTIME_DIR: work, APPD_CMD_ARGS: '' }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(async () => {
    killQuietly(daemon.pid ?? -1);
    await waitFor('the installed appd to exit', () => !isAlive(daemon.pid ?? -1), 10_000);
  });
  let output = '';
  daemon.stderr.setEncoding('utf8').on('data', (text: string) => (output += text));
  const url = await waitFor(
    `the installed appd to be ready:\n${output}`,
    () => (/\[INFO\] ready: /.test(output) ? /Listening at: (http:\/\/\S+)/.exec(output)?.[1] : null),
    15_000,
  );
  t.regex((await get(url)).body, /pid=\d+ slot=0 generation=1/);
  daemon.kill('SIGTERM');
  await waitFor('the installed appd to stop', () => daemon.exitCode !== null, 10_000);
  t.is(daemon.exitCode, 0, output);

  // The units as installed pass systemd's own checker once their commands point into the prefix.
  const units = join(work, 'units');
  mkdirSync(units);
  const verify = ['appd.service:shop.service', 'appd.socket:shop.socket', 'appd@.service:appd@.service'].map((pair) => {
    const [from = '', to = ''] = pair.split(':');
    const text = readFileSync(join(prefix, 'lib/node_modules/appd/systemd', from), 'utf8').replace(
      /^(Exec\w+=)(appd|appctl) /gm,
      (_match, key: string, command: string) => `${key}${join(bin, command)} `,
    );
    writeFileSync(join(units, to), text);
    return join(units, to);
  });
  const checked = run('systemd-analyze', ['verify', '--man=no', ...verify.slice(0, 2), join(units, 'appd@blog.service')], { cwd: units });
  if (checked.error) return t.fail(`systemd-analyze is needed (Debian package systemd): ${checked.error.message}`);
  const complaints = `${checked.stdout}${checked.stderr}`.split('\n').filter((line) => line.trim() !== '');
  t.deepEqual(complaints, [], 'systemd-analyze verify accepts the units');
});
