// In-process tests of rolling reloads: slot by slot, batches, roll back, a scale during a reload, and
// concurrent reload requests. Runs in the ava test process with fake workers (test/arbiter/harness.ts).

import test from 'ava';
import { startArbiter } from './harness.js';

test('first start: every slot gets a worker, the daemon runs once they are ready', async (t) => {
  const arbiter = await startArbiter(t, { config: { workers: 3 } });
  t.deepEqual(arbiter.picture(), ['web.0 g1 ready', 'web.1 g1 ready', 'web.2 g1 ready']);
  t.is(arbiter.arbiter.phase, 'running');
  t.deepEqual(arbiter.milestones, ['ready']);
});

test('a rolling reload starts one new worker at a time and keeps the old generation until all are ready', async (t) => {
  const arbiter = await startArbiter(t, { config: { workers: 3 } });
  const old = arbiter.spawner.live();
  arbiter.spawner.boot = 'silent';
  const reload = arbiter.ask({ type: 'reload', pool: null });
  await arbiter.settle();
  t.deepEqual(arbiter.picture(), ['web.0 g1 ready', 'web.0 g2 starting', 'web.1 g1 ready', 'web.2 g1 ready']);
  for (const slot of [0, 1]) {
    arbiter.spawner.newest('web', slot)?.ready();
    await arbiter.settle();
    // The next slot starts only once this one is ready; no old worker stops before the last new one is ready.
    t.is(arbiter.spawner.newest('web', slot + 1)?.generation, 2);
    t.true(old.every((worker) => worker.asks.length === 0));
  }
  t.is(reload.outcome, null);
  arbiter.spawner.newest('web', 2)?.ready();
  await arbiter.settle();
  t.true(old.every((worker) => worker.exited && worker.asks.join() === 'drain'));
  t.deepEqual(arbiter.picture(), ['web.0 g2 ready', 'web.1 g2 ready', 'web.2 g2 ready']);
  t.is(reload.outcome?.status, 'completed');
  t.is(reload.answers, 1);
  t.deepEqual(arbiter.milestones, ['ready', 'reloading', 'reloaded']);
});

test('reload-batch starts that many new workers at once', async (t) => {
  const arbiter = await startArbiter(t, { config: { workers: 5, reloadBatch: 2 } });
  arbiter.spawner.boot = 'silent';
  arbiter.ask({ type: 'reload', pool: null });
  await arbiter.settle();
  const starting = () => arbiter.handles().filter((worker) => worker.generation === 2 && worker.state === 'starting').length;
  t.is(starting(), 2);
  arbiter.spawner.newest('web', 0)?.ready();
  await arbiter.settle();
  t.is(starting(), 2, 'one ready, so one more starts');
  t.deepEqual(
    arbiter
      .handles()
      .filter((worker) => worker.generation === 2)
      .map((worker) => worker.slot),
    [0, 1, 2],
  );
});

test('a new worker that crashes before ready rolls the reload back; the old generation never stopped', async (t) => {
  const arbiter = await startArbiter(t, { config: { workers: 3 } });
  const old = arbiter.spawner.live();
  arbiter.spawner.boot = 'silent';
  const reload = arbiter.ask({ type: 'reload', pool: null });
  await arbiter.settle();
  arbiter.spawner.newest('web', 0)?.ready();
  await arbiter.settle();
  const failing = arbiter.spawner.newest('web', 1);
  failing?.print('Error: cannot connect to the database');
  failing?.exit(1);
  await arbiter.settle();
  t.is(reload.outcome?.status, 'rolled_back');
  t.regex(reload.outcome?.message ?? '', /cannot connect to the database/);
  t.is(arbiter.pool().generation, 1);
  t.deepEqual(arbiter.picture(), ['web.0 g1 ready', 'web.1 g1 ready', 'web.2 g1 ready']);
  t.true(old.every((worker) => !worker.exited && worker.asks.length === 0));
  // The ready new worker drained (it may have had requests); nothing of generation 2 is left.
  t.deepEqual(
    arbiter.spawner.spawned.filter((worker) => worker.generation === 2).map((worker) => worker.asks.join()),
    ['drain', ''],
  );
  // The rolled-back generation number is not reused.
  arbiter.spawner.boot = 'ready';
  const again = arbiter.ask({ type: 'reload', pool: null });
  await arbiter.settle();
  t.is(again.outcome?.status, 'completed');
  t.is(arbiter.pool().generation, 3);
});

test('a new worker that never becomes ready rolls the reload back at boot-timeout', async (t) => {
  const arbiter = await startArbiter(t, { config: { workers: 2, bootTimeout: 5 } });
  arbiter.spawner.boot = 'silent';
  const reload = arbiter.ask({ type: 'reload', pool: null });
  await arbiter.settle();
  const stuck = arbiter.spawner.newest('web', 0);
  if (stuck) stuck.answer = 'ignore';
  await arbiter.advance(4800);
  t.is(reload.outcome, null);
  t.deepEqual(stuck?.signals, []);
  await arbiter.advance(400);
  t.deepEqual(stuck?.signals, ['SIGQUIT', 'SIGKILL']);
  t.true(stuck?.exited);
  t.is(reload.outcome?.status, 'rolled_back');
  t.regex(reload.outcome?.message ?? '', /boot-timeout \(5s\)/);
});

test('a scale during a reload survives its roll back: the operator spoke last', async (t) => {
  const arbiter = await startArbiter(t, { config: { workers: 2 } });
  arbiter.spawner.boot = 'silent';
  const reload = arbiter.ask({ type: 'reload', pool: null });
  await arbiter.settle();
  const scale = arbiter.ask({ type: 'scale', pool: 'web', change: { absolute: 4 } });
  await arbiter.settle();
  arbiter.spawner.newest('web', 0)?.exit(1);
  await arbiter.settle();
  t.is(reload.outcome?.status, 'rolled_back');
  t.is(arbiter.pool().desired, 4);
  for (const worker of arbiter.spawner.live()) if (worker.generation === 1) worker.ready();
  await arbiter.settle();
  t.is(scale.outcome?.status, 'completed');
});

test('a reload that changes the workers setting and rolls back restores the old count', async (t) => {
  const arbiter = await startArbiter(t, { config: { workers: 2 } });
  arbiter.nextConfig({ workers: 4 });
  arbiter.spawner.boot = 'silent';
  const reload = arbiter.ask({ type: 'reload', pool: null });
  await arbiter.settle();
  t.is(arbiter.pool().desired, 4);
  arbiter.spawner.newest('web', 0)?.exit(1);
  await arbiter.settle();
  t.is(reload.outcome?.status, 'rolled_back');
  t.is(arbiter.pool().desired, 2);
  t.deepEqual(arbiter.picture(), ['web.0 g1 ready', 'web.1 g1 ready']);
});

test('a run-time scale survives a reload that does not change the workers setting', async (t) => {
  const arbiter = await startArbiter(t, { config: { workers: 2 } });
  arbiter.signal('SIGTTIN');
  await arbiter.settle();
  const reload = arbiter.ask({ type: 'reload', pool: null });
  await arbiter.settle();
  t.is(reload.outcome?.status, 'completed');
  t.deepEqual(arbiter.picture(), ['web.0 g2 ready', 'web.1 g2 ready', 'web.2 g2 ready']);
});

test('50 reload requests at once coalesce: every requester gets the outcome of the reload that covers it', async (t) => {
  const arbiter = await startArbiter(t, { config: { workers: 2 } });
  const requests = Array.from({ length: 50 }, (_unused, index) => arbiter.ask({ type: 'reload', pool: null }, `client ${index}`));
  await arbiter.settle();
  t.deepEqual(
    requests.map((request) => request.outcome?.status),
    requests.map(() => 'completed'),
  );
  t.true(requests.every((request) => request.answers === 1));
  // The first read covers the first request; the 49 that came while it was read share the next one.
  t.is(arbiter.pool().generation, 3);
  t.deepEqual(arbiter.picture(), ['web.0 g3 ready', 'web.1 g3 ready']);
  t.deepEqual(arbiter.milestones, ['ready', 'reloading', 'reloading', 'reloaded', 'reloaded']);
});

test('a reload during a roll supersedes it; the first requester gets the outcome of the one that covers it', async (t) => {
  const arbiter = await startArbiter(t, { config: { workers: 2 } });
  arbiter.spawner.boot = 'silent';
  const first = arbiter.ask({ type: 'reload', pool: null }, 'first');
  await arbiter.settle();
  arbiter.spawner.newest('web', 0)?.ready();
  await arbiter.settle();
  const second = arbiter.ask({ type: 'reload', pool: null }, 'second');
  await arbiter.settle();
  t.is(first.outcome, null, 'not "superseded": the newer reload covers it');
  for (let round = 0; round < 4; round += 1) {
    for (const worker of arbiter.spawner.live()) if (!worker.saidReady) worker.ready();
    await arbiter.settle();
  }
  t.is(second.outcome?.status, 'completed');
  t.is(first.outcome?.status, 'completed');
  t.deepEqual(arbiter.picture(), ['web.0 g3 ready', 'web.1 g3 ready']);
});

test('a reload that supersedes a roll and fails rolls back to the generation that served before both', async (t) => {
  const arbiter = await startArbiter(t, { config: { workers: 2 } });
  arbiter.spawner.boot = 'silent';
  const first = arbiter.ask({ type: 'reload', pool: null }, 'first');
  await arbiter.settle();
  arbiter.spawner.newest('web', 0)?.ready();
  await arbiter.settle();
  const second = arbiter.ask({ type: 'reload', pool: null }, 'second');
  await arbiter.settle();
  arbiter.spawner.newest('web', 0)?.exit(1);
  await arbiter.settle();
  t.is(second.outcome?.status, 'rolled_back');
  t.is(first.outcome?.status, 'rolled_back');
  t.is(arbiter.pool().generation, 1);
  t.deepEqual(arbiter.picture(), ['web.0 g1 ready', 'web.1 g1 ready']);
});

test('a config that cannot be read fails its reload and changes nothing; the next read is tried', async (t) => {
  const arbiter = await startArbiter(t, { config: { workers: 1 } });
  let reads = 0;
  arbiter.nextConfigFrom(() => {
    reads += 1;
    if (reads === 1) throw new Error('config file test: unknown setting "wokers"');
    return { workers: 1 };
  });
  const bad = arbiter.ask({ type: 'reload', pool: null }, 'bad');
  const later = arbiter.ask({ type: 'reload', pool: null }, 'later');
  await arbiter.settle();
  t.is(bad.outcome?.status, 'failed');
  t.regex(bad.outcome?.message ?? '', /reload failed, nothing changed: .*wokers/);
  t.is(later.outcome?.status, 'completed');
  t.is(arbiter.pool().generation, 2);
});
