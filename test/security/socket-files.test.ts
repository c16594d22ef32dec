// Attack 5 of the security issue, and issue 17's socket ownership: the control socket and unix
// listening sockets get their mode and owner without a chmod or chown by path after bind(2). Another
// user races to swap the socket's name for a symlink to a file of root's while the master starts; the
// master makes no path-based chmod/chown (seen with strace), the file keeps its mode and owner, and a
// control socket directory others may write is refused. --unix-socket-group/-owner/-mode give nginx's
// www-data (a real second uid) access and nobody none.

import test, { type ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { APPD, fixture, startDaemon, tempDirectory } from '../helpers/daemon.js';
import { AS_NOBODY, installationForOthers, NOBODY, runCommand, testAsNobody } from '../helpers/other-users.js';

const STRACE = '/usr/bin/strace';
const WWW_DATA = 33;

/** Starts the swap attacker as nobody in `directory` for `seconds`; resolves with its swap count. */
function startAttacker(
  t: ExecutionContext,
  directory: string,
  pattern: string,
  victim: string,
  seconds: number,
): { done: Promise<string> } {
  const script = installationForOthers(t).fixture('security/swap-attacker.cjs');
  const [command = '', ...args] = [...AS_NOBODY, process.execPath, script, directory, pattern, victim, String(seconds)];
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => (output += text));
  return { done: new Promise((settle) => child.on('close', () => settle(output.trim()))) };
}

function modeOf(path: string): string {
  const stats = statSync(path);
  return `${(stats.mode & 0o7777).toString(8)} ${stats.uid}:${stats.gid}`;
}

/** As `uid`:`gid` (no other groups), a GET over the unix socket: the status line, or the error code. */
async function getAs(uid: number, gid: number, socket: string): Promise<string> {
  const probe = `require('node:http').get({ socketPath: ${JSON.stringify(socket)}, path: '/' }, (response) => { console.log(response.statusCode); process.exit(0); }).on('error', (error) => { console.log(error.code); process.exit(0); });`;
  const result = await runCommand(
    ['/usr/bin/setpriv', `--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', '--', process.execPath, '-e', probe],
    { env: { PATH: process.env['PATH'] ?? '' } },
  );
  return result.stdout.trim() || result.stderr.trim();
}

/**
 * Starts a master under strace with a unix bind in a directory nobody owns, while nobody swaps the
 * socket's name for a symlink to root's file: the victim keeps its mode and owner, and every chmod or
 * chown the master makes goes through its private directory's descriptor. Returns those calls.
 */
async function raceUnixSocket(t: ExecutionContext, options: readonly string[]): Promise<string[]> {
  const trace = join(tempDirectory(t), 'strace.log');
  const victim = join(tempDirectory(t), 'victim');
  writeFileSync(victim, 'root owns this\n', { mode: 0o644 });
  chmodSync(victim, 0o644);
  // The app's directory belongs to the app's user, who races the master there.
  const shared = join(tempDirectory(t), 'site');
  mkdirSync(shared);
  chmodSync(join(shared, '..'), 0o755);
  chownSync(shared, NOBODY, NOBODY);
  const attacker = startAttacker(t, shared, '^app\\.sock$', victim, 20);
  const daemon = await startDaemon(t, {
    // Only the master's main thread, where bind, chmod and chown run (-f would trace the workers too).
    wrapper: [STRACE, '-qq', '-o', trace, '-e', 'trace=chmod,fchmod,fchmodat,chown,lchown,fchown,fchownat'],
    args: [fixture('pid-app.mjs'), '-b', `unix:${join(shared, 'app.sock')}`, '-b', '127.0.0.1:0', ...options],
    timeoutMs: 60_000,
  });
  await daemon.waitForLog(/Listening at: unix:/);
  const swaps = await attacker.done;
  t.log(`attacker: ${swaps}; victim now ${modeOf(victim)}`);
  t.is(modeOf(victim), '644 0:0', 'the victim kept its mode and owner');
  const calls = readFileSync(trace, 'utf8')
    .split('\n')
    .filter((line) => /ch(mod|own)/.test(line));
  t.log(calls.join('\n'));
  for (const call of calls) t.regex(call, /"\/proc\/self\/fd\/\d+\/[0-9a-f]{24}"/, "only through the private directory's descriptor");
  return calls;
}

testAsNobody(
  'unix listening socket with --unix-socket-mode: no chmod by path while another user swaps its name; the victim keeps its mode',
  async (t) => {
    if (!existsSync(STRACE)) return t.fail(`${STRACE} is missing (.ci/run installs strace)`);
    // The attack as the issue found it (the code before the fix chmodded ".../app.sock" after bind).
    await raceUnixSocket(t, ['--unix-socket-mode', '0660']);
  },
);

testAsNobody('unix listening socket with --unix-socket-group: no chown by path either', async (t) => {
  if (!existsSync(STRACE)) return t.fail(`${STRACE} is missing (.ci/run installs strace)`);
  const calls = await raceUnixSocket(t, ['--unix-socket-group', 'www-data', '--unix-socket-mode', '0660']);
  t.true(
    calls.some((call) => call.includes('chown')),
    'the group was set: one chown',
  );
});

testAsNobody('--unix-socket-group www-data --unix-socket-mode 0660: www-data (a real second uid) gets in, nobody does not', async (t) => {
  const daemon = await startDaemon(t, {
    args: [fixture('pid-app.mjs'), '-b', 'unix:run/app.sock', '--unix-socket-group', 'www-data', '--unix-socket-mode', '0660'],
    prepare: (directory) => {
      chmodSync(directory, 0o755);
      mkdirSync(join(directory, 'run'), { mode: 0o755 });
    },
  });
  const socket = join(daemon.directory, 'run', 'app.sock');
  t.is(modeOf(socket), `660 0:${WWW_DATA}`);
  t.is(await getAs(WWW_DATA, WWW_DATA, socket), '200', 'www-data, as nginx runs');
  t.is(await getAs(NOBODY, NOBODY, socket), 'EACCES', 'another user');
  t.deepEqual(readdirNames(join(daemon.directory, 'run')), ['app.sock'], 'no private directory left behind');
});

testAsNobody('per pool: --unix-socket-owner, -group and -mode in pools.NAME', async (t) => {
  const config = `export default { pools: {
    front: { app: ${JSON.stringify(fixture('pid-app.mjs'))}, bind: ['unix:front.sock'], unixSocketOwner: 'www-data', unixSocketGroup: 'www-data', unixSocketMode: 0o600 },
    back: { app: ${JSON.stringify(fixture('pid-app.mjs'))}, bind: ['unix:back.sock'] },
  } };\n`;
  const daemon = await startDaemon(t, {
    args: ['-c', 'appd.config.mjs'],
    files: { 'appd.config.mjs': config },
    prepare: (directory) => chmodSync(directory, 0o755),
  });
  t.is(modeOf(join(daemon.directory, 'front.sock')), `600 ${WWW_DATA}:${WWW_DATA}`);
  t.is(modeOf(join(daemon.directory, 'back.sock')), '660 0:0', "the global defaults: the master's user and group, 0660");
  t.is(await getAs(WWW_DATA, WWW_DATA, join(daemon.directory, 'front.sock')), '200');
  t.is(await getAs(WWW_DATA, WWW_DATA, join(daemon.directory, 'back.sock')), 'EACCES');
});

test('an unknown --unix-socket-group: exit 2 naming it, no socket left', async (t) => {
  const directory = tempDirectory(t);
  const result = await runCommand(
    [process.execPath, APPD, fixture('pid-app.mjs'), '-b', 'unix:app.sock', '--unix-socket-group', 'no-such-group-appd'],
    { env: { ...process.env, XDG_RUNTIME_DIR: directory }, timeoutMs: 30_000, cwd: directory },
  );
  t.is(result.code, 2);
  t.is(result.stderr.trim(), 'appd: cannot listen on unix:app.sock: unknown unix-socket-group "no-such-group-appd"');
  t.deepEqual(
    readdirNames(directory).filter((name) => name !== 'appd'),
    [],
  );
});

testAsNobody("control socket: a directory others may write is refused, while another user races the socket's names", async (t) => {
  const victim = join(tempDirectory(t), 'victim');
  writeFileSync(victim, 'root owns this\n', { mode: 0o644 });
  chmodSync(victim, 0o644);
  const base = tempDirectory(t);
  chmodSync(base, 0o755);
  const shared = join(base, 'shared');
  mkdirSync(shared);
  chmodSync(shared, 0o777);
  const attacker = startAttacker(t, shared, '^(\\.appd-\\d+\\.new|app\\.sock)$', victim, 8);
  const result = await runCommand(
    [process.execPath, APPD, fixture('pid-app.mjs'), '-b', '127.0.0.1:0', '--control-socket', join(shared, 'app.sock')],
    { env: { ...process.env, XDG_RUNTIME_DIR: base }, timeoutMs: 30_000, cwd: base },
  );
  // A master that did start (the code before the fix) is killed by runCommand() at its timeout.
  t.log(`attacker: ${await attacker.done}; victim now ${modeOf(victim)}`);
  t.is(result.code, 2, result.stderr);
  t.is(
    result.stderr.trim(),
    `appd: control socket directory ${shared} is writable by group or others (mode 0777); refusing to use it (chmod go-w ${shared}, or set --control-socket)`,
  );
  t.is(modeOf(victim), '644 0:0');
});

function readdirNames(directory: string): string[] {
  return readdirSync(directory).sort();
}
