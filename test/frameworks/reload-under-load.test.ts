// Zero downtime for unmodified scripts: rolling reloads of Express and Fastify scripts (adopted
// listen()) under keep-alive and HTTP/1.0 load fail no request. Runs in the ava test process.

import test from 'ava';
import { join } from 'node:path';
import { fixture, startDaemon } from '../helpers/daemon.js';
import { describeLoad, runLoad, type LoadMode } from '../helpers/load-client.js';
import { reloadAndWait } from '../helpers/reload.js';

const RELOADS = 2;

const SCRIPTS = [
  { name: 'Express', file: 'express-script.cjs' },
  { name: 'Fastify', file: 'fastify-script.mjs' },
] as const;

for (const { name, file } of SCRIPTS) {
  for (const mode of ['keep-alive', 'close'] as const satisfies readonly LoadMode[]) {
    test.serial(`${name} script: ${RELOADS} rolling reloads under ${mode} load fail no request`, async (t) => {
      const daemon = await startDaemon(t, {
        args: ['--script', fixture(join('frameworks', file)), '-w', '2', '-b', '127.0.0.1:0', '--graceful-timeout', '10'],
      });
      await daemon.waitForWorkers(2);
      const generations = new Set<string>();
      const stop = new AbortController();
      // A few milliseconds per request, so some are always in flight when a worker starts draining.
      const load = runLoad({
        url: `${daemon.url}/?delay=3`,
        mode,
        concurrency: 8,
        durationMs: 30_000,
        signal: stop.signal,
        onResponse: (response) => generations.add(/generation=(\d+)/.exec(response.body)?.[1] ?? '?'),
      });
      try {
        for (let generation = 2; generation <= RELOADS + 1; generation += 1) {
          await new Promise((settle) => setTimeout(settle, 300));
          await reloadAndWait(daemon, generation);
        }
        await new Promise((settle) => setTimeout(settle, 300));
      } finally {
        stop.abort();
      }
      const result = await load;
      t.log(describeLoad(result), result.samples);
      t.is(result.failed, 0, `failures: ${JSON.stringify(result.errors)}`);
      t.true(result.ok > 0);
      t.deepEqual([...generations].sort(), ['1', '2', '3'], 'every generation served');
    });
  }
}
