// In-process tests of the master's deadlines: boot timeout, heartbeat timeout (with and without the
// stuck stack), graceful and quick stop. Runs in the ava test process with fake workers and a fake clock.

import test from 'ava';
import { STACK_HEADER } from '../../daemon/contracts/worker-messages.js';
import { startArbiter } from './harness.js';

test('a worker that stops sending heartbeats is stopped at timeout, then killed, and replaced', async (t) => {
  const arbiter = await startArbiter(t, { config: { workers: 1, timeout: 5, timeoutStack: false } });
  const [worker] = arbiter.spawner.live();
  await arbiter.advance(10_000);
  t.deepEqual(worker?.signals, [], 'heartbeats keep it alive');
  worker?.hang();
  await arbiter.advance(4800);
  t.deepEqual(worker?.asks, []);
  await arbiter.advance(400);
  t.deepEqual(worker?.asks, ['drain', 'SIGKILL']);
  t.true(worker?.exited);
  t.is(arbiter.pool().slot(0).lastExit?.reason, 'timeout');
  t.deepEqual(arbiter.picture(), ['web.0 g1 ready'], 'a new worker took the slot');
});

test('a timed-out worker gets its stack printed: killed once the stack is out, not after the full grace', async (t) => {
  const arbiter = await startArbiter(t, { config: { workers: 1, timeout: 2, timeoutStack: true } });
  const [worker] = arbiter.spawner.live();
  worker?.hang();
  await arbiter.advance(2200);
  t.is(worker?.stackRequests, 1);
  t.deepEqual(worker?.asks, ['drain']);
  await arbiter.advance(1000);
  worker?.print(`[appd] worker web.0 g1 ${STACK_HEADER}`);
  worker?.print('    at busyLoop (/app/server.js:3:9)');
  await arbiter.advance(200);
  t.deepEqual(worker?.asks, ['drain'], 'the rest of the stack may still be in the pipe');
  await arbiter.advance(200);
  t.deepEqual(worker?.asks, ['drain', 'SIGKILL'], 'killed within moments of the stack, long before the 3 s grace');
});

test('a booting worker past boot-timeout is killed and its slot counts a failed start', async (t) => {
  const arbiter = await startArbiter(t, { config: { workers: 1, bootTimeout: 3 } });
  arbiter.spawner.boot = 'silent';
  arbiter.ask({ type: 'scale', pool: 'web', change: { relative: 1 } });
  await arbiter.settle();
  const booting = arbiter.spawner.newest('web', 1);
  if (booting) booting.answer = 'ignore';
  await arbiter.advance(3200);
  t.deepEqual(booting?.signals, ['SIGQUIT', 'SIGKILL']);
  t.is(arbiter.pool().slot(1).lastExit?.reason, 'boot timeout');
  t.is(arbiter.pool().slot(1).failures, 1);
});

test('a graceful stop waits graceful-timeout for in-flight work, then kills what is left', async (t) => {
  const arbiter = await startArbiter(t, { config: { workers: 2, gracefulTimeout: 10 } });
  const [quick, slow] = arbiter.spawner.live();
  if (slow) slow.answer = 'ignore';
  arbiter.signal('SIGTERM');
  await arbiter.settle();
  t.is(arbiter.arbiter.phase, 'stopping');
  t.true(quick?.exited);
  await arbiter.advance(10_800);
  t.deepEqual(slow?.asks, ['drain'], 'its own graceful-timeout comes first');
  t.false(arbiter.finished);
  await arbiter.advance(400);
  t.deepEqual(slow?.asks, ['drain', 'SIGKILL']);
  t.true(arbiter.finished);
  t.is(arbiter.arbiter.finish(), 0);
});

test('a quick stop sends QUIT and kills after 2 s', async (t) => {
  const arbiter = await startArbiter(t, { config: { workers: 1, gracefulTimeout: 30 } });
  const [worker] = arbiter.spawner.live();
  if (worker) worker.answer = 'ignore';
  arbiter.signal('SIGINT');
  await arbiter.settle();
  t.deepEqual(worker?.signals, ['SIGQUIT']);
  await arbiter.advance(2000);
  t.deepEqual(worker?.signals, ['SIGQUIT', 'SIGKILL']);
  t.true(arbiter.finished);
});

test('a quick stop during a graceful one hurries the workers', async (t) => {
  const arbiter = await startArbiter(t, { config: { workers: 1, gracefulTimeout: 30 } });
  const [worker] = arbiter.spawner.live();
  if (worker) worker.answer = 'ignore';
  arbiter.signal('SIGTERM');
  await arbiter.settle();
  arbiter.signal('SIGQUIT');
  await arbiter.settle();
  t.deepEqual(worker?.asks, ['drain', 'SIGQUIT']);
  await arbiter.advance(2000);
  t.true(arbiter.finished);
});
