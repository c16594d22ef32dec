// The /metrics figures in `appctl status --json`, `appctl status` and `appctl top`: request rate by
// status class, latency p50/p99, totals that survive a worker, restarts by reason, the accept queue.

import test from 'ava';
import { TopModel } from '../../ctl/top/model.js';
import { renderPlainFrame } from '../../ctl/top/render.js';
import { plainPainter } from '../../ctl/top/style.js';
import { appctl, statusOf } from '../helpers/appctl.js';
import { fixture, startDaemon } from '../helpers/daemon.js';
import { get } from '../helpers/http.js';
import { describeLoad, runLoad } from '../helpers/load-client.js';
import { waitFor } from '../helpers/processes.js';
import { statusSnapshot } from '../helpers/status-fixture.js';

test('status --json and status carry request rate by class, latency percentiles, restarts by reason and the accept queue', async (t) => {
  const daemon = await startDaemon(t, { args: [fixture('crash-app.mjs'), '-w', '2', '-b', '127.0.0.1:0', '--backlog', '64'] });
  // Load until the master's rates (over its last ~10 s) show both classes and the latencies.
  const stop = new AbortController();
  const ok = runLoad({ url: `${daemon.url}/`, mode: 'keep-alive', concurrency: 2, durationMs: 60_000, signal: stop.signal });
  const failing = runLoad({
    url: `${daemon.url}/status/503`,
    mode: 'keep-alive',
    concurrency: 1,
    durationMs: 60_000,
    okStatuses: [503],
    signal: stop.signal,
  });
  const during = await waitFor(
    'rates for 2xx and 5xx',
    async () => {
      const requests = (await statusOf(daemon.directory)).pools[0]?.requests;
      return (requests?.perSecond?.['2xx'] ?? 0) > 0 && (requests?.perSecond?.['5xx'] ?? 0) > 0 && requests?.latencyP99Ms !== null
        ? requests
        : null;
    },
    30_000,
    250,
  ).finally(() => stop.abort());
  const [served, refused] = await Promise.all([ok, failing]);
  t.is(served.failed + refused.failed, 0, `${describeLoad(served)}; ${describeLoad(refused)}`);
  t.true((during?.latencyP50Ms ?? 0) > 0 && (during?.latencyP99Ms ?? 0) >= (during?.latencyP50Ms ?? 0), JSON.stringify(during));
  t.like(during?.perSecond, { '1xx': 0, '3xx': 0, '4xx': 0 });
  // A crash after the load: its worker's counts stay in the totals.
  await waitFor(
    'every request in the totals',
    async () => {
      const requests = (await statusOf(daemon.directory)).pools[0]?.requests;
      return requests?.total['2xx'] === served.ok && requests.total['5xx'] === refused.ok ? true : null;
    },
    15_000,
    200,
  );
  await get(`${daemon.url}/crash`);
  await daemon.waitForLog(/exited unexpectedly \(exit code 1\)/);
  const snapshot = await waitFor(
    'the replacement and the crash counted',
    async () => {
      const status = await statusOf(daemon.directory);
      return status.pools[0]?.ready === 2 && status.pools[0].restartsByReason?.['crash'] === 1 ? status : null;
    },
    15_000,
    200,
  );
  const web = snapshot.pools[0];
  t.like(web?.requests?.total, { '2xx': served.ok, '5xx': refused.ok, '4xx': 0 });
  t.like(web?.restartsByReason, { crash: 1, oom: 0, reload: 0 });
  t.is(snapshot.master.listenQueues?.length, 1);
  t.like(snapshot.master.listenQueues?.[0], { bind: `127.0.0.1:${daemon.port}`, queued: 0, limit: 64 });

  const text = await appctl(['status'], { runtimeDirectory: daemon.directory });
  t.regex(text.stdout, /^ {2}accept queue \(waiting\/limit\): 127\.0\.0\.1:\d+ 0\/64$/m);
  // The rate as formatRate words it: 12.7k once a fast machine passes 10,000 a second.
  t.regex(text.stdout, new RegExp(`^ {4}requests: [\\d.]+k? req/s.*; ${served.ok + refused.ok} answered$`, 'm'));
  t.regex(text.stdout, /^ {4}restarts by reason: crash 1$/m);
});

test('top shows 5xx/s, p50 and p99 per pool, and the accept queue and restarts by reason in its header', (t) => {
  const snapshot = statusSnapshot(
    [],
    {
      restarts: 3,
      restartsByReason: { crash: 2, timeout: 0, oom: 1 },
      requests: {
        total: { '1xx': 0, '2xx': 900, '3xx': 0, '4xx': 0, '5xx': 100 },
        perSecond: { '1xx': 0, '2xx': 90, '3xx': 0, '4xx': 0, '5xx': 12.5 },
        latencyP50Ms: 2.5,
        latencyP99Ms: 48,
        windowMs: 10_000,
      },
    },
    { listenQueues: [{ bind: '127.0.0.1:8000', queued: 7, limit: 511 }] },
  );
  const model = new TopModel({ name: 'shop', pid: 100, version: '0.1.0', node: 'v20.0.0' });
  model.update(snapshot, 1000);
  const frame = renderPlainFrame(model, 160, plainPainter(false), 1000).join('\n');
  t.regex(frame, /queue 7/);
  t.regex(frame, /restarts crash 2, oom 1/);
  t.regex(frame, /5XX\/S +P50 +P99/);
  t.regex(frame, /^\W*web .* 13 +2\.5ms +48ms /m);
});
