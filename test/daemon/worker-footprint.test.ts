// What an HTTP worker serving a plain app with default settings loads: not node:tls and node:crypto (only
// a TLS worker needs them), nor undici, http2 and zlib, which an ES import of node:http pulls in on Node 24
// through its lazy WebSocket getters (~70 ms of every worker's start; issue 21). Runs in the ava test process.

import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixture, startDaemon } from '../helpers/daemon.js';

test('a worker serving a plain HTTP app loads neither node:tls, node:crypto, undici, http2 nor zlib', async (t) => {
  const daemon = await startDaemon(t, {
    args: [fixture('pid-app.mjs'), '-b', '127.0.0.1:0', '-w', '1', `--node-args=--import=${fixture('module-recorder.mjs')}`],
    // The workers inherit it; the recorder writes each process's built-ins at its exit.
    env: { MODULE_RECORD_DIRECTORY: '.' },
  });
  const [workerPid] = await daemon.waitForWorkers(1);
  daemon.signal('SIGTERM');
  await daemon.exited();
  const builtins = readFileSync(join(daemon.directory, `builtins-${workerPid}.txt`), 'utf8').split('\n');
  t.true(builtins.includes('node:http'), 'the recorder saw the worker built-ins');
  for (const name of ['node:tls', 'node:crypto', 'node:internal/deps/undici/undici', 'node:http2', 'node:zlib']) {
    t.false(builtins.includes(name), `the worker loaded ${name}`);
  }
});
