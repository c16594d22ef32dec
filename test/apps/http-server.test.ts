// http-server 14, run unmodified: its SIGTERM handler calls process.exit(), which used to cut every
// request in flight on a reload or stop. Reloads and stops now ask the worker to drain over IPC (DESIGN
// §17), and a SIGTERM from outside still drains. Runs in the ava test process.

import test, { type ExecutionContext } from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { commandLine, isAlive, killQuietly, waitFor } from '../helpers/processes.js';
import { reloadAndWait } from '../helpers/reload.js';
import { assertNoFailures, underLoad } from '../helpers/under-load.js';
import { holdDownloads } from './held-downloads.js';

/** A reload boots new workers, which takes many seconds (a minute, seen) on a machine loaded by parallel test runs. */
const RELOAD_TIMEOUT_MS = 180_000;

const HTTP_SERVER = join(PROJECT_ROOT, 'node_modules/http-server/bin/http-server');
/** More than the loopback socket buffers of both ends hold, so a held download is certainly mid-body. */
const BIG_FILE_BYTES = 32 * 1024 * 1024;
/** What http-server's own SIGTERM (and SIGINT) handler prints before its process.exit(). */
const HANDLER_RAN = 'http-server stopped.';

async function startHttpServer(t: ExecutionContext): Promise<TestDaemon> {
  const daemon = await startDaemon(t, {
    timeoutMs: 120_000,
    args: ['--script', HTTP_SERVER, '-w', '2', '-b', '127.0.0.1:0', '--graceful-timeout', '90'],
    files: { 'hello.txt': 'hello\n' },
    prepare: (directory) => writeFileSync(join(directory, 'big.bin'), Buffer.alloc(BIG_FILE_BYTES, 1)),
  });
  // http-server sets its own process.title, so its workers are found as the master's children.
  await waitFor('2 workers', () => daemon.descendants().length === 2 || null, 60_000);
  return daemon;
}

/** A worker that got the drain request shows "(draining)" in its title; one that died is gone. */
function drainingOrGone(pid: number): boolean {
  return !isAlive(pid) || commandLine(pid).includes('(draining)');
}

test.serial(
  'http-server 14: 2 rolling reloads under keep-alive and HTTP/1.0 load fail no request; its SIGTERM handler never runs',
  async (t) => {
    t.timeout(600_000);
    const daemon = await startHttpServer(t);
    const result = await underLoad(`${daemon.url}/hello.txt`, async () => {
      await reloadAndWait(daemon, 2, RELOAD_TIMEOUT_MS);
      await reloadAndWait(daemon, 3, RELOAD_TIMEOUT_MS);
    });
    assertNoFailures(t, result, '2 reloads');
    t.false(daemon.output.includes(HANDLER_RAN), "a reload does not trigger the script's SIGTERM handler");
  },
);

test.serial('http-server 14: downloads in flight when a reload, then a graceful stop, start arrive whole', async (t) => {
  t.timeout(600_000);
  const daemon = await startHttpServer(t);
  for (const step of ['reload', 'stop'] as const) {
    const workers = daemon.descendants();
    const held = await holdDownloads(`${daemon.url}/big.bin`, 6, 60_000);
    if (step === 'reload') await reloadAndWait(daemon, 2, RELOAD_TIMEOUT_MS);
    else daemon.signal('SIGTERM');
    await waitFor(`the old workers ${workers.join(', ')} to drain (or die)`, () => workers.every(drainingOrGone), 60_000);
    const received = await Promise.allSettled(held.map((download) => download.release()));
    t.deepEqual(
      received.map((outcome) => (outcome.status === 'fulfilled' ? outcome.value : String(outcome.reason))),
      held.map(() => BIG_FILE_BYTES),
      `after the ${step}`,
    );
  }
  t.is((await daemon.exited()).code, 0);
  t.false(daemon.output.includes(HANDLER_RAN), "neither a reload nor a graceful stop triggers the script's SIGTERM handler");
});

test.serial(
  "http-server 14: a SIGTERM sent to a worker from outside drains it; the script's process.exit() waits for the requests in flight",
  async (t) => {
    t.timeout(600_000);
    const daemon = await startHttpServer(t);
    const held = await holdDownloads(`${daemon.url}/big.bin`, 6, 60_000);
    const workers = daemon.descendants();
    for (const pid of workers) killQuietly(pid, 'SIGTERM');
    await daemon.waitForLog(new RegExp(HANDLER_RAN.replace('.', '\\.')), 60_000);
    await waitFor('the workers to drain (or die)', () => workers.every(drainingOrGone), 60_000);
    const received = await Promise.allSettled(held.map((download) => download.release()));
    t.deepEqual(
      received.map((outcome) => (outcome.status === 'fulfilled' ? outcome.value : String(outcome.reason))),
      held.map(() => BIG_FILE_BYTES),
    );
    await waitFor('the drained workers to exit', () => workers.every((pid) => !isAlive(pid)), 60_000);
  },
);
