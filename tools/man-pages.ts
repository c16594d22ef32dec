// Regenerates the generated blocks of man/appd.8, man/appctl.1 and man/appd.config.5 from the code
// (`npm run man`), or with --check reports pages that drifted from it. Run by npm scripts and tests.

import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { readPackageVersion } from '../shared/version.js';
import { replaceGeneratedBlock, withVersion } from './roff.js';
import { renderConfigKeys, renderHooks, renderSettingsSection } from './settings-sections.js';

/** The project root: compiled files live in dist/tools/. */
export const PROJECT_ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');

/** Each page and its generated blocks (name -> renderer). */
const PAGES: Readonly<Record<string, Readonly<Record<string, () => string>>>> = {
  'man/appd.8': { SETTINGS: renderSettingsSection },
  'man/appd.config.5': { KEYS: renderConfigKeys, HOOKS: renderHooks },
  'man/appctl.1': {},
};

export interface RenderedPage {
  readonly path: string;
  readonly current: string;
  readonly expected: string;
}

/** Every page as it is on disk and as the code says it should be. */
export function renderPages(root = PROJECT_ROOT): RenderedPage[] {
  return Object.entries(PAGES).map(([relativePath, blocks]) => {
    const path = join(root, relativePath);
    const current = readFileSync(path, 'utf8');
    let expected = withVersion(current, readPackageVersion());
    for (const [name, render] of Object.entries(blocks)) expected = replaceGeneratedBlock(expected, name, render());
    return { path: relativePath, current, expected };
  });
}

function main(argv: readonly string[]): number {
  const pages = renderPages();
  const drifted = pages.filter((page) => page.current !== page.expected);
  if (argv.includes('--check')) {
    for (const page of drifted) process.stderr.write(`${page.path} is out of date with the code: run npm run man\n`);
    return drifted.length === 0 ? 0 : 1;
  }
  for (const page of drifted) {
    writeFileSync(join(PROJECT_ROOT, page.path), page.expected);
    process.stdout.write(`updated ${page.path}\n`);
  }
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) process.exitCode = main(process.argv.slice(2));
