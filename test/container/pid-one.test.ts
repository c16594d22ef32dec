// appd as PID 1 of a PID namespace (a container without an init): TERM drains and exits 0 in time, the
// start warns about zombies, and the warning is true: an orphan stays a zombie under appd, not under tini.

import test from 'ava';
import { fixture, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { get } from '../helpers/http.js';
import { allPids, commandLine, readStat, sleep, waitFor } from '../helpers/processes.js';

/** unshare forks the namespace's PID 1; --kill-child takes it down if the test kills unshare. */
const NEW_PID_NAMESPACE = ['unshare', '--pid', '--fork', '--mount-proc', '--kill-child'];

function zombieChildrenOf(pid: number): number[] {
  return allPids().filter((candidate) => {
    const stat = readStat(candidate);
    return stat?.ppid === pid && stat.state === 'Z';
  });
}

/** The master's pid as the test sees it (unshare, maybe tini, then the master). */
async function masterPid(daemon: TestDaemon): Promise<number> {
  return waitFor('the master', () => daemon.descendants().find((pid) => commandLine(pid).startsWith('appd: master')) ?? null);
}

test.serial('as PID 1, appd stops gracefully on TERM and warns that orphans will stay zombies, which they do', async (t) => {
  const daemon = await startDaemon(t, { args: [fixture('orphan-app.mjs'), '-w', '1', '-b', '127.0.0.1:0'], wrapper: NEW_PID_NAMESPACE });
  t.regex(daemon.output, /Starting appd .* \(master pid 1\)/, 'the master is PID 1 of its namespace');
  t.regex(daemon.output, /appd runs as PID 1: .* stay zombies\. Run appd under an init/);
  const master = await masterPid(daemon);

  t.regex((await get(`${daemon.url}/orphan`)).body, /orphaned/);
  const zombies = await waitFor('the orphan to exit and stay a zombie of the master', () => {
    const found = zombieChildrenOf(master);
    return found.length > 0 ? found : null;
  });
  await sleep(500);
  t.deepEqual(zombieChildrenOf(master), zombies, 'nobody reaps it');

  process.kill(master, 'SIGTERM');
  const stoppedAt = Date.now();
  t.deepEqual(await daemon.exited(), { code: 0, signal: null }, daemon.output);
  t.true(Date.now() - stoppedAt < 10_000, 'exits without waiting out a timeout (graceful-timeout is 30 s)');
  t.regex(daemon.output, /graceful stop/);
});

test.serial('under tini as PID 1 the orphan is reaped, and TERM still reaches appd', async (t) => {
  const daemon = await startDaemon(t, {
    args: [fixture('orphan-app.mjs'), '-w', '1', '-b', '127.0.0.1:0'],
    wrapper: [...NEW_PID_NAMESPACE, 'tini', '--'],
  });
  t.notRegex(daemon.output, /appd runs as PID 1/);
  const master = await masterPid(daemon);
  const tini = readStat(master)?.ppid ?? -1;
  t.regex(commandLine(tini), /^tini/);
  const before = new Set(allPids());
  t.regex((await get(`${daemon.url}/orphan`)).body, /orphaned/);
  await sleep(800); // the orphan's sleep 0.2 is long over
  const leftovers = allPids().filter(
    (pid) => !before.has(pid) && readStat(pid)?.state === 'Z' && [master, tini].includes(readStat(pid)?.ppid ?? -1),
  );
  t.deepEqual(leftovers, [], 'tini reaped the orphan');

  process.kill(tini, 'SIGTERM'); // what docker stop and the kubelet send: tini forwards it
  t.deepEqual(await daemon.exited(), { code: 0, signal: null }, daemon.output);
  t.regex(daemon.output, /SIGTERM: graceful stop/);
});
