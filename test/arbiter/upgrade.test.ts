// In-process tests of the old master's upgrade decisions (USR2, appctl upgrade) with a fake successor:
// hand over and retire, roll back, refuse, time out, take back. Runs in the ava test process.

import test from 'ava';
import { startArbiter } from './harness.js';

test('appctl upgrade: once the successor is ready, the old master hands over, drains and exits', async (t) => {
  const arbiter = await startArbiter(t, { config: { workers: 2 } });
  const upgrade = arbiter.ask({ type: 'upgrade', retireOld: true });
  await arbiter.settle();
  const [successor] = arbiter.successors;
  t.truthy(successor);
  t.is(JSON.parse(successor?.environment['APPD_UPGRADE_FROM'] ?? '{}').generation, 2, "the successor's workers start past ours");
  successor?.report({ type: 'successor-ready', pid: successor.pid, summary: '2 worker(s) ready' });
  await arbiter.settle();
  t.deepEqual(arbiter.milestones, ['ready', 'handed-over', 'stopping']);
  t.true(arbiter.spawner.spawned.every((worker) => worker.exited && worker.asks.join() === 'drain'));
  t.true(arbiter.finished);
  t.is(arbiter.arbiter.finish(), 0);
  t.is(upgrade.outcome?.status, 'completed');
  t.deepEqual(upgrade.data, { pid: successor?.pid, oldPid: process.pid });
});

test('USR2: both masters serve until the operator finishes the dance', async (t) => {
  const arbiter = await startArbiter(t, { config: { workers: 1 } });
  arbiter.signal('SIGUSR2');
  await arbiter.settle();
  const [successor] = arbiter.successors;
  successor?.report({ type: 'successor-ready', pid: successor.pid, summary: '1 worker(s) ready' });
  await arbiter.settle();
  t.deepEqual(arbiter.picture(), ['web.0 g1 ready']);
  t.false(arbiter.finished);
  // The successor dies after it took over: this master is the master again.
  successor?.close(1);
  await arbiter.settle();
  t.deepEqual(arbiter.milestones, ['ready', 'handed-over', 'taken-back']);
});

test('a successor that exits before it is ready is rolled back with its reason; this master serves on', async (t) => {
  const arbiter = await startArbiter(t, { config: { workers: 1 } });
  const upgrade = arbiter.ask({ type: 'upgrade', retireOld: true });
  await arbiter.settle();
  const [successor] = arbiter.successors;
  successor?.report({ type: 'successor-failed', exitCode: 2, message: 'config file bad: unknown setting "wokers"' });
  successor?.close(2);
  await arbiter.settle();
  t.is(upgrade.outcome?.status, 'rolled_back');
  t.regex(upgrade.outcome?.message ?? '', /unknown setting "wokers"/);
  t.deepEqual(arbiter.picture(), ['web.0 g1 ready']);
  t.deepEqual(arbiter.milestones, ['ready']);
});

test('a second upgrade while one is in progress is refused; so is one while the replaced master still runs', async (t) => {
  const arbiter = await startArbiter(t, { config: { workers: 1 } });
  arbiter.ask({ type: 'upgrade', retireOld: true });
  await arbiter.settle();
  const second = arbiter.ask({ type: 'upgrade', retireOld: true });
  await arbiter.settle();
  t.regex(second.outcome?.message ?? '', /already in progress/);
  t.is(arbiter.successors.length, 1);
  const successor = await startArbiter(t, { config: { workers: 1 }, predecessorPid: 4242 });
  const refused = successor.ask({ type: 'upgrade', retireOld: true });
  await successor.settle();
  t.regex(refused.outcome?.message ?? '', /pid 4242\) is still running/);
});

test('a successor that is not ready in time is told to stop, then killed', async (t) => {
  const arbiter = await startArbiter(t, { config: { workers: 1, bootTimeout: 5, gracefulTimeout: 5 } });
  const upgrade = arbiter.ask({ type: 'upgrade', retireOld: true });
  await arbiter.settle();
  const [successor] = arbiter.successors;
  await arbiter.advance(35_000, 1000);
  t.deepEqual(successor?.signals, []);
  await arbiter.advance(1000);
  t.deepEqual(successor?.signals, ['SIGTERM']);
  await arbiter.advance(10_000, 1000);
  t.deepEqual(successor?.signals, ['SIGTERM', 'SIGKILL']);
  successor?.close(null, 'SIGKILL');
  await arbiter.settle();
  t.is(upgrade.outcome?.status, 'rolled_back');
  t.deepEqual(arbiter.picture(), ['web.0 g1 ready']);
});

test('a stop while the successor starts stops it too, waits for it, and says this master stops (not "keeps serving")', async (t) => {
  const arbiter = await startArbiter(t, { config: { workers: 1 } });
  const upgrade = arbiter.ask({ type: 'upgrade', retireOld: true });
  await arbiter.settle();
  const [successor] = arbiter.successors;
  arbiter.signal('SIGTERM');
  await arbiter.settle();
  t.deepEqual(successor?.signals, ['SIGTERM']);
  t.false(arbiter.finished, 'the successor is still there');
  successor?.close(0);
  await arbiter.settle();
  t.true(arbiter.finished);
  t.is(upgrade.outcome?.status, 'rolled_back');
  t.regex(
    upgrade.outcome?.message ?? '',
    /the daemon is stopping; it exited \(exit code 0\)\nthis master \(pid \d+\) is stopping, as asked$/,
  );
});
