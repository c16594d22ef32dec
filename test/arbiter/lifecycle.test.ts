// In-process tests of one worker's lifecycle table and its deadlines (WorkerHandle.transition and
// deadline): what each event records and when the next thing is due. Runs in the ava test process.

import test from 'ava';
import { WorkerHandle } from '../../daemon/workers/handle.js';
import { resolveTestConfig } from './harness.js';
import { FakeWorker, QUIET_STATS } from './fake-spawner.js';
import { poolSettingsFromConfig } from '../../daemon/pools/pool.js';
import { AppdBug } from '../../shared/errors.js';

const IGNORE = {
  message: () => undefined,
  foreign: () => undefined,
  misbehaved: () => undefined,
  exit: () => undefined,
  spawnFailed: () => undefined,
  output: () => undefined,
};

function handle(config: Record<string, unknown>): { worker: WorkerHandle; process: FakeWorker } {
  const [settings] = poolSettingsFromConfig(resolveTestConfig(config).values);
  if (!settings) throw new Error('no pool');
  const process = new FakeWorker(
    50_000_000,
    { settings, daemonName: 'fake', slot: 0, generation: 1, listeners: [], identity: null, random: Math.random },
    IGNORE,
  );
  process.answer = 'ignore';
  return { worker: new WorkerHandle(1, settings.name, 0, 1, process, 1000, settings), process };
}

test('an HTTP worker: boot deadline, then heartbeat deadline moved by each heartbeat', (t) => {
  const { worker } = handle({ bootTimeout: 10, timeout: 5 });
  t.deepEqual(worker.deadline(), { at: 11_000, event: 'boot-timeout' });
  worker.transition('became-ready', { at: 2000 });
  t.deepEqual(worker.deadline(), { at: 7000, event: 'missed-heartbeat' });
  worker.transition('heartbeat', { at: 4000, stats: { ...QUIET_STATS, requests: 1 } });
  t.deepEqual(worker.deadline(), { at: 9000, event: 'missed-heartbeat' });
  t.is(worker.stats?.requests, 1);
});

test('after a master stall silence is judged from the end of the stall', (t) => {
  const { worker } = handle({ bootTimeout: 10, timeout: 5 });
  worker.transition('master-stalled', { at: 9000 });
  t.deepEqual(worker.deadline(), { at: 19_000, event: 'boot-timeout' });
  worker.transition('became-ready', { at: 10_000 });
  worker.transition('master-stalled', { at: 30_000 });
  t.deepEqual(worker.deadline(), { at: 35_000, event: 'missed-heartbeat' });
});

test('retire: drain request, kill deadline at graceful-timeout plus a margin; quick: QUIT, 2 s', (t) => {
  const { worker, process } = handle({ gracefulTimeout: 10 });
  worker.transition('became-ready', { at: 2000 });
  worker.transition('retire', { at: 3000, reason: 'scaled down to 0', cause: 'scaled-down', mode: 'graceful' });
  t.is(worker.state, 'stopping');
  t.deepEqual(process.asks, ['drain']);
  t.deepEqual(worker.deadline(), { at: 14_000, event: 'kill' });
  worker.transition('retire', { at: 5000, reason: 'quick stop', cause: 'daemon-stopping', mode: 'quick' });
  t.deepEqual(process.asks, ['drain', 'SIGQUIT']);
  t.deepEqual(worker.deadline(), { at: 7000, event: 'kill' });
  worker.transition('kill', { at: 7000 });
  t.deepEqual(process.asks, ['drain', 'SIGQUIT', 'SIGKILL']);
  t.is(worker.deadline(), null, 'killed: its exit is on the way');
});

test('a worker not ready yet is asked to stop with SIGTERM (it may not read its channel yet)', (t) => {
  const { worker, process } = handle({});
  worker.transition('retire', { at: 3000, reason: 'rolled back', cause: 'rolled-back', mode: 'graceful' });
  t.deepEqual(process.asks, ['SIGTERM']);
});

test('a missed heartbeat asks for the stack; the kill comes 3 s later, or moments after the stack is out', (t) => {
  const { worker, process } = handle({ timeout: 5, timeoutStack: true });
  worker.transition('became-ready', { at: 1000 });
  worker.transition('missed-heartbeat', { at: 6000 });
  t.is(process.stackRequests, 1);
  t.true(worker.timedOut);
  t.deepEqual(worker.deadline(), { at: 9000, event: 'kill' });
  worker.rememberOutput('worker web.0 g1 timed out; its main thread was running:', 6500);
  t.deepEqual(worker.deadline(), { at: 6750, event: 'kill' });
});

test('a command counts as up after start-seconds, and has no heartbeat deadline', (t) => {
  const { worker, process } = handle({ pools: { jobs: { command: ['/bin/true'], startSeconds: 3, stopSignal: 'SIGINT' } } });
  t.deepEqual(worker.deadline(), { at: 4000, event: 'became-ready' });
  worker.transition('became-ready', { at: 4000 });
  t.is(worker.deadline(), null);
  worker.transition('retire', { at: 5000, reason: 'pool stopped', cause: 'pool-stopped', mode: 'graceful' });
  t.deepEqual(process.asks, ['SIGINT'], "its pool's stop-signal");
});

test('whatever a worker says is possible in any live state; the table refuses what the master cannot do', (t) => {
  const { worker } = handle({});
  worker.transition('became-ready', { at: 2000 });
  t.is(worker.transition('became-ready', { at: 3000 }), 'ready', 'a second "ready" changes nothing');
  t.is(worker.readyAt, 2000);
  t.throws(() => worker.transition('boot-timeout', { at: 4000, report: { phase: 'timeout', message: 'late' } }), { instanceOf: AppdBug });
  worker.transition('exited', { code: 0, signal: null, reason: null, bootFailure: null });
  t.throws(() => worker.transition('heartbeat', { at: 5000, stats: QUIET_STATS }), { instanceOf: AppdBug });
});
