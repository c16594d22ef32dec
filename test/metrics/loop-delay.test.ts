// The event-loop delay a worker reports (status, appd_worker_event_loop_delay_seconds): an idle worker
// stops its sampling timer (no wake-up every 10 ms), and a blocked loop still shows its delay.

import test from 'ava';
import { existsSync, readFileSync } from 'node:fs';
import { statusOf } from '../helpers/appctl.js';
import { fixture, startDaemon } from '../helpers/daemon.js';
import { get } from '../helpers/http.js';
import { sleep, waitFor } from '../helpers/processes.js';

/** How many times the kernel has put the worker's main thread on a CPU (the third schedstat field). */
function timesScheduled(pid: number): number {
  return Number(readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').trim().split(' ')[2]);
}

const TITLE = 'an idle worker wakes a few times a second, not every 10 ms, and a blocked loop still shows its delay';

// A kernel built without CONFIG_SCHED_INFO has no schedstat files: nothing to count wake-ups with.
if (!existsSync('/proc/self/schedstat')) test.skip(`${TITLE} [skipped: this kernel has no /proc/PID/schedstat]`, () => undefined);
else
  test(TITLE, async (t) => {
    const daemon = await startDaemon(t, { args: [fixture('pid-app.mjs'), '-w', '1', '-b', '127.0.0.1:0', '--name', 'idle'] });
    const [pid] = await daemon.waitForWorkers(1);
    if (pid === undefined) throw new Error('no worker');
    // A timer every 10 ms woke the idle loop ~100 times a second; the heartbeat, the connection check and
    // the master channel ~5-8. Counted in one-second windows (a count of wake-ups, not a speed): the
    // first heartbeats come while the worker is still warming up.
    let lastRate = 0;
    await waitFor(
      'an idle worker waking under 40 times a second',
      async () => {
        const before = timesScheduled(pid);
        await sleep(1000);
        lastRate = timesScheduled(pid) - before;
        return lastRate < 40;
      },
      20_000,
      0,
    ).catch((error: Error) => {
      throw new Error(`${error.message}: last second ${lastRate} wake-ups`);
    });

    // A loop blocked 300 ms per request, twice a second: the next heartbeats report it (the first busy
    // interval after an idle one switches sampling back on).
    let blocking = true;
    const load = (async () => {
      while (blocking) {
        await get(`${daemon.url}/?busy=300`);
        await sleep(200);
      }
    })();
    try {
      const worker = await waitFor(
        'a loop-delay p99 of at least 200 ms',
        async () => {
          const found = (await statusOf(daemon.directory)).pools[0]?.workers.find((candidate) => candidate.pid === pid);
          return (found?.loopDelayP99Ms ?? 0) >= 200 ? found : null;
        },
        30_000,
        250,
      );
      t.true((worker?.loopDelayP99Ms ?? 0) < 1000, `p99 ${worker?.loopDelayP99Ms} ms`);
    } finally {
      blocking = false;
      await load;
    }
  });
