// The PM2 ecosystem translation (shared/config/pm2-ecosystem.ts), in process: each PM2 key becomes the
// appd pool setting it means, and every key appd does not honour is one warning line naming it and the
// apps using it. The real daemon runs a translated file in pm2-ecosystem.test.ts. Runs in the ava test process.

import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../shared/errors.js';
import { translateEcosystem, type EcosystemContext } from '../../shared/config/pm2-ecosystem.js';

const directory = mkdtempSync(join(tmpdir(), 'appd-ecosystem-'));
test.after.always(() => rmSync(directory, { recursive: true, force: true }));
writeFileSync(join(directory, 'server.js'), '');
writeFileSync(join(directory, 'worker.py'), '');

const NODE = '/opt/node/bin/node';
const context: EcosystemContext = {
  file: join(directory, 'ecosystem.config.js'),
  shownAs: 'ecosystem.config.js',
  envName: null,
  nodePath: NODE,
  cpuCount: 4,
};

function poolsOf(apps: unknown[], extra: Partial<EcosystemContext> = {}): Record<string, Record<string, unknown>> {
  return translateEcosystem({ apps }, { ...context, ...extra }).settings['pools'] as Record<string, Record<string, unknown>>;
}

test("cluster mode: an HTTP script pool on env.PORT, in the file's directory, with args, node_args and the PM2 timings", (t) => {
  const pools = poolsOf([
    {
      name: 'api',
      script: './server.js',
      args: '--db "my db.json"',
      node_args: '--max-old-space-size=512',
      interpreter_args: ['--enable-source-maps'],
      instances: 2,
      exec_mode: 'cluster',
      env: { PORT: 3000 },
      max_memory_restart: '300M',
      wait_ready: true,
      listen_timeout: 8000,
      kill_timeout: '5s',
      min_uptime: '2s',
      max_restarts: 4,
      uid: 'www-data',
      gid: 'www-data',
    },
  ]);
  t.deepEqual(pools['api'], {
    chdir: directory,
    workers: 2,
    env: { PORT: 3000 },
    script: join(directory, 'server.js'),
    args: ['--db', 'my db.json'],
    nodeArgs: ['--max-old-space-size=512', '--enable-source-maps'],
    bind: [':3000'],
    maxMemory: '300M',
    waitReady: true,
    bootTimeout: '8000ms',
    gracefulTimeout: '5s',
    startSeconds: '2s',
    startRetries: 4,
    user: 'www-data',
    group: 'www-data',
  });
});

test('instances: a number, "max", 0, -N (the CPUs less N, at least 1), as numbers or strings', (t) => {
  const workersOf = (instances: unknown): unknown =>
    poolsOf([{ name: 'web', script: 'server.js', instances, exec_mode: 'cluster', env: { PORT: 3000 } }])['web']?.['workers'];
  t.is(workersOf(3), 3);
  t.is(workersOf('3'), 3);
  t.is(workersOf('max'), 'auto');
  t.is(workersOf(0), 'auto');
  t.is(workersOf(-1), 3);
  t.is(workersOf('-1'), 3);
  t.is(workersOf(-8), 1);
  t.is(workersOf(undefined), 1);
  const error = t.throws(() => workersOf('many'), { instanceOf: ConfigError });
  t.is(error?.message, 'config file ecosystem.config.js: apps[0] (web): instances must be a number, "max" or -N, got "many"');
});

test('fork mode: a command pool running the script with its interpreter, or a program on PATH', (t) => {
  const pools = poolsOf([
    { name: 'node-worker', script: 'server.js', args: ['--queue', 'mail'], node_args: '--inspect=0' },
    { name: 'python-worker', script: 'worker.py', args: '-v' },
    { name: 'npm-start', script: 'npm', args: 'start', cwd: 'sub' },
    { name: 'own', script: 'server.js', interpreter: 'none' },
    { script: 'server.js', exec_mode: 'fork', instances: 'max', autorestart: false, kill_signal: 'SIGINT' },
  ]);
  t.deepEqual(pools['node-worker']?.['command'], [NODE, '--inspect=0', join(directory, 'server.js'), '--queue', 'mail']);
  t.deepEqual(pools['python-worker']?.['command'], ['python3', join(directory, 'worker.py'), '-v']);
  t.deepEqual(pools['npm-start'], { chdir: join(directory, 'sub'), workers: 1, command: ['npm', 'start'] });
  t.deepEqual(pools['own']?.['command'], [join(directory, 'server.js')]);
  // Named after its script, as PM2 does; instances run as that many processes.
  t.like(pools['server'], { workers: 'auto', restart: 'never', stopSignal: 'SIGINT' });
});

test('env and env_NAME: --env-name lays env_NAME over env; a name no app has is reported', (t) => {
  const apps = [
    {
      name: 'web',
      script: 'server.js',
      instances: 2,
      env: { PORT: 3000, NODE_ENV: 'development', DEBUG: 'x' },
      env_production: { NODE_ENV: 'production', PORT: 80 },
    },
    { name: 'jobs', script: 'server.js', env_production: { NODE_ENV: 'production' } },
  ];
  t.deepEqual(poolsOf(apps)['web']?.['env'], { PORT: 3000, NODE_ENV: 'development', DEBUG: 'x' });
  t.deepEqual(poolsOf(apps)['jobs']?.['env'], undefined);
  const production = poolsOf(apps, { envName: 'production' });
  t.deepEqual(production['web']?.['env'], { PORT: 80, NODE_ENV: 'production', DEBUG: 'x' });
  t.deepEqual(production['web']?.['bind'], [':80'], 'the port comes from the merged env');
  t.deepEqual(production['jobs']?.['env'], { NODE_ENV: 'production' });
  const staging = translateEcosystem({ apps }, { ...context, envName: 'staging' });
  t.true(staging.warnings.includes('--env-name staging: no app has env_staging; each runs with its env'));
});

test('every key appd does not honour is one warning naming it, the apps using it and what to do instead', (t) => {
  const { warnings, settings } = translateEcosystem(
    {
      apps: [
        {
          name: 'a',
          script: 'server.js',
          out_file: 'a.log',
          error_file: 'a.err',
          cron_restart: '0 * * * *',
          restart_delay: 100,
          watch: ['src'],
          made_up_key: 1,
        },
        { name: 'b', script: 'server.js', out_file: 'b.log', exp_backoff_restart_delay: 100, stop_exit_codes: [0] },
      ],
      deploy: { production: { user: 'deploy' } },
    },
    context,
  );
  const logs =
    "each line an app prints goes to appd's log (--error-logfile; stderr by default), tagged with its pool and slot: read one app's lines with appctl logs NAME";
  t.deepEqual(warnings, [
    `PM2 key out_file (a, b) is ignored: ${logs}`,
    `PM2 key error_file (a) is ignored: ${logs}`,
    'PM2 key cron_restart (a) is ignored: run appctl restart NAME from a systemd timer or a cron job',
    'PM2 key restart_delay (a) is ignored: appd restarts a crashed worker at once, and backs off exponentially (0.25 s doubling to 30 s) from its second failed start in a row',
    "PM2 key watch (a) is ignored: appd --reload watches the apps' directories (not node_modules) and the config file; the paths given are not used",
    'PM2 key made_up_key (a) is ignored: it is not a PM2 key appd knows',
    'PM2 key exp_backoff_restart_delay (b) is ignored: appd restarts a crashed worker at once, and backs off exponentially (0.25 s doubling to 30 s) from its second failed start in a row',
    'PM2 key watch (a): appd --reload reloads every pool, not only these',
    'PM2 key deploy is ignored: appd does not deploy: deploy, then run appctl reload',
  ]);
  t.is(settings['reload'], true, 'watch turns on appd --reload');
  t.is(
    (settings['pools'] as Record<string, Record<string, unknown>>)['b']?.['restart'],
    'on-failure',
    'stop_exit_codes [0]: an exit 0 leaves it down',
  );
});

test("appd's own keys: appd: {...} in an app is laid over its pool, at the top over the settings", (t) => {
  const { settings } = translateEcosystem(
    {
      apps: [{ name: 'web', script: 'server.js', instances: 2, appd: { bind: '127.0.0.1:0', reloadBatch: 2 } }],
      appd: { gracefulTimeout: 10 },
    },
    context,
  );
  t.like(settings, { gracefulTimeout: 10, pools: { web: { bind: '127.0.0.1:0', reloadBatch: 2, workers: 2 } } });
});

test('what cannot be translated is an error naming the file, the app and the way out', (t) => {
  const message = (apps: unknown): string | undefined =>
    t.throws(() => translateEcosystem({ apps }, context), { instanceOf: ConfigError })?.message;
  t.is(
    message([{ name: 'web', script: 'server.js', exec_mode: 'cluster' }]),
    "config file ecosystem.config.js: apps[0] (web): exec_mode cluster serves on a port appd listens on: set env.PORT (env), which the app listens on, or appd: { bind: '127.0.0.1:3000' }",
  );
  t.is(
    message([{ name: 'py', script: 'worker.py', exec_mode: 'cluster', env: { PORT: 1 } }]),
    'config file ecosystem.config.js: apps[0] (py): exec_mode cluster runs a Node script in every worker, not python3: use exec_mode fork',
  );
  t.is(
    message([
      { name: 'web', script: 'server.js' },
      { name: 'web', script: 'server.js' },
    ]),
    'config file ecosystem.config.js: apps[1] (web): another app is named web too; appd runs each as a pool of its own name',
  );
  t.is(
    message([{ name: 'my app', script: 'server.js' }]),
    'config file ecosystem.config.js: apps[0]: name "my app" cannot name an appd pool (1-64 letters, digits, ".", "-" or "_", starting with a letter or digit)',
  );
  t.is(message([{ name: 'web' }]), 'config file ecosystem.config.js: apps[0] (web): script is missing');
  t.is(message([]), 'config file ecosystem.config.js: apps must be a list of apps');
  t.is(
    message([{ name: 'web', script: 'server.js', kill_timeout: 'soon' }]),
    'config file ecosystem.config.js: apps[0] (web): kill_timeout must be milliseconds or a duration such as "2s", got "soon"',
  );
});

test("PM2's port key is PORT in the app's environment, and the port appd binds in cluster mode", (t) => {
  t.like(poolsOf([{ name: 'web', script: 'server.js', instances: 2, port: 4000 }])['web'], { env: { PORT: '4000' }, bind: [':4000'] });
});
