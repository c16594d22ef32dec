// Logs: worker output tagged with the worker, the access log written by workers in Gunicorn's format,
// and USR1 reopening every file after a logrotate-style rename, without losing a line.

import test from 'ava';
import { existsSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { fixture, startDaemon, tempDirectory } from '../helpers/daemon.js';
import { get } from '../helpers/http.js';
import { waitFor } from '../helpers/processes.js';

function read(path: string): string {
  return readFileSync(path, 'utf8');
}

test('worker stdout and stderr reach the error log tagged with the worker', async (t) => {
  const daemon = await startDaemon(t, { args: [fixture('chatty-app.mjs'), '-b', '127.0.0.1:0', '--error-logfile', 'error.log'] });
  const response = await get(`${daemon.url}/tagged`);
  const pid = response.headers['x-served-by'];
  const log = join(daemon.directory, 'error.log');
  await waitFor('tagged lines', () => read(log).includes('warning about /tagged'));
  t.regex(read(log), new RegExp(`\\[${pid}\\] \\[web\\.0 g1\\] handling /tagged\\n`));
  t.regex(read(log), new RegExp(`\\[${pid}\\] \\[web\\.0 g1 stderr\\] warning about /tagged\\n`));
  t.regex(read(log), /^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}\] \[\d+\] \[INFO\] Starting appd/m);
});

const STRACE = '/usr/bin/strace';

test('the lines of one read of a worker output are written to the log together, each tagged, in order', async (t) => {
  if (!existsSync(STRACE)) return t.fail(`${STRACE} is missing (.ci/run installs strace)`);
  const trace = join(tempDirectory(t), 'strace.log');
  const daemon = await startDaemon(t, {
    // The master's main thread only (no -f): the relay writes there. One write per line cost the
    // master ~7 of its ~10 µs per line of an access log on stdout.
    wrapper: [STRACE, '-qq', '-o', trace, '-e', 'trace=write', '-e', 'signal=none', '-s', '64'],
    args: [fixture('chatty-app.mjs'), '-b', '127.0.0.1:0', '--error-logfile', 'error.log'],
    timeoutMs: 60_000,
  });
  const log = join(daemon.directory, 'error.log');
  await get(`${daemon.url}/burst?lines=200`);
  await waitFor('the burst in the log', () => read(log).includes('burst line 200\n'));
  const lines = read(log)
    .split('\n')
    .filter((line) => line.includes('burst line'));
  t.is(lines.length, 200);
  lines.forEach((line, index) => t.regex(line, new RegExp(`\\[\\d+\\] \\[web\\.0 g1\\] burst line ${index + 1}$`)));
  // The worker wrote the ~3 KB burst at once; the pipe may split it across a few reads, not 200.
  const writes = readFileSync(trace, 'utf8')
    .split('\n')
    .filter((line) => line.includes('burst line')).length;
  t.true(writes >= 1 && writes <= 10, `${writes} writes for 200 lines`);
});

test('the access log uses Gunicorn atoms', async (t) => {
  const format = '%(h)s %(l)s "%(r)s" %(s)s %(b)s "%(a)s" %({x-request-id}i)s %(m)s %(U)s %(q)s %(D)s %(L)s';
  const daemon = await startDaemon(t, {
    args: [fixture('pid-app.mjs'), '-b', '127.0.0.1:0', '--access-logfile', 'access.log', '--access-log-format', format],
  });
  await get(`${daemon.url}/path?x=1`, { headers: { 'user-agent': 'tester/1', 'x-request-id': 'abc123' } });
  const log = join(daemon.directory, 'access.log');
  const line = await waitFor('an access log line', () => read(log).split('\n')[0] || null);
  t.regex(line, /^127\.0\.0\.1 - "GET \/path\?x=1 HTTP\/1\.1" 200 \d+ "tester\/1" abc123 GET \/path x=1 \d+ \d+\.\d{6}$/);
});

test('USR1 reopens the error and access logs after a rename, losing no line', async (t) => {
  const daemon = await startDaemon(t, {
    args: [fixture('pid-app.mjs'), '-w', '2', '-b', '127.0.0.1:0', '--error-logfile', 'error.log', '--access-logfile', 'access.log'],
  });
  const directory = daemon.directory;
  const url = daemon.url; // read before the rename: the port is in the log
  for (let index = 0; index < 20; index += 1) await get(`${url}/before-${index}`);
  await waitFor('20 lines', () => read(join(directory, 'access.log')).split('\n').length === 21);
  renameSync(join(directory, 'access.log'), join(directory, 'access.log.1'));
  renameSync(join(directory, 'error.log'), join(directory, 'error.log.1'));
  daemon.signal('SIGUSR1');
  await waitFor('the new error log', () => {
    try {
      return read(join(directory, 'error.log')).includes('reopened log files');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false; // not reopened yet
      throw error;
    }
  });
  // Workers reopen on an IPC message; requests right after may still land in the old file, none is lost.
  for (let index = 0; index < 20; index += 1) await get(`${url}/after-${index}`);
  const lines = (name: string) => read(join(directory, name)).split('\n').filter(Boolean);
  await waitFor('40 lines in all', () => lines('access.log.1').length + lines('access.log').length === 40);
  t.is(lines('access.log.1').filter((line) => line.includes('/before-')).length, 20, 'old requests stay in the rotated file');
  t.true(lines('access.log').length > 0, 'new requests go to the new file');
  t.true(
    lines('access.log').every((line) => line.includes('/after-')),
    'no old request in the new file',
  );
  t.false(read(join(directory, 'error.log.1')).includes('reopened log files'));
});
