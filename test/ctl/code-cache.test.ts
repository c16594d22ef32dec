// appctl's bin runs its bundle from the V8 code cache the build made (shared/code-cache.ts): this Node
// accepts the cache the build made, and appctl answers the same without one, with a stale one, and with
// one V8 refuses. Real node processes on copies of dist/ctl; runs in the test process and its children.

import test from 'ava';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { codeCacheHeader, codeCachePath } from '../../shared/code-cache.js';
import { PROJECT_ROOT } from '../../tools/man-pages.js';

const CTL = join(PROJECT_ROOT, 'dist/ctl');
const CODE_CACHE_MODULE = join(PROJECT_ROOT, 'dist/shared/code-cache.js');

/** What compileBundle says of `bundle`, asked in a fresh node (the test process's flags could differ from a user's). */
function cacheAccepted(bundle: string): boolean {
  const probe = spawnSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `const { compileBundle } = await import(${JSON.stringify(CODE_CACHE_MODULE)}); process.stdout.write(String(compileBundle(${JSON.stringify(bundle)}).cacheAccepted));`,
    ],
    { encoding: 'utf8' },
  );
  if (probe.status !== 0) throw new Error(`the probe failed: ${probe.stderr}`);
  return probe.stdout === 'true';
}

/** A copy of appctl's files (and package.json, which --version reads) in a temporary project directory. */
function copyOfAppctl(): { root: string; bundle: string; cache: string; run: (...args: string[]) => Run } {
  const root = mkdtempSync(join(tmpdir(), 'appd-code-cache-'));
  const ctl = join(root, 'dist/ctl');
  mkdirSync(ctl, { recursive: true });
  for (const file of ['appctl.cjs', 'appctl-main.cjs', 'appctl-program.cjs']) copyFileSync(join(CTL, file), join(ctl, file));
  copyFileSync(join(PROJECT_ROOT, 'package.json'), join(root, 'package.json'));
  symlinkSync(join(PROJECT_ROOT, 'node_modules'), join(root, 'node_modules'));
  const bundle = join(ctl, 'appctl-main.cjs');
  return {
    root,
    bundle,
    cache: codeCachePath(bundle),
    run: (...args) => {
      const result = spawnSync(process.execPath, [join(ctl, 'appctl.cjs'), ...args], { encoding: 'utf8', timeout: 30_000 });
      return { status: result.status, stdout: result.stdout, stderr: result.stderr };
    },
  };
}

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** A cache file for `bundle` as it is now: the header names the copy, then `payload`. */
function writeCache(bundle: string, payload: Buffer): void {
  writeFileSync(codeCachePath(bundle), Buffer.concat([Buffer.from(codeCacheHeader(bundle), 'latin1'), payload]));
}

/** V8's part of the build's own cache file. */
function builtPayload(): Buffer {
  const file = readFileSync(codeCachePath(join(CTL, 'appctl-main.cjs')));
  return file.subarray(file.indexOf(10) + 1);
}

test("the appctl bundle's code cache, made by npm run build with this Node, is accepted", (t) => {
  t.true(cacheAccepted(join(CTL, 'appctl-main.cjs')));
});

test('appctl answers the same from the code cache, without one, with a stale one, and with one V8 refuses', (t) => {
  const copy = copyOfAppctl();
  t.teardown(() => rmSync(copy.root, { recursive: true, force: true }));
  const missingSocket = join(copy.root, 'nobody.sock');
  writeCache(copy.bundle, builtPayload());
  t.true(cacheAccepted(copy.bundle), 'the copy runs from the cache');
  const expected = copy.run('-s', missingSocket, 'status');
  t.is(expected.status, 3, expected.stderr);
  t.regex(expected.stderr, /no appd is listening on .*nobody\.sock \(no such socket\)/);
  t.regex(copy.run('--version').stdout, /^\d+\.\d+\.\d+/);

  // Stale: the bundle rebuilt (here: its modification time moved) after its cache was made.
  utimesSync(copy.bundle, new Date(), new Date(Date.now() + 5_000));
  t.false(cacheAccepted(copy.bundle), 'a cache made for an earlier build of the bundle is not used');
  t.deepEqual(copy.run('-s', missingSocket, 'status'), expected);

  // Refused by V8: a header naming this build, then bytes that are no code cache.
  writeCache(copy.bundle, Buffer.alloc(4096, 0x5a));
  t.false(cacheAccepted(copy.bundle));
  t.deepEqual(copy.run('-s', missingSocket, 'status'), expected);

  // None at all.
  rmSync(copy.cache);
  t.false(cacheAccepted(copy.bundle));
  t.deepEqual(copy.run('-s', missingSocket, 'status'), expected);
  t.regex(copy.run('--version').stdout, /^\d+\.\d+\.\d+/);
});
