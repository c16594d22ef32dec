// appctl against replies it did not expect, and against a log ring larger than one reply: a daemon
// (here a fake on a socket) that completes ping, status and config with no data gets a one-line error
// and exit 1, not a TypeError; `appctl logs -l 100` over long lines says how many it left out.

import test, { type ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { appctl } from '../helpers/appctl.js';
import { fixture, startDaemon, tempDirectory } from '../helpers/daemon.js';
import { killQuietly, waitFor } from '../helpers/processes.js';

/** The fake answers every request with "completed" and no data; killed by pid when the test ends. */
async function startFake(t: ExecutionContext, path: string): Promise<void> {
  const child = spawn(process.execPath, [fixture('security/fake-control-server.mjs'), path, 'x'], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => killQuietly(child.pid ?? -1));
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => (output += text));
  await waitFor('the fake daemon to listen', () => output.includes('listening'), 15_000);
}

for (const command of ['ping', 'status', 'config'] as const) {
  test(`appctl ${command} against a reply without data: one line, exit 1, no TypeError`, async (t) => {
    const directory = tempDirectory(t);
    const socket = join(directory, 'x.sock');
    await startFake(t, socket);
    const result = await appctl([command], { runtimeDirectory: directory, env: { APPD_SOCKET: socket } });
    t.is(result.code, 1, result.stderr);
    t.regex(
      result.stderr,
      new RegExp(
        `^appctl: the daemon answered ${command} with no data, not .*: is it an appd of another version\\? Use the appctl installed with the daemon\\n$`,
      ),
    );
    t.notRegex(result.stderr, /TypeError|\n\s+at /, 'no stack');
    // The fake's progress line may show; nothing that reads as an answer.
    t.notRegex(result.stdout, /pong|pid|Setting/i);
  });
}

/** Each worker writes 100 lines of 12,000 characters to stderr as it loads: 1.2 MB, over one reply. */
const LONG_LINES_APP = `const filler = 'x'.repeat(12000);
for (let index = 0; index < 100; index += 1) console.error(\`long \${index} \${filler}\`);
export default (request, response) => response.end('ok');
`;

test('appctl logs -l 100 over long lines: the lines that fit, and a note saying how many were left out', async (t) => {
  const daemon = await startDaemon(t, {
    args: ['app.mjs', '-w', '1', '-b', '127.0.0.1:0'],
    files: { 'app.mjs': LONG_LINES_APP },
    timeoutMs: 60_000,
  });
  await daemon.waitForLog(/\[web\.0 g1 stderr\] long 99 /, 30_000);
  const result = await appctl(['logs', '-l', '100'], { runtimeDirectory: daemon.directory });
  t.is(result.code, 0, result.stderr);
  const printed = result.stdout.split('\n').filter(Boolean);
  const note =
    /(\d+) older line\(s\) of the last 100 left out: at most 512 KB of recent log text is sent at once \(the log file has every line\)/.exec(
      printed[0] ?? '',
    );
  t.truthy(note, `the first line is the note: ${printed[0]?.slice(0, 200)}`);
  const leftOut = Number(note?.[1]);
  t.true(leftOut > 0);
  t.is(leftOut + printed.length - 1, 100, 'the note and the lines sent account for the 100 asked for');
  t.log(`appctl logs -l 100: ${printed.length - 1} lines of about 12 KB sent, ${leftOut} left out and said so`);
});

/**
 * What a master at its open-files limit does to a control client: Node accepts and closes at once
 * (libuv's EMFILE trick). A stand-in server does exactly that on the named socket.
 */
const CLOSE_AT_ONCE_SERVER = `require('node:net').createServer((socket) => socket.destroy()).listen(process.argv[1], () => console.log('listening'));`;

test('appctl -n NAME against a socket that accepts and closes at once (a master out of file descriptors) says so, not "stale"', async (t) => {
  const directory = tempDirectory(t);
  mkdirSync(join(directory, 'appd'), { mode: 0o700 });
  const child = spawn(process.execPath, ['-e', CLOSE_AT_ONCE_SERVER, join(directory, 'appd', 'x.sock')], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.teardown(() => killQuietly(child.pid ?? -1));
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => (output += text));
  await waitFor('the stand-in to listen', () => output.includes('listening'), 15_000);
  const result = await appctl(['-n', 'x', 'ping'], { runtimeDirectory: directory });
  t.is(result.code, 1, result.stderr);
  t.regex(
    result.stderr,
    /^appctl: the daemon at .*x\.sock accepted the connection and closed it before saying hello: it may be out of file descriptors \(ulimit -n; see its log\), stopping, or crashed\n$/,
  );
  t.notRegex(result.stderr, /stale/);
});

// Both routes of status (the plain form main answers itself, options first, and commander's), and the
// other quick commands: ping, config, logs.
for (const args of [
  ['--timeout', '1', 'status'],
  ['status', '--timeout', '1'],
  ['ping', '--timeout', '1'],
  ['config', '--timeout', '1'],
  ['logs', '--timeout', '1'],
]) {
  test(`appctl ${args.join(' ')} against a stopped master: a one-line timeout, not a wait for ever`, async (t) => {
    const daemon = await startDaemon(t, { args: [fixture('pid-app.mjs'), '-w', '1', '-b', '127.0.0.1:0', '--name', 'stopped'] });
    // The kernel still accepts connections for a stopped master (its listen backlog): the connect
    // succeeds and only the welcome never comes. Before the deadline covered the hello, this hung.
    t.teardown(() => process.kill(daemon.pid, 'SIGCONT'));
    process.kill(daemon.pid, 'SIGSTOP');
    const stopped = await appctl(['-n', 'stopped', ...args], { runtimeDirectory: daemon.directory, timeoutMs: 20_000 });
    t.is(stopped.code, 1, stopped.stderr);
    t.regex(
      stopped.stderr,
      /^appctl: no answer from the daemon at \S+\/stopped\.sock within 1s; is its master stuck\? \(--timeout changes the limit\)\n$/,
    );
    process.kill(daemon.pid, 'SIGCONT');
    const resumed = await appctl(['-n', 'stopped', ...args], { runtimeDirectory: daemon.directory });
    t.is(resumed.code, 0, resumed.stderr);
    if (args.includes('status')) t.regex(resumed.stdout, /^appd 'stopped': master pid \d+, running/);
  });
}
