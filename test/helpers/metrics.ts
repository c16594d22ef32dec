// Finds a test daemon's admin listener (--metrics-bind) from its log, and reads what its /metrics serves. Runs in the ava test process.

import type { MetricSpec } from '../../daemon/metrics/catalog.js';
import type { TestDaemon } from './daemon.js';

/** HOST:PORT of the admin listener, from the "Metrics and health at:" line. */
export function metricsAddress(daemon: TestDaemon): string {
  const match = /Metrics and health at: http:\/\/([^/\s]+)\/metrics/.exec(daemon.output);
  if (!match?.[1]) throw new Error(`the daemon logged no admin listener:\n${daemon.output}`);
  return match[1];
}

/** The sample names the catalog's families are served under: a histogram as _bucket, _sum and _count. */
export function catalogSampleNames(specs: readonly MetricSpec[]): string[] {
  return specs
    .flatMap((spec) => (spec.type === 'histogram' ? [`${spec.name}_bucket`, `${spec.name}_sum`, `${spec.name}_count`] : [spec.name]))
    .sort();
}

/** `# TYPE` lines of an exposition as "name type", and the distinct names of its samples, both sorted. */
export function servedFamilies(exposition: string): { types: string[]; sampleNames: string[] } {
  const types = [...exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((match) => `${match[1]} ${match[2]}`).sort();
  const sampleNames = [...new Set([...exposition.matchAll(/^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]/gm)].map((match) => match[1] ?? ''))].sort();
  return { types, sampleNames };
}
