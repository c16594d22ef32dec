// In-process tests of time: deadlines on the monotonic clock only (a wall-clock step kills nothing and
// does not switch hang detection off), and a fresh timeout window after the master itself stalled.
// Runs in the ava test process with fake workers and fake clocks.

import test from 'ava';
import { startArbiter } from './harness.js';

test('a wall-clock step, forward or back, kills no worker; hang detection still works after it', async (t) => {
  const arbiter = await startArbiter(t, { config: { workers: 2, timeout: 5, timeoutStack: false } });
  const workers = arbiter.spawner.live();
  const before = arbiter.arbiter.queries.snapshot().master;
  arbiter.clock.stepWall(60_000);
  await arbiter.advance(2000);
  arbiter.clock.stepWall(-3_600_000);
  await arbiter.advance(2000);
  t.deepEqual(
    workers.map((worker) => worker.asks),
    [[], []],
  );
  const after = arbiter.arbiter.queries.snapshot().master;
  t.is(after.uptimeMs - before.uptimeMs, 4000, 'uptime is measured on the monotonic clock');
  t.is(Date.parse(after.startedAt) - Date.parse(before.startedAt), 60_000 - 3_600_000, 'the start time shown follows the wall clock');
  workers[0]?.hang();
  await arbiter.advance(5400);
  t.deepEqual(workers[0]?.asks, ['drain', 'SIGKILL'], 'a worker that really stopped heartbeating is still caught');
});

test('after the master did not run for 8 s, every worker gets a fresh timeout window', async (t) => {
  const arbiter = await startArbiter(t, { config: { workers: 3, timeout: 5, timeoutStack: false } });
  const workers = arbiter.spawner.live();
  // A suspend: the workers were stopped too, so no heartbeat is waiting to be read.
  for (const worker of workers) worker.beating = false;
  await arbiter.advance(8000, 8000);
  t.deepEqual(
    workers.map((worker) => worker.asks),
    [[], [], []],
  );
  t.regex(arbiter.logText(), /the master did not run for 8\.0s/);
  for (const worker of workers.slice(1)) worker.beating = true;
  workers[0]?.hang();
  await arbiter.advance(4800);
  t.deepEqual(
    workers.map((worker) => worker.asks),
    [[], [], []],
    'judged from the end of the stall, not from the last heartbeat',
  );
  await arbiter.advance(400);
  t.deepEqual(
    workers.map((worker) => worker.asks),
    [['drain', 'SIGKILL'], [], []],
    'one that stays silent after the window is caught',
  );
});

test('a booting worker gets a fresh boot-timeout window after a master stall', async (t) => {
  const arbiter = await startArbiter(t, { config: { workers: 1, bootTimeout: 5 } });
  arbiter.spawner.boot = 'silent';
  arbiter.signal('SIGTTIN');
  await arbiter.settle();
  const booting = arbiter.spawner.newest('web', 1);
  await arbiter.advance(8000, 8000);
  t.deepEqual(booting?.asks, []);
  booting?.ready();
  await arbiter.settle();
  t.deepEqual(arbiter.picture(), ['web.0 g1 ready', 'web.1 g1 ready']);
});
