// /metrics scraped by a real Prometheus every second, in both exposition formats (OpenMetrics, which
// Prometheus asks for, and the 0.0.4 text format through ?format=prometheus): rate() and the counters
// match the requests sent, histogram_quantile answers, the ready workers equal the pool, Prometheus holds
// every series the catalog declares, promtool finds nothing to lint, and no counter goes down across a
// reload and a worker crash.

import test from 'ava';
import { spawnSync } from 'node:child_process';
import { fixture, startDaemon } from '../helpers/daemon.js';
import { catalogSampleNames, metricsAddress } from '../helpers/metrics.js';
import { METRIC_LIST } from '../../daemon/metrics/catalog.js';
import { get } from '../helpers/http.js';
import { describeLoad, runLoad } from '../helpers/load-client.js';
import { PROMETHEUS_INSTALLED, PrometheusServer } from '../helpers/prometheus.js';
import { reloadAndWait } from '../helpers/reload.js';
import { waitFor } from '../helpers/processes.js';

const JOBS = ['openmetrics', 'text'] as const;

/** Waits until Prometheus shows `expected` for `expression` in both jobs. */
async function settle(prometheus: PrometheusServer, expression: (job: string) => string, expected: number, what: string): Promise<void> {
  for (const job of JOBS) {
    await waitFor(
      `${what} (${job}) to read ${expected}`,
      async () => (await prometheus.value(expression(job))) === expected,
      30_000,
      250,
    ).catch(async (error: Error) => {
      throw new Error(`${error.message}; it reads ${await prometheus.value(expression(job))}`);
    });
  }
}

if (!PROMETHEUS_INSTALLED)
  test.skip('SKIPPED: prometheus and promtool are not installed (.ci/run installs them with apt)', () => undefined);
const prometheusTest = PROMETHEUS_INSTALLED ? test : test.skip;

prometheusTest(
  'Prometheus scraping every second: rate and totals match the requests sent, counters survive a reload and a crash',
  async (t) => {
    const daemon = await startDaemon(t, {
      args: [fixture('crash-app.mjs'), '-w', '2', '-b', '127.0.0.1:0', '--metrics-bind', '127.0.0.1:0'],
    });
    const admin = metricsAddress(daemon);
    const prometheus = await PrometheusServer.start(t, [
      { name: 'openmetrics', target: admin },
      { name: 'text', target: admin, params: { format: ['prometheus'] } },
    ]);
    const requests = (job: string): string => `sum(appd_http_requests_total{job="${job}"})`;
    // Three seconds of samples at zero before the load, so rate() over a window from before it sees the start.
    await settle(prometheus, (job) => `count_over_time(appd_up{job="${job}"}[3s]) >= bool 3`, 1, 'three scrapes');
    await settle(prometheus, requests, 0, 'the request counter');
    const windowStart = Date.now() / 1000 - 2;

    const load = await runLoad({ url: `${daemon.url}/`, mode: 'keep-alive', concurrency: 4, durationMs: 5000 });
    t.is(load.failed, 0, describeLoad(load));
    await settle(prometheus, requests, load.ok, 'every request counted');
    for (const target of await prometheus.targets()) t.is(target.health, 'up', `${target.job}: ${target.lastError}`);
    // Prometheus holds every series name the catalog declares (the README's list), from both formats.
    for (const job of JOBS) {
      const names = await prometheus.query(`count by (__name__) ({job="${job}",__name__=~"appd_.+|process_.+|nodejs_.+"})`);
      t.deepEqual(
        names.map((sample) => sample.metric['__name__'] ?? '').sort(),
        catalogSampleNames(METRIC_LIST),
        `${job}: series names in Prometheus`,
      );
    }

    for (const job of JOBS) {
      // Evaluated at the last scrape, over a window whose first sample is still 0: Prometheus extrapolates
      // neither end (a counter starting at 0 is not extended before it), so rate x window is what was counted.
      const at = await prometheus.lastSampleTime(`appd_up{job="${job}"}`);
      const windowSeconds = Math.ceil(at - windowStart);
      const rate = await prometheus.value(`sum(rate(appd_http_requests_total{job="${job}",code="2xx"}[${windowSeconds}s]))`, at);
      const estimated = (rate ?? 0) * windowSeconds;
      t.true(
        Math.abs(estimated - load.ok) <= load.ok * 0.1,
        `${job}: rate ${rate}/s over ${windowSeconds}s is ${estimated} requests, sent ${load.ok}`,
      );
      const p99 = await prometheus.value(
        `histogram_quantile(0.99, sum by (le) (rate(appd_http_request_duration_seconds_bucket{job="${job}"}[${windowSeconds}s])))`,
        at,
      );
      t.true(p99 !== null && Number.isFinite(p99) && p99 > 0, `${job}: p99 ${p99}`);
      t.is(await prometheus.value(`appd_workers{job="${job}",state="ready"}`), 2, `${job}: ready workers`);
      t.log(
        `${job}: ${load.ok} requests sent, rate() over ${windowSeconds}s gives ${estimated.toFixed(0)}; p99 ${((p99 ?? 0) * 1000).toFixed(1)} ms`,
      );
    }

    const text = await get(`http://${admin}/metrics`);
    const lint = spawnSync('promtool', ['check', 'metrics'], { input: text.body, encoding: 'utf8' });
    t.is(lint.status, 0, lint.stdout + lint.stderr);
    t.is((lint.stdout + lint.stderr).trim(), '', 'promtool check metrics has nothing to say');

    // A reload replaces both workers, a crash one more: the totals carry on from where they were.
    await reloadAndWait(daemon, 2);
    t.is((await get(`${daemon.url}/crash`)).body, 'crashing\n');
    await daemon.waitForLog(/exited unexpectedly \(exit code 1\)/);
    await settle(prometheus, (job) => `appd_workers{job="${job}",state="ready"}`, 2, 'ready workers after the crash');
    // The new workers' counts add to the old ones' (which they are fewer than: a counter that restarted
    // from the new workers alone would read less).
    const more = await runLoad({ url: `${daemon.url}/`, mode: 'keep-alive', concurrency: 2, durationMs: 1000 });
    const missing = await runLoad({
      url: `${daemon.url}/status/404`,
      mode: 'keep-alive',
      concurrency: 2,
      durationMs: 500,
      okStatuses: [404],
    });
    t.is(more.failed + missing.failed, 0, `${describeLoad(more)}; ${describeLoad(missing)}`);
    await settle(prometheus, (job) => `sum(appd_http_requests_total{job="${job}",code="4xx"})`, missing.ok, 'the 404s');
    await settle(
      prometheus,
      (job) => `sum(appd_http_requests_total{job="${job}",code="2xx"})`,
      load.ok + more.ok,
      'the 200s, before and after a reload and a crash',
    );
    await settle(
      prometheus,
      (job) =>
        `sum(resets(appd_http_requests_total{job="${job}"}[5m])) + sum(resets(appd_http_request_duration_seconds_count{job="${job}"}[5m]))`,
      0,
      'counter resets',
    );
    await settle(prometheus, (job) => `appd_worker_restarts_total{job="${job}",reason="reload"}`, 2, 'restarts by reload');
    await settle(prometheus, (job) => `appd_worker_restarts_total{job="${job}",reason="crash"}`, 1, 'restarts by crash');
    await settle(prometheus, (job) => `appd_reloads_total{job="${job}",outcome="completed"}`, 1, 'completed reloads');
    await settle(prometheus, (job) => `appd_reload_duration_seconds_count{job="${job}"}`, 1, 'reload durations');
  },
);
