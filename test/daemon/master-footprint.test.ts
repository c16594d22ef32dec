// What an idle master with default settings loads: none of appd's ES modules (it is one CommonJS bundle) and
// not the code of features it does not use (the admin listener's node:http, node:crypto, the resolver,
// node:tls where it is of no use), so that its memory stays near a node:cluster primary's (issue 21).
// Runs in the ava test process.

import test, { type ExecutionContext } from 'ava';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixture, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { get } from '../helpers/http.js';
import { reloadAndWait } from '../helpers/reload.js';
import { waitFor } from '../helpers/processes.js';

const SYSTEM_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

/** Starts a daemon under the recorder, stops it, and returns the master's built-ins, its ES modules and the CommonJS files it required. */
async function masterModules(
  t: ExecutionContext,
  extraArgs: readonly string[],
): Promise<{ builtins: string[]; modules: string[]; required: string[] }> {
  const daemon: TestDaemon = await startDaemon(t, {
    args: [fixture('pid-app.mjs'), '-b', '127.0.0.1:0', '-w', '1', ...extraArgs],
    nodeArguments: ['--import', fixture('module-recorder.mjs')],
    // Set as on many machines (and this bench's): node:tls must still not load where it serves nothing.
    env: { MODULE_RECORD_DIRECTORY: '.', NODE_EXTRA_CA_CERTS: existsSync(SYSTEM_BUNDLE) ? SYSTEM_BUNDLE : '' },
  });
  daemon.signal('SIGTERM');
  await daemon.exited();
  const read = (name: string): string[] => readFileSync(join(daemon.directory, `${name}-${daemon.pid}.txt`), 'utf8').split('\n');
  const compiled = new URL('../../', import.meta.url).href;
  return {
    builtins: read('builtins'),
    modules: read('modules').map((url) => url.replace(compiled, '')),
    required: read('required').filter(Boolean),
  };
}

/** appd's own ES modules among those loaded (tsc's files under dist/daemon and dist/shared), which the bundle replaces. */
function appdModules(modules: readonly string[]): string[] {
  return modules.filter((url) => /^(daemon|shared)\/.*\.js$/.test(url));
}

test('an idle master with default settings loads neither node:http, node:crypto, node:tls, the resolver nor the admin listener', async (t) => {
  const { builtins, modules } = await masterModules(t, []);
  t.true(builtins.includes('node:net'), 'the recorder saw the built-ins');
  t.true(modules.includes('daemon/appd.cjs'), 'the recorder saw the main module');
  // The bundle (dist/daemon/appd.cjs), not ~140 ES modules: those cost ~9-10 MB of RSS on Node 20 and 24.
  t.deepEqual(appdModules(modules), [], 'the master runs as one CommonJS bundle');
  // Not node:tls either, though NODE_EXTRA_CA_CERTS is set: Node 24's thread reading it is waited for by
  // watching its descriptor (stray-descriptors.ts). (Not node:worker_threads: the recorder's hook runs on a thread.)
  const unwanted = [
    'node:http',
    'node:tls',
    'node:crypto',
    'node:dns/promises',
    'node:internal/deps/undici/undici',
    'node:http2',
    'node:perf_hooks',
  ];
  for (const name of unwanted) t.false(builtins.includes(name), `the master loaded ${name}`);
});

test("the master's built-ins load from Node's own code cache: its V8 flags are set after them", async (t) => {
  // The flags (no optimizing compilers, a fixed young generation) change V8's flag hash, after which Node
  // compiled every built-in it loaded from source: 38 of them at each start (master-builtins.ts).
  const daemon = await startDaemon(t, {
    args: [fixture('pid-app.mjs'), '-b', '127.0.0.1:0', '-w', '1'],
    nodeArguments: ['--expose-internals', '--require', fixture('builtin-cache-recorder.cjs')],
  });
  daemon.signal('SIGTERM');
  await daemon.exited();
  const uncached = readFileSync(join(daemon.directory, `uncached-builtins-${daemon.pid}.txt`), 'utf8')
    .split('\n')
    .filter(Boolean);
  for (const name of ['net', 'child_process', 'cluster', 'stream', 'internal/streams/readable', 'os']) {
    t.false(uncached.includes(name), `node:${name} was compiled without Node's code cache (compiled without it: ${uncached.join(', ')})`);
  }
});

// Its flags are in the plain forms daemon/config/cli-arguments.ts reads: commander, which reads the others,
// stays on disk (Node 24: idle master 51.9 -> 51.3 MB RSS, Node 20: 43.3 -> 43.1, median of 5 interleaved starts).
test('a master started with plain flags never requires commander', async (t) => {
  const { required } = await masterModules(t, ['--name', 'plain', '--graceful-timeout=5', '--no-daemon']);
  t.true(
    required.some((path) => path.endsWith('/dist/daemon/appd.cjs')),
    'the recorder saw the bundle required',
  );
  t.deepEqual(
    required.filter((path) => path.includes('/node_modules/commander/')),
    [],
  );
});

test('with --metrics-bind the master loads the admin listener and node:http', async (t) => {
  const { builtins, modules } = await masterModules(t, ['--metrics-bind', '127.0.0.1:0']);
  t.true(builtins.includes('node:http'));
  t.deepEqual(appdModules(modules), []);
});

// Without daemon/master/optimizing-compilers.ts, V8 12+ (Node 22, 24) has Maglev compile Node's path.normalize
// and more at any pool size (+2.2 MB of the node binary's pages on Node 24), V8 11 (Node 20) has TurboFan
// compile reconcile's per-slot filters from about 8 workers on (+3.5 MB with 16), and Sparkplug compiles the
// master's start-up functions on both (+0.4-0.5 MB). 16 workers fail all three.
// Node 20 reaches the flags through process.binding, which would print a deprecation warning.
// (Node 22.0-22.2 have V8 12 but no process.getBuiltinModule: the master keeps its compilers there.)
const compilersOff = Number(process.versions.v8.split('.')[0]) < 12 || typeof process.getBuiltinModule === 'function';
/** Functions of the master's reconcile step, each called many times at every start (Sparkplug's trace names them). */
const RECONCILE_FUNCTIONS = /Enqueued SFI (reconcile|manageWorkers|manageSlot|workersOf|takeAll) /;
(compilersOff ? test : test.skip)(
  `a master starting 16 workers has V8 compile none of its functions beyond bytecode, and prints no deprecation warning${compilersOff ? '' : ' [skipped: Node 22.0-22.2 have no process.getBuiltinModule: the master keeps its compilers]'}`,
  async (t) => {
    const daemon = await startDaemon(t, {
      args: [fixture('pid-app.mjs'), '-b', '127.0.0.1:0', '-w', '16'],
      nodeArguments: ['--trace-opt', '--trace-baseline-batch-compilation', '--pending-deprecation'],
    });
    await daemon.waitForWorkers(16, 60_000);
    daemon.signal('SIGTERM');
    await daemon.exited();
    const lines = daemon.output.split('\n');
    t.true(daemon.output.includes('Starting appd'), 'the master ran');
    t.true(
      lines.some((line) => line.includes('[Baseline batch compilation]')),
      "V8 traced Sparkplug's queue (Node's own start-up, before the master's first line, is queued)",
    );
    t.deepEqual(
      lines.filter((line) => /for optimization to|compiling method/.test(line)),
      [],
      'V8 compiled master functions with an optimizing compiler',
    );
    t.deepEqual(
      lines.filter((line) => RECONCILE_FUNCTIONS.test(line)),
      [],
      'Sparkplug queued the master functions',
    );
    t.false(/\[DEP\d+\] DeprecationWarning/.test(daemon.output), 'the master printed a deprecation warning');
  },
);

// V8 grows its young generation with the bytes that survive scavenges (each worker started and reaped
// leaves some) and gives it back only in a collection while allocation is slow, which an idle master never
// runs: 300 back-to-back reloads took a Node 20 master from 53.6 to 74.1 MB, kept while idle. The master
// now collects after workers exit (daemon/master/heap-compaction.ts). V8's --trace-gc names such a
// collection "testing" (the reason V8 gives a gc() call), and "(reduce)" on V8 12+, where only the
// memory-reducing kind shrinks the young generation. When it runs: test/arbiter/heap-upkeep.test.ts.
const COLLECTION_ON_REQUEST =
  Number(process.versions.v8.split('.')[0]) >= 12 ? /Mark-Compact \(reduce\).*\btesting\b/ : /Mark-Compact.*\btesting\b/;
test('after a reload the master collects its heap in full, not at start, and prints no warning', async (t) => {
  const daemon = await startDaemon(t, {
    args: [fixture('pid-app.mjs'), '-b', '127.0.0.1:0', '-w', '1'],
    nodeArguments: ['--trace-gc', '--pending-deprecation'],
  });
  await daemon.waitForWorkers(1);
  t.false(COLLECTION_ON_REQUEST.test(daemon.output), 'no collection before any worker exited');
  const from = await reloadAndWait(daemon, 2);
  await daemon.waitForLog(COLLECTION_ON_REQUEST, 10_000, from);
  t.false(/\[DEP\d+\] DeprecationWarning/.test(daemon.output), 'the master printed a deprecation warning');
  t.false(daemon.output.includes('will not collect its heap'), 'the master said it cannot collect');
  t.is((await get(daemon.url)).status, 200, 'the master and its new worker serve on');
});

// Relayed output is steady allocation that no worker exit follows: without daemon/master/young-generation.ts
// V8 grew the master's young generation 16-fold (Node 20) to 64-fold (Node 24) while it relayed 200,000
// lines, and kept it. V8's --trace-gc-verbose reports the young generation ("New space") after each
// collection, the same way on Node 20, 22 and 24.
const NEW_SPACE_COMMITTED = /New space,\s+used:\s+\d+ KB, available:\s+\d+ KB, committed:\s+(\d+) KB/g;
test("relaying 200,000 lines leaves the master's young generation at the size it started with", async (t) => {
  const daemon = await startDaemon(t, {
    args: [fixture('chatty-app.mjs'), '-b', '127.0.0.1:0', '-w', '1'],
    nodeArguments: ['--trace-gc-verbose'],
  });
  await daemon.waitForWorkers(1);
  for (let burst = 0; burst < 10; burst += 1) t.is((await get(`${daemon.url}/burst?lines=20000`)).status, 200);
  // Every burst's last line has passed through the master.
  await waitFor('10 bursts relayed', () => (daemon.output.match(/burst line 20000$/gm)?.length ?? 0) >= 10 || null, 60_000);
  const committed = [...daemon.output.matchAll(NEW_SPACE_COMMITTED)].map((match) => Number(match[1]));
  const first = committed[0] ?? 0;
  const largest = Math.max(...committed);
  t.log(`${committed.length} collections; young generation committed: ${first} KB at the first, ${largest} KB at most`);
  t.true(committed.length > 20, 'the master collected as it relayed, and V8 reported its young generation');
  t.true(largest <= 2 * first, `the young generation grew from ${first} to ${largest} KB`);
});
