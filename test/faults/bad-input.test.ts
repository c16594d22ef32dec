// Fault injection: bad input at start. Each case ends in one clear line naming the culprit, the exit
// code DESIGN.md gives it (2 config or usage, 3 no worker could boot, 4 the app cannot load), and
// nothing left behind: no process, no pidfile, no socket file, no control socket. Permission cases
// run appd as nobody when the suite runs as root (root ignores permission bits).
// Covered elsewhere, referenced by the README's table: config syntax error, unknown key, bad values
// (test/daemon/config.test.ts), port in use, unix path too long, missing app, module syntax error
// (test/daemon/boot-failures.test.ts), a throwing preFork/onReload hook (test/daemon/hooks.test.ts).

import test, { type ExecutionContext } from 'ava';
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixture, startDaemon } from '../helpers/daemon.js';
import { AS_NOBODY, installationForOthers, NOBODY, testAsNobody } from '../helpers/other-users.js';
import { isAlive } from '../helpers/processes.js';

const asRoot = process.getuid?.() === 0;
const APP = fixture('pid-app.mjs');

interface BadStart {
  readonly name: string;
  readonly args: readonly string[];
  readonly files?: Readonly<Record<string, string>>;
  readonly unprivileged?: boolean;
  readonly exitCode: 2 | 3 | 4;
  /** The last line appd prints on stderr. */
  readonly line: RegExp;
}

const CASES: readonly BadStart[] = [
  {
    name: 'a config module that throws',
    args: ['-c', 'appd.config.mjs'],
    files: { 'appd.config.mjs': "throw new Error('config exploded');\n" },
    exitCode: 2,
    line: /^appd: config file \/.*\/appd\.config\.mjs: Error: config exploded$/,
  },
  {
    name: 'a JSON config with a trailing comma',
    args: ['-c', 'appd.json'],
    files: { 'appd.json': '{"workers": 2,}\n' },
    exitCode: 2,
    line: /^appd: config file \/.*\/appd\.json: .*JSON/,
  },
  {
    name: 'a config that exports a number',
    args: ['-c', 'appd.config.mjs'],
    files: { 'appd.config.mjs': 'export default 42;\n' },
    exitCode: 2,
    line: /^appd: config file \/.*\/appd\.config\.mjs: must export an object of settings \(got number\)$/,
  },
  {
    name: 'a hook that is not a function',
    args: ['-c', 'appd.config.mjs'],
    files: { 'appd.config.mjs': `export default { app: ${JSON.stringify(APP)}, onStarting: 'not a function' };\n` },
    exitCode: 2,
    line: /^appd: invalid onStarting \(from config file appd\.config\.mjs\): expected a function, got "not a function"$/,
  },
  {
    name: 'a pool with a wrong type',
    args: ['-c', 'appd.config.mjs'],
    files: { 'appd.config.mjs': 'export default { pools: { web: { app: 5 } } };\n' },
    exitCode: 2,
    line: /^appd: invalid pools \(from config file appd\.config\.mjs\): pools\.web\.app: expected a string, got 5$/,
  },
  {
    name: 'a config file that does not exist',
    args: ['-c', 'nowhere.mjs', APP],
    exitCode: 2,
    line: /^appd: config file \/.*\/nowhere\.mjs: no such file$/,
  },
  {
    name: 'a control socket path too long',
    args: [APP, '--control-socket', `/tmp/${'c'.repeat(120)}.sock`],
    exitCode: 2,
    line: /^appd: control socket path \/tmp\/c+\.sock is longer than the 107 bytes Linux allows; set a shorter --control-socket$/,
  },
  {
    name: 'an address not on this machine',
    args: [APP, '-b', '192.0.2.1:8000'],
    exitCode: 2,
    line: /^appd: cannot listen on 192\.0\.2\.1:8000: address not available on this machine \[EADDRNOTAVAIL\]$/,
  },
  {
    name: 'an error log in a missing directory',
    args: [APP, '--error-logfile', 'missing/error.log'],
    exitCode: 2,
    line: /^appd: cannot open error-logfile \/.*\/missing\/error\.log \(from command line\): no such file or directory \[ENOENT\]$/,
  },
  {
    name: 'an access log in a missing directory',
    args: [APP, '--access-logfile', 'missing/access.log'],
    exitCode: 2,
    line: /^appd: cannot open access-logfile \/.*\/missing\/access\.log: no such file or directory \[ENOENT\]$/,
  },
  {
    name: 'a certfile that does not exist',
    args: [APP, '--certfile', 'missing.pem', '--keyfile', 'missing.pem'],
    exitCode: 2,
    line: /^appd: cannot open certfile \/.*\/missing\.pem: no such file or directory \[ENOENT\]$/,
  },
  {
    name: 'a unix socket in a directory nobody may write',
    args: [APP, '-b', 'unix:locked/app.sock'],
    unprivileged: true,
    exitCode: 2,
    line: /^appd: cannot listen on unix:locked\/app\.sock: permission denied \(the directory is not writable for this user\) \[EACCES\]$/,
  },
  {
    name: 'a pidfile in a directory nobody may write',
    args: [APP, '-p', 'locked/app.pid'],
    unprivileged: true,
    exitCode: 2,
    line: /^appd: cannot write pidfile \/.*\/locked\/app\.pid \(from command line\): permission denied \[EACCES\]$/,
  },
  {
    name: 'an error log in a directory nobody may write',
    args: [APP, '--error-logfile', 'locked/error.log'],
    unprivileged: true,
    exitCode: 2,
    line: /^appd: cannot open error-logfile \/.*\/locked\/error\.log \(from command line\): permission denied \[EACCES\]$/,
  },
  {
    name: 'a control socket in a directory nobody may write',
    args: [APP, '--control-socket', 'locked/appd.sock'],
    unprivileged: true,
    exitCode: 2,
    line: /^appd: control socket directory \/.*\/locked is owned by uid 0, not by uid 65534 running appd; refusing to use it \(choose a directory of your own, or set --control-socket\)$/,
  },
];
// A file of the test's own user stays readable to it: this one needs a daemon of another user.
const ROOT_CASES: readonly BadStart[] = asRoot
  ? [
      {
        name: 'an app module nobody may read',
        args: ['secret/app.mjs'],
        files: { 'secret/app.mjs': 'export default (request, response) => response.end();\n' },
        unprivileged: true,
        exitCode: 4,
        line: /^appd: cannot read app module \/.*\/secret\/app\.mjs as uid 65534: permission denied/,
      },
    ]
  : [];

const PORT_BELOW_UNPRIVILEGED = ((): number | null => {
  const start = Number(readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8').trim());
  return start > 1 ? start - 1 : null;
})();

function leftovers(directory: string, before: ReadonlySet<string>): string[] {
  const found: string[] = [];
  const walk = (relative: string): void => {
    for (const entry of readdirSync(join(directory, relative), { withFileTypes: true })) {
      const path = join(relative, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (!before.has(path)) found.push(path);
    }
  };
  walk('.');
  return found;
}

for (const bad of [
  ...CASES,
  ...ROOT_CASES,
  ...(PORT_BELOW_UNPRIVILEGED === null
    ? []
    : [
        {
          name: `a port below ip_unprivileged_port_start (${PORT_BELOW_UNPRIVILEGED})`,
          args: [APP, '-b', `127.0.0.1:${PORT_BELOW_UNPRIVILEGED}`],
          unprivileged: true,
          exitCode: 2 as const,
          line: /^appd: cannot listen on 127\.0\.0\.1:\d+: permission denied \(ports below 1024 need root or CAP_NET_BIND_SERVICE\) \[EACCES\]$/,
        },
      ]),
]) {
  // As root, a permission case runs its daemon as nobody (root ignores permission bits).
  const asNobody = bad.unprivileged === true && asRoot;
  (asNobody ? testAsNobody : test)(`${bad.name}: exit ${bad.exitCode}, one line, nothing left behind`, async (t: ExecutionContext) => {
    let before = new Set<string>();
    // Then appd and the app must be at paths nobody can read: the checkout, or a copy.
    const installation = asNobody ? installationForOthers(t) : null;
    const args = installation === null ? bad.args : bad.args.map((word) => (word === APP ? installation.fixture('pid-app.mjs') : word));
    const daemon = await startDaemon(t, {
      // A unix socket and a pidfile too, so "nothing left behind" has something to check.
      args: [
        ...args,
        ...(args.includes('-b') ? [] : ['-b', '127.0.0.1:0']),
        '-b',
        'unix:app.sock',
        ...(args.includes('-p') ? [] : ['-p', 'app.pid']),
        '--boot-timeout',
        '10',
      ],
      ...(bad.files ? { files: bad.files } : {}),
      waitFor: 'nothing',
      ...(installation === null ? {} : { wrapper: AS_NOBODY, appd: installation.appd }),
      prepare: (directory) => {
        mkdirSync(join(directory, 'locked'), { mode: 0o555 });
        if (asNobody) {
          // The daemon's own directory (and XDG_RUNTIME_DIR) is nobody's; locked/ and secret/ stay root's.
          chownSync(directory, NOBODY, NOBODY);
        }
        if (existsSync(join(directory, 'secret'))) chmodSync(join(directory, 'secret', 'app.mjs'), 0o600);
        before = new Set(leftovers(directory, new Set()));
      },
    });
    const { code } = await daemon.exited();
    const lastLine = daemon.output.trim().split('\n').at(-1) ?? '';
    t.log(`exit ${code}: ${lastLine}`);
    t.is(code, bad.exitCode);
    t.regex(lastLine, bad.line);
    t.is(daemon.output.split('\n').filter((line) => line.startsWith('appd: ')).length, 1, 'one line from appd itself');
    t.notRegex(daemon.output, /unexpected failure|internal error|\n\s+at /, 'no stack trace');
    t.deepEqual(leftovers(daemon.directory, before), [], 'no file left behind');
    t.deepEqual(daemon.descendants().filter(isAlive), [], 'no process left behind');
  });
}

test('a hook that throws at start: logged with its name, the master starts anyway', async (t) => {
  const config = `export default { app: ${JSON.stringify(APP)}, bind: '127.0.0.1:0', onStarting() { throw new Error('hook exploded'); } };\n`;
  const daemon = await startDaemon(t, { args: ['-c', 'appd.config.mjs'], files: { 'appd.config.mjs': config } });
  const line = (/^.*hook onStarting failed: .*$/m.exec(daemon.output) ?? [''])[0];
  t.log(line);
  // One line: the headline and where the config file threw it, none of appd's frames.
  t.regex(
    line,
    new RegExp(`\\[ERROR\\] hook onStarting failed: Error: hook exploded \\(at ${daemon.directory}/appd\\.config\\.mjs:1:\\d+\\)$`),
  );
  t.true(isAlive(daemon.pid));
});
