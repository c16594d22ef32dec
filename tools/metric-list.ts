// Regenerates the metric list in README.md ("Metrics and health") from daemon/metrics/catalog.ts
// (`npm run readme`), or with --check reports a README that drifted from it. Run by npm scripts and tests.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { METRIC_LIST } from '../daemon/metrics/catalog.js';
import { PROJECT_ROOT } from './man-pages.js';

const START = '<!-- metric-list: generated from daemon/metrics/catalog.ts by npm run readme -->\n';
const END = '<!-- /metric-list -->';

/** One Markdown table row per family: name, type, labels, what it counts. */
export function renderMetricList(): string {
  const rows = METRIC_LIST.map(
    (spec) =>
      `| \`${spec.name}\` | ${spec.type} | ${spec.labels.map((label) => `\`${label}\``).join(', ') || '-'} | ${spec.help.replace(/\|/g, '\\|')} |`,
  );
  return ['| Metric | Type | Labels | Meaning |', '|---|---|---|---|', ...rows, ''].join('\n');
}

/** The README with its metric list replaced by the catalog's; throws if the markers are missing. */
export function readmeWithMetricList(readme: string): string {
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) throw new Error(`README.md has no ${START.trim()} ... ${END} block`);
  return `${readme.slice(0, start + START.length)}${renderMetricList()}${readme.slice(end)}`;
}

function main(argv: readonly string[]): number {
  const path = join(PROJECT_ROOT, 'README.md');
  const current = readFileSync(path, 'utf8');
  const expected = readmeWithMetricList(current);
  if (current === expected) return 0;
  if (argv.includes('--check')) {
    process.stderr.write("README.md's metric list is out of date with daemon/metrics/catalog.ts: run npm run readme\n");
    return 1;
  }
  writeFileSync(path, expected);
  process.stdout.write('updated README.md (metric list)\n');
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) process.exitCode = main(process.argv.slice(2));
