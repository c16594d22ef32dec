// Under a real systemd (252 on Debian 12) booted in private namespaces: socket activation with the shipped
// appd.socket (connections made while the service is stopped are served, `systemctl restart` refuses
// none), and a unit printed by `appd --print-systemd-unit` installed and run. Runs in the ava test process.

import test, { type ExecutionContext } from 'ava';
import { assertNoFailedRequest, startLoad, startRequests } from './harness/clients.js';
import { NODE_INSIDE, PROJECT_INSIDE } from './harness/boot-scripts.js';
import { SystemdSandbox } from './harness/sandbox.js';
import { sandboxAvailable, sandboxTest } from './harness/sandbox-test.js';
import { SandboxedService } from './harness/service.js';
import { APP_INSIDE, APPD_INSIDE, appFiles, appSetup, shippedUnit } from './harness/units.js';

/** The shipped appd.socket listens here (its EDIT line, kept as shipped). */
const SOCKET_URL = 'http://127.0.0.1:8000';
const SOCKET_UNIT = 'web';
const GENERATED_UNIT = 'printed';
const GENERATED_PORT = 20502;

/** The documented edit for socket activation: the service requires and follows its socket. */
function socketActivatedService(): string {
  return shippedUnit('appd.service').replace(/^#Requires=%N\.socket$/m, 'Requires=%N.socket').replace(/^#After=%N\.socket$/m, 'After=%N.socket');
}

let sandbox: SystemdSandbox | null = null;

test.before(async () => {
  if (!sandboxAvailable()) return;
  sandbox = await SystemdSandbox.boot({
    files: {
      ...appFiles({ name: SOCKET_UNIT, config: { workers: 2, gracefulTimeout: 20 }, unit: socketActivatedService() }),
      [`/etc/systemd/system/${SOCKET_UNIT}.socket`]: shippedUnit('appd.socket'),
      [`/srv/${GENERATED_UNIT}/.keep`]: '',
    },
    setup: appSetup([SOCKET_UNIT, GENERATED_UNIT]),
  });
});

test.after.always(async () => {
  await sandbox?.shutdown();
});

function booted(): SystemdSandbox {
  if (sandbox === null) throw new Error('the sandbox did not boot');
  return sandbox;
}

async function statuses(t: ExecutionContext, url: string, count: number): Promise<(number | string | null)[]> {
  const results = await startRequests(t, booted(), url, count, 60_000).results();
  return results.map((result) => result.status ?? result.error);
}

sandboxTest('socket activation: connections made while the service is stopped are served once it started', async (t) => {
  const box = booted();
  await box.mustExec(['systemctl', 'start', `${SOCKET_UNIT}.socket`]);
  t.is((await box.show(`${SOCKET_UNIT}.service`, ['ActiveState']))['ActiveState'], 'inactive', 'only the socket listens');
  t.deepEqual(await statuses(t, `${SOCKET_URL}/`, 5), [200, 200, 200, 200, 200], 'the five connections waited in the backlog');
  // Workers may answer before systemd has processed READY=1 (one systemd-notify later): wait for it.
  const { MainPID } = await box.waitForState(`${SOCKET_UNIT}.service`, { ActiveState: 'active', MainPID: /^[1-9]\d*$/ });
  const journal = await box.journal(`${SOCKET_UNIT}.service`);
  t.true(journal.some((line) => /Listening at: http:\/\/127\.0\.0\.1:8000 \(fd 3, systemd\)/.test(line)), `appd adopted the socket systemd passed (MainPID ${MainPID})`);
});

sandboxTest('socket activation: two systemctl restart under load refuse no connection', async (t) => {
  const box = booted();
  const service = new SandboxedService(box, SOCKET_UNIT);
  await service.startFresh(t);
  // While the service restarts, connections wait in the socket's backlog: as long as a restart takes
  // on a loaded machine (stop, then Node and the workers boot), so a slow answer is no failure.
  const load = await startLoad(t, box, SOCKET_URL, { timeoutMs: 60_000 });
  for (const round of [1, 2]) {
    const restarted = await box.exec(['systemctl', 'restart', `${SOCKET_UNIT}.service`], 90_000);
    t.is(restarted.code, 0, `restart ${round}: ${restarted.stderr}`);
  }
  assertNoFailedRequest(t, await load.stop(), 'two systemctl restart under load');
  await box.mustExec(['systemctl', 'stop', `${SOCKET_UNIT}.service`, `${SOCKET_UNIT}.socket`]);
});

sandboxTest('a unit printed by appd --print-systemd-unit --user appd installs and runs: start, reload, stop', async (t) => {
  const box = booted();
  const printed = await box.mustExec([
    'sh', '-c',
    `cd /srv/${GENERATED_UNIT} && ${APPD_INSIDE} '${APP_INSIDE}' -w 2 -b 127.0.0.1:${GENERATED_PORT} --name ${GENERATED_UNIT} --user appd --graceful-timeout 10 --print-systemd-unit`,
  ]);
  t.regex(printed, new RegExp(`^ExecStart=${NODE_INSIDE} ${PROJECT_INSIDE}/dist/daemon/appd.cjs --control-socket /run/appd/${GENERATED_UNIT}.sock `, 'm'));
  await box.mustExec(['sh', '-c', `cat > /etc/systemd/system/${GENERATED_UNIT}.service && systemctl daemon-reload`], 60_000, printed);
  await box.mustExec(['systemctl', 'start', GENERATED_UNIT]);
  const service = new SandboxedService(box, GENERATED_UNIT);
  const master = await service.mainPid();
  t.is((await box.mustExec(['ps', '-o', 'user=', '-p', String(master)])).trim(), 'appd', 'User= from --user: the master runs as appd');
  t.deepEqual(await statuses(t, `http://127.0.0.1:${GENERATED_PORT}/`, 1), [200]);
  const cursor = await box.cursor();
  await box.mustExec(['systemctl', 'reload', GENERATED_UNIT], 90_000);
  const { lines } = await service.journal(cursor);
  t.true(lines.some((line) => /pool web reloaded: generation 2/.test(line)), 'ExecReload (appctl) reloaded it');
  await box.mustExec(['systemctl', 'stop', GENERATED_UNIT]);
  t.deepEqual(await box.show(GENERATED_UNIT, ['ActiveState', 'Result']), { ActiveState: 'inactive', Result: 'success' });
});
