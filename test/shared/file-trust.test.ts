// sshd's StrictModes rule the master applies to the files it executes (shared/trust/file-trust.ts):
// world-writable directories and symlinks into them are refused, sticky ones are not. Runs in-process,
// as any user; the attacks it stops are performed in test/security/config-trust.test.ts.

import test from 'ava';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { untrustedReason } from '../../shared/trust/file-trust.js';

test('the StrictModes rule: world-writable directories and symlinks into them are refused, sticky ones are not', (t) => {
  const self = process.getuid?.() ?? 0;
  const base = mkdtempSync(join(tmpdir(), 'appd-trust-'));
  t.teardown(() => rmSync(base, { recursive: true, force: true }));
  const open = join(base, 'open');
  mkdirSync(open);
  chmodSync(open, 0o777);
  writeFileSync(join(open, 'appd.config.mjs'), '');
  t.is(untrustedReason(join(open, 'appd.config.mjs'), self), `${open} is writable by every user (mode 0777; fix: chmod go-w ${open})`);
  const safe = join(base, 'safe');
  mkdirSync(safe, { mode: 0o755 });
  chmodSync(safe, 0o755);
  writeFileSync(join(safe, 'appd.config.mjs'), '', { mode: 0o644 });
  chmodSync(join(safe, 'appd.config.mjs'), 0o644);
  t.is(untrustedReason(join(safe, 'appd.config.mjs'), self), null);
  symlinkSync(join(open, 'appd.config.mjs'), join(safe, 'link.mjs'));
  t.regex(untrustedReason(join(safe, 'link.mjs'), self) ?? '', /open is writable by every user/, 'a symlink is checked where it leads');
  chmodSync(join(safe, 'appd.config.mjs'), 0o664);
  t.regex(untrustedReason(join(safe, 'appd.config.mjs'), self) ?? '', /is writable by group \d+ \(mode 0664/);
  const sticky = join(base, 'sticky');
  mkdirSync(sticky);
  chmodSync(sticky, 0o1777);
  writeFileSync(join(sticky, 'appd.config.mjs'), '', { mode: 0o644 });
  chmodSync(join(sticky, 'appd.config.mjs'), 0o644);
  t.is(untrustedReason(join(sticky, 'appd.config.mjs'), self), null, 'like /tmp: others cannot replace our entry');
  // Root's files are trusted by every master; a file of another ordinary uid is not.
  if (self !== 0)
    t.regex(untrustedReason(join(sticky, 'appd.config.mjs'), self + 1) ?? '', /is owned by uid/, "another uid's file is refused");
});
