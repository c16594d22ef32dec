// Fault injection: 300 reloads of a JS config file (unchanged, then one that fails to parse) leave the
// master's heap where it was: reading the config again must not keep every old module. The master runs
// with node --expose-gc, under which it reports its heap after a full collection as each reload starts.
// What the master keeps by design is held constant: its ring of the last 2000 log lines is filled by a
// pool's output before the baseline, and --log-level warning keeps the reloads' info lines out of it.

import test from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { HELLO, RawControlClient } from '../helpers/control-socket.js';
import { waitFor } from '../helpers/processes.js';

const RELOADS = 300;
const HEAP_GROWTH_LIMIT_BYTES = 1024 * 1024;
/** The first reloads load code the master had not needed yet; the baseline is taken after them. */
const WARM_UP_RELOADS = 30;
/** The master keeps its last 2000 log lines for appctl logs: "filler" prints more than that at start. */
const LOG_RING_LINES = 2000;

/** Only "sleeper" is reloaded (a command pool reloads in milliseconds); the padding makes each kept module cost ~20 KB. */
const CONFIG = `// ${'padding '.repeat(2500)}
export default {
  pools: {
    sleeper: { command: ['sleep', '600'], workers: 0 },
    filler: { command: ['sh', '-c', 'for line in $(seq ${LOG_RING_LINES + 100}); do echo "filler $line ${'x'.repeat(150)}"; done; exec sleep 600'], workers: 1, startSeconds: 0 },
  },
};
`;

function heapFigures(daemon: TestDaemon): number[] {
  return [...daemon.output.matchAll(/heap after GC: (\d+) bytes/g)].map((match) => Number(match[1]));
}

/** VmRSS of a live process, in bytes. */
function residentBytes(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match?.[1]) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]) * 1024;
}

async function reloadSleeper(client: RawControlClient, id: string): Promise<Record<string, unknown>> {
  client.send({ type: 'request', id, request: { command: 'reload', pool: 'sleeper' } });
  const reply = await client.waitFor((message) => message['type'] === 'reply' && message['id'] === id, 30_000);
  if (reply === null) throw new Error('the daemon closed the control connection');
  return reply['outcome'] as Record<string, unknown>;
}

/** Reloads RELOADS times (each must end as `expected`); returns the heap after the warm-up and after the last. */
async function heapGrowthOver(
  daemon: TestDaemon,
  expected: 'completed' | 'failed',
  prepare = (): void => undefined,
): Promise<{ baseline: number; last: number; rssBaseline: number; rssLast: number }> {
  await daemon.waitForLog(new RegExp(`filler ${LOG_RING_LINES + 100} `), 30_000);
  prepare();
  const client = await RawControlClient.connect(join(daemon.directory, 'appd', 'reloader.sock'));
  let rssBaseline = 0;
  try {
    client.send(HELLO);
    for (let done = 0; done <= RELOADS; done += 1) {
      const outcome = await reloadSleeper(client, `reload-${done}`);
      if (outcome['status'] !== expected) throw new Error(`reload ${done + 1} ended ${JSON.stringify(outcome)}`);
      client.messages.length = 0;
      if (done === WARM_UP_RELOADS) rssBaseline = residentBytes(daemon.pid);
    }
  } finally {
    client.destroy();
  }
  // The heap is logged as each reload starts: the one after the last counted reload shows what it left.
  const figures = await waitFor('every heap figure', () => {
    const found = heapFigures(daemon);
    return found.length > RELOADS ? found : null;
  });
  return { baseline: figures[WARM_UP_RELOADS] ?? 0, last: figures[RELOADS] ?? 0, rssBaseline, rssLast: residentBytes(daemon.pid) };
}

const megabytes = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(2)} MB`;

/** Printed, not asserted: RSS also moves with what the kernel and V8 do with free pages (issue 21's "flat over reloads"). */
function rssLine(rssBaseline: number, rssLast: number): string {
  return `master RSS: ${megabytes(rssBaseline)} after ${WARM_UP_RELOADS} reloads, ${megabytes(rssLast)} after ${RELOADS} (${((rssLast - rssBaseline) / 1024).toFixed(0)} KB)`;
}

test(`${RELOADS} reloads of an unchanged JS config: heap after GC grows less than 1 MB`, async (t) => {
  t.timeout(600_000);
  const daemon = await startDaemon(t, {
    args: ['-c', 'appd.config.mjs', '--name', 'reloader', '--log-level', 'warning'],
    files: { 'appd.config.mjs': CONFIG },
    nodeArguments: ['--expose-gc'],
    waitFor: 'nothing',
  });
  const { baseline, last, rssBaseline, rssLast } = await heapGrowthOver(daemon, 'completed');
  t.log(rssLine(rssBaseline, rssLast));
  t.log(
    `heap after GC: ${megabytes(baseline)} after ${WARM_UP_RELOADS} reloads, ${megabytes(last)} after ${RELOADS} (${((last - baseline) / 1024).toFixed(0)} KB)`,
  );
  t.true(baseline > 0);
  t.true(last - baseline < HEAP_GROWTH_LIMIT_BYTES, `the heap grew by ${megabytes(last - baseline)}`);
});

test(`${RELOADS} reloads of a JS config that fails to parse: heap after GC grows less than 1 MB`, async (t) => {
  t.timeout(600_000);
  const daemon = await startDaemon(t, {
    args: ['-c', 'appd.config.mjs', '--name', 'reloader', '--log-level', 'warning'],
    files: { 'appd.config.mjs': CONFIG },
    nodeArguments: ['--expose-gc'],
    waitFor: 'nothing',
  });
  const breakConfig = (): void => writeFileSync(join(daemon.directory, 'appd.config.mjs'), `${CONFIG}\nexport default {\n`);
  const { baseline, last, rssBaseline, rssLast } = await heapGrowthOver(daemon, 'failed', breakConfig);
  t.log(rssLine(rssBaseline, rssLast));
  t.log(
    `heap after GC: ${megabytes(baseline)} after ${WARM_UP_RELOADS} failed reloads, ${megabytes(last)} after ${RELOADS} (${((last - baseline) / 1024).toFixed(0)} KB)`,
  );
  t.true(last - baseline < HEAP_GROWTH_LIMIT_BYTES, `the heap grew by ${megabytes(last - baseline)}`);
  t.regex(daemon.output, /reload failed, nothing changed: config file \S*appd\.config\.mjs: SyntaxError/);
});
