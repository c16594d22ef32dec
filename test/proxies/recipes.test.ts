// The proxy recipes README's "Behind a proxy" shows are the files in docs/proxies/ that
// test/proxies/nginx.test.ts and haproxy.test.ts run: README quotes each one whole, in its own block.
// Runs in the ava test process.

import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../helpers/daemon.js';
import { RECIPES } from '../helpers/proxy-servers.js';

test('README\'s "Behind a proxy" quotes every docs/proxies recipe verbatim', (t) => {
  const readme = readFileSync(join(PROJECT_ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('\n## Behind a proxy\n');
  t.true(start >= 0, 'README has a "Behind a proxy" section');
  const section = readme.slice(start, readme.indexOf('\n## ', start + 1));
  const recipes = readdirSync(RECIPES);
  t.deepEqual(recipes.sort(), ['haproxy.cfg', 'nginx-sticky.conf', 'nginx.conf']);
  for (const name of recipes) {
    const text = readFileSync(join(RECIPES, name), 'utf8');
    t.true(section.includes(`\n${text}\`\`\`\n`), `README quotes docs/proxies/${name} as it is`);
  }
});
