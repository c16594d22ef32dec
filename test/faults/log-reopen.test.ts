// Fault injection: logrotate's rename + USR1, five times, under a steady stream of requests whose
// workers each write an access-log line and two lines of output to the error log. Counted across every
// rotated file: not one line lost, none doubled, none torn. (test/daemon/logs.test.ts rotates once,
// between sequential requests.)

import test from 'ava';
import { readdirSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { fixture, startDaemon } from '../helpers/daemon.js';
import { describeLoad, runLoad } from '../helpers/load-client.js';
import { sleep, waitFor } from '../helpers/processes.js';

const ROTATIONS = 5;
const ACCESS_LINE = /^127\.0\.0\.1 - - \[[^\]]+\] "GET \/stream HTTP\/1\.[01]" 200 \d+ "-" "-"$/;

/** Every line of NAME and its rotated copies (NAME.1, NAME.2 ...), file by file. */
function linesOf(directory: string, name: string): { files: number; lines: string[] } {
  const files = readdirSync(directory).filter((file) => file === name || file.startsWith(`${name}.`));
  // Split on newlines only: a torn line would show as a malformed one.
  return { files: files.length, lines: files.flatMap((file) => readFileSync(join(directory, file), 'utf8').split('\n').slice(0, -1)) };
}

test(`${ROTATIONS} rotations (rename + USR1) under a steady stream: every access and error log line is there once`, async (t) => {
  const daemon = await startDaemon(t, {
    args: [fixture('chatty-app.mjs'), '-w', '2', '-b', '127.0.0.1:0', '--error-logfile', 'error.log', '--access-logfile', 'access.log'],
  });
  const directory = daemon.directory;
  const url = `${daemon.url}/stream`;
  const stopLoad = new AbortController();
  t.teardown(() => stopLoad.abort());
  const loads = Promise.all([
    runLoad({ url, mode: 'keep-alive', concurrency: 3, durationMs: 60_000, signal: stopLoad.signal }),
    runLoad({ url, mode: 'close', concurrency: 1, durationMs: 60_000, signal: stopLoad.signal }),
  ]);
  for (let rotation = 1; rotation <= ROTATIONS; rotation += 1) {
    await sleep(700);
    renameSync(join(directory, 'access.log'), join(directory, `access.log.${rotation}`));
    renameSync(join(directory, 'error.log'), join(directory, `error.log.${rotation}`));
    daemon.signal('SIGUSR1');
    await daemon.waitForLog(/\[INFO\] SIGUSR1: reopened log files/, 10_000, 0);
  }
  await sleep(700);
  stopLoad.abort();
  const [keepAlive, close] = await loads;
  const served = keepAlive.ok + close.ok;

  await waitFor('every access line', () => linesOf(directory, 'access.log').lines.length >= served, 10_000);
  await waitFor(
    'every output line',
    () => linesOf(directory, 'error.log').lines.filter((line) => line.includes('handling /stream')).length >= served,
    10_000,
  );
  const access = linesOf(directory, 'access.log');
  const errors = linesOf(directory, 'error.log');
  const handled = errors.lines.filter((line) => /\[web\.\d g1\] handling \/stream$/.test(line)).length;
  const warned = errors.lines.filter((line) => /\[web\.\d g1 stderr\] warning about \/stream$/.test(line)).length;
  const reopened = errors.lines.filter((line) => line.includes('SIGUSR1: reopened log files')).length;
  t.log(`${describeLoad(keepAlive)} (keep-alive), ${describeLoad(close)} (close); ${ROTATIONS} rotations`);
  t.log(
    `access log: ${access.lines.length} lines in ${access.files} files for ${served} responses; error log: ${handled} + ${warned} app lines in ${errors.files} files`,
  );
  t.is(keepAlive.failed + close.failed, 0);
  t.is(access.files, ROTATIONS + 1);
  t.is(access.lines.length, served, 'one access line per response: none lost, none doubled');
  t.deepEqual(
    access.lines.filter((line) => !ACCESS_LINE.test(line)),
    [],
    'no torn or mixed line',
  );
  t.is(handled, served);
  t.is(warned, served);
  t.is(reopened, ROTATIONS);
});
