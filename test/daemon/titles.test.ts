// Process titles: "appd: master [NAME]" and "appd: worker POOL.SLOT gGEN [NAME]" intact in ps args,
// and a distinct 15-byte comm for top, on whichever Node runs the tests (CI runs 20 and 24).

import test from 'ava';
import { execFileSync } from 'node:child_process';
import { fixture, startDaemon } from '../helpers/daemon.js';
import { comm } from '../helpers/processes.js';

function psField(pid: number, field: 'args' | 'comm'): string {
  return execFileSync('ps', ['-o', `${field}=`, '-p', String(pid)], { encoding: 'utf8' }).trim();
}

test('master and worker titles in ps -o args and ps -o comm', async (t) => {
  const daemon = await startDaemon(t, { args: [fixture('pid-app.mjs'), '-w', '2', '-b', '127.0.0.1:0', '--name', 'hello'] });
  const workers = await daemon.waitForWorkers(2);
  t.is(psField(daemon.pid, 'args'), 'appd: master [hello]');
  t.is(psField(daemon.pid, 'comm'), 'appd: master');
  t.deepEqual(
    workers.map((pid) => psField(pid, 'args')),
    ['appd: worker web.0 g1 [hello]', 'appd: worker web.1 g1 [hello]'],
  );
  t.deepEqual(
    workers.map((pid) => comm(pid)),
    ['appd: web.0 g1', 'appd: web.1 g1'],
  );

  daemon.signal('SIGHUP');
  await daemon.waitForLog(/generation 2 serves/);
  const reloaded = await daemon.waitForWorkers(2);
  t.deepEqual(
    reloaded.map((pid) => psField(pid, 'args')),
    ['appd: worker web.0 g2 [hello]', 'appd: worker web.1 g2 [hello]'],
  );
});

test('a long daemon name stays intact in a worker title (argv room is reserved)', async (t) => {
  const name = `a-rather-long-service-name-${'x'.repeat(30)}`;
  const daemon = await startDaemon(t, { args: [fixture('pid-app.mjs'), '-b', '127.0.0.1:0', '--name', name] });
  const [worker] = await daemon.waitForWorkers(1);
  t.is(psField(worker ?? -1, 'args'), `appd: worker web.0 g1 [${name}]`);
});
