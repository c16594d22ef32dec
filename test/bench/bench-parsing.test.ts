// Unit tests for the bench's parsers and arithmetic (wrk's report, worker spread, medians): the bench
// itself is not part of npm test, but a wrong parser would print wrong numbers. Runs in the ava test process.

import test from 'ava';
import type { ContenderKey } from './contenders/contender.js';
import { perRoundRatios } from './report.js';
import { lowsOfHalves } from './rows/reload-memory.js';
import { pairOrder, roundOrder, type ThroughputRun } from './rows/throughput.js';
import { averageByPosition, median, medianInterval } from './statistics.js';
import { spreadBetween } from './worker-stats.js';
import { parseWrkReport } from './wrk.js';

const WRK_REPORT = `Running 4s test @ http://127.0.0.1:41123/
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   810.25us  402.10us  12.01ms   91.32%
    Req/Sec    40.12k     1.20k   42.00k    75.00%
  Latency Distribution
     50%  742.00us
     75%    0.90ms
     90%    1.10ms
     99%    2.05ms
  159712 requests in 4.00s, 20.86MB read
  Socket errors: connect 0, read 3, write 0, timeout 1
  Non-2xx or 3xx responses: 2
Requests/sec:  39927.61
Transfer/sec:      5.21MB
`;

test('reads requests/s, latency percentiles in any unit, and counts every error', (t) => {
  t.deepEqual(parseWrkReport(WRK_REPORT), {
    requestsPerSecond: 39927.61,
    requests: 159712,
    latencyP50Ms: 0.742,
    latencyP99Ms: 2.05,
    errors: 6,
  });
  t.is(parseWrkReport(WRK_REPORT.replace('2.05ms', '1.50s')).latencyP99Ms, 1500);
});

test('refuses a report it cannot read instead of printing a zero', (t) => {
  t.throws(() => parseWrkReport('unable to connect to 127.0.0.1:1 Connection refused\n'), { message: /cannot read wrk's report/ });
  t.throws(() => parseWrkReport(WRK_REPORT.replace(/^\s+99%.*$/m, '')), { message: /no 99% latency/ });
});

test('spread counts what each worker took between snapshots, busiest first, idle workers as 0', (t) => {
  const before = new Map([
    [10, { connections: 5, requests: 100 }],
    [11, { connections: 1, requests: 10 }],
  ]);
  const after = new Map([
    [10, { connections: 9, requests: 150 }],
    [11, { connections: 61, requests: 4010 }],
  ]);
  t.deepEqual(spreadBetween(before, after, [10, 11, 12]), [
    { connections: 60, requests: 4000 },
    { connections: 4, requests: 50 },
    { connections: 0, requests: 0 },
  ]);
});

test('median and position-wise averages', (t) => {
  t.is(median([3, 1, 2]), 2);
  t.is(median([4, 1, 3, 2]), 2.5);
  t.true(Number.isNaN(median([])));
  t.deepEqual(
    averageByPosition([
      [40, 24],
      [36, 28, 0],
    ]),
    [38, 26, 0],
  );
});

test('the reload row compares the lowest RSS of the two halves after the warm-up (the troughs of its sawtooth)', (t) => {
  const samples: [number, number][] = [
    [0, 40_000],
    [50, 61_000],
    [110, 55_000],
    [120, 60_000],
    [130, 52_000],
    [140, 58_000],
    [150, 53_000],
    [160, 66_000],
  ];
  t.deepEqual(lowsOfHalves(samples, 100), { first: 52_000, second: 53_000 }, 'warm-up readings left out');
  t.is(lowsOfHalves(samples.slice(0, 5), 100), null, 'fewer than 4 readings after the warm-up');
});

test('worker CPU per request is compared round by round: a run the host slowed moves the median of those ratios, not the verdict', (t) => {
  const run = (contender: string, mode: string, round: number, cpuSeconds: number): ThroughputRun =>
    ({ contender, mode, round, workerCpuSeconds: cpuSeconds, wrk: { requests: 100_000 } }) as unknown as ThroughputRun;
  const runs = [
    run('appd', 'keep-alive', 1, 3.0), // the host slowed this one by half
    run('cluster-none', 'keep-alive', 1, 2.0),
    run('appd', 'keep-alive', 2, 2.02),
    run('cluster-none', 'keep-alive', 2, 2.0),
    run('cluster-none', 'keep-alive', 3, 2.0),
    run('appd', 'keep-alive', 3, 2.04),
    run('appd', 'close', 3, 9.0), // another mode: not paired with keep-alive's
    run('appd', 'keep-alive', 4, 2.0), // no baseline run in its round: left out
  ];
  const perRequest = (each: ThroughputRun): number => each.workerCpuSeconds / each.wrk.requests;
  const ratios = perRoundRatios(runs, 'keep-alive', perRequest);
  t.deepEqual(
    ratios.map((ratio) => Math.round(ratio * 100) / 100),
    [1.5, 1.01, 1.02],
  );
  t.is(Math.round(median(ratios) * 100) / 100, 1.02);
  t.deepEqual(perRoundRatios(runs, 'close', perRequest), []);
});

test('each round measures appd and SCHED_NONE back to back, taking turns to go first, while the other contenders rotate', (t) => {
  const keys: ContenderKey[] = ['appd', 'node', 'cluster-rr', 'cluster-none', 'pm2'];
  const orders = [0, 1, 2, 3, 4].map((round) => roundOrder(keys, round));
  for (const [round, order] of orders.entries()) {
    t.deepEqual([...order].sort(), [...keys].sort(), `round ${round} runs every contender once`);
    const appd = order.indexOf('appd');
    const baseline = order.indexOf('cluster-none');
    t.is(Math.abs(appd - baseline), 1, `round ${round}: ${order.join(' ')}`);
    t.is(appd < baseline, round % 2 === 0, `round ${round}: appd goes first in even rounds`);
  }
  t.deepEqual(
    orders.map((order) => order[0]),
    ['appd', 'node', 'cluster-rr', 'pm2', 'appd'],
    'the first run of a round rotates',
  );
  t.deepEqual(roundOrder(['node', 'pm2'], 1), ['pm2', 'node'], 'without the pair, a plain rotation');
});

test('a fresh pair is started in the order it runs in, so neither is always the older', (t) => {
  const keys: ContenderKey[] = ['appd', 'node', 'cluster-rr', 'cluster-none', 'pm2'];
  for (const round of [1, 2, 3, 4]) {
    const runOrder = roundOrder(keys, round).filter((key) => key === 'appd' || key === 'cluster-none');
    t.deepEqual(pairOrder(round), runOrder, `round ${round}`);
  }
  t.deepEqual(pairOrder(1), ['cluster-none', 'appd']);
});

test('the interval of a median is read from order statistics, and refused for too few values', (t) => {
  const values = (count: number): number[] => Array.from({ length: count }, (_unused, index) => count - index);
  t.is(medianInterval(values(5)), null, 'five values cannot hold the median at 95%');
  t.deepEqual(medianInterval(values(6)), { low: 1, high: 6 });
  t.deepEqual(medianInterval(values(10)), { low: 2, high: 9 });
  t.deepEqual(medianInterval(values(31)), { low: 10, high: 22 }, 'P(Binomial(31, 1/2) <= 9) = 1.5%, <= 10: 3.5%');
});
