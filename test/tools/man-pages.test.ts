// The man pages: their generated blocks match the settings table (npm run man), mandoc -Tlint finds
// nothing, and a page that drifted from the code is detected.

import test from 'ava';
import { spawnSync } from 'node:child_process';
import { cpSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT, tempDirectory } from '../helpers/daemon.js';
import { renderPages } from '../../tools/man-pages.js';
import { replaceGeneratedBlock } from '../../tools/roff.js';
import { flagName } from '../../shared/settings/define.js';
import { SETTINGS } from '../../shared/settings/table.js';

test('the checked-in man pages are what npm run man generates from the code', (t) => {
  for (const page of renderPages()) t.is(page.current, page.expected, `${page.path} drifted from the code: run npm run man`);
});

test('appd(8) documents every flag and config key of the settings table', (t) => {
  const page = readFileSync(join(PROJECT_ROOT, 'man/appd.8'), 'utf8').replace(/\\-/g, '-');
  for (const setting of SETTINGS) {
    const byKey = setting.cli === 'config-only' || setting.cli === 'positional' || setting.cli === 'after-dashes';
    const name = byKey ? setting.key.replace(/^app$/, 'APP') : flagName(setting);
    t.true(page.includes(name), `${name} is missing from man/appd.8`);
  }
});

test('mandoc -Tlint prints nothing for man/*', (t) => {
  const pages = readdirSync(join(PROJECT_ROOT, 'man')).map((name) => join('man', name));
  const lint = spawnSync('mandoc', ['-Tlint', ...pages], { cwd: PROJECT_ROOT, encoding: 'utf8' });
  if (lint.error) return t.fail(`mandoc is needed (Debian package mandoc): ${lint.error.message}`);
  t.is(`${lint.stdout}${lint.stderr}`, '');
  t.is(lint.status, 0);
});

test('a page edited inside its generated block, or without its markers, is caught', (t) => {
  const root = tempDirectory(t, 'appd-man-');
  cpSync(join(PROJECT_ROOT, 'man'), join(root, 'man'), { recursive: true });
  const path = join(root, 'man/appd.8');
  writeFileSync(path, readFileSync(path, 'utf8').replace('The number of worker processes', 'The number of workers'));
  const drifted = renderPages(root)
    .filter((page) => page.current !== page.expected)
    .map((page) => page.path);
  t.deepEqual(drifted, ['man/appd.8']);
  t.throws(() => replaceGeneratedBlock('.TH X 1\n', 'SETTINGS', 'body'), { message: /no ".* BEGIN GENERATED SETTINGS" .* block/ });
});
