// In-process tests of crash loops that start-seconds cannot throttle: the restart floor (a slot whose
// worker exits within a second of its start backs off, whatever start-seconds says) and the global spawn
// ceiling (kills from outside in a loop). Runs in the ava test process with fake workers and a fake clock.

import test from 'ava';
import { RESTART_FLOOR_MS } from '../../daemon/pools/crash-policy.js';
import { SPAWN_BURST, SPAWNS_PER_SECOND } from '../../daemon/pools/spawn-ceiling.js';
import type { FakeWorker } from './fake-spawner.js';
import { startArbiter, type ArbiterHarness } from './harness.js';

/** Runs `ms` of fake time in 50 ms passes; before each, `act` may make the pool's live workers exit. */
async function loop(arbiter: ArbiterHarness, ms: number, act: (worker: FakeWorker, age: number) => void, pool = 'jobs'): Promise<void> {
  const spawnedAt = new Map<FakeWorker, number>();
  for (let elapsed = 0; elapsed < ms; elapsed += 50) {
    for (const worker of arbiter.spawner.live(pool)) {
      if (!spawnedAt.has(worker)) spawnedAt.set(worker, arbiter.clock.now());
      act(worker, arbiter.clock.now() - (spawnedAt.get(worker) ?? 0));
    }
    await arbiter.advance(50, 50);
  }
}

const spawnsOf = (arbiter: ArbiterHarness, pool: string): number => arbiter.spawner.spawned.filter((worker) => worker.pool === pool).length;

test('start-seconds 0: a command that exits 0.1 s after its start backs off, and is never fatal for it', async (t) => {
  const arbiter = await startArbiter(t, {
    config: {
      pools: {
        web: { app: 'fake.js', bind: '127.0.0.1:0' },
        jobs: { command: ['/bin/false'], workers: 4, startSeconds: 0, startRetries: 3 },
      },
    },
  });
  await loop(arbiter, 60_000, (worker, age) => {
    if (age >= 100) worker.exit(1);
  });
  const spawns = spawnsOf(arbiter, 'jobs');
  t.log(`4 slots, 60 s: ${spawns} starts (each ran 0.1 s; without the floor: one every ~0.15 s per slot, ~1,600)`);
  // Per slot: at once, then 0.25, 0.5, 1, 2, 4, 8, 16 and 30 s (the cap): 10 starts in 60 s, 12 with the slack of the 50 ms passes.
  t.true(spawns <= 4 * 12, `${spawns} starts`);
  for (let slot = 0; slot < 4; slot += 1) {
    t.false(arbiter.pool('jobs').slot(slot).fatal, 'start-seconds said started: the floor backs off but does not give up');
    t.true(arbiter.pool('jobs').slot(slot).failures > 3);
  }
  t.deepEqual(arbiter.picture('web'), ['web.0 g1 ready'], 'the web pool never lost its worker');
  t.is(RESTART_FLOOR_MS, 1000);
});

test('a command that ran past the floor is replaced at once, as start-seconds 0 says', async (t) => {
  const arbiter = await startArbiter(t, {
    config: { pools: { web: { app: 'fake.js', bind: '127.0.0.1:0' }, jobs: { command: ['/bin/false'], workers: 1, startSeconds: 0 } } },
  });
  await loop(arbiter, 10_000, (worker, age) => {
    if (age >= RESTART_FLOOR_MS) worker.exit(0);
  });
  // Each one lives 1 s, then is replaced in the same pass: about ten in 10 s, none throttled.
  t.true(spawnsOf(arbiter, 'jobs') >= 9);
  t.is(arbiter.pool('jobs').slot(0).failures, 0);
});

test('kills from outside in a loop: starts across all pools stay under the spawn ceiling, said once in the log', async (t) => {
  const arbiter = await startArbiter(t, {
    config: {
      pools: { web: { app: 'fake.js', bind: '127.0.0.1:0' }, jobs: { command: ['/bin/sleep', '600'], workers: 40, startSeconds: 0 } },
    },
  });
  const before = spawnsOf(arbiter, 'jobs');
  t.is(before, 40, 'a first start within the burst is not slowed down');
  // kill -TERM from outside is never a failed start (no backoff): only the ceiling throttles this.
  await loop(arbiter, 10_000, (worker) => worker.exit(null, 'SIGTERM'));
  const starts = spawnsOf(arbiter, 'jobs') - before;
  t.log(`40 slots killed from outside every 50 ms for 10 s: ${starts} starts (without the ceiling: 40 a pass, 8,000)`);
  t.true(starts <= SPAWN_BURST + SPAWNS_PER_SECOND * 10 + 1, `${starts} starts`);
  t.true(starts >= SPAWNS_PER_SECOND * 10 - 40, 'slots are still started, at the ceiling rate');
  t.is(arbiter.logText().match(/spawn ceiling reached/g)?.length, 1);
  t.deepEqual(arbiter.picture('web'), ['web.0 g1 ready']);
  // Once the kills stop, every slot is started again.
  await arbiter.advance(10_000, 50);
  t.is(arbiter.spawner.live('jobs').length, 40);
});
