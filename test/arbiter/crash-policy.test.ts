// In-process tests of what exits mean: backoff to fatal, a crash after a good run, kills from outside,
// command restart policies, and how the first start ends. Runs in the ava test process with fake workers.

import test, { type ExecutionContext } from 'ava';
import { AppLoadError, BootError } from '../../shared/errors.js';
import { startArbiter, type ArbiterHarness } from './harness.js';

/** A failing command beside a web pool that serves (a daemon whose every slot is fatal at first start stops). */
const FAILING_COMMAND = {
  pools: { web: { app: 'fake.js', bind: '127.0.0.1:0' }, jobs: { command: ['/bin/false'], workers: 1, startSeconds: 1, startRetries: 3 } },
};

test('a command that keeps failing backs off exponentially, then its slot is fatal', async (t) => {
  const arbiter = await startArbiter(t, { config: FAILING_COMMAND });
  const spawnedAt: number[] = [];
  arbiter.spawner.onSpawn = (worker) => {
    if (worker.pool !== 'jobs') return;
    spawnedAt.push(arbiter.clock.now());
    worker.exit(1);
  };
  arbiter.spawner.live('jobs')[0]?.exit(1);
  await arbiter.advance(60_000, 50);
  const gaps = spawnedAt.map((at, index) => at - (spawnedAt[index - 1] ?? at)).slice(1);
  // Failures 1..4 in a row (start-retries 3): at once, then 250 ms and 500 ms (no jitter at random 0.5), then fatal.
  t.deepEqual(gaps, [250, 500]);
  t.is(spawnedAt.length, 3);
  t.true(arbiter.pool('jobs').slot(0).fatal);
  t.is(arbiter.arbiter.queries.snapshot().pools.find((pool) => pool.name === 'jobs')?.slots[0]?.state, 'fatal');
  // An operator's restart is the way out of fatal.
  arbiter.spawner.onSpawn = null;
  arbiter.ask({ type: 'restart', pool: 'jobs', slot: null });
  await arbiter.settle();
  t.is(arbiter.spawner.live('jobs').length, 1);
});

test('a crash after a good run is replaced at once and forgets earlier failures', async (t) => {
  const arbiter = await startArbiter(t, { config: { workers: 1, startSeconds: 1 } });
  arbiter.spawner.live()[0]?.exit(1);
  await arbiter.settle();
  t.is(arbiter.pool().slot(0).failures, 1, 'it died before start-seconds: a failed start');
  await arbiter.advance(1000);
  arbiter.spawner.live()[0]?.exit(1);
  await arbiter.settle();
  t.is(arbiter.pool().slot(0).failures, 0, 'it ran start-seconds: a crash, not a failed start');
  t.is(arbiter.spawner.live().length, 1, 'replaced at once');
  t.is(arbiter.pool().slot(0).lastExit?.reason, 'crashed');
});

test('kill -TERM from outside is replaced at once, without backoff', async (t) => {
  const arbiter = await startArbiter(t, { config: { workers: 1 } });
  for (let round = 0; round < 5; round += 1) {
    arbiter.spawner.live()[0]?.exit(null, 'SIGTERM');
    await arbiter.settle();
    t.is(arbiter.spawner.live().length, 1, `round ${round}: replaced in the same instant`);
  }
  t.is(arbiter.pool().slot(0).lastExit?.reason, 'killed from outside');
  t.is(arbiter.pool().slot(0).restarts, 5);
});

test('restart: on-failure leaves a command that exited 0 exited', async (t) => {
  const arbiter = await startArbiter(t, { config: { pools: { once: { command: ['/bin/true'], restart: 'on-failure' } } } });
  await arbiter.advance(1200);
  arbiter.spawner.live('once')[0]?.exit(0);
  await arbiter.advance(5000);
  t.is(arbiter.spawner.live('once').length, 0);
  t.true(arbiter.pool('once').slot(0).finished);
  t.is(arbiter.arbiter.queries.snapshot().pools[0]?.slots[0]?.state, 'exited');
});

test('first start: a load error ends it at once (AppLoadError)', async (t) => {
  const arbiter = await startArbiterSilent(t, { workers: 2 });
  const [first] = arbiter.spawner.live();
  first?.bootError('load', "Cannot find module './missing.js'");
  first?.exit(4);
  await arbiter.settle();
  t.true(arbiter.finished);
  const error = t.throws(() => arbiter.arbiter.finish());
  t.true(error instanceof AppLoadError);
  t.regex(error?.message ?? '', /missing\.js/);
});

test('first start: no worker ready within boot-timeout ends it (BootError, exit 3), with the app error if any', async (t) => {
  const arbiter = await startArbiterSilent(t, { workers: 1, bootTimeout: 4 });
  arbiter.spawner.live()[0]?.print('still connecting to redis');
  await arbiter.advance(4400);
  t.true(arbiter.finished);
  const error = t.throws(() => arbiter.arbiter.finish());
  t.true(error instanceof BootError);
  t.is((error as BootError).exitCode, 3);
});

test('first start: some workers ready at boot-timeout is running with a warning (not for a successor)', async (t) => {
  const arbiter = await startArbiterSilent(t, { workers: 2, bootTimeout: 4 });
  arbiter.spawner.live()[0]?.ready();
  await arbiter.advance(4400);
  t.is(arbiter.arbiter.phase, 'running');
  const successor = await startArbiterSilent(t, { workers: 2, bootTimeout: 4 }, true);
  successor.spawner.live()[0]?.ready();
  await successor.advance(4400);
  t.true(successor.finished);
  t.throws(() => successor.arbiter.finish(), { instanceOf: BootError });
});

function startArbiterSilent(t: ExecutionContext, config: Record<string, unknown>, requireEveryWorker = false): Promise<ArbiterHarness> {
  return startArbiter(t, { config, requireEveryWorker, boot: 'silent' });
}
