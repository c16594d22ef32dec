// Under a real systemd (252 on Debian 12) booted in private namespaces: the shipped appd.service started
// (Type=notify), reloaded under load and with a broken config, and killed by the watchdog when its master
// is stopped; what appd told systemd is read back from systemd's own debug log. Runs in the ava test process.

import test, { type ExecutionContext } from 'ava';
import { assertNoFailedRequest, startLoad, startRequests } from './harness/clients.js';
import { SystemdSandbox } from './harness/sandbox.js';
import { sandboxAvailable, sandboxTest } from './harness/sandbox-test.js';
import { SandboxedService, type ReceivedNotification } from './harness/service.js';
import { appFiles, appSetup } from './harness/units.js';

const UNIT = 'shop';
const PORT = 20500;
const URL = `http://127.0.0.1:${PORT}`;
const CONFIG = `/srv/${UNIT}/appd.config.mjs`;
/** The app's factory takes this long: `systemctl start` must not return before it resolved. */
const BOOT_DELAY_MS = 1000;
/** Short enough to test, long enough for pings every 2 s on a loaded machine. */
const WATCHDOG_SEC = 4;

const config = { workers: 2, bind: `127.0.0.1:${PORT}`, gracefulTimeout: 20 };
let service: SandboxedService | null = null;

test.before(async () => {
  if (!sandboxAvailable()) return;
  const sandbox = await SystemdSandbox.boot({
    files: appFiles({ name: UNIT, config, serviceDropIn: `Environment=BOOT_DELAY_MS=${BOOT_DELAY_MS}\nWatchdogSec=${WATCHDOG_SEC}` }),
    setup: appSetup([UNIT]),
  });
  service = new SandboxedService(sandbox, UNIT);
});

test.after.always(async () => {
  await service?.sandbox.shutdown();
});

function booted(): SandboxedService {
  if (service === null) throw new Error('the sandbox did not boot');
  return service;
}

async function get(t: ExecutionContext): Promise<number | null> {
  const request = startRequests(t, booted().sandbox, `${URL}/`, 1, 10_000);
  const [result] = await request.results();
  return result?.status ?? null;
}

function describeNotifications(notifications: readonly ReceivedNotification[]): string {
  return notifications.map((notification) => `  ${[...notification.fields].map(([key, value]) => `${key}=${value}`).join(' | ')}`).join('\n');
}

sandboxTest('systemctl start returns once READY=1 came with the workers\' STATUS=, not before, and no WATCHDOG=1 came before it', async (t) => {
  const { sandbox } = booted();
  await sandbox.exec(['systemctl', 'stop', UNIT]);
  const cursor = await sandbox.cursor();
  const startedAt = Date.now();
  await sandbox.mustExec(['systemctl', 'start', UNIT]);
  const startMs = Date.now() - startedAt;
  t.is(await get(t), 200, 'the first request right after start is answered');
  t.true(startMs >= BOOT_DELAY_MS, `systemctl start returned after ${startMs} ms, before the app could be ready`);

  const { lines, notifications } = await booted().journal(cursor);
  const ready = notifications.find((notification) => notification.fields.get('READY') === '1');
  t.truthy(ready, `READY=1 reached systemd:\n${lines.join('\n')}`);
  t.is(ready?.fields.get('STATUS'), '2/2 workers ready, generation 1', 'READY=1 and the status in one message');
  const running = lines.findIndex((line) => /Changed start -> running/.test(line));
  t.true(running > (ready?.line ?? Infinity), 'the unit became active on READY=1');
  const before = notifications.filter((notification) => notification.line < (ready?.line ?? 0));
  t.false(before.some((notification) => notification.fields.has('WATCHDOG')), `no WATCHDOG=1 before READY=1:\n${describeNotifications(notifications)}`);
  t.true(before.length <= 3, `a few STATUS= while starting, coalesced:\n${describeNotifications(before)}`);
  t.log(`systemctl start: ${startMs} ms; notifications until READY=1:\n${describeNotifications([...before, ...(ready ? [ready] : [])])}`);
});

sandboxTest('systemctl reload under load fails no request; the unit goes reloading, then active; STATUS says the reload completed', async (t) => {
  const { sandbox } = booted();
  await booted().startFresh(t);
  const cursor = await sandbox.cursor();
  const load = await startLoad(t, sandbox, URL);
  const reload = await sandbox.exec(['systemctl', 'reload', UNIT], 90_000);
  const counts = await load.stop();
  t.is(reload.code, 0, `systemctl reload: ${reload.stdout}${reload.stderr}`);
  assertNoFailedRequest(t, counts, 'systemctl reload under load');
  t.true((counts.seen['2'] ?? 0) > 0, 'the new generation served');

  const { lines, notifications } = await booted().journal(cursor);
  const toReload = lines.findIndex((line) => /Changed running -> reload/.test(line));
  const backToRunning = lines.findIndex((line) => /Changed reload -> running/.test(line));
  t.true(toReload >= 0 && backToRunning > toReload, `reloading, then active:\n${lines.filter((line) => /Changed|Got notification/.test(line)).join('\n')}`);
  const reloading = notifications.findIndex((notification) => notification.fields.has('RELOADING'));
  const readyAgain = notifications.findIndex((notification) => notification.fields.has('READY'));
  t.true(reloading === 0 || notifications.slice(0, reloading).every((notification) => notification.fields.has('WATCHDOG') && !notification.fields.has('STATUS')), `RELOADING=1 is the first thing of the reload:\n${describeNotifications(notifications)}`);
  t.is(notifications[reloading]?.fields.get('STATUS'), 'reloading: reading the configuration');
  t.true(readyAgain > reloading, 'READY=1 after RELOADING=1');
  t.is(notifications[readyAgain]?.fields.get('STATUS'), '2/2 workers ready, generation 2; last reload completed');
  const { StatusText, ActiveState } = await sandbox.show(UNIT, ['StatusText', 'ActiveState']);
  t.is(ActiveState, 'active');
  t.regex(StatusText ?? '', /; last reload completed$/);
});

sandboxTest('a broken config: systemctl reload exits 1, the unit keeps serving, and systemd showed it reloading before appd logged the error', async (t) => {
  const { sandbox } = booted();
  await booted().startFresh(t);
  const cursor = await sandbox.cursor();
  await sandbox.mustExec(['sh', '-c', `cp ${CONFIG} ${CONFIG}.good && echo 'export default { workers: ;' > ${CONFIG}`]);
  t.teardown(() => sandbox.exec(['sh', '-c', `mv ${CONFIG}.good ${CONFIG}`]).then(() => undefined));
  const reload = await sandbox.exec(['systemctl', 'reload', UNIT], 60_000);
  t.is(reload.code, 1, `systemctl reload: ${reload.stdout}${reload.stderr}`);
  t.is(await get(t), 200, 'it keeps serving');
  const { ActiveState, SubState, StatusText } = await sandbox.show(UNIT, ['ActiveState', 'SubState', 'StatusText']);
  t.deepEqual({ ActiveState, SubState }, { ActiveState: 'active', SubState: 'running' });
  t.regex(StatusText ?? '', /^2\/2 workers ready, generation 1; last reload failed: nothing changed: .*SyntaxError/);

  const { lines, notifications } = await booted().journal(cursor);
  const reloading = notifications.find((notification) => notification.fields.has('RELOADING'));
  const failure = lines.findIndex((line) => /reload failed, nothing changed/.test(line));
  t.true(reloading !== undefined && failure > reloading.line, `RELOADING=1 reached systemd before appd logged the failure:\n${lines.join('\n')}`);
  const readyAfter = notifications.find((notification) => notification.fields.has('READY') && notification.line > (reloading?.line ?? 0));
  t.regex(readyAfter?.fields.get('STATUS') ?? '', /last reload failed: /, 'READY=1 ends the failed reload, saying so');
});

sandboxTest('the watchdog restarts a SIGSTOPped master (WatchdogSec=4); a healthy one was never restarted', async (t) => {
  const { sandbox } = booted();
  const { NRestarts, ActiveState, MainPID } = await sandbox.show(UNIT, ['NRestarts', 'ActiveState', 'MainPID']);
  t.deepEqual({ NRestarts, ActiveState }, { NRestarts: '0', ActiveState: 'active' }, 'pinged throughout the tests before, with WatchdogSec=4');
  const cursor = await sandbox.cursor();
  await sandbox.mustExec(['kill', '-STOP', MainPID ?? '']);
  const after = await sandbox.waitForState(UNIT, { NRestarts: '1', ActiveState: 'active', SubState: 'running', MainPID: new RegExp(`^(?!${MainPID}$|0$)\\d+$`) }, 60_000);
  t.log(`MainPID ${MainPID} stopped; now ${JSON.stringify(after)}`);
  const { lines } = await booted().journal(cursor);
  t.true(lines.some((line) => /Changed running -> stop-watchdog/.test(line)), lines.join('\n'));
  t.true(lines.some((line) => /Failed with result 'watchdog'/.test(line)), lines.join('\n'));
  t.is(await get(t), 200, 'the restarted unit serves');
});
