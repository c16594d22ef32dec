// Regenerates the code map of ARCHITECTURE.md (one line per source file, under its folder) from each
// file's opening comment (`npm run architecture`), or with --check reports a map that drifted. Run by npm scripts and tests.

import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PROJECT_ROOT } from './man-pages.js';

const HEADING = '## Code map\n';
const SOURCE_ROOTS = ['ctl', 'daemon', 'shared'];
const INTRO =
  'Each file opens with two comment lines: what it is and which process runs it. No folder holds more than\n' +
  '15 files. This map is generated from those lines (`npm run architecture`; a test checks it).\n';

function sourceFiles(root: string, folder: string): string[] {
  return readdirSync(join(root, folder)).flatMap((name) => {
    const path = join(folder, name);
    if (statSync(join(root, path)).isDirectory()) return sourceFiles(root, path);
    return name.endsWith('.ts') && !name.endsWith('.d.ts') ? [path] : [];
  });
}

/** The first sentence of a file's opening `//` comment block. */
export function firstSentence(source: string): string {
  const lines: string[] = [];
  for (const line of source.replace(/^#!.*\n/, '').split('\n')) {
    const match = /^\/\/ ?(.*)$/.exec(line);
    if (!match) break;
    lines.push(match[1] ?? '');
  }
  const text = lines.join(' ').replace(/\s+/g, ' ').trim();
  const end = /\.\s+(?=[A-Z`(])/.exec(text);
  return end ? text.slice(0, end.index + 1) : text;
}

/** The code map: a bold folder heading, then `file`: first sentence, for every source file. */
export function renderCodeMap(root: string): string {
  const files = SOURCE_ROOTS.flatMap((folder) => sourceFiles(root, folder)).sort();
  const parts: string[] = [];
  let folder = '';
  for (const file of files) {
    if (dirname(file) !== folder) {
      folder = dirname(file);
      parts.push(`\n**\`${folder}/\`**\n`);
    }
    parts.push(`- \`${relative(folder, file)}\`: ${firstSentence(readFileSync(join(root, file), 'utf8'))}`);
  }
  return `${HEADING}\n${INTRO}${parts.join('\n')}\n`;
}

/** ARCHITECTURE.md with everything from its "## Code map" heading on replaced by the generated map. */
export function architectureWithCodeMap(document: string, root: string): string {
  const start = document.indexOf(HEADING);
  if (start < 0) throw new Error(`ARCHITECTURE.md has no "${HEADING.trim()}" section`);
  return document.slice(0, start) + renderCodeMap(root);
}

function main(argv: readonly string[]): number {
  const path = join(PROJECT_ROOT, 'ARCHITECTURE.md');
  const current = readFileSync(path, 'utf8');
  const expected = architectureWithCodeMap(current, PROJECT_ROOT);
  if (current === expected) return 0;
  if (argv.includes('--check')) {
    process.stderr.write("ARCHITECTURE.md's code map is out of date with the source files: run npm run architecture\n");
    return 1;
  }
  writeFileSync(path, expected);
  process.stdout.write('updated ARCHITECTURE.md (code map)\n');
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) process.exitCode = main(process.argv.slice(2));
