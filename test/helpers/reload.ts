// Rolls a test daemon's workers to a new generation and waits until the reload finished: with
// `appctl reload` once appctl exists, with SIGHUP (the same arbiter event) until then.
// Runs in the ava test process.

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { APPCTL, PROJECT_ROOT, type TestDaemon } from './daemon.js';

/** appctl is built by the control-socket work; until ctl/main.ts exists, reloads use SIGHUP. */
export const RELOAD_WITH_APPCTL = existsSync(join(PROJECT_ROOT, 'ctl/main.ts'));

/** Runs `appctl reload` against the daemon (found through its XDG_RUNTIME_DIR); resolves when it exits 0. */
function appctlReload(daemon: TestDaemon, timeoutMs: number): Promise<void> {
  return new Promise((settle, fail) => {
    // Not spawnSync: this process must keep reading the daemon's log while appctl waits.
    const child = spawn(process.execPath, [APPCTL, 'reload'], {
      env: { ...process.env, XDG_RUNTIME_DIR: daemon.directory, APPD_SOCKET: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: timeoutMs,
    });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => (output += text));
    child.stderr.setEncoding('utf8').on('data', (text: string) => (output += text));
    child.once('error', fail);
    child.once('close', (code, signal) => {
      if (code === 0) settle();
      else fail(new Error(`appctl reload exited with ${code ?? signal}:\n${output}\n--- daemon output ---\n${daemon.output}`));
    });
  });
}

/**
 * Reloads and waits for "pool POOL reloaded: generation N" (pool web: the one a daemon without pools
 * has). Returns the log offset before the reload, for later waitForLog calls.
 */
export async function reloadAndWait(daemon: TestDaemon, generation: number, timeoutMs = 20_000, pool = 'web'): Promise<number> {
  const from = daemon.output.length;
  if (RELOAD_WITH_APPCTL) await appctlReload(daemon, timeoutMs);
  else daemon.signal('SIGHUP');
  await daemon.waitForLog(new RegExp(`pool ${pool} reloaded: generation ${generation} serves`), timeoutMs, from);
  return from;
}
