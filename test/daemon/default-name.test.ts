// The default daemon name tells projects apart: the package.json name of the app's package, else the
// app's directory; a clash says how the name was chosen and how to pick another.

import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { APPD, startDaemon, tempDirectory } from '../helpers/daemon.js';

const APP = "export default (request, response) => response.end('ok');\n";

test('two projects that both serve app.mjs run side by side, named after their package.json or directory', async (t) => {
  const runtime = tempDirectory(t);
  const shop = await startDaemon(t, {
    args: ['shop/app.mjs', '-b', '127.0.0.1:0'],
    files: {
      'shop/app.mjs': APP,
      'shop/package.json': JSON.stringify({ name: '@acme/shop', type: 'module' }),
      'shop/lib/package.json': '{"type":"module"}',
    },
    env: { XDG_RUNTIME_DIR: runtime },
  });
  // A nested package.json without a name (a "type" marker) is not the package: the search goes on up.
  const blog = await startDaemon(t, {
    args: ['blog/src/app.mjs', '-b', '127.0.0.1:0'],
    files: { 'blog/src/app.mjs': APP, 'blog/src/package.json': '{"type":"module"}', 'blog/package.json': JSON.stringify({ name: 'blog' }) },
    env: { XDG_RUNTIME_DIR: runtime },
  });
  // No package.json anywhere up the tree (a temp directory): the app's directory names it.
  const plain = await startDaemon(t, {
    args: ['notes/app.mjs', '-b', '127.0.0.1:0'],
    files: { 'notes/app.mjs': APP },
    env: { XDG_RUNTIME_DIR: runtime },
  });
  t.deepEqual(
    [shop, blog, plain].map((daemon) => /Control socket: .*\/appd\/([^/ ]+)\.sock/.exec(daemon.output)?.[1]),
    ['acme-shop', 'blog', 'notes'],
  );
});

test('a name already running: the error says where the name came from and how to pick another', async (t) => {
  const first = await startDaemon(t, {
    args: ['one/app.mjs', '-b', '127.0.0.1:0'],
    files: { 'one/app.mjs': APP, 'one/package.json': JSON.stringify({ name: 'shop' }) },
  });
  const other = tempDirectory(t);
  mkdirSync(join(other, 'two'));
  writeFileSync(join(other, 'two/app.mjs'), APP);
  writeFileSync(join(other, 'two/package.json'), JSON.stringify({ name: 'shop' }));
  const second = spawnSync(process.execPath, [APPD, 'two/app.mjs', '-b', '127.0.0.1:0'], {
    cwd: other,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, XDG_RUNTIME_DIR: first.directory, APPD_CMD_ARGS: '' },
  });
  t.is(second.status, 2);
  t.is(
    second.stderr.trim().split('\n').at(-1),
    `appd: appd "shop" (pid ${first.pid}) is already running on control socket ${join(first.directory, 'appd/shop.sock')}; stop it (appctl -n shop stop), or give this one another name with --name NAME or name: 'NAME' in its config file (this one is named "shop" by default, after the name in ${join(other, 'two/package.json')}), or another --control-socket`,
  );
});
