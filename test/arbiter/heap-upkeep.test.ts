// In-process tests of when the master collects its own heap (daemon/arbiter/heap-upkeep.ts): after
// workers exit, at most once a second, never at start, while idle or while stopping. Runs in the ava
// test process with fake workers and a fake clock; the collection itself is recorded, not run (the
// real one is test/daemon/master-footprint.test.ts's).

import test from 'ava';
import { HEAP_UPKEEP_INTERVAL_MS, HEAP_UPKEEP_SPACING } from '../../daemon/arbiter/heap-upkeep.js';
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
  t.true(spacedBy(collections, HEAP_UPKEEP_INTERVAL_MS), collections.join(', '));
  t.true(collections.length >= 4 && collections.length <= 6, `${collections.length} collections`);
  // The last reload's old worker exited within the last interval: its collection comes once the interval has passed.
  const before = collections.length;
  await arbiter.advance(HEAP_UPKEEP_INTERVAL_MS);
  t.is(arbiter.heapCollections.length, before + 1);
});

/** True when every collection came at least `spacing` ms after the one before. */
function spacedBy(collections: readonly number[], spacing: number): boolean {
  return collections.every((at, index) => index === 0 || at - (collections[index - 1] ?? 0) >= spacing);
}

test('workers killed from outside in a loop cost at most one collection a second', async (t) => {
  const arbiter = await startArbiter(t, {
    config: {
      pools: { web: { app: 'fake.js', bind: '127.0.0.1:0' }, jobs: { command: ['/bin/sleep', '600'], workers: 4, startSeconds: 0 } },
    },
  });
  // Killed from outside, a command is replaced at once (no backoff): exits in every 50 ms pass.
  for (let elapsed = 0; elapsed < 10_000; elapsed += 50) {
    for (const worker of arbiter.spawner.live('jobs')) worker.exit(null, 'SIGTERM');
    await arbiter.advance(50, 50);
  }
  const collections = arbiter.heapCollections;
  t.true(collections.length >= 9 && collections.length <= 11, `${collections.length} collections in 10 s`);
  t.true(spacedBy(collections, HEAP_UPKEEP_INTERVAL_MS), collections.join(', '));
});

test('a slow collection spaces the next ones out: at most 2% of a core', async (t) => {
  const arbiter = await startArbiter(t, {
    config: {
      pools: { web: { app: 'fake.js', bind: '127.0.0.1:0' }, jobs: { command: ['/bin/sleep', '600'], workers: 4, startSeconds: 0 } },
    },
  });
  arbiter.heapCollectionMs = 100;
  for (let elapsed = 0; elapsed < 20_000; elapsed += 50) {
    for (const worker of arbiter.spawner.live('jobs')) worker.exit(null, 'SIGTERM');
    await arbiter.advance(50, 50);
  }
  const collections = arbiter.heapCollections;
  t.true(spacedBy(collections, 100 * HEAP_UPKEEP_SPACING), collections.join(', '));
  t.true(collections.length >= 3 && collections.length <= 5, `${collections.length} collections of 100 ms in 20 s`);
});

test('no collection while the daemon stops, though every worker exits', async (t) => {
  const arbiter = await startArbiter(t, { config: { workers: 3 } });
  arbiter.ask({ type: 'stop', mode: 'graceful' });
  await arbiter.advance(2000);
  t.true(arbiter.finished);
  t.deepEqual(arbiter.heapCollections, []);
});

test('a Node that cannot collect on request is asked once, never again, and the log says why once', async (t) => {
  const arbiter = await startArbiter(t, { config: { workers: 1 } });
  arbiter.heapCollectable = false;
  for (let reload = 0; reload < 3; reload += 1) {
    arbiter.ask({ type: 'reload', pool: null });
    await arbiter.advance(2000);
  }
  t.is(arbiter.heapCollections.length, 1);
  t.is(arbiter.logText().match(/will not collect its heap after workers exit: the test said so/g)?.length, 1);
});
