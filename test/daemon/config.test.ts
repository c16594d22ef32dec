// Configuration: precedence default < config file < APPD_CMD_ARGS < command line with sources shown by
// --print-config, and every bad input rejected with exit 2 and a message naming setting and source.

import test from 'ava';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { APPD, fixture, tempDirectory } from '../helpers/daemon.js';

function withoutVariables(environment: NodeJS.ProcessEnv, names: string[]): NodeJS.ProcessEnv {
  const copy = { ...environment };
  for (const name of names) delete copy[name];
  return copy;
}

function appd(directory: string, args: string[], environment: Record<string, string> = {}) {
  const result = spawnSync(process.execPath, [APPD, ...args], {
    cwd: directory,
    encoding: 'utf8',
    env: { ...withoutVariables(process.env, ['APPD_CMD_ARGS', 'PORT', 'WEB_CONCURRENCY']), ...environment },
    timeout: 60_000, // --check-config boots the app in a child process too
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function configLine(output: string, key: string): string {
  return (
    output
      .split('\n')
      .find((line) => line.startsWith(`${key} `))
      ?.replace(/\s+/g, ' ') ?? ''
  );
}

test('precedence: default < config file < APPD_CMD_ARGS < command line, with each source shown', (t) => {
  const directory = tempDirectory(t);
  writeFileSync(join(directory, 'appd.config.mjs'), "export default { workers: 3, timeout: 40, 'graceful-timeout': 7, keep_alive: 9 };\n");
  const { code, stdout } = appd(directory, ['--print-config', '--timeout', '50'], { APPD_CMD_ARGS: '--timeout 45 --graceful-timeout "8"' });
  t.is(code, 0);
  t.is(configLine(stdout, 'timeout'), 'timeout = 50 # command line');
  t.is(configLine(stdout, 'gracefulTimeout'), 'gracefulTimeout = 8 # APPD_CMD_ARGS');
  t.regex(configLine(stdout, 'workers'), /^workers = 3 # config file .*appd\.config\.mjs$/);
  t.regex(configLine(stdout, 'keepAlive'), /^keepAlive = 9 # config file/);
  t.is(configLine(stdout, 'maxRequests'), 'maxRequests = 0 # default');
});

test('defaults read PORT and WEB_CONCURRENCY, as Gunicorn does', (t) => {
  const { stdout } = appd(tempDirectory(t), ['--print-config'], { PORT: '9123', WEB_CONCURRENCY: '5' });
  t.is(configLine(stdout, 'bind'), 'bind = 0.0.0.0:9123 # default');
  t.is(configLine(stdout, 'workers'), 'workers = 5 # default');
  const nonsense = appd(tempDirectory(t), ['--print-config'], { WEB_CONCURRENCY: 'lots' });
  t.is(nonsense.code, 2);
  t.regex(nonsense.stderr, /^appd: invalid default for workers \(\$WEB_CONCURRENCY, else 1\): expected a number of workers/);
});

test('an unknown flag: exit 2 with a suggestion', (t) => {
  const { code, stderr } = appd(tempDirectory(t), [fixture('pid-app.mjs'), '--worker', '2']);
  t.is(code, 2);
  t.regex(stderr, /^appd: command line: unknown option '--worker'.*--workers/m);
});

test('an unknown config key: exit 2 naming the file and the closest key', (t) => {
  const directory = tempDirectory(t);
  writeFileSync(join(directory, 'appd.config.json'), JSON.stringify({ app: 'x.js', gracefullTimeout: 5 }));
  const { code, stderr } = appd(directory, ['--check-config']);
  t.is(code, 2);
  t.regex(stderr, /^appd: config file .*appd\.config\.json: unknown setting "gracefullTimeout"; did you mean "gracefulTimeout"\?$/m);
});

test('bad values name the setting and where they came from', (t) => {
  const directory = tempDirectory(t);
  writeFileSync(join(directory, 'bad.json'), JSON.stringify({ workers: 'many' }));
  const fromFile = appd(directory, ['-c', 'bad.json', fixture('pid-app.mjs')]);
  t.is(fromFile.code, 2);
  t.is(
    fromFile.stderr.trim(),
    'appd: invalid workers (from config file bad.json): expected a number of workers (0 to 4096) or "auto", got "many"',
  );
  const fromEnvironment = appd(directory, [fixture('pid-app.mjs')], { APPD_CMD_ARGS: '--timeout soon' });
  t.is(fromEnvironment.code, 2);
  t.regex(fromEnvironment.stderr, /^appd: invalid --timeout \(from APPD_CMD_ARGS\): expected seconds/);
  const fromArgv = appd(directory, [fixture('pid-app.mjs'), '--bind', 'localhost']);
  t.is(fromArgv.code, 2);
  t.regex(fromArgv.stderr, /^appd: invalid --bind \(from command line\): address "localhost" has no port/);
});

test('a config file with a syntax error: exit 2 with the file and line', (t) => {
  const directory = tempDirectory(t);
  writeFileSync(join(directory, 'appd.config.cjs'), 'module.exports = { workers: 2,, };\n');
  const { code, stderr } = appd(directory, ['--check-config']);
  t.is(code, 2);
  t.regex(stderr, /^appd: config file .*appd\.config\.cjs: SyntaxError: Unexpected token ','/m);
});

test('--check-config accepts a good configuration and refuses a missing app', (t) => {
  const directory = tempDirectory(t);
  t.is(appd(directory, ['--check-config', fixture('pid-app.mjs')]).code, 0);
  const missing = appd(directory, ['--check-config']);
  t.is(missing.code, 2);
  t.regex(missing.stderr, /no app to serve/);
});

test('--help lists the flags derived from the settings table; --version prints the version', (t) => {
  const directory = tempDirectory(t);
  const help = appd(directory, ['--help']);
  t.is(help.code, 0);
  for (const flag of ['--workers', '--bind', '--graceful-timeout', '--max-requests-jitter', '--access-log-format', '--print-config']) {
    t.true(help.stdout.includes(flag), flag);
  }
  t.regex(appd(directory, ['--version']).stdout, /^\d+\.\d+\.\d+\n$/);
});

test('-w 0 for an HTTP pool is refused at validation (exit 2, naming the setting); a command pool may have 0', (t) => {
  const directory = tempDirectory(t);
  const flag = appd(directory, ['--check-config', fixture('pid-app.mjs'), '-w', '0']);
  t.is(flag.code, 2);
  t.is(
    flag.stderr.trim(),
    'appd: invalid --workers (from command line): an HTTP pool needs at least 1 worker at start; to keep a pool stopped, start it and run appctl stop-pool',
  );
  writeFileSync(
    join(directory, 'pools.json'),
    JSON.stringify({ workers: 0, pools: { jobs: { command: ['sleep', '1'] }, web: { app: fixture('pid-app.mjs'), bind: '127.0.0.1:0' } } }),
  );
  const inherited = appd(directory, ['--print-config', '-c', 'pools.json']);
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
  const own = appd(directory, ['--print-config', '-c', 'pools.json']);
  t.is(own.code, 2);
  t.regex(own.stderr, /^appd: invalid pools\.web\.workers \(from config file pools\.json\): an HTTP pool needs at least 1 worker/);
  writeFileSync(
    join(directory, 'pools.json'),
    JSON.stringify({ pools: { jobs: { command: ['sleep', '1'], workers: 0 }, web: { app: fixture('pid-app.mjs'), bind: '127.0.0.1:0' } } }),
  );
  t.is(appd(directory, ['--print-config', '-c', 'pools.json']).code, 0);
});
