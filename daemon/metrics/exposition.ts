// Renders metric families as Prometheus text (format 0.0.4) or OpenMetrics 1.0, the two formats a
// scraper may ask for. Run by the appd master, for each /metrics request of the admin listener.

import type { MetricSpec } from './catalog.js';

export interface Sample {
  /** Label values, in the order of the family's spec.labels. */
  readonly labels: readonly string[];
  readonly value: number;
}

export interface HistogramSample {
  readonly labels: readonly string[];
  /** Upper bounds, ascending; +Inf is implied. */
  readonly bounds: readonly number[];
  /** Observations per bucket, not cumulative: bounds.length + 1 entries, the last for +Inf. */
  readonly buckets: readonly number[];
  readonly sum: number;
}

export type Family =
  | { readonly spec: MetricSpec & { readonly type: 'counter' | 'gauge' }; readonly samples: readonly Sample[] }
  | { readonly spec: MetricSpec & { readonly type: 'histogram' }; readonly histograms: readonly HistogramSample[] };

export type ExpositionFormat = 'prometheus' | 'openmetrics';

export const CONTENT_TYPES: Readonly<Record<ExpositionFormat, string>> = {
  prometheus: 'text/plain; version=0.0.4; charset=utf-8',
  openmetrics: 'application/openmetrics-text; version=1.0.0; charset=utf-8',
};

/**
 * OpenMetrics when the scraper lists it in Accept (Prometheus does, first), else the classic text
 * format; ?format=prometheus or ?format=openmetrics decides instead (a scrape job's params).
 */
export function negotiateFormat(accept: string | undefined, asked: string | null = null): ExpositionFormat {
  if (asked === 'prometheus' || asked === 'openmetrics') return asked;
  return accept !== undefined && /application\/openmetrics-text/i.test(accept) ? 'openmetrics' : 'prometheus';
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

/** Label values may hold anything a bind address or pool name holds: backslash, quote and newline are escaped. */
function escapeLabel(value: string): string {
  return value.replace(/[\\"\n]/g, (character) => (character === '\n' ? '\\n' : `\\${character}`));
}

function labelText(names: readonly string[], values: readonly string[], extra = ''): string {
  const pairs = names.map((name, index) => `${name}="${escapeLabel(values[index] ?? '')}"`);
  if (extra) pairs.push(extra);
  return pairs.length === 0 ? '' : `{${pairs.join(',')}}`;
}

/**
 * OpenMetrics names a counter family without its _total suffix, and a gauge holding only labels
 * (appd_info) is an info family named without _info; Prometheus text keeps the sample names.
 */
function familyName(spec: MetricSpec, format: ExpositionFormat): { name: string; type: string } {
  if (format === 'openmetrics' && spec.type === 'counter' && spec.name.endsWith('_total'))
    return { name: spec.name.slice(0, -'_total'.length), type: 'counter' };
  if (format === 'openmetrics' && spec.type === 'gauge' && spec.name.endsWith('_info'))
    return { name: spec.name.slice(0, -'_info'.length), type: 'info' };
  return { name: spec.name, type: spec.type };
}

function escapeHelp(help: string, format: ExpositionFormat): string {
  const special = format === 'openmetrics' ? /[\\"\n]/g : /[\\\n]/g;
  return help.replace(special, (character) => (character === '\n' ? '\\n' : `\\${character}`));
}

export function renderFamilies(families: readonly Family[], format: ExpositionFormat): string {
  const lines: string[] = [];
  for (const family of families) {
    const { spec } = family;
    const declared = familyName(spec, format);
    lines.push(`# HELP ${declared.name} ${escapeHelp(spec.help, format)}`, `# TYPE ${declared.name} ${declared.type}`);
    if ('samples' in family) {
      for (const sample of family.samples) lines.push(`${spec.name}${labelText(spec.labels, sample.labels)} ${formatValue(sample.value)}`);
      continue;
    }
    for (const histogram of family.histograms) {
      let cumulative = 0;
      histogram.bounds.forEach((bound, index) => {
        cumulative += histogram.buckets[index] ?? 0;
        lines.push(`${spec.name}_bucket${labelText(spec.labels, histogram.labels, `le="${formatValue(bound)}"`)} ${cumulative}`);
      });
      cumulative += histogram.buckets[histogram.bounds.length] ?? 0;
      lines.push(`${spec.name}_bucket${labelText(spec.labels, histogram.labels, 'le="+Inf"')} ${cumulative}`);
      lines.push(`${spec.name}_sum${labelText(spec.labels, histogram.labels)} ${formatValue(histogram.sum)}`);
      lines.push(`${spec.name}_count${labelText(spec.labels, histogram.labels)} ${cumulative}`);
    }
  }
  if (format === 'openmetrics') lines.push('# EOF');
  return `${lines.join('\n')}\n`;
}
