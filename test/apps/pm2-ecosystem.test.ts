// A PM2 ecosystem file, written the way PM2's docs show it (module.exports = { apps: [...], deploy }),
// run by the real daemon: `appd ecosystem.config.js --env-name production` runs json-server 0.17 in
// cluster mode (2 workers, through 2 reloads under load) and http-server 14 in fork mode, each with its
// env_production, and prints one warning per PM2 key appd does not honour. `-c` and the .cjs, .mjs and
// .json forms are read the same way (--print-config). Runs in the ava test process.

import test from 'ava';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { APPD, PROJECT_ROOT, startDaemon, tempDirectory } from '../helpers/daemon.js';
import { statusOf } from '../helpers/appctl.js';
import { get } from '../helpers/http.js';
import { freePort } from '../helpers/ports.js';
import { waitFor } from '../helpers/processes.js';
import { reloadAndWait } from '../helpers/reload.js';
import { assertNoFailures, underLoad } from '../helpers/under-load.js';

const JSON_SERVER = join(PROJECT_ROOT, 'node_modules/json-server/lib/cli/bin.js');
const HTTP_SERVER = join(PROJECT_ROOT, 'node_modules/http-server/bin/http-server');
/** A reload boots new workers, which takes many seconds (a minute, seen) on a machine loaded by parallel test runs. */
const RELOAD_TIMEOUT_MS = 180_000;

/** The apps of the file: json-server (cluster, 2 instances) and http-server (fork), as a PM2 user writes them. */
function ecosystemApps(apiPort: number, staticPort: number): string {
  return `[{
    name: 'api',
    script: ${JSON.stringify(JSON_SERVER)},
    args: 'db.json --quiet',
    instances: 2,
    exec_mode: 'cluster',
    max_memory_restart: '300M',
    env: { PORT: ${apiPort}, NODE_ENV: 'development' },
    env_production: { NODE_ENV: 'production' },
    out_file: './logs/api-out.log',
    error_file: './logs/api-err.log',
    merge_logs: true,
    log_date_format: 'YYYY-MM-DD HH:mm Z',
  }, {
    name: 'static',
    script: ${JSON.stringify(HTTP_SERVER)},
    args: 'public -a 127.0.0.1 --silent',
    exec_mode: 'fork',
    max_memory_restart: '200M',
    watch: false,
    env: { NODE_ENV: 'development' },
    env_production: { NODE_ENV: 'production', PORT: ${staticPort} },
  }]`;
}

/** The deploy section \`pm2 ecosystem\` writes into every file it generates. */
const DEPLOY = `{
  production: {
    user: 'SSH_USERNAME',
    host: 'SSH_HOSTMACHINE',
    ref: 'origin/master',
    repo: 'GIT_REPOSITORY',
    path: 'DESTINATION_PATH',
    'pre-deploy-local': '',
    'post-deploy': 'npm install && pm2 reload ecosystem.config.js --env production',
    'pre-setup': '',
  },
}`;

const LOGS_ADVICE =
  "each line an app prints goes to appd's log (--error-logfile; stderr by default), tagged with its pool and slot: read one app's lines with appctl logs NAME";
const EXPECTED_WARNINGS = [
  `appd: warning: PM2 key out_file (api) is ignored: ${LOGS_ADVICE}`,
  `appd: warning: PM2 key error_file (api) is ignored: ${LOGS_ADVICE}`,
  `appd: warning: PM2 key merge_logs (api) is ignored: ${LOGS_ADVICE}`,
  'appd: warning: PM2 key log_date_format (api) is ignored: appd timestamps every log line itself',
  'appd: warning: PM2 key deploy is ignored: appd does not deploy: deploy, then run appctl reload',
];

/** The variables a running process was started with. */
function environmentOf(pid: number): Map<string, string> {
  const entries = readFileSync(`/proc/${pid}/environ`, 'latin1')
    .split('\0')
    .filter((entry) => entry.includes('='));
  return new Map(entries.map((entry) => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)]));
}

test.serial(
  'appd ecosystem.config.js --env-name production: json-server in cluster mode through 2 reloads under load, http-server in fork mode, warnings for the PM2 keys appd ignores',
  async (t) => {
    t.timeout(600_000);
    const apiPort = await freePort();
    const staticPort = await freePort();
    const daemon = await startDaemon(t, {
      args: ['ecosystem.config.js', '--env-name', 'production'],
      files: {
        'ecosystem.config.js': `module.exports = {\n  apps: ${ecosystemApps(apiPort, staticPort)},\n  deploy: ${DEPLOY},\n};\n`,
        'db.json': JSON.stringify({ posts: [{ id: 1, title: 'appd' }] }),
        'public/hello.txt': 'hello from static\n',
      },
      timeoutMs: 120_000,
    });
    const printedLines = daemon.printed.split('\n');
    for (const warning of EXPECTED_WARNINGS) t.is(printedLines.filter((line) => line === warning).length, 1, warning);
    t.is(printedLines.filter((line) => line.startsWith('appd: warning:')).length, EXPECTED_WARNINGS.length, 'no other warning');

    // PM2's names are the pools appctl shows; cluster is an HTTP pool of 2, fork a command pool.
    const status = await statusOf(daemon.directory);
    t.deepEqual(
      status.pools.map((pool) => [pool.name, pool.kind, pool.desired]),
      [
        ['api', 'http', 2],
        ['static', 'command', 1],
      ],
    );
    // env_production over env, in every process of both apps (and PORT, only in env_production, reached http-server).
    for (const pool of status.pools) {
      for (const worker of pool.workers) t.is(environmentOf(worker.pid).get('NODE_ENV'), 'production', `${pool.name} pid ${worker.pid}`);
    }

    const api = `http://127.0.0.1:${apiPort}`;
    t.deepEqual(
      JSON.parse((await get(`${api}/posts/1`)).body),
      { id: 1, title: 'appd' },
      "json-server got its db file argument, in the file's directory",
    );
    const staticFile = await waitFor(
      "http-server to listen on env_production's PORT",
      async () => {
        const answer = await get(`http://127.0.0.1:${staticPort}/hello.txt`).catch(() => null);
        return answer?.status === 200 ? answer : null;
      },
      60_000,
    );
    t.is(staticFile.body, 'hello from static\n');

    const result = await underLoad(`${api}/posts`, async () => {
      await reloadAndWait(daemon, 2, RELOAD_TIMEOUT_MS, 'api');
      await reloadAndWait(daemon, 3, RELOAD_TIMEOUT_MS, 'api');
    });
    assertNoFailures(t, result, 'json-server from an ecosystem file, 2 reloads');
  },
);

test('-c, and the .cjs, .mjs and .json forms of an ecosystem file: --print-config shows the pools it became and where they came from', (t) => {
  const directory = tempDirectory(t);
  const apps = ecosystemApps(3000, 3001);
  const jsonApps = JSON.stringify(new Function(`return ${apps}`)());
  writeFileSync(join(directory, 'ecosystem.config.cjs'), `module.exports = { apps: ${apps} };\n`);
  writeFileSync(join(directory, 'ecosystem.config.mjs'), `export default { apps: ${apps} };\n`);
  writeFileSync(join(directory, 'process.json'), `{ "apps": ${jsonApps} }\n`);
  const runs = [
    ['-c', 'ecosystem.config.cjs', '--env-name', 'production'],
    ['ecosystem.config.mjs', '--env-name', 'production'],
    ['--config', 'process.json', '--env-name', 'production'],
    ['process.json', '--env-name', 'production'],
  ];
  for (const args of runs) {
    const printed = spawnSync(process.execPath, [APPD, '--print-config', ...args], { cwd: directory, encoding: 'utf8', timeout: 60_000 });
    const what = args.join(' ');
    t.is(printed.status, 0, `${what}: ${printed.stderr}`);
    const file = args.find((arg) => arg.includes('.')) ?? '';
    const source = `# config file ${file.replace(/\./g, '\\.')} \\(PM2 ecosystem, env_production\\), pools\\.`;
    t.regex(printed.stdout, new RegExp(`^pools\\.api\\.script\\s+= ${JSON_SERVER.replace(/[.\\/]/g, '\\$&')}\\s+${source}api$`, 'm'), what);
    t.regex(printed.stdout, /^pools\.api\.args\s+= db\.json --quiet\s/m, what);
    t.regex(printed.stdout, /^pools\.api\.bind\s+= :3000\s/m, what);
    t.regex(printed.stdout, /^pools\.api\.workers\s+= 2\s/m, what);
    t.regex(printed.stdout, /^pools\.api\.env\s+= PORT=3000 NODE_ENV=production\s/m, what);
    t.regex(printed.stdout, /^pools\.api\.maxMemory\s+= 300M\s/m, what);
    t.regex(printed.stdout, new RegExp(`^pools\\.api\\.chdir\\s+= ${directory.replace(/[.\\/]/g, '\\$&')}\\s`, 'm'), what);
    t.regex(
      printed.stdout,
      new RegExp(
        `^pools\\.static\\.command\\s+= ${process.execPath.replace(/[.\\/]/g, '\\$&')} ${HTTP_SERVER.replace(/[.\\/]/g, '\\$&')} public -a 127\\.0\\.0\\.1 --silent\\s`,
        'm',
      ),
      what,
    );
    t.regex(printed.stdout, /^pools\.static\.env\s+= NODE_ENV=production PORT=3001\s/m, what);
    t.regex(printed.stdout, /^pools\.static\.maxMemory\s+= 200M\s/m, what);
    t.regex(printed.stdout, new RegExp(`^config\\s+= ${file.replace(/\./g, '\\.')}\\s+# command line$`, 'm'), what);
    t.is(
      printed.stderr.split('\n').filter((line) => line.startsWith('appd: warning: PM2 key')).length,
      4,
      `${what}: out_file, error_file, merge_logs, log_date_format`,
    );
  }
});

test('--env-name without an ecosystem file, and a YAML ecosystem file, are refused with a line naming them', (t) => {
  const directory = tempDirectory(t);
  writeFileSync(join(directory, 'appd.config.json'), JSON.stringify({ script: 'server.js' }));
  writeFileSync(join(directory, 'ecosystem.yml'), 'apps:\n  - script: server.js\n');
  const plain = spawnSync(process.execPath, [APPD, '--print-config', '--env-name', 'production'], {
    cwd: directory,
    encoding: 'utf8',
    timeout: 60_000,
  });
  t.is(plain.status, 2);
  t.is(
    plain.stderr,
    `appd: --env-name production: it picks each app's env_production in a PM2 ecosystem file, and config file ${join(directory, 'appd.config.json')} is not one (it has no apps)\n`,
  );
  const yaml = spawnSync(process.execPath, [APPD, '--print-config', 'ecosystem.yml'], {
    cwd: directory,
    encoding: 'utf8',
    timeout: 60_000,
  });
  t.is(yaml.status, 2);
  t.is(
    yaml.stderr,
    'appd: config file ecosystem.yml: appd does not read YAML; write the ecosystem as ecosystem.config.js (module.exports = { apps: [...] }) or as JSON\n',
  );
});
