// Fault injection: two pools crash-loop for 30 s (four commands that exit at once, two HTTP workers
// that exit while booting) beside a healthy HTTP pool under load. The backoff keeps the master's CPU
// low, and the healthy pool neither fails a request nor loses a worker.
// (`npm run bench:crash-loop` measures the same without the HTTP crash loop and the load.)

import test from 'ava';
import { statusOf } from '../helpers/appctl.js';
import { fixture, startDaemon } from '../helpers/daemon.js';
import { describeLoad, runLoad } from '../helpers/load-client.js';
import { isAlive, sleep, waitFor } from '../helpers/processes.js';
import { cpuSeconds } from '../bench/proc-usage.js';

const SECONDS = 30;
/** Generous on a shared machine: the bench measured 0.43% for the command loop alone. */
const MASTER_CPU_LIMIT_PERCENT = 10;

const CONFIG = `export default {
  pools: {
    web: { app: ${JSON.stringify(fixture('pid-app.mjs'))}, workers: 2, bind: ['127.0.0.1:0'] },
    crashing: { command: ['sh', '-c', 'exit 1'], workers: 4, startRetries: 1000000 },
    crashboot: { app: ${JSON.stringify(fixture('boot-exit-app.mjs'))}, workers: 2, bind: ['127.0.0.1:0'], startRetries: 1000000 },
  },
};
`;

test(`crash-looping pools for ${SECONDS} s: master CPU stays low, the healthy pool is untouched`, async (t) => {
  t.timeout((SECONDS + 60) * 1000);
  const daemon = await startDaemon(t, { args: ['-c', 'appd.config.mjs'], files: { 'appd.config.mjs': CONFIG }, waitFor: 'nothing' });
  // The first start waits for every slot to run or turn fatal, which a crash loop never does, so the
  // daemon reports ready only at boot-timeout; web's workers serve as soon as they are ready.
  const webWorkers = await waitFor('web to be ready', async () => {
    const web = (await statusOf(daemon.directory).catch(() => null))?.pools.find((pool) => pool.name === 'web');
    return web?.ready === 2 ? web.workers.map((worker) => worker.pid) : null;
  }, 30_000, 200);
  const crashesIn = () => (daemon.output.match(/worker (crashing|crashboot)\.\d g\d+ \(pid \d+\) exited/g) ?? []).length;
  const crashesBefore = crashesIn();
  const cpuBefore = cpuSeconds(daemon.pid);
  const startedAt = Date.now();
  const load = runLoad({ url: `${daemon.urlOf('web')}/`, mode: 'keep-alive', concurrency: 2, durationMs: SECONDS * 1000 });
  await sleep(Math.max(0, SECONDS * 1000 - (Date.now() - startedAt)));
  const cpu = cpuSeconds(daemon.pid) - cpuBefore;
  const elapsed = (Date.now() - startedAt) / 1000;
  const web = await load;
  const crashes = crashesIn() - crashesBefore;
  const snapshot = await statusOf(daemon.directory);
  const failures = snapshot.pools.filter((pool) => pool.name !== 'web').flatMap((pool) => pool.slots.map((slot) => slot.failures));

  const percent = (cpu / elapsed) * 100;
  t.log(`${crashes} crashes in ${elapsed.toFixed(0)} s (slots now at ${Math.min(...failures)}-${Math.max(...failures)} failed starts in a row, backing off)`);
  t.log(`master CPU ${cpu.toFixed(2)} s = ${percent.toFixed(2)}% of one core (limit ${MASTER_CPU_LIMIT_PERCENT}%)`);
  t.log(`healthy pool meanwhile: ${describeLoad(web)}`);
  t.true(crashes >= 6 * 3, 'every crashing slot was retried several times');
  t.true(percent < MASTER_CPU_LIMIT_PERCENT, `master CPU ${percent.toFixed(2)}%`);
  t.is(web.failed, 0);
  t.true(web.ok > 0);
  t.deepEqual(snapshot.pools.find((pool) => pool.name === 'web')?.workers.map((worker) => worker.pid), webWorkers, 'web kept its workers');
  t.true(isAlive(daemon.pid));
});
