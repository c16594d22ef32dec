// Fault injection: one daemon, one pool per way a worker goes wrong (busy loop, memory leak, exit during
// boot, never ready, deaf to stop requests), beside a healthy pool under load. Each is handled per its
// setting and shows in `appctl status --json` and the event feed; the healthy pool never fails a request.

import test from 'ava';
import type { SlotStatus, StatusSnapshot } from '../../shared/control/status.js';
import { spawnAppctl, statusOf, statusPoller } from '../helpers/appctl.js';
import { fixture, startDaemon } from '../helpers/daemon.js';
import { get } from '../helpers/http.js';
import { describeLoad, runLoad } from '../helpers/load-client.js';
import { isAlive, killQuietly, waitFor } from '../helpers/processes.js';
import { followWorkerEvents } from '../helpers/worker-events.js';

const CONFIG = `export default {
  name: 'unruly',
  pools: {
    web: { app: ${JSON.stringify(fixture('pid-app.mjs'))}, workers: 2, bind: ['127.0.0.1:0'] },
    busy: { app: ${JSON.stringify(fixture('busy-app.mjs'))}, bind: ['127.0.0.1:0'], timeout: 2 },
    leaky: { app: ${JSON.stringify(fixture('leaky-app.mjs'))}, bind: ['127.0.0.1:0'], maxMemory: '150M' },
    crashing: { app: ${JSON.stringify(fixture('boot-exit-app.mjs'))}, bind: ['127.0.0.1:0'], startRetries: 2 },
    stuck: { app: ${JSON.stringify(`${fixture('slow-boot-app.mjs')}:create()`)}, bind: ['127.0.0.1:0'], env: { BOOT_DELAY_MS: '600000' }, bootTimeout: 1, startRetries: 1 },
    deaf: { app: ${JSON.stringify(fixture('deaf-app.mjs'))}, bind: ['127.0.0.1:0'], gracefulTimeout: 1 },
  },
};
`;

function slotOf(snapshot: StatusSnapshot, pool: string): SlotStatus | undefined {
  return snapshot.pools.find((candidate) => candidate.name === pool)?.slots[0];
}

function pidsOf(snapshot: StatusSnapshot, pool: string): number[] {
  return (snapshot.pools.find((candidate) => candidate.name === pool)?.workers ?? []).map((worker) => worker.pid);
}

test('busy loop, leak, exit during boot, never ready, deaf to stop requests: each handled, shown, and web keeps serving', async (t) => {
  const daemon = await startDaemon(t, { args: ['-c', 'appd.config.mjs'], files: { 'appd.config.mjs': CONFIG }, timeoutMs: 30_000 });
  const events = await followWorkerEvents(t, daemon);
  const stopLoad = new AbortController();
  t.teardown(() => stopLoad.abort());
  const load = runLoad({ url: `${daemon.urlOf('web')}/`, mode: 'keep-alive', concurrency: 4, durationMs: 60_000, signal: stopLoad.signal });
  const before = await statusOf(daemon.directory);
  const webPids = pidsOf(before, 'web');

  // Exit during boot: failed starts with backoff, fatal after start-retries (2), so the daemon still started.
  t.like(slotOf(before, 'crashing'), { state: 'fatal', failures: 3, lastExit: { code: 1, signal: null, reason: 'failed to boot' } });
  // Never ready: killed at boot-timeout (1 s), fatal after start-retries (1).
  t.like(slotOf(before, 'stuck'), { state: 'fatal', failures: 2, lastExit: { code: null, signal: 'SIGKILL', reason: 'boot timeout' } });
  t.regex(daemon.output, /killing worker stuck\.0 g1 \(pid \d+\): not ready after 1s/);

  const busy = (async () => {
    const [stuckPid] = pidsOf(before, 'busy');
    const spunAt = Date.now();
    get(`${daemon.urlOf('busy')}/spin`, { timeoutMs: 30_000 }).catch(() => undefined); // never answered
    const slot = await waitFor(
      'the busy slot to record its timeout',
      async () => {
        const found = slotOf(await statusOf(daemon.directory), 'busy');
        return found?.lastExit?.reason === 'timeout' ? found : null;
      },
      20_000,
      200,
    );
    t.like(slot, { restarts: 1, lastExit: { signal: 'SIGKILL' } });
    t.false(isAlive(stuckPid ?? -1));
    t.regex(daemon.output, new RegExp(`WORKER TIMEOUT busy\\.0 g1 \\(pid ${stuckPid}\\): no heartbeat for [\\d.]+s \\(timeout 2s\\)`));
    t.is((await get(`${daemon.urlOf('busy')}/`)).status, 200, 'the busy pool serves again');
    return `busy loop: killed ${((Date.parse(slot.lastExit?.at ?? '') - spunAt) / 1000).toFixed(1)} s after it started spinning (timeout 2 s, stack grace up to 3 s), then replaced`;
  })();

  const leaky = (async () => {
    const [leakyPid] = pidsOf(before, 'leaky');
    await get(`${daemon.urlOf('leaky')}/grow`);
    await get(`${daemon.urlOf('leaky')}/grow`);
    const stopping = await waitFor(
      'the leaky worker to be replaced',
      () => events.all().find((event) => event.pid === leakyPid && event.state === 'stopping'),
      20_000,
    );
    t.regex(stopping.detail ?? '', /^replaced by leaky\.0 g1 \(pid \d+\) \(RSS \d+ MB is over max-memory 150 MB\)$/);
    await waitFor('the leaky worker to exit', () => !isAlive(leakyPid ?? -1), 20_000);
    t.regex((await get(`${daemon.urlOf('leaky')}/`)).body, /leaked=0/, 'its successor starts clean');
    const successor = (await statusOf(daemon.directory)).pools.find((pool) => pool.name === 'leaky')?.workers[0];
    return `leak: ${/RSS \d+ MB/.exec(stopping.detail ?? '')?.[0]} over max-memory 150 MB, replaced by a worker at ${Math.round((successor?.rssBytes ?? 0) / 2 ** 20)} MB`;
  })();

  const deaf = (async () => {
    const [deafPid] = pidsOf(before, 'deaf');
    const status = await statusPoller(t, daemon);
    const restart = spawnAppctl(['restart', 'deaf'], { runtimeDirectory: daemon.directory });
    t.teardown(() => killQuietly(restart.pid ?? -1));
    const shown = await waitFor(
      'the deaf worker to show as stopping',
      async () => {
        const worker = (await status()).pools.find((pool) => pool.name === 'deaf')?.workers.find((each) => each.pid === deafPid);
        return worker?.state === 'stopping' ? worker : null;
      },
      20_000,
      100,
    );
    t.regex(shown.stopReason ?? '', /^replaced by deaf\.0 g2/);
    const [, grace] = await daemon.waitForLog(
      new RegExp(`killing worker deaf\\.0 g1 \\(pid ${deafPid}\\): still running (\\d+)s after stop`),
      20_000,
    );
    t.is(grace, '2', 'graceful-timeout (1 s) plus the 1 s the worker gets to cut its own connections');
    // A ready HTTP worker is asked over IPC (DESIGN §17), not with SIGTERM, which it would ignore too.
    t.regex(daemon.output, new RegExp(`\\[${deafPid}\\] \\[deaf\\.0 g1\\] drain ignored; blocking`));
    const exited = await waitFor(
      'the deaf worker to exit',
      () => events.all().find((event) => event.pid === deafPid && event.state === 'exited'),
      20_000,
    );
    const stopped = events.all().find((event) => event.pid === deafPid && event.state === 'stopping');
    t.is(exited.detail, 'signal SIGKILL (reload)', 'appctl restart replaced it');
    return `ignores its drain: SIGKILLed ${((exited.time - (stopped?.time ?? 0)) / 1000).toFixed(1)} s after its stop (graceful-timeout 1 s + 1 s)`;
  })();

  const figures = await Promise.all([busy, leaky, deaf]);
  stopLoad.abort();
  const web = await load;
  const after = await statusOf(daemon.directory);
  t.log(`exit during boot: ${JSON.stringify(slotOf(before, 'crashing'))}`);
  t.log(`never ready: ${JSON.stringify(slotOf(before, 'stuck'))}`);
  for (const figure of figures) t.log(figure);
  t.log(`healthy pool meanwhile: ${describeLoad(web)}`);
  t.is(web.failed, 0, 'the healthy pool failed no request');
  t.true(web.ok > 0);
  t.deepEqual(pidsOf(after, 'web'), webPids, 'the healthy pool kept its workers');
  t.true(isAlive(daemon.pid));
  t.notRegex(daemon.output, /internal error|master loop error/);
});
