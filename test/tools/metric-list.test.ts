// README "Metrics and health" lists exactly the families /metrics serves, as daemon/metrics/catalog.ts
// declares them (npm run readme regenerates the list).

import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { METRIC_LIST } from '../../daemon/metrics/catalog.js';
import { PROJECT_ROOT } from '../../tools/man-pages.js';
import { readmeWithMetricList } from '../../tools/metric-list.js';

test("the README's metric list is the one the catalog generates (npm run readme)", (t) => {
  const readme = readFileSync(join(PROJECT_ROOT, 'README.md'), 'utf8');
  t.is(readme, readmeWithMetricList(readme), 'README.md drifted from daemon/metrics/catalog.ts: run npm run readme');
  for (const spec of METRIC_LIST) t.true(readme.includes(`| \`${spec.name}\` |`), spec.name);
});

test('a README whose list lost a metric, or lost its markers, is caught', (t) => {
  const readme = readFileSync(join(PROJECT_ROOT, 'README.md'), 'utf8');
  const edited = readme.replace(/^\| `appd_up` .*\n/m, '');
  t.not(edited, readme);
  t.not(readmeWithMetricList(edited), edited);
  t.throws(() => readmeWithMetricList(readme.replace('<!-- /metric-list -->', '')), { message: /has no <!-- metric-list/ });
});
