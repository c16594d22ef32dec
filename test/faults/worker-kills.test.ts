// Fault injection: a random worker is SIGKILLed every 200 ms for 10 s under keep-alive and
// Connection: close load. The master survives, the pool is back to size right after the last kill, and
// every failed request was on a connection a killed worker held at the moment it died.

import test from 'ava';
import { fixture, startDaemon } from '../helpers/daemon.js';
import { describeLoad, runLoad, type LoadFailure } from '../helpers/load-client.js';
import { establishedPeerPorts } from '../helpers/ports.js';
import { isAlive, killQuietly, sleep, stopProcess } from '../helpers/processes.js';
import { followWorkerEvents } from '../helpers/worker-events.js';

const WORKERS = 4;
const KILL_EVERY_MS = 200;
const KILL_FOR_MS = 10_000;

test('workers SIGKILLed at random every 200 ms for 10 s under load', async (t) => {
  const daemon = await startDaemon(t, { args: [fixture('pid-app.mjs'), '-w', String(WORKERS), '-b', '127.0.0.1:0'] });
  await daemon.waitForWorkers(WORKERS);
  const events = await followWorkerEvents(t, daemon);

  const failures: LoadFailure[] = [];
  const stopLoad = new AbortController();
  const load = (mode: 'keep-alive' | 'close', concurrency: number) =>
    runLoad({
      url: `${daemon.url}/`,
      mode,
      concurrency,
      durationMs: 60_000,
      signal: stopLoad.signal,
      onFailure: (failure) => failures.push(failure),
    });
  const loads = Promise.all([load('keep-alive', 8), load('close', 4)]);
  t.teardown(() => stopLoad.abort());
  await sleep(500);

  // Client ports of every connection a victim held when it died: stopped first (and seen stopped), so it
  // cannot accept another connection between the look in /proc and the SIGKILL.
  const heldByVictims = new Set<number>();
  const victims: number[] = [];
  const port = daemon.port;
  const killsFrom = Date.now();
  let lastKillAt = 0;
  for (let kill = 0; kill < KILL_FOR_MS / KILL_EVERY_MS; kill += 1) {
    // On a schedule, not a pause after each kill: the look in /proc and ss take their time on a busy machine.
    await sleep(Math.max(0, killsFrom + kill * KILL_EVERY_MS - Date.now()));
    const workers = daemon.workers();
    const victim = workers[Math.floor(Math.random() * workers.length)];
    if (victim !== undefined) {
      await stopProcess(victim);
      for (const peer of await establishedPeerPorts(victim, port)) heldByVictims.add(peer);
      killQuietly(victim, 'SIGKILL');
      victims.push(victim);
      lastKillAt = Date.now();
    }
  }

  const backAt = await events.waitForReady('web', WORKERS, victims, 20_000);
  await sleep(1000); // the load keeps going on the whole pool for a moment
  stopLoad.abort();
  const [keepAlive, close] = await loads;

  const unexplained = failures.filter((failure) => failure.localPort === null || !heldByVictims.has(failure.localPort));
  const failed = keepAlive.failed + close.failed;
  t.log(`${victims.length} workers killed; pool of ${WORKERS} ready again ${backAt - lastKillAt} ms after the last kill (master's clock)`);
  t.log(`keep-alive: ${describeLoad(keepAlive)}; close: ${describeLoad(close)}`);
  t.log(
    `${failed} failed requests for ${victims.length} kills (${(failed / victims.length).toFixed(2)} per kill), all on the ${heldByVictims.size} connections the victims held; unexplained: ${unexplained.length}`,
  );
  t.true(isAlive(daemon.pid), 'the master survives');
  t.is(victims.length, KILL_FOR_MS / KILL_EVERY_MS);
  t.deepEqual(unexplained, [], 'every failed request was on a connection a killed worker held');
  t.true(keepAlive.ok > 0 && close.ok > 0);
  // No request waited for a worker that never came, and no connection was refused: the socket stayed open.
  t.deepEqual(
    Object.keys({ ...keepAlive.errors, ...close.errors }).filter(
      (code) => !['ECONNRESET', 'EPIPE', 'SHORT_BODY', 'EMPTY_RESPONSE'].includes(code),
    ),
    [],
  );
  // An outside kill of a serving worker is not a failed start: the slot is refilled at once, no backoff.
  t.notRegex(daemon.output, /failed to start|next start in/);
  t.is(daemon.workers().length, WORKERS);
});
