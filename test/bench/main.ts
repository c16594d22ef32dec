// `npm run bench`: appd against a single node:http process, node:cluster (round-robin and SCHED_NONE),
// PM2 cluster mode and Gunicorn on this machine, in one run; prints one table and writes it, with every
// measurement, to bench-results.json. Runs as the bench process (not part of npm test).

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { installBaselines } from './baselines.js';
import { cleanUpEverything, installCleanupHandlers } from './cleanup.js';
import { AppdContender } from './contenders/appd.js';
import { PROJECT_ROOT, type Contender, type ContenderKey } from './contenders/contender.js';
import { GunicornContender } from './contenders/gunicorn.js';
import { startCluster, startSingleNode } from './contenders/node-http.js';
import { Pm2Contender } from './contenders/pm2.js';
import { loadAverage } from './proc-usage.js';
import { QuietGate, round } from './quiet-machine.js';
import { renderTable } from './report.js';
import type { BenchResults } from './results.js';
import { appctlMissing, measureScale, measureSpawnToReady, measureStatus, SPAWN_REPEATS } from './rows/control.js';
import { IDLE_SETTLE_MS, memoryOfFreshPool, readMemory } from './rows/memory.js';
import { runThroughput, summarize, MODES } from './rows/throughput.js';
import { measureSwaps } from './rows/swaps.js';
import { measureAdminListener } from './rows/admin-listener.js';
import { measureReusePort, reusePortUnavailable } from './rows/reuse-port.js';
import { measureFeatures } from './rows/features.js';
import { measureReloadMemory } from './rows/reload-memory.js';
import { readSettings, SETTINGS_HELP, type Section } from './settings.js';
import { removedStartupVariables } from './run-command.js';
import { median } from './statistics.js';

const log = (line: string): void => void process.stderr.write(`bench: ${line}\n`);

function machine(): BenchResults['machine'] {
  return {
    date: new Date().toISOString(),
    cores: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
    node: process.version,
    kernel: os.release(),
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
  };
}

/** Replaces the table between the README's bench-table markers with this run's. */
function updateReadme(table: string): void {
  const path = join(PROJECT_ROOT, 'README.md');
  const text = readFileSync(path, 'utf8');
  const start = '<!-- bench-table -->\n';
  const end = '<!-- /bench-table -->';
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  if (from < 0 || to < from) throw new Error(`README.md has no ${start.trim()} ... ${end} block`);
  writeFileSync(path, `${text.slice(0, from + start.length)}${table}\n${text.slice(to)}`);
}

async function main(): Promise<void> {
  if (process.argv.includes('--help'))
    return void process.stdout.write(`npm run bench [-- --help] [-- --update-readme]\n${SETTINGS_HELP}\n`);
  installCleanupHandlers();
  const settings = readSettings();
  const startedAt = performance.now();
  mkdirSync(settings.scratch, { recursive: true });
  const results: BenchResults = {
    machine: machine(),
    settings,
    baselines: null,
    notes: {},
    throughputRuns: [],
    throughput: [],
    memory: [],
    memoryAfterLoad: [],
    swaps: {},
    status: null,
    workerSpawn: null,
    scale: null,
    adminListener: null,
    reusePort: null,
    features: null,
    reloadMemory: null,
    load: { atStart: loadAverage(), atEnd: Number.NaN, waitedSeconds: 0, medianForeignCores: null, maxForeignCores: null },
    table: '',
    durationSeconds: 0,
  };
  /**
   * Writes what is measured so far, marked partial, to the output file: a bench that dies (a contender's
   * race, the machine) keeps every run before it. The finished results replace it.
   */
  const savePartial = (): void => {
    const elapsed = round((performance.now() - startedAt) / 1000, 1);
    writeFileSync(settings.outputFile, `${JSON.stringify({ ...results, partial: true, durationSeconds: elapsed }, null, 2)}\n`);
  };
  /** Runs one part; a failure becomes a note under `name` and the bench goes on. What the parts before measured is saved first. */
  const section = async <T>(name: string, work: () => Promise<T>): Promise<T | null> => {
    savePartial();
    try {
      return await work();
    } catch (error) {
      const message = error instanceof Error ? (error.message.split('\n')[0] ?? error.message) : String(error);
      results.notes[name] = `failed: ${message}`;
      log(`${name} failed: ${error instanceof Error ? (error.stack ?? message) : message}`);
      return null;
    }
  };
  const gate = new QuietGate({
    loadLimit: settings.loadLimit,
    idleCores: settings.idleCores,
    maxWaitMs: settings.maxWaitSeconds * 1000,
    totalWaitBudgetMs: settings.waitBudgetSeconds * 1000,
  });
  const running: Contender[] = [];
  const ourPids = (): number[] =>
    running.flatMap((contender) => [contender.masterPid(), ...contender.workerPids()]).filter((pid): pid is number => pid !== null);
  /** What the row groups that start their own appd daemons (reuse-port, features) run with. */
  const rowGroupSettings = (wrkPath: string) => ({
    scratch: settings.scratch,
    extraArgs: settings.appdArgs,
    wrkPath,
    connections: settings.connections,
    durationSeconds: settings.wrkSeconds,
    rounds: settings.rounds,
    warmUpSeconds: settings.warmUpSeconds,
  });
  const startContender = async <T extends Contender>(name: ContenderKey, start: () => Promise<T>): Promise<T | null> => {
    if (!settings.contenders.includes(name)) return null;
    const contender = await section(name, start);
    if (contender) running.push(contender);
    return contender;
  };
  const stopContender = async (contender: Contender | null): Promise<void> => {
    if (!contender) return;
    running.splice(running.indexOf(contender), 1);
    await section(`stopping ${contender.key}`, () => contender.stop());
  };

  try {
    log(`scratch directory ${settings.scratch}; load ${results.load.atStart}`);
    const removed = removedStartupVariables();
    if (removed.length > 0) {
      results.notes.environment =
        `${removed.join(', ')} removed from the environment of every process measured: set by this machine, ` +
        'it costs every Node 20 process the same at start (about 35 ms and 1.8 MB here), whatever the process.';
      log(results.notes.environment);
    }
    const baselines = await installBaselines(settings.scratch, log);
    results.baselines = baselines;
    for (const [name, availability] of Object.entries(baselines))
      if (!availability.available) results.notes[name] = `skipped: ${availability.reason}`;

    const profileArgs = settings.masterProfileDirectory ? ['--cpu-prof', `--cpu-prof-dir=${settings.masterProfileDirectory}`] : [];
    const startAppd = () =>
      AppdContender.start({
        scratch: settings.scratch,
        workers: settings.workers,
        extraArgs: settings.appdArgs,
        masterNodeArgs: profileArgs,
      });
    const startSchedNone = () => startCluster(settings.scratch, 'none', settings.workers);
    // Reassigned when the throughput rows start the pair afresh (FreshPair): later rows use the latest.
    let appd = await startContender('appd', startAppd);
    const single = await startContender('node', () => startSingleNode(settings.scratch));
    const roundRobin = await startContender('cluster-rr', () => startCluster(settings.scratch, 'rr', settings.workers));
    let schedNone = await startContender('cluster-none', startSchedNone);
    const pm2 = baselines.pm2.available
      ? await startContender('pm2', () =>
          Pm2Contender.start(baselines.pm2.available ? baselines.pm2.path : '', settings.scratch, settings.workers),
        )
      : null;
    log(`started: ${running.map((contender) => contender.key).join(', ')}`);

    const wants = (wanted: Section): boolean => settings.sections.includes(wanted);
    if (wants('memory'))
      await section('memory (2 workers)', async () => {
        // Every contender is up before this section: after IDLE_SETTLE_MS the last one started has idled
        // that long, the others longer.
        let settle = IDLE_SETTLE_MS;
        for (const contender of running.filter((candidate) => candidate.masterPid() !== null)) {
          results.memory.push(await readMemory(contender, settings.workers, settle));
          settle = 0;
        }
      });

    /** Stops one of the compared pair and starts its successor in its place (in `running` too). */
    const replaceCompared = async (stale: Contender): Promise<Contender> => {
      const index = running.indexOf(stale);
      await stale.stop();
      if (stale.key === 'appd') {
        appd = await startAppd();
        running.splice(index, 1, appd);
        return appd;
      }
      if (stale.key === 'cluster-none') {
        schedNone = await startSchedNone();
        running.splice(index, 1, schedNone);
        return schedNone;
      }
      throw new Error(`only appd and SCHED_NONE are started afresh, not ${stale.key}`);
    };
    if (baselines.wrk.available && wants('throughput')) {
      const wrkPath = baselines.wrk.path;
      await section('throughput', async () => {
        await runThroughput(
          running,
          {
            wrkPath,
            connections: settings.connections,
            durationSeconds: settings.wrkSeconds,
            rounds: settings.rounds,
            warmUpSeconds: settings.warmUpSeconds,
          },
          gate,
          ourPids,
          log,
          (run) => {
            results.throughputRuns.push(run);
            savePartial();
          },
          { every: settings.freshPairEvery, replace: replaceCompared },
        );
      });
      results.throughput = running
        .flatMap((contender) => MODES.map((mode) => summarize(results.throughputRuns, contender.key, mode)))
        .filter((summary) => summary !== null);
      const foreign = results.throughputRuns.map((run) => run.noise.foreignCores);
      if (foreign.length > 0)
        results.load = { ...results.load, medianForeignCores: round(median(foreign), 2), maxForeignCores: Math.max(...foreign) };
      await section('memory after load', async () => {
        for (const contender of running.filter((candidate) => candidate.masterPid() !== null))
          results.memoryAfterLoad.push(await readMemory(contender, settings.workers, 0));
      });
    }

    const servingAppd = appd;
    if (servingAppd && wants('control')) {
      results.status = await section('status', () => measureStatus(servingAppd, pm2, settings.commandRepeats, gate));
      results.workerSpawn = await section('worker spawn', () =>
        measureSpawnToReady(servingAppd, settings.scratch, settings.workers, SPAWN_REPEATS, gate),
      );
      results.scale = await section('scale', () => measureScale(servingAppd, pm2, settings.workers, 2, gate));
    }
    for (const contender of [single, roundRobin, schedNone]) await stopContender(contender);

    if (baselines.wrk.available && wants('admin') && settings.contenders.includes('appd')) {
      const wrkPath = baselines.wrk.path;
      results.adminListener = await section('admin listener', () =>
        measureAdminListener(
          {
            scratch: settings.scratch,
            workers: settings.workers,
            extraArgs: settings.appdArgs,
            wrkPath,
            connections: settings.connections,
            durationSeconds: settings.wrkSeconds,
            rounds: settings.rounds,
          },
          gate,
          log,
        ),
      );
    }

    if (baselines.wrk.available && wants('reuseport') && settings.contenders.includes('appd')) {
      const why = reusePortUnavailable();
      if (why !== null) {
        results.notes['reuse-port'] = `skipped: ${why}`;
        log(`reuse-port rows skipped: ${why}`);
      } else {
        const wrkPath = baselines.wrk.path;
        results.reusePort = await section('reuse-port', () => measureReusePort(rowGroupSettings(wrkPath), gate, ourPids, log));
      }
    }

    if (baselines.wrk.available && wants('features') && settings.contenders.includes('appd')) {
      const wrkPath = baselines.wrk.path;
      results.features = await section('features', () =>
        measureFeatures({ ...rowGroupSettings(wrkPath), workers: settings.workers }, gate, ourPids, log),
      );
    }

    const gunicorn =
      baselines.gunicorn.available && wants('swaps')
        ? await startContender('gunicorn', () =>
            GunicornContender.start(baselines.gunicorn.available ? baselines.gunicorn.path : '', settings.scratch, settings.workers),
          )
        : null;
    if (wants('swaps'))
      results.swaps = await measureSwaps({
        appd,
        pm2,
        gunicorn,
        settings,
        gate,
        section,
        log,
        notes: results.notes,
        appctlMissing: appctlMissing(),
      });
    for (const contender of [gunicorn, appd, pm2]) await stopContender(contender);

    if (wants('memory')) {
      await section('memory (16 workers)', async () => {
        const has = (key: ContenderKey): boolean => settings.contenders.includes(key);
        if (has('appd'))
          results.memory.push(
            await memoryOfFreshPool(
              () => AppdContender.start({ scratch: settings.scratch, workers: 16, extraArgs: settings.appdArgs, timeoutMs: 120_000 }),
              16,
            ),
          );
        if (has('pm2') && baselines.pm2.available) {
          const path = baselines.pm2.path;
          results.memory.push(await memoryOfFreshPool(() => Pm2Contender.start(path, settings.scratch, 16), 16));
        }
        if (has('cluster-rr')) results.memory.push(await memoryOfFreshPool(() => startCluster(settings.scratch, 'rr', 16), 16));
        if (has('cluster-none')) results.memory.push(await memoryOfFreshPool(() => startCluster(settings.scratch, 'none', 16), 16));
      });
    }

    if (wants('reloads') && settings.contenders.includes('appd')) {
      results.reloadMemory = await section('reload memory', () =>
        measureReloadMemory(
          { scratch: settings.scratch, extraArgs: settings.appdArgs, reloads: settings.reloads, timeLimitSeconds: settings.reloadSeconds },
          log,
        ),
      );
    }
  } finally {
    await cleanUpEverything();
  }

  results.load = { ...results.load, atEnd: loadAverage(), waitedSeconds: round(gate.waitedTotalMs / 1000, 1) };
  results.durationSeconds = round((performance.now() - startedAt) / 1000, 1);
  results.table = renderTable(results);
  writeFileSync(settings.outputFile, `${JSON.stringify(results, null, 2)}\n`);
  if (process.argv.includes('--update-readme')) updateReadme(results.table);
  process.stdout.write(`${results.table}\n\nWritten to ${settings.outputFile} (${results.durationSeconds} s).\n`);
}

main().catch(async (error: unknown) => {
  log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  await cleanUpEverything();
  process.exit(1);
});
