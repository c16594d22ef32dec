// Every bundle of tools/bundle.ts runs in strict mode, as the ES modules it is built from did: its first
// statement (after a shebang) is the 'use strict' directive. Runs in the test process.

import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import { BUNDLES, type BundleName } from '../../tools/bundle.js';
import { PROJECT_ROOT } from '../../tools/man-pages.js';

for (const name of Object.keys(BUNDLES) as BundleName[]) {
  test(`the ${name} bundle (${BUNDLES[name].outfile}) opens with 'use strict'`, (t) => {
    const source = readFileSync(join(PROJECT_ROOT, BUNDLES[name].outfile), 'utf8').replace(/^#!.*\n/, '');
    // The directive prologue is strict only when it comes first: a probe after the bundle's opening text
    // tells whether `this` in a plain function call is undefined (strict) or the global object (sloppy).
    const prologue = source.slice(0, source.indexOf('\n') + 1);
    t.true(runInNewContext(`${prologue}(function () { return this === undefined; })()`), `first line: ${prologue.trim()}`);
  });
}
