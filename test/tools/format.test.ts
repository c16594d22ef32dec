// The formatter's check: every source file is as prettier (pinned in devDependencies, configured in
// .prettierrc.json) writes it, so a diff shows behaviour, never layout. Run by ava in the test process.

import test from 'ava';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../helpers/daemon.js';

const PRETTIER = join(PROJECT_ROOT, 'node_modules/prettier/bin/prettier.cjs');

function prettierCheck(): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [PRETTIER, '--list-different', '.'], { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

test('every source file is formatted by prettier (npm run format fixes what this lists)', async (t) => {
  const { code, output } = await prettierCheck();
  t.is(code, 0, `files prettier would change (run npm run format):\n${output}`);
});
