// A worker serving an app module starts from V8's code cache (worker/bin.ts, shared/compile-cache.ts): the
// first worker to exit leaves the cache in its user's ~/.cache/appd, one file whatever the worker's slot
// and generation, and the workers after it start from that file without writing it again; an ES module
// app is still imported by Node's loader, with no warning. Runs in the ava test process.

import test from 'ava';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fixture, startDaemon, tempDirectory } from '../helpers/daemon.js';
import { waitFor } from '../helpers/processes.js';

/** The worker cache files in `home`'s cache directory. */
function workerCaches(home: string): string[] {
  try {
    return readdirSync(join(home, '.cache/appd')).filter((name) => name.startsWith('worker-'));
  } catch {
    return []; // not made yet: no worker has exited
  }
}

test('workers start from one code cache that an exiting worker wrote, and ES module apps still load', async (t) => {
  const home = tempDirectory(t);
  const daemon = await startDaemon(t, {
    args: [fixture('app-forms.mjs'), '-b', '127.0.0.1:0', '-w', '1'],
    env: { HOME: home },
  });
  /** Scales up by one, waits until it is ready, scales down by one (the new worker goes) and waits for its exit. */
  const addAndRetire = async (): Promise<void> => {
    const from = daemon.output.length;
    daemon.signal('SIGTTIN');
    await daemon.waitForLog(/worker web\.1 g1 \(pid \d+\) ready in/, 30_000, from);
    daemon.signal('SIGTTOU');
    await daemon.waitForLog(/exited \(exit code 0\) after scaled down to 1/, 30_000, from);
  };
  t.deepEqual(workerCaches(home), [], 'nothing is written while workers run');
  // A worker that started without a cache writes one as it exits.
  await addAndRetire();
  const [cache, ...others] = workerCaches(home);
  t.deepEqual(others, []);
  t.regex(cache ?? '', new RegExp(`^worker-${process.version}-${process.arch}-[0-9a-f]{8}-[0-9a-f]{8}-\\d+-\\d+-\\d+\\.v8$`));
  const path = join(home, '.cache/appd', cache ?? '');
  const written = statSync(path);
  t.is(written.mode & 0o777, 0o600);
  // One that started from it exits without writing: V8 took the cache (a refused one is written again).
  await addAndRetire();
  t.is(statSync(path).mtimeMs, written.mtimeMs);
  t.is(statSync(path).ino, written.ino);
  // A new generation (another title, the same node options) uses the same file.
  daemon.signal('SIGHUP');
  await waitFor('the worker of generation 2 ready', () => / g2 \(pid \d+\) ready in/.test(daemon.output), 30_000);
  // The first worker started without a cache, so it writes one as it exits (aside, then renamed over
  // this one): looked at while it is still writing, the directory also held its temporary file (CI).
  await waitFor('the worker of generation 1 gone', () => /web\.0 g1 \(pid \d+\) exited/.test(daemon.output), 30_000);
  t.deepEqual(workerCaches(home), [cache]);
  const response = await fetch(daemon.url);
  t.is(response.status, 200);
  t.false(daemon.output.includes('ExperimentalWarning'), daemon.output);
});
