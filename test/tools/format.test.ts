// The formatter's check: every source file is as prettier (pinned in devDependencies, configured in
// .prettierrc.json) writes it, so a diff shows behaviour, never layout. Run by ava in the test process.

import test from 'ava';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../helpers/daemon.js';
import { runCommand } from '../helpers/other-users.js';

const PRETTIER = join(PROJECT_ROOT, 'node_modules/prettier/bin/prettier.cjs');

test('every source file is formatted by prettier (npm run format fixes what this lists)', async (t) => {
  const { code, stdout, stderr } = await runCommand([process.execPath, PRETTIER, '--list-different', '.'], {
    cwd: PROJECT_ROOT,
    timeoutMs: 120_000,
  });
  t.is(code, 0, `files prettier would change (run npm run format):\n${stdout}${stderr}`);
});
