// Turns a bench run into the one table it prints and the README carries: a row per measurement, a
// column per contender, each baseline cell with appd's value divided by it (same run), the target and
// whether appd met it, then the machine, the load and the footnotes. Runs in the bench process.

import { CONTENDER_LABELS, type ContenderKey } from './contenders/contender.js';
import { SPAWN_REPEATS, type Timings } from './rows/control.js';
import type { FeatureVariant } from './rows/features.js';
import { IDLE_SETTLE_MS, type MemoryReading } from './rows/memory.js';
import type { SwapMeasurement } from './rows/under-load.js';
import type { ThroughputRun, ThroughputSummary } from './rows/throughput.js';
import { median, medianInterval } from './statistics.js';
import { COLUMN_ORDER, type BenchResults } from './results.js';
import type { ConnectionMode } from './wrk.js';

interface Cell {
  readonly text: string;
  /** What the ratio divides; null for a cell without one. */
  readonly value: number | null;
}

interface Row {
  readonly title: string;
  readonly cells: Partial<Record<ContenderKey, Cell>>;
  readonly target: string;
}

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

class Footnotes {
  readonly lines: string[] = [];
  mark(text: string): string {
    const existing = this.lines.indexOf(text);
    const index = existing >= 0 ? existing : this.lines.push(text) - 1;
    return `[${index + 1}]`;
  }
}

function ratioOf(appd: Cell | undefined, other: Cell | undefined): number | null {
  if (!appd || !other || appd.value === null || other.value === null || other.value === 0) return null;
  return appd.value / other.value;
}

function verdict(met: boolean | null, ratio: number | null, why = ''): string {
  const shown = ratio === null ? why : `${ratio.toFixed(2)}x${why ? `, ${why}` : ''}`;
  if (met === null) return 'not measured';
  return `${met ? 'met' : 'MISSED'}${shown ? ` (${shown})` : ''}`;
}

function throughputRows(
  summaries: readonly ThroughputSummary[],
  runs: readonly ThroughputRun[],
  mode: ConnectionMode,
  rounds: number,
): Row[] {
  const cells = (format: (summary: ThroughputSummary) => Cell): Partial<Record<ContenderKey, Cell>> =>
    Object.fromEntries(summaries.filter((summary) => summary.mode === mode).map((summary) => [summary.contender, format(summary)]));
  const label = mode === 'keep-alive' ? 'keep-alive' : 'Connection: close';
  const requests = cells((summary) => ({ text: integer.format(summary.requestsPerSecond), value: summary.requestsPerSecond }));
  const ofMedians = ratioOf(requests.appd, requests['cluster-none']);
  const throughputRatios = perRoundRatios(runs, mode, (run) => run.wrk.requestsPerSecond);
  const ratio = throughputRatios.length === 0 ? null : median(throughputRatios);
  const masterCpu = cells((summary) =>
    summary.masterCpuSeconds === null
      ? { text: '-', value: null }
      : {
          text: `${summary.masterCpuSeconds.toFixed(2)} s = ${summary.masterCpuPercentOfWorkers?.toFixed(2) ?? '?'}%`,
          value: summary.masterCpuSeconds,
        },
  );
  const appdShare = summaries.find((summary) => summary.mode === mode && summary.contender === 'appd')?.masterCpuPercentOfWorkers ?? null;
  return [
    {
      title: `throughput, ${label} (req/s, median of ${rounds})`,
      cells: requests,
      target: `>= 0.98x SCHED_NONE: ${verdict(ratio === null ? null : ratio >= 0.98, ratio, roundRatioDetail(throughputRatios, ofMedians, 'ratio of the medians'))}`,
    },
    {
      title: `latency p50 / p99, ${label} (ms)`,
      cells: cells((summary) => ({
        text: `${summary.latencyP50Ms.toFixed(2)} / ${summary.latencyP99Ms.toFixed(2)}`,
        value: summary.latencyP99Ms,
      })),
      target: '',
    },
    workerCpuRow(
      cells((summary) => ({ text: summary.workerCpuMicrosecondsPerRequest.toFixed(1), value: summary.workerCpuMicrosecondsPerRequest })),
      perRoundRatios(runs, mode, (run) => run.workerCpuSeconds / Math.max(1, run.wrk.requests)),
      label,
    ),
    {
      title: `spread over workers, ${label} (${mode === 'keep-alive' ? 'connections' : 'requests, %'} per worker)`,
      cells: cells((summary) => ({ text: spreadText(summary, mode), value: null })),
      target: '',
    },
    {
      title: `master CPU during the ${label} runs (s, % of worker CPU)`,
      cells: masterCpu,
      target: `< 2% of worker CPU: ${verdict(appdShare === null ? null : appdShare < 2, null, appdShare === null ? '' : `${appdShare.toFixed(2)}%`)}`,
    },
  ];
}

/**
 * appd's `measure` over SCHED_NONE's in each round: the two runs of a round are measured back to back
 * (roundOrder), so through the same weather of the host. This VM's host slows whole runs of either
 * contender by up to half (one contender's CPU per request varied 21-40 µs across the runs of one bench,
 * with no other process running here, and /proc/stat shows no steal), which a total or a median over all
 * runs adds to whichever contender it hit; the median of the per-round ratios is what such a run cannot move.
 */
export function perRoundRatios(runs: readonly ThroughputRun[], mode: ConnectionMode, measure: (run: ThroughputRun) => number): number[] {
  const ratios: number[] = [];
  for (const run of runs) {
    if (run.contender !== 'appd' || run.mode !== mode) continue;
    const baseline = runs.find((other) => other.contender === 'cluster-none' && other.mode === mode && other.round === run.round);
    if (baseline !== undefined && measure(baseline) > 0) ratios.push(measure(run) / measure(baseline));
  }
  return ratios;
}

/** How a per-round median was reached and how sure it is: the count, its 95% interval, and the pooled figure beside it. */
function roundRatioDetail(ratios: readonly number[], pooled: number | null, pooledName: string): string {
  if (ratios.length === 0) return '';
  const interval = medianInterval(ratios);
  return [
    `median of ${ratios.length} per-round ratios`,
    ...(interval === null ? [] : [`95% interval ${interval.low.toFixed(2)}-${interval.high.toFixed(2)}`]),
    ...(pooled === null ? [] : [`${pooledName} ${pooled.toFixed(2)}x`]),
  ].join('; ');
}

/** Issue 21: appd's workers do no more work per request than node:cluster's SCHED_NONE workers. */
function workerCpuRow(cells: Partial<Record<ContenderKey, Cell>>, roundRatios: readonly number[], label: string): Row {
  const pooled = ratioOf(cells.appd, cells['cluster-none']);
  const ratio = roundRatios.length === 0 ? null : median(roundRatios);
  return {
    title: `worker CPU per request, ${label} (µs, all runs)`,
    cells,
    target: `<= 1.03x SCHED_NONE: ${verdict(ratio === null ? null : ratio <= 1.03, ratio, roundRatioDetail(roundRatios, pooled, 'all runs together'))}`,
  };
}

function spreadText(summary: ThroughputSummary, mode: ConnectionMode): string {
  if (summary.spread.length <= 1) return '1 process';
  if (mode === 'keep-alive') return summary.spread.join(' / ');
  const total = summary.spread.reduce((sum, value) => sum + value, 0) || 1;
  return summary.spread.map((value) => Math.round((100 * value) / total)).join(' / ');
}

function swapCell(measurement: SwapMeasurement | undefined, notes: Footnotes, missing: string | undefined): Cell | undefined {
  if (!measurement) return missing ? { text: `n/a ${notes.mark(missing)}`, value: null } : undefined;
  if (measurement.failure !== null) return { text: `n/a ${notes.mark(measurement.failure)}`, value: null };
  const total = measurement.ok + measurement.failed;
  return {
    text: `${measurement.failed} of ${integer.format(total)} failed, ${measurement.medianDurationSeconds.toFixed(2)} s`,
    value: measurement.medianDurationSeconds,
  };
}

function zeroFailedTarget(measurement: SwapMeasurement | undefined): string {
  if (!measurement || measurement.failure !== null) return '0 failed: not measured';
  return `0 failed: ${measurement.failed === 0 ? 'met' : `MISSED (${measurement.failed})`}`;
}

function timingCell(timing: Timings | null | undefined, notes: Footnotes, suffix = ''): Cell | undefined {
  if (!timing) return undefined;
  if (timing.failure !== null) return { text: `n/a ${notes.mark(timing.failure)}`, value: null };
  return { text: `${timing.bestMs.toFixed(0)} ms (median ${timing.medianMs.toFixed(0)})${suffix}`, value: timing.bestMs };
}

/**
 * What a node:net client that only connects and exchanges prebuilt frames costs against node -e 0: node:net,
 * a connection and the daemon's answer. appctl talks through Node's pipe binding under node:net
 * (ctl/client/transport.ts), so it may come in under this one.
 */
function connectOnlyFloor(timing: Timings | undefined, node: Cell | undefined): string[] {
  if (timing === undefined) return [];
  if (timing.failure !== null) return [`connect-only client: n/a (${timing.failure})`];
  const ratio = ratioOf({ text: '', value: timing.bestMs }, node);
  return [`a node:net client sending the same bytes: ${timing.bestMs.toFixed(0)} ms${ratio === null ? '' : ` = ${ratio.toFixed(2)}x`}`];
}

function memoryRow(readings: readonly MemoryReading[], workers: number): Row {
  const cells: Partial<Record<ContenderKey, Cell>> = {};
  for (const reading of readings.filter((candidate) => candidate.workers === workers && candidate.masterRssKilobytes !== null)) {
    const kilobytes = reading.masterRssKilobytes ?? 0;
    cells[reading.contender] = { text: `${(kilobytes / 1024).toFixed(1)} MB`, value: kilobytes };
  }
  const ratio = ratioOf(cells.appd, cells.pm2);
  const clusterRatio = ratioOf(cells.appd, cells['cluster-none']);
  return {
    title: `master RSS, ${workers} workers, idle ${IDLE_SETTLE_MS / 1000} s (MB)`,
    cells,
    target: `<= 1.10x node:cluster primary (SCHED_NONE): ${verdict(clusterRatio === null ? null : clusterRatio <= 1.1, clusterRatio)}; below PM2's daemon: ${verdict(ratio === null ? null : ratio < 1, ratio)}`,
  };
}

export function buildRows(results: BenchResults, notes: Footnotes): Row[] {
  const rows: Row[] = [
    ...throughputRows(results.throughput, results.throughputRuns, 'keep-alive', results.settings.rounds),
    ...throughputRows(results.throughput, results.throughputRuns, 'close', results.settings.rounds),
  ];
  const swaps = results.swaps;
  const hup = swaps['appd HUP'];
  rows.push({
    title: `reload under load (${results.settings.swaps} reloads; appd: kill -HUP)`,
    cells: {
      appd: swapCell(hup, notes, results.notes['appd HUP']),
      pm2: swapCell(swaps['pm2 reload'], notes, results.notes['pm2 reload']),
      gunicorn: swapCell(swaps['gunicorn HUP'], notes, results.notes['gunicorn HUP']),
    },
    target: zeroFailedTarget(hup),
  });
  const appctlReload = swaps['appd appctl reload'];
  rows.push({
    title: 'reload under load (appd: appctl reload)',
    cells: { appd: swapCell(appctlReload, notes, results.notes['appd appctl reload']) },
    target: zeroFailedTarget(appctlReload),
  });
  const upgrade = swaps['appd appctl upgrade'];
  rows.push({
    title: 'upgrade under load (appd: appctl upgrade; PM2: pm2 update)',
    cells: {
      appd: swapCell(upgrade, notes, results.notes['appd appctl upgrade']),
      pm2: swapCell(swaps['pm2 update'], notes, results.notes['pm2 update']),
    },
    target: zeroFailedTarget(upgrade),
  });
  const status = {
    appd: timingCell(results.status?.appd, notes),
    node: timingCell(results.status?.bareNode, notes),
    pm2: timingCell(results.status?.pm2, notes),
  };
  const statusRatio = ratioOf(status.appd, status.node);
  const pm2Ratio = ratioOf(status.appd, status.pm2);
  rows.push({
    title: `appctl status (node: node -e 0; PM2: pm2 jlist), whole process, best of ${results.settings.commandRepeats}`,
    cells: status,
    target: [
      `<= 1.3x node -e 0: ${verdict(statusRatio === null ? null : statusRatio <= 1.3, statusRatio)}`,
      `<= 0.5x pm2 jlist: ${verdict(pm2Ratio === null ? null : pm2Ratio <= 0.5, pm2Ratio)}`,
      ...connectOnlyFloor(results.status?.connectOnly, status.node),
    ].join('; '),
  });
  rows.push(memoryRow(results.memory, 2), memoryRow(results.memory, 16), reloadMemoryRow(results, notes));
  const spawn = results.workerSpawn;
  const spawnCells = { appd: timingCell(spawn?.appdMasterMs, notes), node: timingCell(spawn?.bareNodeMs, notes) };
  const spawnRatio = ratioOf(spawnCells.appd, spawnCells.node);
  rows.push({
    title: `spawn to ready, one worker, best of ${spawn?.bareNodeMs.samplesMs.length ?? SPAWN_REPEATS} each, taking turns (appd: TTIN, master clock; node: bare process until it accepts)`,
    cells: spawnCells,
    target: `<= 1.10x bare node: ${verdict(spawnRatio === null ? null : spawnRatio <= 1.1, spawnRatio)}`,
  });
  rows.push({
    title: 'scale +4 until ready, best of 2 (appctl scale +4; pm2 scale +4)',
    cells: { appd: timingCell(results.scale?.appd, notes), pm2: timingCell(results.scale?.pm2, notes) },
    target: '',
  });
  rows.push(...adminListenerRows(results));
  rows.push(...reusePortRows(results));
  rows.push(...featureRows(results));
  return rows;
}

/**
 * "Flat": the second half's trough under 1 MB above the first's. Memory kept by every reload raises each
 * trough above the one before, so each half's lowest reading is near its start, the two about half the
 * counted reloads apart (450 of 1,000): what passes keeps under about 2 KB per reload.
 */
const FLAT_KILOBYTES = 1024;

function reloadMemoryRow(results: BenchResults, notes: Footnotes): Row {
  const measured = results.reloadMemory;
  const asked = measured?.reloadsAsked ?? results.settings.reloads;
  const title = `master RSS over ${integer.format(asked)} reloads, 1 worker (read every 10 reloads from the 100th; lowest of the first half → of the second)`;
  const failure = results.notes['reload memory'];
  if (!measured) {
    return { title, cells: failure ? { appd: { text: `n/a ${notes.mark(failure)}`, value: null } } : {}, target: 'flat: not measured' };
  }
  const megabytes = (kilobytes: number): string => (kilobytes / 1024).toFixed(1);
  const growth = measured.growthKilobytes;
  const halves = measured.halves;
  const stopped =
    measured.stoppedBecause === null ? '' : ` ${notes.mark(`reloads stopped after ${measured.reloadsDone}: ${measured.stoppedBecause}`)}`;
  const shown =
    halves === null || growth === null
      ? 'too few readings'
      : `${megabytes(halves.first)} → ${megabytes(halves.second)} MB (${growth >= 0 ? '+' : ''}${(growth / 1024).toFixed(2)} MB)`;
  const met = growth === null || measured.stoppedBecause !== null ? null : growth < FLAT_KILOBYTES;
  return {
    title,
    cells: {
      appd: {
        text: `${shown} (${integer.format(measured.reloadsDone)} reloads, ${measured.seconds.toFixed(0)} s)${stopped}`,
        value: growth,
      },
    },
    target: `flat (second half's low < 1 MB above the first's): ${verdict(met, null, growth === null ? '' : `${(growth / 1024).toFixed(2)} MB`)}`,
  };
}

/** reuse-port against the shared socket: one row per worker count and mode, reuse-port's figures first. */
function reusePortRows(results: BenchResults): Row[] {
  const skipped = results.notes['reuse-port'];
  if (!results.reusePort)
    return skipped
      ? [{ title: 'reuse-port vs shared socket', cells: { appd: { text: `n/a (${skipped})`, value: null } }, target: 'not measured' }]
      : [];
  return results.reusePort.flatMap((measured) =>
    MODES_IN_ORDER.flatMap((mode) => {
      const reused = measured.summaries['reuse-port'][mode];
      const shared = measured.summaries.shared[mode];
      if (!reused || !shared) return [];
      const ratio = reused.requestsPerSecond / Math.max(1, shared.requestsPerSecond);
      const spreadOf = (summary: ThroughputSummary): string => summary.spread.join(' / ');
      return [
        {
          title: `reuse-port vs shared socket, ${measured.workers} workers, ${mode} (req/s median of ${reused.runs}; worker CPU per request; spread, ${mode === 'keep-alive' ? 'connections' : 'requests'} per worker)`,
          cells: {
            appd: {
              text:
                `${integer.format(reused.requestsPerSecond)} vs ${integer.format(shared.requestsPerSecond)} (${ratio.toFixed(2)}x); ` +
                `${reused.workerCpuMicrosecondsPerRequest} vs ${shared.workerCpuMicrosecondsPerRequest} µs; ${spreadOf(reused)} vs ${spreadOf(shared)}`,
              value: reused.requestsPerSecond,
            },
          },
          target: 'measured, no target (Node >= 22.12 only)',
        },
      ];
    }),
  );
}

const MODES_IN_ORDER: readonly ConnectionMode[] = ['keep-alive', 'close'];

/** What a feature costs: worker CPU per request with it, against appd's default in the same rounds. */
function featureRows(results: BenchResults): Row[] {
  const features = results.features;
  if (!features) return [];
  const described: Record<Exclude<FeatureVariant, 'default'>, string> = {
    'access log': 'access log on (--access-logfile, default format)',
    'timeouts off': 'every timeout off (--timeout 0 --no-timeout-stack --headers-timeout 0 --request-timeout 0; the default has them on)',
  };
  return (['access log', 'timeouts off'] as const).flatMap((variant) =>
    MODES_IN_ORDER.flatMap((mode) => {
      const measured = features[variant][mode];
      const reference = features.default[mode];
      if (!measured || !reference) return [];
      const ratio = measured.workerCpuMicrosecondsPerRequest / Math.max(0.001, reference.workerCpuMicrosecondsPerRequest);
      return [
        {
          title: `worker CPU per request, ${described[variant]}, ${mode} (µs, all ${measured.runs} runs, vs appd default in the same rounds)`,
          cells: {
            appd: {
              text: `${measured.workerCpuMicrosecondsPerRequest} vs ${reference.workerCpuMicrosecondsPerRequest} (${ratio.toFixed(2)}x)`,
              value: measured.workerCpuMicrosecondsPerRequest,
            },
          },
          target: 'measured, no target',
        },
      ];
    }),
  );
}

function adminListenerRows(results: BenchResults): Row[] {
  const admin = results.adminListener;
  const missing = results.notes['admin listener'];
  if (!admin)
    return missing
      ? [
          {
            title: 'admin listener scraped every second',
            cells: { appd: { text: `n/a (${missing})`, value: null } },
            target: 'not measured',
          },
        ]
      : [];
  const failures = admin.scrapeFailures === 0 ? '' : `, ${admin.scrapeFailures} failed`;
  return [
    {
      title: `app throughput, keep-alive, while /metrics, /readyz and /livez are scraped every second (req/s, median of ${admin.rounds})`,
      cells: {
        appd: {
          text: `${integer.format(admin.scrapedRequestsPerSecond)} vs ${integer.format(admin.quietRequestsPerSecond)} unscraped (${admin.scrapes} scrapes${failures}, ${admin.medianScrapeMs} ms each, /metrics ${integer.format(admin.metricsBytes)} B)`,
          value: admin.scrapedRequestsPerSecond,
        },
      },
      target: `>= 0.95x unscraped: ${verdict(admin.throughputRatio >= 0.95, admin.throughputRatio)}`,
    },
    {
      title: 'master CPU under that load, scraped (unscraped) (% of one core)',
      cells: {
        appd: {
          text: `${admin.scrapedMasterCorePercent.toFixed(1)}% (${admin.quietMasterCorePercent.toFixed(1)}%)`,
          value: admin.scrapedMasterCorePercent,
        },
      },
      target: `< 10% of a core: ${verdict(admin.scrapedMasterCorePercent < 10, null, `${admin.scrapedMasterCorePercent.toFixed(1)}%`)}`,
    },
  ];
}

function busyStarts(results: BenchResults): string {
  const runs = results.throughputRuns;
  const busy = runs.filter((run) => run.gate.proceededLoaded).length;
  return runs.length === 0
    ? 'no throughput runs'
    : `${busy} of ${runs.length} throughput runs started on a busy machine after the wait ran out`;
}

export function renderTable(results: BenchResults): string {
  const notes = new Footnotes();
  const rows = buildRows(results, notes);
  const header = ['', ...COLUMN_ORDER.map((key) => CONTENDER_LABELS[key]), 'target'];
  const lines = [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`];
  for (const row of rows) {
    const appd = row.cells.appd;
    const cells = COLUMN_ORDER.map((key) => {
      const cell = row.cells[key];
      if (!cell) return '';
      const ratio = key === 'appd' ? null : ratioOf(appd, cell);
      return ratio === null ? cell.text : `${cell.text} (${ratio.toFixed(2)}x)`;
    });
    lines.push(`| ${row.title} | ${cells.join(' | ')} | ${row.target} |`);
  }
  const machine = results.machine;
  const load = results.load;
  lines.push(
    '',
    "(N.NNx) = appd's value divided by that column's, measured in the same run.",
    `Machine: ${machine.cores} cores, ${machine.cpuModel}, ${machine.memoryGiB} GiB, Linux ${machine.kernel}, Node ${machine.node}; ${machine.date}.`,
    `Load: 1-minute load ${load.atStart} at start, ${load.atEnd} at the end; ${load.waitedSeconds} s spent waiting for a quiet machine ` +
      `(load < ${results.settings.loadLimit} or 2 s below ${results.settings.idleCores} busy cores), ${busyStarts(results)}; ` +
      `other processes used ${load.medianForeignCores ?? '?'} of ${machine.cores} cores (median; max ${load.maxForeignCores ?? '?'}) during the throughput runs.`,
  );
  const skipped = Object.entries(results.notes).filter(([key]) => !notes.lines.some((line) => line === results.notes[key]));
  for (const [index, line] of notes.lines.entries()) lines.push(`[${index + 1}] ${line}`);
  for (const [key, line] of skipped) lines.push(`${key}: ${line}`);
  return lines.join('\n');
}
