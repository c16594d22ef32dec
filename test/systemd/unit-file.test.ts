// `appd --print-systemd-unit` prints a unit for its own command line, and systemd-analyze verify finds
// nothing to say about it nor about the shipped systemd/appd.* units (with ExecStart/ExecReload pointed
// at this checkout, and appd's man pages on MANPATH for Documentation=). Runs in the ava test process.

import test, { type ExecutionContext } from 'ava';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { APPCTL, APPD, fixture, PROJECT_ROOT, tempDirectory } from '../helpers/daemon.js';
import { execWord } from '../../daemon/systemd/unit-file.js';

const analyzeMissing = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' }).status !== 0;
/** A test that needs systemd-analyze: skipped, the reason in its title, where it is missing. */
function verifyTest(title: string, implementation: (t: ExecutionContext) => void): void {
  if (analyzeMissing) test.skip(`${title} [skipped: needs systemd-analyze (apt-get install systemd)]`, implementation);
  else test(title, implementation);
}

function printUnit(directory: string, args: readonly string[]): string {
  const printed = spawnSync(process.execPath, [APPD, ...args, '--print-systemd-unit'], { cwd: directory, encoding: 'utf8', env: { ...process.env, APPD_CMD_ARGS: '' }, timeout: 60_000 });
  if (printed.status !== 0) throw new Error(`appd --print-systemd-unit exited ${printed.status}: ${printed.stderr}`);
  return printed.stdout;
}

function keyOf(unit: string, key: string): string[] {
  return [...unit.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map((match) => match[1] ?? '');
}

test('--print-systemd-unit: absolute node and appd, WorkingDirectory, User= from --user, the control socket under /run/appd', (t) => {
  const directory = tempDirectory(t, 'appd-unit-');
  const unit = printUnit(directory, [fixture('pid-app.mjs'), '-w', '3', '-b', '127.0.0.1:8123', '--name', 'shop', '--user', 'appd', '-D', '--control-socket', 'here.sock', '--graceful-timeout', '20']);
  const [execStart = ''] = keyOf(unit, 'ExecStart');
  const [node, script, ...args] = execStart.split(' ');
  t.true(node?.startsWith('/') && realpathSync(node ?? '') === realpathSync(process.execPath), `the node that printed it, by an absolute path: ${node}`);
  t.is(script, APPD);
  t.deepEqual(args, ['--control-socket', '/run/appd/shop.sock', fixture('pid-app.mjs'), '-w', '3', '-b', '127.0.0.1:8123', '--name', 'shop', '--graceful-timeout', '20'], 'no --user (User= says it), no --daemon (Type=notify), its own control socket');
  t.deepEqual(keyOf(unit, 'ExecReload'), [`${node} ${APPCTL} --socket /run/appd/shop.sock reload`]);
  t.deepEqual(keyOf(unit, 'User'), ['appd']);
  t.deepEqual(keyOf(unit, 'WorkingDirectory'), [directory]);
  t.deepEqual(keyOf(unit, 'Type'), ['notify']);
  t.deepEqual(keyOf(unit, 'NotifyAccess'), ['all']);
  t.deepEqual(keyOf(unit, 'KillMode'), ['mixed']);
  t.deepEqual(keyOf(unit, 'TimeoutStopSec'), ['35'], 'graceful-timeout, onExit and a margin');
  t.deepEqual(keyOf(unit, 'RuntimeDirectory'), ['appd']);

  writeFileSync(join(directory, 'appd.config.mjs'), `export default { app: ${JSON.stringify(fixture('pid-app.mjs'))}, user: 'appd' };\n`);
  const fromConfig = printUnit(directory, ['-c', 'appd.config.mjs']);
  t.deepEqual(keyOf(fromConfig, 'User'), [], 'user from the config file: the master stays root, as it must to switch its workers');
  t.regex(fromConfig, /^# The master runs as root and starts its workers as appd /m);
  t.regex(keyOf(fromConfig, 'ExecStart')[0] ?? '', / --name \S+ --control-socket \/run\/appd\/\S+\.sock -c appd\.config\.mjs$/, 'the config file, relative to WorkingDirectory');
});

test('Exec words are quoted for systemd: spaces, quotes, %-specifiers and $ expansion cannot change the command', (t) => {
  t.is(execWord('/srv/shop/app.mjs'), '/srv/shop/app.mjs');
  t.is(execWord('a b'), '"a b"');
  t.is(execWord('50%'), '50%%');
  t.is(execWord('$HOME'), '"$$HOME"');
  t.is(execWord('say "hi"\\'), '"say \\"hi\\"\\\\"');
  t.is(execWord('two\nlines'), '"two\\nlines"');
});

verifyTest('systemd-analyze verify is clean for the shipped units and a generated one', (t) => {
  const directory = tempDirectory(t, 'appd-verify-');
  // Documentation= names appd's pages: put them where man(1) finds them, then the system's.
  for (const [page, section] of [['appd.8', '8'], ['appd.config.5', '5'], ['appctl.1', '1']] as const) {
    mkdirSync(join(directory, 'man', `man${section}`), { recursive: true });
    copyFileSync(join(PROJECT_ROOT, 'man', page), join(directory, 'man', `man${section}`, page));
  }
  const pointAtCheckout = (text: string): string =>
    text.replace(/^ExecStart=appd /m, `ExecStart=${process.execPath} ${APPD} `).replace(/^ExecReload=appctl /m, `ExecReload=${process.execPath} ${APPCTL} `);
  const shipped = (file: string): string => readFileSync(join(PROJECT_ROOT, 'systemd', file), 'utf8');
  writeFileSync(join(directory, 'shop.service'), pointAtCheckout(shipped('appd.service')));
  writeFileSync(join(directory, 'shop.socket'), shipped('appd.socket'));
  writeFileSync(join(directory, 'appd@.service'), pointAtCheckout(shipped('appd@.service')));
  writeFileSync(join(directory, 'generated.service'), printUnit(directory, [fixture('pid-app.mjs'), '-w', '2', '--user', 'appd', '--env', 'GREETING=50% of $HOME']));
  const units = ['shop.service', 'shop.socket', 'appd@blog.service', 'generated.service'].map((unit) => join(directory, unit));
  // The system's own pages (systemd.socket(5)) may be left out of a slim image: then only appd's are checked.
  const systemPages = spawnSync('man', ['-w', 'systemd.socket'], { encoding: 'utf8' }).status === 0;
  const verified = spawnSync('systemd-analyze', ['verify', `--man=${systemPages ? 'yes' : 'no'}`, ...units], {
    encoding: 'utf8',
    env: { ...process.env, MANPATH: `${join(directory, 'man')}:`, SYSTEMD_LOG_COLOR: '0' },
    timeout: 60_000,
  });
  t.is(verified.status, 0, verified.stderr);
  t.is(verified.stderr.trim(), '', 'not a single warning');
  if (!systemPages) {
    for (const page of ['appd.8', 'appd.config.5', 'appctl.1']) {
      const found = spawnSync('man', ['-w', page.replace(/\.(\d)$/, '($1)')], { encoding: 'utf8', env: { ...process.env, MANPATH: join(directory, 'man') } });
      t.is(found.status, 0, `man ${page}: ${found.stderr}`);
    }
  }
});
