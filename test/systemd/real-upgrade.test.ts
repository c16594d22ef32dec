// Under a real systemd (252 on Debian 12) booted in private namespaces: the shipped appd.service through
// `appctl upgrade` under load, then `systemctl stop` and `systemctl restart`, which must drain in-flight
// requests as they do without an upgrade; and a plain stop with slow requests. Runs in the ava test process.

import test, { type ExecutionContext } from 'ava';
import { assertNoFailedRequest, startLoad, startRequests } from './harness/clients.js';
import { SystemdSandbox } from './harness/sandbox.js';
import { sandboxAvailable, sandboxTest } from './harness/sandbox-test.js';
import { SandboxedService } from './harness/service.js';
import { APPCTL_INSIDE, appFiles, appSetup } from './harness/units.js';

const UNIT = 'shop';
const PORT = 20500;
const URL = `http://127.0.0.1:${PORT}`;
/** How long the in-flight requests are held; graceful-timeout is well above it. */
const HOLD_MS = 2000;

let sandbox: SystemdSandbox | null = null;

test.before(async () => {
  if (!sandboxAvailable()) return;
  sandbox = await SystemdSandbox.boot({
    files: appFiles({ name: UNIT, config: { workers: 2, bind: `127.0.0.1:${PORT}`, gracefulTimeout: 20 } }),
    setup: appSetup([UNIT]),
  });
});

test.after.always(async () => {
  await sandbox?.shutdown();
});

function booted(): SystemdSandbox {
  if (sandbox === null) throw new Error('the sandbox did not boot');
  return sandbox;
}

/** A clean start: the unit active with a first master, whatever the previous test left. */
async function startFresh(t: ExecutionContext): Promise<number> {
  return new SandboxedService(booted(), UNIT).startFresh(t);
}

/**
 * `appctl upgrade` under load; the load stops once systemd follows the new master, so that the old
 * master's workers are not kept busy by the load's keep-alive connections until graceful-timeout.
 */
async function upgradeUnderLoad(t: ExecutionContext, before: number): Promise<number> {
  const box = booted();
  const load = await startLoad(t, box, URL);
  const upgraded = box.exec([...APPCTL_INSIDE.split(' '), '-n', UNIT, 'upgrade'], 90_000);
  const { MainPID } = await box.waitForState(UNIT, { MainPID: new RegExp(`^(?!${before}$|0$)\\d+$`) });
  assertNoFailedRequest(t, await load.stop(), 'appctl upgrade under load');
  const { code, stdout, stderr } = await upgraded;
  t.is(code, 0, `appctl upgrade: ${stdout}${stderr}`);
  t.regex(stdout, /upgraded: new master pid \d+ serves/);
  return Number(MainPID);
}

async function parentInside(pid: number): Promise<number> {
  return Number((await booted().mustExec(['ps', '-o', 'ppid=', '-p', String(pid)])).trim());
}

/** Holds `count` requests in workers, runs `operation`, and checks every one was answered in full. */
async function withRequestsInFlight(t: ExecutionContext, count: number, operation: () => Promise<void>): Promise<void> {
  const requests = startRequests(t, booted(), `${URL}/?hold=${HOLD_MS}`, count);
  await requests.started();
  await operation();
  const results = await requests.results();
  t.log(`in-flight requests: ${results.map((result) => `${result.status ?? result.error} in ${result.elapsedMs} ms`).join(', ')}`);
  for (const result of results) {
    t.is(result.status, 200, `an in-flight request failed: ${JSON.stringify(result)}`);
    t.regex(result.body, /^generation=\d+ /, 'its body arrived in full');
  }
}

sandboxTest('stop after `appctl upgrade` drains 3 in-flight requests and ends inactive (dead) with Result=success', async (t) => {
  const box = booted();
  const before = await startFresh(t);
  const cursor = await box.cursor();
  const after = await upgradeUnderLoad(t, before);
  t.not(after, before, 'MainPID follows the new master');
  t.is(await parentInside(after), 1, 'the new master is a child of systemd (PID 1), as a main process should be');

  await withRequestsInFlight(t, 3, async () => {
    await box.mustExec(['systemctl', 'stop', UNIT]);
  });
  const state = await box.show(UNIT, ['ActiveState', 'SubState', 'Result', 'ExecMainStatus']);
  t.deepEqual(state, { ActiveState: 'inactive', SubState: 'dead', Result: 'success', ExecMainStatus: '0' });
  await assertNoAlienNorKill(t, cursor);
});

sandboxTest('restart after `appctl upgrade` drains 3 in-flight requests; the unit runs again with a new master', async (t) => {
  const box = booted();
  const before = await startFresh(t);
  const cursor = await box.cursor();
  const after = await upgradeUnderLoad(t, before);
  await withRequestsInFlight(t, 3, async () => {
    await box.mustExec(['systemctl', 'restart', UNIT]);
  });
  const state = await box.waitForState(UNIT, { ActiveState: 'active', SubState: 'running', MainPID: /^[1-9]\d*$/, NRestarts: '0' });
  t.not(Number(state['MainPID']), after, 'a new master runs');
  const journal = await box.journal(UNIT, cursor);
  t.true(journal.some((line) => /Main process exited, code=exited, status=0\/SUCCESS/.test(line)), `the upgraded master exited by itself:\n${journal.join('\n')}`);
  await assertNoAlienNorKill(t, cursor);
});

sandboxTest('stop with slow in-flight requests drains them within TimeoutStopSec and leaves the cgroup empty', async (t) => {
  const box = booted();
  await startFresh(t);
  const { TimeoutStopUSec } = await box.show(UNIT, ['TimeoutStopUSec']);
  const cursor = await box.cursor();
  let stopMs = 0;
  await withRequestsInFlight(t, 3, async () => {
    const startedAt = Date.now();
    await box.mustExec(['systemctl', 'stop', UNIT]);
    stopMs = Date.now() - startedAt;
  });
  t.log(`systemctl stop returned after ${stopMs} ms (TimeoutStopSec ${TimeoutStopUSec})`);
  t.deepEqual(await box.show(UNIT, ['ActiveState', 'SubState', 'Result']), { ActiveState: 'inactive', SubState: 'dead', Result: 'success' }, 'not a stop timeout');
  const left = await box.exec(['cat', `/sys/fs/cgroup/system.slice/${UNIT}.service/cgroup.procs`]);
  t.true(left.code !== 0 || left.stdout.trim() === '', `processes left in the unit's cgroup: ${left.stdout}`);
  await assertNoAlienNorKill(t, cursor);
});

/** Nothing in the journal since `cursor` says systemd followed an alien main process or killed anything. */
async function assertNoAlienNorKill(t: ExecutionContext, cursor: string): Promise<void> {
  const journal = await booted().journal(UNIT, cursor);
  const relevant = journal.filter((line) => /MAINPID|main PID|Main process|child|Killing|SIGKILL/.test(line)).join('\n');
  t.false(journal.some((line) => /not our child/.test(line)), `systemd supervised an alien main process:\n${relevant}`);
  t.false(journal.some((line) => /with signal SIGKILL/.test(line)), `systemd killed processes:\n${relevant}`);
}
