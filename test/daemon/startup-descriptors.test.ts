// The master closes the stray descriptors its caller left open (issue 13, attack 8), but never one Node
// itself holds at start: Node 24 reads NODE_EXTRA_CA_CERTS on a thread of its own. Runs in the ava test process.

import test from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { APPD, fixture, startDaemon, tempDirectory } from '../helpers/daemon.js';
import { runCommand } from '../helpers/other-users.js';

const SYSTEM_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

/**
 * A valid CA bundle large enough (the system's, 40 times) that Node's reading thread is still busy when
 * the master looks for stray descriptors, so the race shows on every run, not once in sixteen.
 */
function largeBundle(directory: string): string | null {
  let certificates: string;
  try {
    certificates = readFileSync(SYSTEM_BUNDLE, 'utf8');
  } catch (error) {
    if (error instanceof Error && 'code' in error && error.code === 'ENOENT') return null;
    throw error;
  }
  const path = join(directory, 'extra-ca.pem');
  writeFileSync(path, certificates.repeat(40));
  return path;
}

test('NODE_EXTRA_CA_CERTS still being read by Node at start is left alone: no "Ignoring extra certs", and the daemon serves', async (t) => {
  const directory = tempDirectory(t);
  const bundle = largeBundle(directory);
  if (!bundle) {
    t.log(`SKIPPED: no ${SYSTEM_BUNDLE} on this machine to build a CA bundle from`);
    t.pass();
    return;
  }
  const environment = { ...process.env, NODE_EXTRA_CA_CERTS: bundle };
  for (let run = 0; run < 3; run += 1) {
    const printed = await runCommand([process.execPath, APPD, fixture('pid-app.mjs'), '--print-config'], {
      env: environment,
      timeoutMs: 60_000,
    });
    t.is(printed.code, 0, printed.stderr);
    t.notRegex(printed.stderr, /Ignoring extra certs/, `run ${run + 1}: the master closed Node's own descriptor under its reading thread`);
  }
  const daemon = await startDaemon(t, {
    args: [fixture('pid-app.mjs'), '-b', '127.0.0.1:0', '-w', '1'],
    env: { NODE_EXTRA_CA_CERTS: bundle },
  });
  t.notRegex(daemon.output, /Ignoring extra certs|EBADF/);
});
