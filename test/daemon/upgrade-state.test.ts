// An upgrade hands the new master what an operator changed at run time: a pool scaled with appctl scale
// keeps its count, a pool stopped with appctl stop-pool stays stopped, and the log says so; a pool
// whose count changed in the config file takes the config's, as on a reload.

import test from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { appctl, statusOf } from '../helpers/appctl.js';
import { fixture, startDaemon } from '../helpers/daemon.js';
import { waitFor } from '../helpers/processes.js';

const config = (apiWorkers: number) => `export default { pools: {
  web: { app: ${JSON.stringify(fixture('pid-app.mjs'))}, bind: '127.0.0.1:0', workers: 2 },
  api: { app: ${JSON.stringify(fixture('pid-app.mjs'))}, bind: '127.0.0.1:0', workers: ${apiWorkers} },
  legacy: { command: ['sleep', '600'], workers: 1 },
} };\n`;

test('appctl upgrade: the new master starts with the scaled count and the stopped pool of the old one, and logs it', async (t) => {
  const daemon = await startDaemon(t, {
    args: ['-c', 'appd.config.mjs', '--boot-timeout', '60'],
    files: { 'appd.config.mjs': config(1) },
    timeoutMs: 60_000,
  });
  const run = (...args: string[]) => appctl(args, { runtimeDirectory: daemon.directory, timeoutMs: 120_000 });
  t.is((await run('scale', 'web', '3')).code, 0);
  t.is((await run('scale', 'api', '2')).code, 0);
  t.is((await run('stop-pool', 'legacy')).code, 0);
  // The config's own count for api changes before the upgrade: the config wins there, as on a reload.
  writeFileSync(join(daemon.directory, 'appd.config.mjs'), config(4));

  const upgrade = await run('upgrade');
  t.is(upgrade.code, 0, upgrade.stdout + upgrade.stderr);
  const status = await waitFor(
    'the new master to answer',
    async () => {
      const snapshot = await statusOf(daemon.directory);
      return snapshot.master.pid !== daemon.pid ? snapshot : null;
    },
    60_000,
    250,
  );
  const pool = (name: string) => status.pools.find((each) => each.name === name);
  t.like(pool('web'), { desired: 3, ready: 3, stopped: false });
  t.like(pool('api'), { desired: 4, ready: 4 });
  t.like(pool('legacy'), { desired: 0, stopped: true });
  t.regex(daemon.output, /upgrade: pool web starts with 3 workers, as the old master ran it \(scaled at run time; the config says 2\)/);
  t.regex(daemon.output, /upgrade: pool api starts with the 4 workers of its changed config \(the old master ran 2, its config said 1\)/);
  t.regex(daemon.output, /upgrade: pool legacy stays stopped, as it was on the old master \(appctl start-pool legacy starts it\)/);
  t.is((await run('start-pool', 'legacy')).code, 0, 'and it can be started again');
});
