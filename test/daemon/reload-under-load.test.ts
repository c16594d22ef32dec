// Rolling reloads against 4 workers under keep-alive and HTTP/1.0 load, with no retries: consecutive
// reloads, a broken deploy that rolls back, a slot failing half-way (every slot keeps its old worker),
// reload-batch, readiness that waits for an async factory, and a config that fails to parse.

import test from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { appctl } from '../helpers/appctl.js';
import { fixture, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { get } from '../helpers/http.js';
import { commandLine, isAlive, sleep, waitFor } from '../helpers/processes.js';
import { assertNoFailures, underLoad } from '../helpers/under-load.js';

const APP = `${fixture('generation-app.mjs')}:create()`;
const GENERATION = /generation=(\d+)/;

function run(daemon: TestDaemon, ...args: string[]) {
  return appctl(args, { runtimeDirectory: daemon.directory, timeoutMs: 60_000 });
}

/** Worker pids by generation, from their titles ("appd: worker web.0 g2 [...]"). */
function workersOfGeneration(daemon: TestDaemon, generation: number): number[] {
  return daemon.workers().filter((pid) => new RegExp(`^appd: worker web\\.\\d+ g${generation} `).test(commandLine(pid)));
}

test.serial('5 consecutive reloads of 4 workers under keep-alive and HTTP/1.0 load fail no request', async (t) => {
  const daemon = await startDaemon(t, { args: [APP, '-w', '4', '-b', '127.0.0.1:0', '--graceful-timeout', '10'] });
  await daemon.waitForWorkers(4);
  const durations: number[] = [];
  const result = await underLoad(
    `${daemon.url}/?delay=2`,
    async () => {
      for (let generation = 2; generation <= 6; generation += 1) {
        const startedAt = performance.now();
        const reload = await run(daemon, 'reload');
        durations.push(Math.round(performance.now() - startedAt));
        t.is(reload.code, 0, reload.stderr);
        t.regex(reload.stdout, new RegExp(`pool web reloaded: generation ${generation} serves with 4 workers`));
      }
    },
    { classify: GENERATION },
  );
  t.log(`appctl reload took ${durations.join(', ')} ms; responses by generation: ${JSON.stringify(Object.fromEntries(result.seen))}`);
  assertNoFailures(t, result, '5 reloads');
  t.deepEqual([...result.seen.keys()].sort(), ['1', '2', '3', '4', '5', '6'], 'every generation answered');
  await waitFor('only generation 6 left', () => daemon.workers().length === 4 && workersOfGeneration(daemon, 6).length === 4);
});

test.serial("a broken deploy rolls back under load: appctl exits 1 with the app's error, the old workers keep serving", async (t) => {
  const app = `export default (request, response) => response.end('generation=' + process.env.APPD_GENERATION + ' pid=' + process.pid + '\\n');\n`;
  const daemon = await startDaemon(t, { args: ['app.mjs', '-w', '4', '-b', '127.0.0.1:0'], files: { 'app.mjs': app } });
  const before = (await daemon.waitForWorkers(4)).sort();
  writeFileSync(join(daemon.directory, 'app.mjs'), `import './missing-module.mjs';\nexport default () => {};\n`);
  const result = await underLoad(daemon.url, () => run(daemon, 'reload', '--json'), { classify: GENERATION });
  assertNoFailures(t, result, 'broken reload');
  const reload = result.value;
  t.is(reload.code, 1);
  t.like(JSON.parse(reload.stdout), { status: 'rolled_back' });
  t.regex(reload.stderr, /rolled back: a generation 2 worker failed to boot: .*missing-module\.mjs/s);
  t.regex(reload.stderr, /generation 1 keeps serving with 4 workers/);
  t.deepEqual([...result.seen.keys()], ['1'], 'only generation 1 ever answered');
  t.deepEqual(daemon.workers().sort(), before, 'the same four processes serve');
  t.regex((await get(daemon.url)).body, /^generation=1 /);
});

test.serial('a slot failing half-way rolls every slot back: the old worker of each slot was kept until the end', async (t) => {
  // Slot 2 of generation 2 cannot boot; slots 0 and 1 boot fine first (one at a time).
  const daemon = await startDaemon(t, { args: [APP, '-w', '4', '-b', '127.0.0.1:0'], env: { FAIL_SLOT: '2' } });
  const before = (await daemon.waitForWorkers(4)).sort();
  const result = await underLoad(`${daemon.url}/?delay=2`, () => run(daemon, 'reload'), { classify: GENERATION });
  assertNoFailures(t, result, 'reload failing at slot 2');
  t.is(result.value.code, 1, result.value.stdout);
  t.regex(result.value.stderr, /rolled back: .*slot 2 cannot boot generation 2/s);
  t.regex(result.value.stdout, /worker web\.1 g2 \(pid \d+\) ready \(2 of 4 on generation 2\)/, 'two slots had rolled before the failure');
  await waitFor('the generation 2 workers to drain', () => workersOfGeneration(daemon, 2).length === 0);
  t.deepEqual(daemon.workers().sort(), before, 'every slot is back on its generation 1 process');
  for (const pid of before) t.true(isAlive(pid));
  t.regex((await get(daemon.url)).body, /^generation=1 /);
  const status = JSON.parse((await run(daemon, 'status', '--json')).stdout) as {
    pools: { generation: number; ready: number; reloading: boolean }[];
  };
  t.like(status.pools[0], { generation: 1, ready: 4, reloading: false });
});

test.serial(
  'readiness waits for the async factory; reload-batch 2 boots two new workers at a time; old ones drain only at the end',
  async (t) => {
    const daemon = await startDaemon(t, {
      args: [`${fixture('slow-boot-app.mjs')}:create()`, '-w', '4', '-b', '127.0.0.1:0', '--reload-batch', '2', '--log-level', 'debug'],
      env: { BOOT_DELAY_MS: '700' },
    });
    await daemon.waitForWorkers(4);
    const from = daemon.output.length;
    const result = await underLoad(daemon.url, () => run(daemon, 'reload'));
    assertNoFailures(t, result, 'reload with a 700 ms factory');
    t.is(result.value.code, 0, result.value.stderr);
    const log = daemon.output.slice(from);
    t.regex(log, /pool web: rolling 4 workers to generation 2, 2 at a time/);
    // The master's own log, in its order: each spawn of a g2 worker and each g2 worker ready.
    let booting = 0;
    let mostBooting = 0;
    for (const [line] of log.matchAll(/(spawned worker web\.\d g2|worker web\.\d g2 \(pid \d+\) ready in)/g)) {
      booting += line.startsWith('spawned') ? 1 : -1;
      mostBooting = Math.max(mostBooting, booting);
    }
    t.is(mostBooting, 2, 'two new workers booted at a time, never more');
    const readyAt = [...log.matchAll(/worker web\.(\d) g2 \(pid \d+\) ready in (\d+)ms/g)];
    t.is(readyAt.length, 4);
    for (const match of readyAt) t.true(Number(match[2]) >= 700, `ready only after the factory resolved (${match[2]} ms)`);
    const lastReady = Math.max(...readyAt.map((match) => match.index));
    const firstStop = log.search(/stopping worker web\.\d g1/);
    t.true(firstStop > lastReady, 'no old worker was asked to stop before the whole new generation was ready');
  },
);

test('a config file that fails to parse or validate changes nothing; the daemon keeps serving (appctl reload and HUP)', async (t) => {
  const daemon = await startDaemon(t, {
    args: ['-c', 'appd.config.mjs', '-b', '127.0.0.1:0'],
    files: { 'appd.config.mjs': `export default { app: ${JSON.stringify(APP)}, workers: 2 };\n` },
  });
  const before = (await daemon.waitForWorkers(2)).sort();
  writeFileSync(
    join(daemon.directory, 'appd.config.mjs'),
    `export default { app: ${JSON.stringify(APP)}, workers: 3, gracefulTimeot: 5 };\n`,
  );
  const unknownKey = await run(daemon, 'reload');
  t.is(unknownKey.code, 1);
  t.regex(unknownKey.stderr, /reload failed, nothing changed: .*gracefulTimeot.*gracefulTimeout/);
  writeFileSync(join(daemon.directory, 'appd.config.mjs'), `export default { app: ${JSON.stringify(APP)}, workers: 3,, };\n`);
  const syntax = await run(daemon, 'reload');
  t.is(syntax.code, 1);
  t.regex(syntax.stderr, /reload failed, nothing changed: .*appd\.config\.mjs/);
  const from = daemon.output.length;
  daemon.signal('SIGHUP');
  await daemon.waitForLog(/\[ERROR\] reload failed, nothing changed: .*appd\.config\.mjs/, 10_000, from);
  await sleep(300);
  t.deepEqual(daemon.workers().sort(), before, 'the same two workers, no third');
  t.regex((await get(daemon.url)).body, /^generation=1 /);
  t.is((await run(daemon, 'ping')).code, 0);
});
