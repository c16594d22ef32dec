// Relative paths in a config file are relative to the file (or to chdir, itself relative to the file),
// while paths on the command line stay relative to the working directory; the default name comes from
// the app's package.json (else its directory), so two projects serving app.js do not collide.

import test from 'ava';
import { chmodSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { appctl, statusOf } from '../helpers/appctl.js';
import { startDaemon } from '../helpers/daemon.js';
import { get } from '../helpers/http.js';

const APP = (label: string) => `export default (request, response) => response.end(${JSON.stringify(`${label}\n`)});\n`;

test('cd elsewhere; appd -c shop/appd.config.mjs: app, pidfile, access log and unix socket are found next to the config file', async (t) => {
  const config =
    "export default { app: './app.mjs', bind: ['127.0.0.1:0', 'unix:run/web.sock'], pidfile: 'run/shop.pid', accessLogfile: 'logs/access.log' };\n";
  const daemon = await startDaemon(t, {
    args: ['-c', 'shop/appd.config.mjs'],
    files: { 'shop/appd.config.mjs': config, 'shop/app.mjs': APP('shop'), 'shop/run/.keep': '', 'shop/logs/.keep': '' },
  });
  const shop = join(daemon.directory, 'shop');
  t.is((await get(daemon.url)).body, 'shop\n');
  t.is(readFileSync(join(shop, 'run/shop.pid'), 'utf8'), `${daemon.pid}\n`);
  t.true(existsSync(join(shop, 'run/web.sock')), 'the unix socket next to the config file');
  t.regex(daemon.output, new RegExp(`Pool web: app ${shop}/app\\.mjs`));
  const printed = JSON.parse((await appctl(['config', '--json'], { runtimeDirectory: daemon.directory })).stdout) as Record<
    string,
    { value: unknown; source: string }
  >;
  t.deepEqual(printed['pidfile'], { value: `${shop}/run/shop.pid`, source: 'config file shop/appd.config.mjs' });
});

test('a path on the command line stays relative to the working directory, beside a config file elsewhere', async (t) => {
  const daemon = await startDaemon(t, {
    args: ['-c', 'shop/appd.config.mjs', '--pidfile', 'here.pid', 'site/app.mjs'],
    files: { 'shop/appd.config.mjs': "export default { bind: '127.0.0.1:0', workers: 1 };\n", 'site/app.mjs': APP('site') },
  });
  t.is((await get(daemon.url)).body, 'site\n');
  t.true(existsSync(join(daemon.directory, 'here.pid')));
});

test("chdir in a config file is relative to the file, and the file's other paths to chdir, a ./program of a command pool too", async (t) => {
  const config = `export default { chdir: 'site', pools: {
    web: { app: './app.mjs', bind: '127.0.0.1:0' },
    jobs: { command: ['./job.sh'], workers: 1 },
  } };\n`;
  const daemon = await startDaemon(t, {
    args: ['-c', 'conf/appd.config.mjs'],
    files: { 'conf/site/app.mjs': APP('chdir site'), 'conf/site/job.sh': '#!/bin/sh\nexec sleep 600\n', 'conf/appd.config.mjs': config },
    prepare: (directory) => chmodSync(join(directory, 'conf/site/job.sh'), 0o755),
  });
  t.is((await get(daemon.urlOf('web'))).body, 'chdir site\n');
  const status = await statusOf(daemon.directory);
  t.is(status.pools.find((pool) => pool.name === 'jobs')?.workers[0]?.state, 'ready');
});
