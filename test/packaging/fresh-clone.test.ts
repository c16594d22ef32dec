// What a newcomer does first on a fresh clone: the README's two commands, `npm start` serving the
// example from what `npm ci` built (no second build), and an `npm ci` with no engine warning. Runs in ava.

import test from 'ava';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { APPD, PROJECT_ROOT, startDaemon, tempDirectory } from '../helpers/daemon.js';
import { get } from '../helpers/http.js';
import { freePort } from '../helpers/ports.js';

const readme = readFileSync(join(PROJECT_ROOT, 'README.md'), 'utf8');
const scripts = (JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;

test('the README opens with the two commands: npm ci && npm start, npm ci && npm test', (t) => {
  const firstBlock = /^```sh\n([\s\S]*?)```/m.exec(readme);
  t.truthy(firstBlock, 'the README has no sh block');
  // The block must be the first thing after the title: nothing a newcomer has to read first.
  t.regex(readme, /^# appd\n\n```sh\n/);
  const commands = (firstBlock?.[1] ?? '')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => line.replace(/#.*$/, '').trim());
  t.deepEqual(commands, ['npm ci && npm start', 'npm ci && npm test']);
});

test('npm start serves the example from what npm ci built, without building again', async (t) => {
  const start = scripts['start'] ?? '';
  const prefix = 'node dist/daemon/appd.cjs ';
  // A script that compiled (tsc, npm run build) would spend the first run building what prepare built.
  t.true(start.startsWith(prefix), `npm start runs: ${start}`);
  t.notRegex(start, /tsc|npm |&&|;/);
  t.true(existsSync(APPD), 'npm ci (prepare) builds dist/');
  // The same arguments, with the example's path made absolute and a free port for the README's 8000.
  const port = await freePort();
  const args = start
    .slice(prefix.length)
    .split(/\s+/)
    .map((word) => (word.startsWith('./') ? join(PROJECT_ROOT, word) : word.replace(':8000', `:${port}`)));
  t.true(args.includes(`127.0.0.1:${port}`), `npm start binds 127.0.0.1:8000 as the README says: ${start}`);
  const daemon = await startDaemon(t, { args });
  const answer = await get(`http://127.0.0.1:${port}/`);
  t.is(answer.status, 200);
  t.regex(answer.body, /^hello from web\.\d/);
  daemon.signal('SIGINT'); // what Ctrl-C in the README's terminal sends
  t.is((await daemon.exited()).code, 0);
});

test('npm ci warns of no engine: every locked package accepts this Node (EBADENGINE)', (t) => {
  // A dry run of `npm ci` on a copy of the manifest and lock file checks every package's engines
  // against this Node, without installing anything or touching the network.
  const directory = tempDirectory(t, 'appd-engines-');
  for (const name of ['package.json', 'package-lock.json']) copyFileSync(join(PROJECT_ROOT, name), join(directory, name));
  const environment = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name)));
  const result = spawnSync('npm', ['ci', '--dry-run', '--ignore-scripts', '--offline', '--no-audit', '--no-fund'], {
    cwd: directory,
    encoding: 'utf8',
    env: environment,
    timeout: 120_000,
  });
  t.is(result.status, 0, `${result.stdout}\n${result.stderr}`);
  const warnings = `${result.stdout}\n${result.stderr}`.split('\n').filter((line) => /EBADENGINE|package: |required: /.test(line));
  t.deepEqual(warnings, [], `npm ci on Node ${process.version} warns:\n${warnings.join('\n')}`);
});

// npm 11.19 blocks dependencies' install scripts unless package.json's allowScripts reviewed them, and
// ends npm ci with four warning lines about msgpackr-extract (its script only checks for the prebuilt
// addon, which loads without it). allowScripts denies it; older npm has no such review.
const installScripts = spawnSync('npm', ['install-scripts', 'ls'], { cwd: PROJECT_ROOT, encoding: 'utf8', timeout: 120_000 });
const reviewable = installScripts.status === 0;
(reviewable ? test : test.skip)(
  `npm ci leaves no install script unreviewed (allowScripts)${reviewable ? '' : ' [skipped: this npm has no install-scripts command]'}`,
  (t) => {
    t.regex(installScripts.stdout, /No packages with unreviewed install scripts/, installScripts.stdout);
    const addon = spawnSync(process.execPath, ['-e', 'process.stdout.write(typeof require("msgpackr-extract").extractStrings)'], {
      cwd: PROJECT_ROOT,
      encoding: 'utf8',
      timeout: 60_000,
    });
    t.is(addon.stdout, 'function', `msgpackr's native extractor loads without its install script: ${addon.stderr}`);
  },
);
