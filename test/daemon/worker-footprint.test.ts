// What an HTTP worker serving a plain app with default settings loads: not node:tls and node:crypto (only
// a TLS worker needs them), nor undici, http2 and zlib, which an ES import of node:http pulls in on Node 24
// through its lazy WebSocket getters (~70 ms of every worker's start; issue 21); for a CommonJS app, not
// Node's ES module loader (nor node:module, which brings it), nor node:perf_hooks or node:net's
// SocketAddress before it is ready. Runs in the ava test process.

import test from 'ava';
import { spawnSync } from 'node:child_process';
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

/**
 * A CommonJS preload (node --require): an ES one would start the ES module loader itself. It writes the
 * built-ins loaded when the worker sends 'ready' (process.send is set up before preloads run).
 */
const READY_RECORDER = `'use strict';
const send = process.send;
process.send = function (message, ...rest) {
  if (message && message.type === 'ready') {
    const builtins = process.moduleLoadList.filter((entry) => entry.startsWith('NativeModule ')).map((entry) => 'node:' + entry.slice(13));
    require('node:fs').writeFileSync('ready-builtins-' + process.pid + '.txt', builtins.join('\\n') + '\\n');
  }
  return send.call(this, message, ...rest);
};
`;

/** Run by bare node as its main module: prints what built-ins Node itself loads to run a CommonJS file. */
const BARE_BUILTINS = `process.stdout.write(process.moduleLoadList.filter((entry) => entry.startsWith('NativeModule ')).map((entry) => 'node:' + entry.slice(13)).join('\\n'));`;

test('a worker serving a CommonJS app is ready without more of the ES module loader than bare node, nor node:module, node:perf_hooks or SocketAddress', async (t) => {
  const daemon = await startDaemon(t, {
    args: [fixture('bench/hello-app.cjs'), '-b', '127.0.0.1:0', '-w', '1', '--node-args=--require=./ready-recorder.cjs'],
    files: { 'ready-recorder.cjs': READY_RECORDER, 'bare-builtins.cjs': BARE_BUILTINS },
  });
  const [workerPid] = await daemon.waitForWorkers(1);
  const builtins = readFileSync(join(daemon.directory, `ready-builtins-${workerPid}.txt`), 'utf8').split('\n');
  t.true(builtins.includes('node:http'), 'the recorder saw the worker built-ins');
  // Node 24 starts part of the ES module loader for any main file; Node 20 none of it.
  const bare = spawnSync(process.execPath, [join(daemon.directory, 'bare-builtins.cjs')], { encoding: 'utf8' });
  t.is(bare.status, 0, bare.stderr);
  const bareBuiltins = new Set(bare.stdout.split('\n'));
  // The loader's job and translators: an ES module of appd's or an import() of the app runs them. node:module
  // (createRequire) brings the loader itself, 1.7 ms of a spawn; node:net's SocketAddress is what parsing
  // forwarded-allow-ips ("::1") loads, which waits until a request asks who its client is.
  const unwanted = [
    'node:internal/modules/esm/module_job',
    'node:internal/modules/esm/translators',
    'node:internal/modules/esm/loader',
    'node:module',
    'node:perf_hooks',
    'node:internal/socketaddress',
  ];
  for (const name of unwanted) {
    if (!bareBuiltins.has(name)) t.false(builtins.includes(name), `the worker loaded ${name} before it was ready`);
  }
});

test("a worker's built-ins load from Node's own code cache: the memory-reducer flag is set after them", async (t) => {
  // The flag changes V8's flag hash, after which Node compiles every built-in it loads from source:
  // node:http's dozen modules took a worker's start ~3 ms more (memory-reducer.ts). --expose-internals
  // is a Node option, not a V8 flag: the recorder it lets in leaves V8's flag hash as Node built it.
  const recorder = fixture('builtin-cache-recorder.cjs');
  const daemon = await startDaemon(t, {
    args: [
      fixture('bench/hello-app.cjs'),
      '-b',
      '127.0.0.1:0',
      '-w',
      '1',
      '--node-args=--expose-internals',
      `--node-args=--require=${recorder}`,
    ],
  });
  const [workerPid] = await daemon.waitForWorkers(1);
  daemon.signal('SIGTERM');
  await daemon.exited();
  const uncached = readFileSync(join(daemon.directory, `uncached-builtins-${workerPid}.txt`), 'utf8')
    .split('\n')
    .filter(Boolean);
  for (const name of ['http', '_http_server', 'vm', 'cluster']) {
    t.false(uncached.includes(name), `node:${name} was compiled without Node's code cache (compiled without it: ${uncached.join(', ')})`);
  }
});

/** V8's --trace-gc line for a collection the memory reducer asked for. */
const REDUCE_COLLECTION = /Mark-Compact \(reduce\)/;

/**
 * Where V8 arms the reducer at a small worker's start: measured on Node 20 (V8 11.3). Node 24's V8 ran no
 * reduce collection within 30 s with the trigger on (CI, 24.21), so there the test has nothing to compare.
 */
const REDUCER_ARMS_AT_START = process.versions.node.startsWith('20.');
const REDUCER_TITLE =
  "neither an app worker's start nor a --script worker's arms V8's memory reducer, and a node-args choice about it is kept";

(REDUCER_ARMS_AT_START ? test : test.skip)(
  REDUCER_ARMS_AT_START
    ? REDUCER_TITLE
    : `${REDUCER_TITLE} [skipped: measured on Node 20 only; Node 24's V8 does not arm the reducer at a small worker's start, this is ${process.version}]`,
  async (t) => {
    // The reducer fires ~8 s after it is armed. The daemon given --memory-reducer-for-small-heaps (the user's
    // choice, which the worker keeps) is the clock: started after the default ones, its worker's reduce
    // collection shows when theirs would have (measured: 8.2 s after each start).
    const common = ['-b', '127.0.0.1:0', '-w', '1', '--node-args=--trace-gc'];
    const app = await startDaemon(t, { args: [fixture('bench/hello-app.cjs'), ...common] });
    // An ES module script: Node's ES module loader runs it and the --import preload, and armed the reducer
    // before either ran (measured), so this one fails without the --require preload.
    const script = await startDaemon(t, { args: ['--script', fixture('argv-script.mjs'), ...common] });
    await Promise.all([app.waitForWorkers(1), script.waitForWorkers(1)]);
    const chosen = await startDaemon(t, {
      args: [fixture('bench/hello-app.cjs'), ...common, '--node-args=--memory-reducer-for-small-heaps'],
    });
    await chosen.waitForLog(REDUCE_COLLECTION, 30_000);
    t.notRegex(app.output, REDUCE_COLLECTION, "the app worker's start armed the memory reducer");
    t.notRegex(script.output, REDUCE_COLLECTION, "the --script worker's start armed the memory reducer");
  },
);
