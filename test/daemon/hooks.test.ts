// Hooks in a JS config file run in the master at the documented moments; a throwing hook is logged
// with its name and never stops the master.

import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixture, startDaemon } from '../helpers/daemon.js';
import { get } from '../helpers/http.js';
import { killQuietly, waitFor } from '../helpers/processes.js';

const CONFIG = `
import { appendFileSync } from 'node:fs';
const record = (line) => appendFileSync('hooks.log', line + '\\n');
export default {
  app: ${JSON.stringify(fixture('pid-app.mjs'))},
  bind: '127.0.0.1:0',
  workers: 2,
  onStarting: (server) => record('onStarting ' + server.name),
  whenReady: () => record('whenReady'),
  preFork: () => { throw new Error('preFork exploded'); },
  postFork: (server, worker) => record('postFork ' + worker.pool + '.' + worker.slot + ' g' + worker.generation),
  workerExit: (server, worker, exit) => record('workerExit ' + worker.pool + '.' + worker.slot + ' ' + exit.signal),
  onReload: async () => { throw new Error('onReload rejected'); },
  onExit: () => record('onExit'),
};
`;

test('hooks run in order; a throwing or rejecting hook is logged and the master goes on', async (t) => {
  const daemon = await startDaemon(t, { args: ['-c', 'appd.config.mjs', '--name', 'hooked'], files: { 'appd.config.mjs': CONFIG } });
  const log = () => readFileSync(join(daemon.directory, 'hooks.log'), 'utf8');
  await waitFor('whenReady', () => log().includes('whenReady'));
  t.regex(log(), /^onStarting hooked\n/);
  t.regex(log(), /postFork web\.0 g1\n/);
  t.regex(log(), /postFork web\.1 g1\n/);
  t.regex(daemon.output, /\[ERROR\] hook preFork failed: Error: preFork exploded/);

  const [victim] = await daemon.waitForWorkers(2);
  killQuietly(victim ?? -1, 'SIGKILL');
  await waitFor('workerExit', () => log().includes('workerExit web.0 SIGKILL'));

  daemon.signal('SIGHUP');
  await daemon.waitForLog(/hook onReload failed: Error: onReload rejected/);
  await daemon.waitForLog(/generation 2 serves/);
  t.is((await get(daemon.url)).status, 200, 'still serving after the failing hooks');

  daemon.signal('SIGTERM');
  t.is((await daemon.exited()).code, 0);
  t.regex(log(), /onExit\n$/);
});
