// A live /metrics serves exactly the families daemon/metrics/catalog.ts declares (the README's list is
// generated from it), with their types, in both exposition formats: none missing, none undeclared;
// the per-slot gauges exist only while the slot has a worker.

import test from 'ava';
import { METRIC_LIST } from '../../daemon/metrics/catalog.js';
import { fixture, startDaemon } from '../helpers/daemon.js';
import { get } from '../helpers/http.js';
import { catalogSampleNames, metricsAddress, servedFamilies } from '../helpers/metrics.js';
import { waitFor } from '../helpers/processes.js';

/** How OpenMetrics names a family: a counter without _total, appd_info as the info family "appd". */
function openMetricsType(name: string, type: string): string {
  if (type === 'counter') return `${name.replace(/_total$/, '')} counter`;
  if (name === 'appd_info') return 'appd info';
  return `${name} ${type}`;
}

test("/metrics serves every family of the catalog with its type, and nothing else, in both formats; a slot's series go with its worker", async (t) => {
  // A TCP bind (appd_listen_queue) and a worker (the per-slot gauges): every family has samples.
  const daemon = await startDaemon(t, {
    args: [fixture('crash-app.mjs'), '-w', '1', '-b', '127.0.0.1:0', '--metrics-bind', '127.0.0.1:0'],
  });
  const admin = metricsAddress(daemon);
  await get(`${daemon.url}/`);
  // The loop-delay gauge has a sample once the worker's first heartbeat brought its stats.
  await waitFor(
    "the worker's first stats",
    async () => (await get(`http://${admin}/metrics`)).body.includes('appd_worker_event_loop_delay_seconds{'),
    30_000,
    200,
  );
  const expectedSamples = catalogSampleNames(METRIC_LIST);
  const expectedTypes = {
    prometheus: METRIC_LIST.map((spec) => `${spec.name} ${spec.type}`).sort(),
    openmetrics: METRIC_LIST.map((spec) => openMetricsType(spec.name, spec.type)).sort(),
  };
  for (const format of ['prometheus', 'openmetrics'] as const) {
    const served = servedFamilies((await get(`http://${admin}/metrics?format=${format}`)).body);
    t.deepEqual(served.types, expectedTypes[format], `${format}: # TYPE lines`);
    t.deepEqual(served.sampleNames, expectedSamples, `${format}: sample names`);
  }
  t.log(`${METRIC_LIST.length} families, ${expectedSamples.length} sample names, in both formats`);

  // Per-slot series come and go with the slot's worker: TTIN adds slot 1, TTOU retires it.
  const slotOne = async (): Promise<string[]> =>
    [...(await get(`http://${admin}/metrics`)).body.matchAll(/^(\w+)\{pool="web",slot="1"\}/gm)].map((match) => match[1] ?? '').sort();
  daemon.signal('SIGTTIN');
  await waitFor("slot 1's series", async () => (await slotOne()).length === 3, 30_000, 200);
  t.deepEqual(await slotOne(), [
    'appd_worker_cpu_seconds_total',
    'appd_worker_event_loop_delay_seconds',
    'appd_worker_resident_memory_bytes',
  ]);
  daemon.signal('SIGTTOU');
  await waitFor("slot 1's series to go with its worker", async () => (await slotOne()).length === 0, 30_000, 200);
  t.regex((await get(`http://${admin}/metrics`)).body, /^appd_worker_resident_memory_bytes\{pool="web",slot="0"\} \d+$/m);
});
