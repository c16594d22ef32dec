// In-process tests of the operator's pool commands: TTIN/TTOU and appctl scale (with the http floor of
// one worker), WINCH, stop-pool and start-pool, restart of one slot. Runs in the ava test process.

import test from 'ava';
import { startArbiter } from './harness.js';

test('TTIN adds a worker, TTOU takes one away (the highest slot drains)', async (t) => {
  const arbiter = await startArbiter(t, { config: { workers: 2 } });
  arbiter.signal('SIGTTIN');
  await arbiter.settle();
  t.deepEqual(arbiter.picture(), ['web.0 g1 ready', 'web.1 g1 ready', 'web.2 g1 ready']);
  const highest = arbiter.spawner.newest('web', 2);
  arbiter.signal('SIGTTOU');
  await arbiter.settle();
  t.deepEqual(highest?.asks, ['drain']);
  t.deepEqual(arbiter.picture(), ['web.0 g1 ready', 'web.1 g1 ready']);
});

test('TTOU never takes an http pool below one worker; a command pool may go to 0', async (t) => {
  const arbiter = await startArbiter(t, {
    config: { pools: { web: { app: 'fake.js', bind: '127.0.0.1:0', workers: 1 }, jobs: { command: ['/bin/true'], workers: 1 } } },
  });
  arbiter.signal('SIGTTOU');
  await arbiter.settle();
  t.is(arbiter.pool('web').desired, 1);
  t.deepEqual(arbiter.spawner.live('web')[0]?.signals, []);
  const scale = arbiter.ask({ type: 'scale', pool: 'web', change: { absolute: 0 } });
  await arbiter.settle();
  t.is(scale.outcome?.status, 'completed');
  t.is(arbiter.pool('web').desired, 1);
  const jobs = arbiter.ask({ type: 'scale', pool: 'jobs', change: { absolute: 0 } });
  await arbiter.settle();
  t.is(jobs.outcome?.status, 'completed');
  t.is(arbiter.spawner.live('jobs').length, 0);
});

test('appctl scale answers once the new workers are ready', async (t) => {
  const arbiter = await startArbiter(t, { config: { workers: 1 } });
  arbiter.spawner.boot = 'silent';
  const scale = arbiter.ask({ type: 'scale', pool: 'web', change: { relative: 2 } });
  await arbiter.settle();
  t.is(scale.outcome, null);
  for (const worker of arbiter.spawner.live()) worker.ready();
  await arbiter.settle();
  t.deepEqual(scale.data, { pool: 'web', workers: 3 });
  t.true(scale.lines.some((line) => line.includes('3 of 3')));
});

test('WINCH parks every worker and keeps the master; HUP brings them back', async (t) => {
  const arbiter = await startArbiter(t, { config: { workers: 2 } });
  arbiter.signal('SIGWINCH');
  await arbiter.settle();
  t.deepEqual(arbiter.picture(), []);
  t.false(arbiter.finished);
  arbiter.signal('SIGHUP');
  await arbiter.settle();
  t.deepEqual(arbiter.picture(), ['web.0 g2 ready', 'web.1 g2 ready']);
});

test('stop-pool stops a pool and keeps its target; start-pool brings it back', async (t) => {
  const arbiter = await startArbiter(t, { config: { workers: 3 } });
  const stop = arbiter.ask({ type: 'stop-pool', pool: 'web' });
  await arbiter.settle();
  t.is(stop.outcome?.status, 'completed');
  t.deepEqual(arbiter.picture(), []);
  t.is(arbiter.arbiter.queries.snapshot().pools[0]?.stopped, true);
  const start = arbiter.ask({ type: 'start-pool', pool: 'web' });
  await arbiter.settle();
  t.is(start.outcome?.status, 'completed');
  t.is(arbiter.picture().length, 3);
});

test('restart of one slot starts its successor first, then drains the old worker', async (t) => {
  const arbiter = await startArbiter(t, { config: { workers: 2 } });
  const old = arbiter.spawner.newest('web', 1);
  arbiter.spawner.boot = 'silent';
  const restart = arbiter.ask({ type: 'restart', pool: 'web', slot: 1 });
  await arbiter.settle();
  t.deepEqual(old?.signals, []);
  arbiter.spawner.newest('web', 1)?.ready();
  await arbiter.settle();
  t.deepEqual(old?.asks, ['drain']);
  t.is(restart.outcome?.status, 'completed');
});

test('pool commands are refused while the daemon stops, and name an unknown pool', async (t) => {
  const arbiter = await startArbiter(t, { config: { workers: 1, gracefulTimeout: 30 } });
  const unknown = arbiter.ask({ type: 'scale', pool: 'nope', change: { relative: 1 } });
  await arbiter.settle();
  t.regex(unknown.outcome?.message ?? '', /no pool named "nope"/);
  arbiter.spawner.live()[0]?.hang();
  arbiter.signal('SIGTERM');
  await arbiter.settle();
  const answers = [
    arbiter.ask({ type: 'scale', pool: null, change: { relative: 1 } }),
    arbiter.ask({ type: 'reload', pool: null }),
    arbiter.ask({ type: 'restart', pool: null, slot: null }),
    arbiter.ask({ type: 'start-pool', pool: 'web' }),
    arbiter.ask({ type: 'upgrade', retireOld: true }),
  ];
  await arbiter.settle();
  for (const answer of answers) t.regex(answer.outcome?.message ?? '', /the daemon is stopping/);
});

test('holds: a stopped pool stays stopped through WINCH and HUP; a restart or a scale starts it', async (t) => {
  const arbiter = await startArbiter(t, { config: { workers: 2 } });
  arbiter.ask({ type: 'stop-pool', pool: 'web' });
  arbiter.signal('SIGWINCH');
  arbiter.signal('SIGHUP');
  await arbiter.settle();
  t.is(arbiter.pool().hold, 'stopped');
  t.deepEqual(arbiter.picture(), []);
  arbiter.ask({ type: 'restart', pool: 'web', slot: null });
  await arbiter.settle();
  t.is(arbiter.pool().hold, 'none');
  t.is(arbiter.picture().length, 2);
  arbiter.signal('SIGWINCH');
  await arbiter.settle();
  t.is(arbiter.pool().hold, 'parked');
  arbiter.signal('SIGTTIN');
  await arbiter.settle();
  t.is(arbiter.pool().hold, 'none');
  t.is(arbiter.picture().length, 1, "Gunicorn's way: WINCH is 0 workers, TTIN one more");
});
