// serve 14 (Vercel's static file server), run unmodified as a script with its own command line: it
// probes its port and listens on another when that one answers (appd adopts either), and prints
// "Gracefully shutting down" from a SIGTERM/SIGINT/exit listener. 2 workers through 2 rolling reloads
// under load fail no request, and a graceful stop exits 0. Runs in the ava test process.

import test from 'ava';
import { join } from 'node:path';
import { PROJECT_ROOT, startDaemon } from '../helpers/daemon.js';
import { get } from '../helpers/http.js';
import { waitFor } from '../helpers/processes.js';
import { reloadAndWait } from '../helpers/reload.js';
import { assertNoFailures, underLoad } from '../helpers/under-load.js';

const SERVE = join(PROJECT_ROOT, 'node_modules/serve/build/main.js');
/** A reload boots new workers, which takes many seconds (a minute, seen) on a machine loaded by parallel test runs. */
const RELOAD_TIMEOUT_MS = 180_000;

test.serial('serve 14 with its arguments: 2 workers, 2 rolling reloads under load fail no request; a graceful stop exits 0', async (t) => {
  t.timeout(600_000);
  const daemon = await startDaemon(t, {
    // NO_UPDATE_CHECK: serve asks the npm registry for a newer version at every start otherwise.
    env: { NO_UPDATE_CHECK: '1' },
    args: ['--script', SERVE, '-w', '2', '-b', '127.0.0.1:0', '--', 'public', '-l', '3000', '--no-clipboard'],
    files: { 'public/hello.txt': 'hello from serve\n' },
    timeoutMs: 120_000,
  });
  // serve sets no process.title: its workers are the master's children.
  await waitFor('2 workers', () => daemon.descendants().length === 2 || null, 60_000);
  t.is((await get(`${daemon.url}/hello.txt`)).body, 'hello from serve\n', 'serve got its directory argument');
  const result = await underLoad(`${daemon.url}/hello.txt`, async () => {
    await reloadAndWait(daemon, 2, RELOAD_TIMEOUT_MS);
    await reloadAndWait(daemon, 3, RELOAD_TIMEOUT_MS);
  });
  assertNoFailures(t, result, 'serve, 2 reloads');
  daemon.signal('SIGTERM');
  t.is((await daemon.exited()).code, 0);
  t.regex(daemon.output, /worker web\.0 g3 \(pid \d+\) exited \(exit code 0\) after graceful stop/);
});
