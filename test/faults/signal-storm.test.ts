// Fault injection: storms of TTIN, TTOU and HUP at the master. Linux keeps at most one pending signal
// of each kind, so a signal sent while an earlier one of its kind is still undelivered is merged by
// the kernel. What appd promises, and this tests: every signal delivered to the master is applied
// exactly once, in the order delivered, and the final state is exactly what the applied signals say.
// A HUP that comes while a reload is reading the configuration joins the next read (issue 15 item 6):
// its line says so, and that read's line names every request it covers, so each HUP is still seen
// handled once, and the generation counts reads, not HUPs.

import test, { type ExecutionContext } from 'ava';
import { readFileSync } from 'node:fs';
import { appctl, statusOf } from '../helpers/appctl.js';
import { fixture, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { get } from '../helpers/http.js';
import { killQuietly, waitFor } from '../helpers/processes.js';
import { countOf } from '../../shared/plural.js';

type StormSignal = 'SIGTTIN' | 'SIGTTOU' | 'SIGHUP';
const SIGNAL_NUMBERS: Readonly<Record<StormSignal, number>> = { SIGHUP: 1, SIGTTIN: 21, SIGTTOU: 22 };
/**
 * Linux delivers the lowest-numbered pending signal first (HUP 1, TTIN 21, TTOU 22), so in a burst of
 * alternating TTIN and TTOU the TTOUs lose most merges: one run applied 26 of 80 TTIN and 2 of 80 TTOU.
 * The burst has one TTIN in ten, so at most 20 workers are ever added whatever the kernel merges.
 */
const BURST_PATTERN: readonly StormSignal[] = [
  'SIGTTOU',
  'SIGHUP',
  'SIGTTOU',
  'SIGHUP',
  'SIGTTOU',
  'SIGTTIN',
  'SIGTTOU',
  'SIGHUP',
  'SIGTTOU',
  'SIGHUP',
];
/** Paced, every signal is applied: alternating TTIN and TTOU keep the count at 2 or 3. */
const PACED_PATTERN: readonly StormSignal[] = ['SIGTTIN', 'SIGTTOU', 'SIGTTIN', 'SIGTTOU', 'SIGHUP'];
const START_WORKERS = 2;

function storm(pattern: readonly StormSignal[], count: number): StormSignal[] {
  return Array.from({ length: count }, (_unused, index) => pattern[index % pattern.length] ?? 'SIGHUP');
}

/** The master's pending process-wide signals (ShdPnd in /proc/PID/status), as signal numbers. */
function pendingSignals(pid: number): Set<number> {
  const mask = BigInt(`0x${/^ShdPnd:\s*([0-9a-f]+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? '0'}`);
  const pending = new Set<number>();
  for (let signal = 1; signal <= 64; signal += 1) if ((mask >> BigInt(signal - 1)) & 1n) pending.add(signal);
  return pending;
}

interface Applied {
  readonly counts: Record<StormSignal, number>;
  /** The desired worker count after replaying the applied signals in the master's order. */
  readonly workers: number;
  /** Configuration reads the HUPs caused: each one applied is one generation. */
  readonly reads: number;
  /** HUPs that joined the next read and no read has covered yet (0 once the storm is over). */
  readonly waiting: number;
  /** Log lines that do not follow from the ones before (a signal applied twice, or applied unlogged). */
  readonly mismatches: readonly string[];
}

const STARTS_READ = 'reloading: reading the configuration again';
const JOINS_NEXT_READ = 'reloading: a reload is reading the configuration; this one reads it again right after';

/**
 * Replays the master's log: each applied TTIN/TTOU names the count it started from, which must be the
 * count the replay is at (a signal applied twice, or one applied but not logged, breaks the chain).
 * Each HUP starts a read or joins the next one; a read for joined requests names exactly those.
 */
function replay(output: string): Applied {
  const counts: Record<StormSignal, number> = { SIGTTIN: 0, SIGTTOU: 0, SIGHUP: 0 };
  const mismatches: string[] = [];
  let workers = START_WORKERS;
  let reads = 0;
  let waiting = 0;
  for (const [, signal, what, coveredOrigins] of output.matchAll(
    /\[INFO\] (?:(SIGTTIN|SIGTTOU|SIGHUP): (.*)|reloading for (.*): reading the configuration again)$/gm,
  )) {
    if (coveredOrigins !== undefined) {
      const covered = coveredOrigins.split(', ');
      if (covered.length !== waiting || covered.some((origin) => origin !== 'SIGHUP'))
        mismatches.push(`a read covers "${coveredOrigins}", ${waiting} HUPs were waiting`);
      reads += 1;
      waiting = 0;
      continue;
    }
    const kind = signal as StormSignal;
    counts[kind] += 1;
    if (kind === 'SIGHUP') {
      if (what === STARTS_READ) reads += 1;
      else if (what === JOINS_NEXT_READ) waiting += 1;
      else mismatches.push(`SIGHUP #${counts.SIGHUP}: "${what}"`);
      continue;
    }
    const next = kind === 'SIGTTIN' ? workers + 1 : Math.max(1, workers - 1);
    const expected =
      next === workers
        ? 'pool web stays at its minimum of 1 worker (an http pool needs one to serve)'
        : `scaling pool web from ${workers} to ${countOf(next, 'worker')}`;
    if (what !== expected) mismatches.push(`${kind} #${counts[kind]}: "${what}", expected "${expected}"`);
    workers = next;
  }
  return { counts, workers, reads, waiting, mismatches };
}

/** Waits until the pool is exactly what the applied signals say: count, one generation, all ready. */
async function settled(daemon: TestDaemon, applied: () => Applied): Promise<{ workers: number; generation: number }> {
  return waitFor(
    'the pool to settle',
    async () => {
      const { workers, reads, waiting } = applied();
      const pool = (await statusOf(daemon.directory)).pools[0];
      if (!pool || pool.reloading || waiting > 0 || pool.desired !== workers || pool.workers.length !== workers) return null;
      if (pool.generation !== 1 + reads || pool.workers.some((worker) => worker.state !== 'ready' || worker.generation !== pool.generation))
        return null;
      if (daemon.workers().length !== workers) return null;
      return { workers, generation: pool.generation };
    },
    60_000,
    250,
  );
}

async function stormDaemon(t: ExecutionContext): Promise<TestDaemon> {
  const daemon = await startDaemon(t, {
    args: [fixture('pid-app.mjs'), '-w', String(START_WORKERS), '-b', '127.0.0.1:0', '--no-timeout-stack'],
  });
  await daemon.waitForWorkers(START_WORKERS);
  return daemon;
}

test('200 TTIN/TTOU/HUP in a burst: the kernel merges some, the master applies the rest once each, the final state adds up', async (t) => {
  t.timeout(120_000);
  const daemon = await stormDaemon(t);
  const sent = storm(BURST_PATTERN, 200);
  for (const signal of sent) daemon.signal(signal);
  // Every signal is delivered (none pending any more), and the loop has taken what it was given.
  await waitFor('the storm to be delivered', () =>
    [...pendingSignals(daemon.pid)].every((signal) => !Object.values(SIGNAL_NUMBERS).includes(signal)),
  );
  t.is((await appctl(['ping'], { runtimeDirectory: daemon.directory })).code, 0);
  const final = await settled(daemon, () => replay(daemon.output));
  const applied = replay(daemon.output);
  t.deepEqual(applied.mismatches, []);
  const sentCounts = { SIGTTIN: 0, SIGTTOU: 0, SIGHUP: 0 };
  for (const signal of sent) sentCounts[signal] += 1;
  t.log(
    `sent ${sentCounts.SIGTTIN} TTIN, ${sentCounts.SIGTTOU} TTOU, ${sentCounts.SIGHUP} HUP in ${sent.length} kill() calls; applied ${applied.counts.SIGTTIN}, ${applied.counts.SIGTTOU}, ${applied.counts.SIGHUP} (the kernel merged the rest before delivery)`,
  );
  t.log(
    `final: ${final.workers} workers, all ready, all on generation ${final.generation} (= 1 + ${applied.reads} reads for the ${applied.counts.SIGHUP} HUPs applied)`,
  );
  for (const signal of Object.keys(sentCounts) as StormSignal[]) {
    t.true(
      applied.counts[signal] >= 1 && applied.counts[signal] <= sentCounts[signal],
      `${signal}: applied ${applied.counts[signal]} of ${sentCounts[signal]}`,
    );
  }
  t.is((await get(daemon.url)).status, 200);
  t.regex((await get(daemon.url)).body, new RegExp(`generation=${final.generation}\\n`));
  t.notRegex(daemon.output, /internal error|master loop error/);
});

test('100 TTIN/TTOU/HUP, each sent once the previous one was delivered: every one applied exactly once', async (t) => {
  t.timeout(120_000);
  const daemon = await stormDaemon(t);
  const sent = storm(PACED_PATTERN, 100);
  for (const signal of sent) {
    killQuietly(daemon.pid, signal);
    // Delivered = no longer pending: from here on a second one cannot merge with it.
    await waitFor(`${signal} to be delivered`, () => !pendingSignals(daemon.pid).has(SIGNAL_NUMBERS[signal]), 10_000, 1);
  }
  const final = await settled(daemon, () => replay(daemon.output));
  const applied = replay(daemon.output);
  t.deepEqual(applied.mismatches, []);
  t.log(
    `sent 40 TTIN, 40 TTOU, 20 HUP, each after the previous was delivered; applied ${applied.counts.SIGTTIN}, ${applied.counts.SIGTTOU}, ${applied.counts.SIGHUP} (${applied.reads} reads); final ${final.workers} workers on generation ${final.generation}`,
  );
  t.deepEqual(applied.counts, { SIGTTIN: 40, SIGTTOU: 40, SIGHUP: 20 });
  t.is(final.workers, START_WORKERS);
  // A HUP that came while the previous read was in flight shares the next read with any other.
  t.true(applied.reads >= 1 && applied.reads <= 20);
  t.is(final.generation, 1 + applied.reads);
  t.notRegex(daemon.output, /internal error|master loop error/);
});
