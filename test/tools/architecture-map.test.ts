// ARCHITECTURE.md's code map lists every source file of ctl/, daemon/ and shared/ under its folder, with
// the first sentence of its opening comment (npm run architecture regenerates it). Runs in the ava test process.

import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../tools/man-pages.js';
import { architectureWithCodeMap, firstSentence } from '../../tools/architecture-map.js';

test("ARCHITECTURE.md's code map is the one the source files generate (npm run architecture)", (t) => {
  const document = readFileSync(join(PROJECT_ROOT, 'ARCHITECTURE.md'), 'utf8');
  t.is(
    document,
    architectureWithCodeMap(document, PROJECT_ROOT),
    'ARCHITECTURE.md drifted from the source files: run npm run architecture',
  );
  t.true(document.includes('- `arbiter.ts`: '), 'the arbiter is on the map');
});

test("a file's line is the first sentence of its opening comment, across lines", (t) => {
  t.is(
    firstSentence('// Spawns one worker: fd 3.., an IPC channel after\n// them. Run by the appd master.\n\nimport x;'),
    'Spawns one worker: fd 3.., an IPC channel after them.',
  );
  t.is(firstSentence('#!/usr/bin/env node\n// Entry point of appctl. Run by the user.\n'), 'Entry point of appctl.');
});
