// Attack 1 of the security issue: a worker (as nobody when root) writes garbage on its message channel
// to the master: lines that are not JSON with terminal escapes, bytes that glue onto its heartbeat, an
// 11 MB line, a malformed message, Node's internal handle message and a flood. The master kills that
// worker each time with one escaped, cut log line naming it, and never dies or grows.

import test from 'ava';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixture, startDaemon } from '../helpers/daemon.js';
import { get } from '../helpers/http.js';
import { assertNoFailures, underLoad } from '../helpers/under-load.js';
import { waitFor } from '../helpers/processes.js';
import { installationForOthers, whyNotAsNobody } from '../helpers/other-users.js';

function rssKilobytes(pid: number): number {
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);
}

const VARIANTS = 5;

function killLines(output: string): string[] {
  return output.split('\n').filter((line) => / \[WARNING\] killing worker evil\.0 g1 /.test(line));
}

test("garbage on a worker's channel kills that worker, never the master; the other pool serves on", async (t) => {
  // As root, the workers run as nobody (the deployment the attack aims at), from files nobody can read.
  const installation = whyNotAsNobody() === null ? installationForOthers(t) : null;
  const app = (name: string): string => installation?.fixture(name) ?? fixture(name);
  const config = (directory: string): string => `export default {
  pools: {
    evil: { app: ${JSON.stringify(app('security/channel-garbage-app.mjs'))}, workers: 1, bind: ['127.0.0.1:0'],
            env: { ATTACK_DIR: ${JSON.stringify(join(directory, 'attacks'))} } },
    web: { app: ${JSON.stringify(app('pid-app.mjs'))}, workers: 1, bind: ['127.0.0.1:0'] },
  },
};\n`;
  const daemon = await startDaemon(t, {
    args: ['-c', 'appd.config.mjs', ...(installation ? ['--user', 'nobody'] : [])],
    ...(installation ? { appd: installation.appd } : {}),
    prepare: (directory) => {
      chmodSync(directory, 0o755);
      mkdirSync(join(directory, 'attacks'));
      // The attacker (nobody, when root) counts its incarnations here.
      chmodSync(join(directory, 'attacks'), 0o777);
      writeFileSync(join(directory, 'appd.config.mjs'), config(directory));
    },
    timeoutMs: 30_000,
  });
  const rssBefore = rssKilobytes(daemon.pid);
  const web = daemon.urlOf('web');
  const result = await underLoad(
    `${web}/`,
    async () => {
      // Each incarnation of the evil worker attacks once, with the next kind of garbage; backoff spaces them.
      await waitFor(`${VARIANTS} kills`, () => killLines(daemon.output).length >= VARIANTS, 90_000);
      // The sixth incarnation no longer attacks: the pool serves again.
      await waitFor(
        'the evil pool to serve again',
        async () => (await get(daemon.urlOf('evil')).catch(() => null))?.status === 200,
        60_000,
      );
    },
    { concurrency: 3 },
  );
  assertNoFailures(t, result, 'web pool while its neighbour attacked the master');

  const kills = killLines(daemon.output);
  t.log(kills.join('\n'));
  t.is(kills.length, VARIANTS, 'one kill per attack');
  t.regex(kills[0] ?? '', /sent a line that is not JSON on its channel: "this is not json \\e\]0;pwned\\x07\\e\[31m 0"/);
  t.regex(kills[1] ?? '', /sent a line that is not JSON on its channel: "\{"type":"heartb\{"type":"heartbeat"/);
  t.regex(kills[2] ?? '', /sent a line longer than 65536 bytes on its channel, starting "A{120}\.\.\."$/);
  t.regex(kills[3] ?? '', /malformed "boot-error" message: message is not a short string/);
  t.regex(kills[4] ?? '', /sent more than 500 messages in a second on its channel/);
  t.regex(daemon.output, /worker evil\.0 g1 \(pid \d+\) sent a message appd does not know \(type NODE_HANDLE\); ignored/);
  t.false(daemon.output.includes('\u001b'), 'no raw escape reached the log');
  t.true(
    daemon.output.split('\n').every((line) => line.length < 20_000),
    'no line of the 11 MB reached the log whole',
  );

  // The master is alive, serves both pools, and did not keep the garbage.
  t.is((await get(daemon.urlOf('evil'))).status, 200);
  t.is((await get(`${web}/`)).status, 200);
  const grown = rssKilobytes(daemon.pid) - rssBefore;
  t.log(`master RSS ${rssBefore} kB before, grown by ${grown} kB after ${VARIANTS} attacks (1,000 garbage writes among them)`);
  t.true(grown < 20 * 1024, `master RSS grew ${grown} kB`);
});
