// --reload (development): a changed file of the app rolls the workers to a new generation, broken code
// is rolled back while the previous generation serves on, node_modules is not watched.

import test from 'ava';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startDaemon } from '../helpers/daemon.js';
import { get } from '../helpers/http.js';
import { sleep } from '../helpers/processes.js';

const version = (text: string): string =>
  `import { greeting } from './lib/greeting.mjs';\nexport default (request, response) => response.end(greeting + ' ${text} g' + process.env.APPD_GENERATION + '\\n');\n`;

test('--reload: an edit in a subdirectory reloads, broken code rolls back and the last good generation serves on', async (t) => {
  const daemon = await startDaemon(t, {
    args: ['app.mjs', '--reload', '-w', '2', '-b', '127.0.0.1:0'],
    files: { 'app.mjs': version('one'), 'lib/greeting.mjs': `export const greeting = 'hello';\n`, 'node_modules/dep/index.js': '' },
  });
  t.regex(daemon.output, /--reload: watching \d+ directories \(.*\); a change reloads the workers/);
  t.is((await get(daemon.url)).body, 'hello one g1\n');

  let from = daemon.output.length;
  writeFileSync(join(daemon.directory, 'lib/greeting.mjs'), `export const greeting = 'hi';\n`);
  await daemon.waitForLog(/--reload \(.*lib\/greeting\.mjs changed\): reloading/, 10_000, from);
  await daemon.waitForLog(/pool web reloaded: generation 2 serves with 2 workers/, 20_000, from);
  t.is((await get(daemon.url)).body, 'hi one g2\n');

  from = daemon.output.length;
  writeFileSync(join(daemon.directory, 'app.mjs'), 'export default (request, response) => {\n');
  await daemon.waitForLog(/reload of pool web rolled back: a generation 3 worker failed to boot: .*SyntaxError/s, 20_000, from);
  t.is((await get(daemon.url)).body, 'hi one g2\n', 'the last good code serves on');

  from = daemon.output.length;
  writeFileSync(join(daemon.directory, 'node_modules/dep/index.js'), 'module.exports = 1;\n');
  mkdirSync(join(daemon.directory, '.cache'));
  writeFileSync(join(daemon.directory, '.cache/x'), 'x');
  await sleep(1500);
  t.notRegex(daemon.output.slice(from), /reloading/, 'node_modules and dot-directories are not watched');

  writeFileSync(join(daemon.directory, 'app.mjs'), version('two'));
  await daemon.waitForLog(/pool web reloaded: generation 4 serves with 2 workers/, 20_000, from);
  t.is((await get(daemon.url)).body, 'hi two g4\n');
});
