// Attack 4 of the security issue: the pidfile. A symlink nobody planted at the temp name the master
// used to write through (PIDFILE.<pid>.tmp) must not make a root master write into root's file; a -p
// naming a file that is not a pidfile, or a symlink, is refused with exit 2 and left as it was
// (it used to be replaced, and deleted on stop).

import test from 'ava';
import { chmodSync, chownSync, lstatSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { APPD, fixture, startDaemon, tempDirectory } from '../helpers/daemon.js';
import { AS_NOBODY, NOBODY, runCommand, testAsNobody } from '../helpers/other-users.js';

const PRECIOUS = 'root owns this\n';

testAsNobody("a symlink nobody planted at the pidfile's temp name is never written through", async (t) => {
  const daemon = await startDaemon(t, {
    // The shell's pid ($$) becomes the master's after exec: nobody first plants shared/app.pid.<that
    // pid>.tmp -> ../precious, a file of root's (run in the daemon's directory, so the paths are relative).
    wrapper: ['/bin/sh', '-c', `${AS_NOBODY.join(' ')} ln -s ../precious "shared/app.pid.$$.tmp" && exec "$@"`, 'sh'],
    args: [fixture('pid-app.mjs'), '-b', '127.0.0.1:0', '-p', 'shared/app.pid'],
    files: { precious: PRECIOUS },
    prepare: (directory) => {
      chmodSync(directory, 0o755);
      // A directory the other user may write (theirs), as a shared /run or /tmp subdirectory would be.
      mkdirSync(join(directory, 'shared'));
      chownSync(join(directory, 'shared'), NOBODY, NOBODY);
    },
  });
  const shared = join(daemon.directory, 'shared');
  t.is(readFileSync(join(daemon.directory, 'precious'), 'utf8'), PRECIOUS, "root's file was not written through the symlink");
  t.true(lstatSync(join(shared, `app.pid.${daemon.pid}.tmp`)).isSymbolicLink(), 'the trap was in place before the master started');
  const pidfile = join(shared, 'app.pid');
  t.false(lstatSync(pidfile).isSymbolicLink());
  t.is(readFileSync(pidfile, 'utf8'), `${daemon.pid}\n`);
  t.is(lstatSync(pidfile).uid, 0);
  daemon.signal('SIGTERM');
  await daemon.exited();
  t.is(readFileSync(join(daemon.directory, 'precious'), 'utf8'), PRECIOUS, 'nor deleted or changed on stop');
  t.deepEqual(readdirSync(shared), [`app.pid.${daemon.pid}.tmp`], 'the pidfile is gone and no temp file is left; the trap is untouched');
});

test('-p naming a file that is not a pidfile, or a symlink, is refused with exit 2 and left as it was', async (t) => {
  const directory = tempDirectory(t);
  writeFileSync(join(directory, 'notes.txt'), PRECIOUS);
  writeFileSync(join(directory, 'empty'), '');
  writeFileSync(join(directory, 'old.pid'), '4194304\n');
  symlinkSync('old.pid', join(directory, 'link.pid'));
  mkdirSync(join(directory, 'folder'));
  const cases: [string, string][] = [
    ['notes.txt', 'it holds something other than a pid'],
    ['empty', 'it is empty'],
    ['link.pid', 'it is a symbolic link'],
    ['folder', 'it is not a regular file'],
  ];
  for (const [name, why] of cases) {
    const path = join(directory, name);
    const result = await runCommand([process.execPath, APPD, fixture('pid-app.mjs'), '-b', '127.0.0.1:0', '-p', name], {
      env: { ...process.env, XDG_RUNTIME_DIR: directory },
      timeoutMs: 30_000,
      cwd: directory,
    });
    t.is(result.code, 2, name);
    t.is(
      result.stderr.trim(),
      `appd: pidfile ${path} exists and is not a pidfile (${why}); refusing to replace it: remove it or choose another path`,
    );
  }
  t.is(readFileSync(join(directory, 'notes.txt'), 'utf8'), PRECIOUS);
  t.is(readFileSync(join(directory, 'empty'), 'utf8'), '');
  t.true(lstatSync(join(directory, 'link.pid')).isSymbolicLink());
  t.is(readFileSync(join(directory, 'old.pid'), 'utf8'), '4194304\n');
});
