// Pools: two HTTP pools and two command pools (one a Python server taking its socket through
// LISTEN_FDS) in one daemon, each scaled, reloaded, restarted, stopped and started on its own.

import test from 'ava';
import type { StatusSnapshot } from '../../shared/control/status.js';
import { ControlClient } from '../../ctl/client/connection.js';
import { appctl, statusOf } from '../helpers/appctl.js';
import { fixture, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { distinctResponders, get } from '../helpers/http.js';
import { commandLine, isAlive, waitFor } from '../helpers/processes.js';

const SHOP = `export default {
  name: 'shop',
  pools: {
    web: { app: ${JSON.stringify(fixture('pid-app.mjs'))}, workers: 2, bind: ['127.0.0.1:0'] },
    admin: { app: ${JSON.stringify(`${fixture('app-forms.mjs')}:createApp()`)}, workers: 1, bind: ['127.0.0.1:0', 'unix:admin.sock'] },
    jobs: { command: ['node', ${JSON.stringify(fixture('queue-worker.mjs'))}, '--queue', 'default'], workers: 2 },
    legacy: { command: ['python3', ${JSON.stringify(fixture('listen-fds-server.py'))}], workers: 2, bind: ['127.0.0.1:0'] },
  },
};
`;

async function run(daemon: TestDaemon, ...args: string[]): Promise<string> {
  const result = await appctl(args, { runtimeDirectory: daemon.directory, timeoutMs: 60_000 });
  if (result.code !== 0) throw new Error(`appctl ${args.join(' ')} exited ${result.code}: ${result.stderr}`);
  return result.stdout;
}

function pidsOf(snapshot: StatusSnapshot, pool: string): number[] {
  return (snapshot.pools.find((candidate) => candidate.name === pool)?.workers ?? []).map((worker) => worker.pid).sort();
}

/** The status once none of `old` is listed in `pool` any more (the old generation has exited). */
async function withoutPids(daemon: TestDaemon, pool: string, old: readonly number[]): Promise<StatusSnapshot> {
  return waitFor(`the old workers of ${pool} (${old.join(', ')}) to exit`, async () => {
    const snapshot = await statusOf(daemon.directory);
    return pidsOf(snapshot, pool).some((pid) => old.includes(pid)) ? null : snapshot;
  });
}

function portOf(daemon: TestDaemon, pool: string): number {
  const match = new RegExp(`Listening at: http://127\\.0\\.0\\.1:(\\d+) \\(fd \\d+, bound, pool ${pool}\\)`).exec(daemon.output);
  if (!match) throw new Error(`no listener for pool ${pool} in:\n${daemon.output}`);
  return Number(match[1]);
}

test('four pools: each serves, scales, reloads, restarts, stops and starts independently', async (t) => {
  const daemon = await startDaemon(t, { args: ['-c', 'appd.config.mjs'], files: { 'appd.config.mjs': SHOP }, timeoutMs: 30_000 });
  const web = `http://127.0.0.1:${portOf(daemon, 'web')}/`;
  const admin = `http://127.0.0.1:${portOf(daemon, 'admin')}/`;
  const legacy = `http://127.0.0.1:${portOf(daemon, 'legacy')}/`;

  t.is((await distinctResponders(`${web}?busy=30`, /pid=(\d+)/, 2)).size, 2, 'both web workers answer');
  t.is((await get(admin)).body, 'esm factory\n');
  t.is((await get('http://localhost/', { socketPath: `${daemon.directory}/admin.sock` })).body, 'esm factory\n');
  const legacyAnswer = (await get(legacy)).body;
  t.regex(
    legacyAnswer,
    new RegExp(`^legacy slot=\\d pid=\\d+ fds=1 names=127\\.0\\.0\\.1_${portOf(daemon, 'legacy')}\\n$`),
    'LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES were right',
  );

  let snapshot = await statusOf(daemon.directory);
  t.deepEqual(
    snapshot.pools.map((pool) => [pool.name, pool.kind, pool.desired, pool.ready]),
    [
      ['web', 'http', 2, 2],
      ['admin', 'http', 1, 1],
      ['jobs', 'command', 2, 2],
      ['legacy', 'command', 2, 2],
    ],
  );
  t.true(snapshot.pools.every((pool) => pool.slots.every((slot) => slot.state === 'running')));
  const before = Object.fromEntries(['web', 'admin', 'jobs', 'legacy'].map((pool) => [pool, pidsOf(snapshot, pool)]));
  t.true(pidsOf(snapshot, 'jobs').every((pid) => commandLine(pid).includes('queue-worker.mjs --queue default')));

  await run(daemon, 'scale', 'jobs', '+2');
  snapshot = await statusOf(daemon.directory);
  t.is(pidsOf(snapshot, 'jobs').length, 4);
  t.deepEqual(pidsOf(snapshot, 'web'), before['web'], 'scaling jobs leaves web alone');

  await run(daemon, 'reload', 'web');
  // The reload completes once the new generation serves; the old one is told to stop then and is listed
  // until it has drained and exited (on a loaded machine, after the status below could be read).
  snapshot = await withoutPids(daemon, 'web', before['web'] ?? []);
  t.deepEqual(
    pidsOf(snapshot, 'web').filter((pid) => before['web']?.includes(pid)),
    [],
    'web has new workers',
  );
  t.deepEqual(pidsOf(snapshot, 'legacy'), before['legacy'], 'a web reload leaves legacy alone');
  t.is(snapshot.pools.find((pool) => pool.name === 'web')?.generation, 2);

  await run(daemon, 'reload', 'legacy');
  snapshot = await withoutPids(daemon, 'legacy', before['legacy'] ?? []);
  t.deepEqual(
    pidsOf(snapshot, 'legacy').filter((pid) => before['legacy']?.includes(pid)),
    [],
    'legacy has new processes',
  );
  t.regex((await get(legacy)).body, /^legacy slot=/);

  const jobsBefore = pidsOf(snapshot, 'jobs');
  await run(daemon, 'restart', 'jobs');
  snapshot = await statusOf(daemon.directory);
  t.is(pidsOf(snapshot, 'jobs').length, 4);
  t.deepEqual(
    pidsOf(snapshot, 'jobs').filter((pid) => jobsBefore.includes(pid)),
    [],
    'a restart replaces every process',
  );
  t.regex(
    daemon.output,
    /stopping worker jobs\.0 g1 \(pid \d+\): restarting into generation 2[\s\S]*worker jobs\.0 g2 \(pid \d+\) running/,
    'a plain command pool stops the old process before starting the new one',
  );

  await run(daemon, 'stop-pool', 'legacy');
  snapshot = await statusOf(daemon.directory);
  const stoppedLegacy = snapshot.pools.find((pool) => pool.name === 'legacy');
  t.is(stoppedLegacy?.workers.length, 0);
  t.true(stoppedLegacy?.stopped);
  t.true(stoppedLegacy?.slots.every((slot) => slot.state === 'stopped'));
  t.is((await get(web)).status, 200, 'other pools keep serving');

  await run(daemon, 'start-pool', 'legacy');
  t.regex((await get(legacy)).body, /^legacy slot=/);
  t.is((await statusOf(daemon.directory)).pools.find((pool) => pool.name === 'legacy')?.ready, 2);
});

test('a crash-looping command pool backs off, turns fatal after start-retries, and restart revives it', async (t) => {
  const config = `export default {
  pools: {
    web: { app: ${JSON.stringify(fixture('pid-app.mjs'))}, bind: ['127.0.0.1:0'] },
    flaky: { command: ['sh', '-c', 'test -f ok && exec sleep 600; echo "no ok file"; exit 3'], startRetries: 6, startSeconds: 0.5 },
  },
};
`;
  const daemon = await startDaemon(t, { args: ['-c', 'appd.config.mjs'], files: { 'appd.config.mjs': config }, waitFor: 'nothing' });
  const socket = (await daemon.waitForLog(/Control socket: (\S+)/))[1] ?? '';
  // In-process, not appctl: a backoff lasts a fraction of a second, shorter than an appctl run on a busy machine.
  const client = await ControlClient.connect(socket);
  t.teardown(() => client.close());
  const seen = new Set<string>();
  const fatal = await waitFor(
    'the flaky slot to be fatal',
    async () => {
      const outcome = await client.request({ command: 'status' });
      const snapshot = outcome.status === 'completed' ? (outcome.data as StatusSnapshot) : null;
      const slot = snapshot?.pools.find((pool) => pool.name === 'flaky')?.slots[0];
      if (slot) seen.add(slot.state);
      return slot?.state === 'fatal' ? slot : null;
    },
    30_000,
    20,
  );
  // A backoff lasts a fraction of a second; on a loaded machine even these polls can miss every one, so
  // the log's "next start in" counts too (slotState's backoff is unit-tested in units.test.ts).
  t.true(
    seen.has('backoff') || /slot flaky\.0 failed to start 2 times in a row; next start in/.test(daemon.output),
    `states seen: ${[...seen].join(', ')}`,
  );
  t.is(fatal.failures, 7, 'fatal after start-retries (6) retries, i.e. the seventh failed start');
  t.is(fatal.restarts, 7);
  t.deepEqual(fatal.lastExit && { code: fatal.lastExit.code, signal: fatal.lastExit.signal }, { code: 3, signal: null });
  t.regex(daemon.output, /slot flaky\.0 failed to start 7 times in a row; giving up \(fatal\) until appctl restart flaky/);
  await daemon.waitForLog(/\[INFO\] ready: 1 worker/, 10_000);
  t.regex(daemon.output, /\[flaky\.0 g1\] no ok file/);
  t.is((await get(`http://127.0.0.1:${portOf(daemon, 'web')}/`)).status, 200, 'the web pool is unaffected');

  const { writeFileSync } = await import('node:fs');
  writeFileSync(`${daemon.directory}/ok`, '');
  await run(daemon, 'restart', 'flaky');
  const slot = (await statusOf(daemon.directory)).pools.find((pool) => pool.name === 'flaky')?.slots[0];
  t.is(slot?.state, 'running');
  t.is(slot?.failures, 0);
});

test('restart policies: on-failure leaves a clean exit exited, always restarts it', async (t) => {
  const config = `export default {
  pools: {
    once: { command: ['sh', '-c', 'echo once; exit 0'], restart: 'on-failure' },
    again: { command: ['sh', '-c', 'echo again; sleep 0.2; exit 0'], restart: 'always', startSeconds: 0.1 },
  },
};
`;
  const daemon = await startDaemon(t, { args: ['-c', 'appd.config.mjs'], files: { 'appd.config.mjs': config }, waitFor: 'nothing' });
  await daemon.waitForLog(/Control socket: /); // appctl before that finds no daemon
  await waitFor(
    'once to be exited',
    async () => (await statusOf(daemon.directory)).pools.find((pool) => pool.name === 'once')?.slots[0]?.state === 'exited',
    20_000,
    100,
  );
  await daemon.waitForLog(/slot once\.0 stays exited \(restart: on-failure\)/);
  await waitFor(
    'again to restart twice',
    async () => ((await statusOf(daemon.directory)).pools.find((pool) => pool.name === 'again')?.restarts ?? 0) >= 2,
    20_000,
    100,
  );
  t.is((daemon.output.match(/\[once\.0 g1\] once/g) ?? []).length, 1, 'on-failure never started it again');
});

test('a reload adds a pool with its own socket, and removing it closes the socket', async (t) => {
  const one = `export default { pools: { web: { app: ${JSON.stringify(fixture('pid-app.mjs'))}, bind: ['127.0.0.1:0'] } } };\n`;
  const two = `export default { pools: {
    web: { app: ${JSON.stringify(fixture('pid-app.mjs'))}, bind: ['127.0.0.1:0'] },
    extra: { app: ${JSON.stringify(fixture('app-forms.mjs'))}, bind: ['127.0.0.1:0'], workers: 2 },
  } };\n`;
  const daemon = await startDaemon(t, { args: ['-c', 'appd.config.mjs'], files: { 'appd.config.mjs': one } });
  const web = `http://127.0.0.1:${portOf(daemon, 'web')}/`;
  const { writeFileSync } = await import('node:fs');
  writeFileSync(`${daemon.directory}/appd.config.mjs`, two);
  await run(daemon, 'reload');
  const extraPort = Number(/Listening at: http:\/\/127\.0\.0\.1:(\d+) \(fd \d+, bound on reload, pool extra\)/.exec(daemon.output)?.[1]);
  await waitFor('extra to serve', async () => (await get(`http://127.0.0.1:${extraPort}/`).catch(() => null))?.body === 'esm default\n');
  // One worker serving says nothing of the other, which may still be loading the app (CI, Node 24).
  await waitFor(
    'both extra workers ready',
    async () => (await statusOf(daemon.directory)).pools.find((pool) => pool.name === 'extra')?.ready === 2,
  );
  t.is((await get(web)).status, 200);

  writeFileSync(`${daemon.directory}/appd.config.mjs`, one);
  const extraPids = pidsOf(await statusOf(daemon.directory), 'extra');
  await run(daemon, 'reload');
  await waitFor('extra workers gone', () => extraPids.every((pid) => !isAlive(pid)));
  await daemon.waitForLog(/pool extra: removed/);
  await t.throwsAsync(get(`http://127.0.0.1:${extraPort}/`), { code: 'ECONNREFUSED' });
  t.deepEqual(
    (await statusOf(daemon.directory)).pools.map((pool) => pool.name),
    ['web'],
  );
});

test('a config error in pools names the pool and the setting', async (t) => {
  const config = `export default { pools: { jobs: { command: ['node', 'x.js'], wrokers: 2 } } };\n`;
  const daemon = await startDaemon(t, { args: ['-c', 'appd.config.mjs'], files: { 'appd.config.mjs': config }, waitFor: 'nothing' });
  t.is((await daemon.exited()).code, 2);
  t.regex(
    daemon.output,
    /appd: invalid pools \(from config file appd\.config\.mjs\): pools\.jobs: "wrokers" cannot be set per pool; did you mean "workers"\?/,
  );
  const missing = await startDaemon(t, {
    args: ['-c', 'appd.config.mjs'],
    files: { 'appd.config.mjs': `export default { pools: { legacy: { command: ['no-such-program-xyz'] } } };\n` },
    waitFor: 'nothing',
  });
  t.is((await missing.exited()).code, 2);
  t.regex(missing.output, /appd: pools\.legacy\.command: "no-such-program-xyz" is not an executable file on PATH/);
});
