// In-process tests of when the master collects its own heap (daemon/arbiter/heap-upkeep.ts): after
// workers exit, at most once a second, never at start, while idle or while stopping. Runs in the ava
// test process with fake workers and a fake clock; the collection itself is recorded, not run (the
// real one is test/daemon/master-footprint.test.ts's).

import test from 'ava';
import { HEAP_UPKEEP_INTERVAL_MS } from '../../daemon/arbiter/heap-upkeep.js';
import { startArbiter } from './harness.js';

test('no collection at the first start, nor while the workers serve', async (t) => {
  const arbiter = await startArbiter(t, { config: { workers: 4 } });
  await arbiter.advance(30_000);
  t.deepEqual(arbiter.heapCollections, []);
});

test('a reload: one collection in the pass where its old workers have exited', async (t) => {
  const arbiter = await startArbiter(t, { config: { workers: 3 } });
  const reload = arbiter.ask({ type: 'reload', pool: null });
  await arbiter.settle();
  t.is(reload.outcome?.status, 'completed');
  t.is(arbiter.spawner.spawned.filter((worker) => worker.exited).length, 3, 'the fake workers drained and exited in that settle');
  t.deepEqual(arbiter.heapCollections, [arbiter.clock.now()]);
  await arbiter.advance(10_000);
  t.is(arbiter.heapCollections.length, 1, 'nothing exited since: no other collection');
});

test('reloads back to back: at most one collection per interval, and none owed is skipped', async (t) => {
  const arbiter = await startArbiter(t, { config: { workers: 1 } });
  const start = arbiter.clock.now();
  for (let reload = 0; reload < 20; reload += 1) {
    arbiter.ask({ type: 'reload', pool: null });
    await arbiter.advance(250, 250);
  }
  const collections = arbiter.heapCollections;
  t.log(`20 reloads in 5 s: collections at ${collections.map((at) => at - start).join(', ')} ms`);
  for (let index = 1; index < collections.length; index += 1)
    t.true((collections[index] ?? 0) - (collections[index - 1] ?? 0) >= HEAP_UPKEEP_INTERVAL_MS);
  t.true(collections.length >= 4 && collections.length <= 6, `${collections.length} collections`);
  // The last reload's old worker exited within the last interval: its collection comes once the interval has passed.
  const before = collections.length;
  await arbiter.advance(HEAP_UPKEEP_INTERVAL_MS);
  t.is(arbiter.heapCollections.length, before + 1);
});

test('a crash loop costs at most one collection a second', async (t) => {
  const arbiter = await startArbiter(t, {
    config: { pools: { web: { app: 'fake.js', bind: '127.0.0.1:0' }, jobs: { command: ['/bin/false'], workers: 4, startSeconds: 0 } } },
  });
  for (let elapsed = 0; elapsed < 10_000; elapsed += 50) {
    for (const worker of arbiter.spawner.live('jobs')) worker.exit(1);
    await arbiter.advance(50, 50);
  }
  t.true(
    arbiter.heapCollections.length >= 5 && arbiter.heapCollections.length <= 11,
    `${arbiter.heapCollections.length} collections in 10 s`,
  );
});

test('no collection while the daemon stops, though every worker exits', async (t) => {
  const arbiter = await startArbiter(t, { config: { workers: 3 } });
  arbiter.ask({ type: 'stop', mode: 'graceful' });
  await arbiter.advance(2000);
  t.true(arbiter.finished);
  t.deepEqual(arbiter.heapCollections, []);
});

test('a Node that cannot collect on request is asked once, never again', async (t) => {
  const arbiter = await startArbiter(t, { config: { workers: 1 } });
  arbiter.heapCollectable = false;
  for (let reload = 0; reload < 3; reload += 1) {
    arbiter.ask({ type: 'reload', pool: null });
    await arbiter.advance(2000);
  }
  t.is(arbiter.heapCollections.length, 1);
});
