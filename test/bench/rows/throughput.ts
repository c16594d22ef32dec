// The throughput rows: wrk against every contender, keep-alive and Connection: close, several rounds
// interleaved (the order rotates each round, appd and SCHED_NONE back to back), with per-run CPU of
// masters and workers, latency, how the load spread over the workers, and the noise around each run.
// Runs in the bench process.

import { sleep } from '../../helpers/processes.js';
import type { Contender, ContenderKey } from '../contenders/contender.js';
import { cpuSeconds } from '../proc-usage.js';
import { NoiseWindow, round, type GateRecord, type NoiseRecord, type QuietGate } from '../quiet-machine.js';
import { averageByPosition, median, sum } from '../statistics.js';
import { readStats, spreadBetween, type WorkerCounts } from '../worker-stats.js';
import { runWrk, type ConnectionMode, type WrkRun } from '../wrk.js';

export const MODES: readonly ConnectionMode[] = ['keep-alive', 'close'];

export interface ThroughputSettings {
  readonly wrkPath: string;
  readonly connections: number;
  readonly durationSeconds: number;
  readonly rounds: number;
  readonly warmUpSeconds: number;
}

export interface ThroughputRun {
  readonly contender: ContenderKey;
  readonly mode: ConnectionMode;
  readonly round: number;
  readonly gate: GateRecord;
  readonly noise: NoiseRecord;
  readonly wrk: WrkRun;
  readonly masterCpuSeconds: number | null;
  readonly workerCpuSeconds: number;
  /** Per worker, busiest first. */
  readonly spread: readonly WorkerCounts[];
}

export interface ThroughputSummary {
  readonly contender: ContenderKey;
  readonly mode: ConnectionMode;
  readonly runs: number;
  readonly requestsPerSecond: number;
  readonly latencyP50Ms: number;
  readonly latencyP99Ms: number;
  readonly errors: number;
  /** Over all runs of this cell. */
  readonly masterCpuSeconds: number | null;
  readonly workerCpuSeconds: number;
  /** Worker CPU per request, in microseconds: less sensitive to a busy machine than requests/s. */
  readonly workerCpuMicrosecondsPerRequest: number;
  /** Master CPU as a share of worker CPU, in percent. */
  readonly masterCpuPercentOfWorkers: number | null;
  /** Average per run, busiest worker first: connections (keep-alive) or requests (close). */
  readonly spread: readonly number[];
  readonly medianForeignCores: number;
}

/** One wrk run against one contender, with its CPU, spread and noise (also used by the reuse-port rows). */
export async function measureRun(
  contender: Contender,
  mode: ConnectionMode,
  round: number,
  settings: ThroughputSettings,
  gate: QuietGate,
  ourPids: () => readonly number[],
): Promise<ThroughputRun> {
  const gateRecord = await gate.wait();
  const master = contender.masterPid();
  const workers = contender.workerPids();
  const statsBefore = readStats(contender.statsDirectory);
  const masterBefore = master === null ? 0 : cpuSeconds(master);
  const workersBefore = workers.map(cpuSeconds);
  const noise = new NoiseWindow(ourPids);
  const wrk = await runWrk({
    wrkPath: settings.wrkPath,
    url: contender.url,
    mode,
    connections: settings.connections,
    durationSeconds: settings.durationSeconds,
  });
  const masterCpu = master === null ? null : cpuSeconds(master) - masterBefore;
  const workerCpu = sum(workers.map((pid, index) => cpuSeconds(pid) - (workersBefore[index] ?? 0)));
  const noiseRecord = noise.close();
  await sleep(450); // the workers write their counts every 200 ms
  const spread = spreadBetween(statsBefore, readStats(contender.statsDirectory), workers);
  return {
    contender: contender.key,
    mode,
    round,
    gate: gateRecord,
    noise: noiseRecord,
    wrk,
    masterCpuSeconds: masterCpu === null ? null : round3(masterCpu),
    workerCpuSeconds: round3(workerCpu),
    spread,
  };
}

function round3(value: number): number {
  return round(value, 3);
}

export function summarize(runs: readonly ThroughputRun[], contender: ContenderKey, mode: ConnectionMode): ThroughputSummary | null {
  const cell = runs.filter((run) => run.contender === contender && run.mode === mode);
  if (cell.length === 0) return null;
  const masterCpu = cell.every((run) => run.masterCpuSeconds === null) ? null : sum(cell.map((run) => run.masterCpuSeconds ?? 0));
  const workerCpu = sum(cell.map((run) => run.workerCpuSeconds));
  const measure = mode === 'keep-alive' ? (counts: WorkerCounts) => counts.connections : (counts: WorkerCounts) => counts.requests;
  return {
    contender,
    mode,
    runs: cell.length,
    requestsPerSecond: Math.round(median(cell.map((run) => run.wrk.requestsPerSecond))),
    latencyP50Ms: round(median(cell.map((run) => run.wrk.latencyP50Ms)), 3),
    latencyP99Ms: round(median(cell.map((run) => run.wrk.latencyP99Ms)), 3),
    errors: sum(cell.map((run) => run.wrk.errors)),
    masterCpuSeconds: masterCpu === null ? null : round3(masterCpu),
    workerCpuSeconds: round3(workerCpu),
    workerCpuMicrosecondsPerRequest: round((1e6 * workerCpu) / Math.max(1, sum(cell.map((run) => run.wrk.requests))), 1),
    masterCpuPercentOfWorkers: masterCpu === null || workerCpu <= 0 ? null : round((100 * masterCpu) / workerCpu, 2),
    spread: averageByPosition(cell.map((run) => run.spread.map(measure))).map((value) => Math.round(value)),
    medianForeignCores: median(cell.map((run) => run.noise.foreignCores)),
  };
}

/** wrk against each server for the warm-up time, in both modes (JIT, connection pools), before anything is measured. */
/**
 * The bench's own processes plus `extra` contenders (a row group's own daemons, not in the bench's
 * list of running contenders): their CPU is the measurement's, not "other processes" noise.
 */
export function withOwnPids(ourPids: () => readonly number[], extra: () => readonly (Contender | null | undefined)[]): () => number[] {
  return () =>
    [...ourPids(), ...extra().flatMap((contender) => (contender ? [contender.masterPid(), ...contender.workerPids()] : []))].filter(
      (pid): pid is number => pid !== null,
    );
}

export async function warmUp(servers: readonly { readonly url: string }[], settings: ThroughputSettings): Promise<void> {
  for (const server of servers) {
    for (const mode of MODES) {
      await runWrk({
        wrkPath: settings.wrkPath,
        url: server.url,
        mode,
        connections: settings.connections,
        durationSeconds: settings.warmUpSeconds,
      });
    }
  }
}

/** The two contenders the throughput targets compare: side by side in every round (roundOrder), started afresh by FreshPair. */
export const COMPARED_PAIR: readonly ContenderKey[] = ['appd', 'cluster-none'];

/**
 * The order of a round's runs in one mode: every contender, rotating by round, with appd and SCHED_NONE
 * side by side (appd first in rounds 1, 3, 5..., whose roundIndex is even). The targets compare those
 * two round by round (perRoundRatios in report.ts says why): runs seconds apart share the host's weather,
 * runs half a round apart (other contenders, the other mode) do not.
 */
export function roundOrder(keys: readonly ContenderKey[], roundIndex: number): ContenderKey[] {
  const paired = COMPARED_PAIR.every((key) => keys.includes(key));
  const others = paired ? keys.filter((key) => key !== 'cluster-none') : [...keys];
  const rotated = others.map((_unused, index) => others[(index + roundIndex) % others.length] as ContenderKey);
  if (!paired) return rotated;
  const at = rotated.indexOf('appd');
  return [...rotated.slice(0, at), ...pairOrder(roundIndex), ...rotated.slice(at + 1)];
}

/**
 * The order of appd and SCHED_NONE in round `roundIndex` (appd first when roundIndex is even): the order
 * they run in (roundOrder), and the order in which FreshPair starts and warms them up before it, so each
 * is about as old as the other when it is measured (the one started first runs first, while the other is
 * measured one warm-up and one run later). Started appd first in every round, appd was ~3 s older at its
 * runs in half the rounds and the first to take the memory the last round's processes gave back. Outside
 * the bench (session 22, 12 fresh pairs started in turns, 36 keep-alive runs each way): appd's CPU per
 * request 1.015x SCHED_NONE's when started first, 1.000x when started second; a small difference, but one
 * the rounds should not all lean the same way on.
 */
export function pairOrder(roundIndex: number): ContenderKey[] {
  return roundIndex % 2 === 0 ? [...COMPARED_PAIR] : [...COMPARED_PAIR].reverse();
}

/**
 * Every `every` rounds, appd and SCHED_NONE are stopped and started afresh (`replace` stops the one it
 * is given and returns its successor, same key and settings). Why: the pair the targets compare was
 * measured on one set of processes for the whole run, and on the same worker code whole 31-round runs
 * came out at a median per-round keep-alive ratio of 1.15x, 1.04x, 0.83x and 0.94x (appd ahead in 24
 * of 31 rounds in one run, in 6 of 31 in another), far more than the rounds' own spread allows. What
 * carries over from round to round is not known; whatever the processes keep for as long as they live,
 * fresh ones each round make it one more thing the median of the rounds averages over.
 */
export interface FreshPair {
  readonly every: number;
  readonly replace: (stale: Contender) => Promise<Contender>;
}

/**
 * Warms every contender up, then runs `rounds` rounds; each round measures one mode on every contender
 * (roundOrder), then the other mode (the first mode alternates by round). `onRun` gets each run as it
 * ends, so a bench that dies later keeps it. With `fresh`, the compared pair is started afresh (and
 * warmed up) before each `fresh.every`-th round after the first.
 */
export async function runThroughput(
  contenders: readonly Contender[],
  settings: ThroughputSettings,
  gate: QuietGate,
  ourPids: () => readonly number[],
  log: (line: string) => void,
  onRun: (run: ThroughputRun) => void,
  fresh: FreshPair | null,
): Promise<void> {
  await warmUp(contenders, settings);
  const byKey = new Map(contenders.map((contender) => [contender.key, contender]));
  for (let roundIndex = 0; roundIndex < settings.rounds; roundIndex += 1) {
    if (fresh !== null && fresh.every > 0 && roundIndex > 0 && roundIndex % fresh.every === 0) {
      const stale = pairOrder(roundIndex).flatMap((key) => byKey.get(key) ?? []);
      for (const contender of stale) {
        const successor = await fresh.replace(contender);
        byKey.set(contender.key, successor);
        await warmUp([successor], settings);
      }
      log(`round ${roundIndex + 1}: ${stale.map((contender) => contender.key).join(' and then ')} started afresh`);
    }
    const order = roundOrder(
      contenders.map((contender) => contender.key),
      roundIndex,
    ).map((key) => byKey.get(key) as Contender);
    for (const mode of roundIndex % 2 === 0 ? MODES : [...MODES].reverse()) {
      for (const contender of order) {
        const run = await measureRun(contender, mode, roundIndex + 1, settings, gate, ourPids);
        onRun(run);
        log(
          `round ${roundIndex + 1} ${contender.key} ${mode}: ${Math.round(run.wrk.requestsPerSecond)} req/s, p99 ${run.wrk.latencyP99Ms} ms, ` +
            `master ${run.masterCpuSeconds ?? '-'} s CPU, load ${run.gate.loadBefore}, others ${run.noise.foreignCores} cores`,
        );
      }
    }
  }
}
