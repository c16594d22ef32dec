// The exposition formats (label escaping, cumulative histogram buckets, OpenMetrics family names and
// # EOF), content negotiation, and the latency percentiles status and top show.

import test from 'ava';
import { METRICS } from '../../daemon/metrics/catalog.js';
import { negotiateFormat, renderFamilies, type Family } from '../../daemon/metrics/exposition.js';
import { quantileOf } from '../../daemon/metrics/rates.js';
import { RequestStats } from '../../daemon/worker/request-stats.js';
import { readRequestCounts } from '../../daemon/contracts/request-counts.js';

const families: Family[] = [
  { spec: METRICS.requests, samples: [{ labels: ['we"b\\\n', '2xx'], value: 3 }] },
  { spec: METRICS.requestDuration, histograms: [{ labels: ['web'], bounds: [0.1, 1], buckets: [2, 1, 4], sum: 9.5 }] },
  { spec: METRICS.info, samples: [{ labels: ['1.0.0', 'v20.0.0'], value: 1 }] },
];

test('Prometheus text 0.0.4: escaped label values, cumulative buckets, sample names as declared', (t) => {
  const text = renderFamilies(families, 'prometheus');
  t.true(text.includes('# TYPE appd_http_requests_total counter\nappd_http_requests_total{pool="we\\"b\\\\\\n",code="2xx"} 3\n'));
  t.true(text.includes('appd_http_request_duration_seconds_bucket{pool="web",le="0.1"} 2\n'));
  t.true(text.includes('appd_http_request_duration_seconds_bucket{pool="web",le="1"} 3\n'));
  t.true(text.includes('appd_http_request_duration_seconds_bucket{pool="web",le="+Inf"} 7\n'));
  t.true(text.includes('appd_http_request_duration_seconds_count{pool="web"} 7\n'));
  t.true(text.includes('# TYPE appd_info gauge\n'));
  t.false(text.includes('# EOF'));
});

test('OpenMetrics: counter families without _total, appd_info as an info family, # EOF last', (t) => {
  const text = renderFamilies(families, 'openmetrics');
  t.true(text.includes('# TYPE appd_http_requests counter\n'));
  t.true(text.includes('appd_http_requests_total{'));
  t.true(text.includes('# TYPE appd info\nappd_info{version="1.0.0",node="v20.0.0"} 1\n'));
  t.true(text.endsWith('# EOF\n'));
});

test('negotiation: OpenMetrics when Accept names it (as Prometheus does), ?format decides over Accept', (t) => {
  t.is(negotiateFormat('application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5'), 'openmetrics');
  t.is(negotiateFormat('text/plain'), 'prometheus');
  t.is(negotiateFormat(undefined), 'prometheus');
  t.is(negotiateFormat('application/openmetrics-text', 'prometheus'), 'prometheus');
});

test('quantiles interpolate inside the bucket, and stop at the last bound', (t) => {
  t.is(quantileOf([0, 0, 0], [0.1, 1], 0.5), null);
  t.is(quantileOf([10, 0, 0], [0.1, 1], 0.5), 0.05);
  t.is(quantileOf([0, 10, 0], [0.1, 1], 0.5), 0.55);
  t.is(quantileOf([0, 0, 10], [0.1, 1], 0.99), 1);
});

test('a worker counts by status class and duration bucket; the master takes only well-formed counts', (t) => {
  const stats = new RequestStats();
  const now = 5000; // performance.now() milliseconds: when each response ended
  stats.record(200, now, now);
  stats.record(404, now - 1, now);
  stats.record(503, now - 20, now);
  stats.record(999, now, now);
  stats.recordUpgrade();
  const counts = stats.snapshot();
  t.deepEqual(counts.byClass, [1, 1, 0, 1, 2]);
  t.is(
    counts.durationBuckets.reduce((sum, count) => sum + count, 0),
    4,
  );
  t.is(counts.durationBuckets[0], 3, 'the 0 and 1 ms requests are in the first bucket');
  t.is(counts.durationBuckets[2], 1, 'the 20 ms request is past the 10 ms bucket');
  t.is(counts.durationSumSeconds, 0.021);
  t.deepEqual(readRequestCounts({ counts }), counts);
  t.is(readRequestCounts({ counts: { ...counts, byClass: [1, 2, 3] } }), null);
  t.is(readRequestCounts({ counts: { ...counts, byClass: [1, 2, 3, 4, -5] } }), null);
  t.is(readRequestCounts({ counts: { ...counts, durationSumSeconds: Infinity } }), null);
  t.is(readRequestCounts({ counts: 'garbage' }), null);
  t.is(readRequestCounts(null), null);
});
