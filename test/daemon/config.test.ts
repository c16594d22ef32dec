// Configuration: precedence default < config file < APPD_CMD_ARGS < command line with sources shown by
// --print-config, and every bad input rejected with exit 2 and a message naming setting and source.

import test from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { APPD, fixture, tempDirectory } from '../helpers/daemon.js';
import { runCommand, type CommandResult } from '../helpers/other-users.js';

function withoutVariables(environment: NodeJS.ProcessEnv, names: string[]): NodeJS.ProcessEnv {
  const copy = { ...environment };
  for (const name of names) delete copy[name];
  return copy;
}

/** appd run to its end; awaited, not spawnSync, so this file's tests overlap instead of queueing. */
async function appd(directory: string, args: string[], environment: Record<string, string> = {}): Promise<CommandResult> {
  return runCommand([process.execPath, APPD, ...args], {
    cwd: directory,
    env: { ...withoutVariables(process.env, ['APPD_CMD_ARGS', 'PORT', 'WEB_CONCURRENCY']), ...environment },
    timeoutMs: 60_000, // --check-config boots the app in a child process too
  });
}

function configLine(output: string, key: string): string {
  return (
    output
      .split('\n')
      .find((line) => line.startsWith(`${key} `))
      ?.replace(/\s+/g, ' ') ?? ''
  );
}

test('precedence: default < config file < APPD_CMD_ARGS < command line, with each source shown', async (t) => {
  const directory = tempDirectory(t);
  writeFileSync(join(directory, 'appd.config.mjs'), "export default { workers: 3, timeout: 40, 'graceful-timeout': 7, keep_alive: 9 };\n");
  const { code, stdout } = await appd(directory, ['--print-config', '--timeout', '50'], {
    APPD_CMD_ARGS: '--timeout 45 --graceful-timeout "8"',
  });
  t.is(code, 0);
  t.is(configLine(stdout, 'timeout'), 'timeout = 50 # command line');
  t.is(configLine(stdout, 'gracefulTimeout'), 'gracefulTimeout = 8 # APPD_CMD_ARGS');
  t.regex(configLine(stdout, 'workers'), /^workers = 3 # config file .*appd\.config\.mjs$/);
  t.regex(configLine(stdout, 'keepAlive'), /^keepAlive = 9 # config file/);
  t.is(configLine(stdout, 'maxRequests'), 'maxRequests = 0 # default');
});

test('defaults read PORT and WEB_CONCURRENCY, as Gunicorn does', async (t) => {
  const { stdout } = await appd(tempDirectory(t), ['--print-config'], { PORT: '9123', WEB_CONCURRENCY: '5' });
  t.is(configLine(stdout, 'bind'), 'bind = 0.0.0.0:9123 # default');
  t.is(configLine(stdout, 'workers'), 'workers = 5 # default');
  const nonsense = await appd(tempDirectory(t), ['--print-config'], { WEB_CONCURRENCY: 'lots' });
  t.is(nonsense.code, 2);
  t.regex(nonsense.stderr, /^appd: invalid default for workers \(\$WEB_CONCURRENCY, else 1\): expected a number of workers/);
});

test('an unknown flag: exit 2 with a suggestion', async (t) => {
  const { code, stderr } = await appd(tempDirectory(t), [fixture('pid-app.mjs'), '--worker', '2']);
  t.is(code, 2);
  t.regex(stderr, /^appd: command line: unknown option '--worker'.*--workers/m);
});

test('an unknown config key: exit 2 naming the file and the closest key', async (t) => {
  const directory = tempDirectory(t);
  writeFileSync(join(directory, 'appd.config.json'), JSON.stringify({ app: 'x.js', gracefullTimeout: 5 }));
  const { code, stderr } = await appd(directory, ['--check-config']);
  t.is(code, 2);
  t.regex(stderr, /^appd: config file .*appd\.config\.json: unknown setting "gracefullTimeout"; did you mean "gracefulTimeout"\?$/m);
});

test('bad values name the setting and where they came from', async (t) => {
  const directory = tempDirectory(t);
  writeFileSync(join(directory, 'bad.json'), JSON.stringify({ workers: 'many' }));
  const fromFile = await appd(directory, ['-c', 'bad.json', fixture('pid-app.mjs')]);
  t.is(fromFile.code, 2);
  t.is(
    fromFile.stderr.trim(),
    'appd: invalid workers (from config file bad.json): expected a number of workers (0 to 4096) or "auto", got "many"',
  );
  const fromEnvironment = await appd(directory, [fixture('pid-app.mjs')], { APPD_CMD_ARGS: '--timeout soon' });
  t.is(fromEnvironment.code, 2);
  t.regex(fromEnvironment.stderr, /^appd: invalid --timeout \(from APPD_CMD_ARGS\): expected seconds/);
  const fromArgv = await appd(directory, [fixture('pid-app.mjs'), '--bind', 'localhost']);
  t.is(fromArgv.code, 2);
  t.regex(fromArgv.stderr, /^appd: invalid --bind \(from command line\): address "localhost" has no port/);
});

test('a config file with a syntax error: exit 2 with the file and line', async (t) => {
  const directory = tempDirectory(t);
  writeFileSync(join(directory, 'appd.config.cjs'), 'module.exports = { workers: 2,, };\n');
  const { code, stderr } = await appd(directory, ['--check-config']);
  t.is(code, 2);
  t.regex(stderr, /^appd: config file .*appd\.config\.cjs: SyntaxError: Unexpected token ','/m);
});

test('--check-config accepts a good configuration and refuses a missing app', async (t) => {
  const directory = tempDirectory(t);
  t.is((await appd(directory, ['--check-config', fixture('pid-app.mjs')])).code, 0);
  const missing = await appd(directory, ['--check-config']);
  t.is(missing.code, 2);
  t.regex(missing.stderr, /no app to serve/);
});

test('--help lists the flags derived from the settings table; --version prints the version', async (t) => {
  const directory = tempDirectory(t);
  const help = await appd(directory, ['--help']);
  t.is(help.code, 0);
  for (const flag of ['--workers', '--bind', '--graceful-timeout', '--max-requests-jitter', '--access-log-format', '--print-config']) {
    t.true(help.stdout.includes(flag), flag);
  }
  t.regex((await appd(directory, ['--version'])).stdout, /^\d+\.\d+\.\d+\n$/);
});

test('-w 0 for an HTTP pool is refused at validation (exit 2, naming the setting); a command pool may have 0', async (t) => {
  const directory = tempDirectory(t);
  const flag = await appd(directory, ['--check-config', fixture('pid-app.mjs'), '-w', '0']);
  t.is(flag.code, 2);
  t.is(
    flag.stderr.trim(),
    'appd: invalid --workers (from command line): an HTTP pool needs at least 1 worker at start; to keep a pool stopped, start it and run appctl stop-pool',
  );
  writeFileSync(
    join(directory, 'pools.json'),
    JSON.stringify({ workers: 0, pools: { jobs: { command: ['sleep', '1'] }, web: { app: fixture('pid-app.mjs'), bind: '127.0.0.1:0' } } }),
  );
  const inherited = await appd(directory, ['--print-config', '-c', 'pools.json']);
  t.is(inherited.code, 2);
  t.is(
    inherited.stderr.trim(),
    'appd: invalid workers, for pools.web (from config file pools.json): an HTTP pool needs at least 1 worker at start; to keep a pool stopped, start it and run appctl stop-pool',
  );
  writeFileSync(
    join(directory, 'pools.json'),
    JSON.stringify({
      pools: { jobs: { command: ['sleep', '1'], workers: 0 }, web: { app: fixture('pid-app.mjs'), bind: '127.0.0.1:0', workers: 0 } },
    }),
  );
  const own = await appd(directory, ['--print-config', '-c', 'pools.json']);
  t.is(own.code, 2);
  t.regex(own.stderr, /^appd: invalid pools\.web\.workers \(from config file pools\.json\): an HTTP pool needs at least 1 worker/);
  writeFileSync(
    join(directory, 'pools.json'),
    JSON.stringify({ pools: { jobs: { command: ['sleep', '1'], workers: 0 }, web: { app: fixture('pid-app.mjs'), bind: '127.0.0.1:0' } } }),
  );
  t.is((await appd(directory, ['--print-config', '-c', 'pools.json'])).code, 0);
});
