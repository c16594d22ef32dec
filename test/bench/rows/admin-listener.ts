// The admin listener's cost: wrk -c 64 against the app, with and without /metrics, /readyz and /livez
// scraped every second (rounds interleaved), on one appd with --metrics-bind; the app's throughput and
// the master's CPU in each. Measured, not asserted. Runs in the bench process.

import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { sleep } from '../../helpers/processes.js';
import { AppdContender } from '../contenders/appd.js';
import { freePort } from '../contenders/contender.js';
import { cpuSeconds } from '../proc-usage.js';
import { round, type QuietGate } from '../quiet-machine.js';
import { median } from '../statistics.js';
import { runWrk } from '../wrk.js';

export interface AdminListenerSettings {
  readonly scratch: string;
  readonly workers: number;
  readonly extraArgs: readonly string[];
  readonly wrkPath: string;
  readonly connections: number;
  readonly durationSeconds: number;
  readonly rounds: number;
}

export interface AdminListenerMeasurement {
  readonly rounds: number;
  /** Median app req/s with the admin listener idle, and while it is scraped. */
  readonly quietRequestsPerSecond: number;
  readonly scrapedRequestsPerSecond: number;
  /** scraped / quiet. */
  readonly throughputRatio: number;
  /** Master CPU as a percentage of one core, median over the runs of each kind. */
  readonly quietMasterCorePercent: number;
  readonly scrapedMasterCorePercent: number;
  readonly scrapes: number;
  readonly scrapeFailures: number;
  readonly medianScrapeMs: number;
  readonly metricsBytes: number;
}

const SCRAPE_EVERY_MS = 1000;
const PATHS = ['/metrics', '/readyz', '/livez'] as const;

function fetchOnce(port: number, path: string): Promise<{ status: number; bytes: number }> {
  return new Promise((settle, fail) => {
    const request = http.get({ host: '127.0.0.1', port, path, agent: false, timeout: 5000 }, (response) => {
      let bytes = 0;
      response.on('data', (chunk: Buffer) => (bytes += chunk.length));
      response.on('end', () => settle({ status: response.statusCode ?? 0, bytes }));
    });
    request.on('timeout', () => request.destroy(new Error(`GET ${path} timed out`)));
    request.on('error', fail);
  });
}

/** Scrapes every path once a second until stopped, as Prometheus plus a kubelet's probes would. */
function startScraper(port: number): {
  stop: () => Promise<{ scrapes: number; failures: number; durationsMs: number[]; metricsBytes: number }>;
} {
  let running = true;
  const durationsMs: number[] = [];
  let scrapes = 0;
  let failures = 0;
  let metricsBytes = 0;
  const loop = (async () => {
    while (running) {
      const startedAt = performance.now();
      for (const path of PATHS) {
        try {
          const answer = await fetchOnce(port, path);
          scrapes += 1;
          if (answer.status !== 200) failures += 1;
          if (path === '/metrics') metricsBytes = answer.bytes;
        } catch {
          // Counted: a scrape that failed under load is part of the result, not a reason to stop.
          failures += 1;
        }
      }
      durationsMs.push(performance.now() - startedAt);
      await sleep(Math.max(0, SCRAPE_EVERY_MS - (performance.now() - startedAt)));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return { scrapes, failures, durationsMs, metricsBytes };
    },
  };
}

export async function measureAdminListener(
  settings: AdminListenerSettings,
  gate: QuietGate,
  log: (line: string) => void,
): Promise<AdminListenerMeasurement> {
  const port = await freePort();
  const appd = await AppdContender.start({
    scratch: settings.scratch,
    workers: settings.workers,
    extraArgs: [...settings.extraArgs, '--metrics-bind', `127.0.0.1:${port}`],
  });
  try {
    await runWrk({ wrkPath: settings.wrkPath, url: appd.url, mode: 'keep-alive', connections: settings.connections, durationSeconds: 1 });
    const quiet: { rps: number; core: number }[] = [];
    const scraped: { rps: number; core: number }[] = [];
    let scrapes = 0;
    let failures = 0;
    let metricsBytes = 0;
    const scrapeDurations: number[] = [];
    for (let roundIndex = 0; roundIndex < settings.rounds; roundIndex += 1) {
      // Alternate which kind goes first, so a machine growing busier mid-round favours neither.
      for (const withScraper of roundIndex % 2 === 0 ? [false, true] : [true, false]) {
        await gate.wait();
        const master = appd.masterPid();
        const scraper = withScraper ? startScraper(port) : null;
        const cpuBefore = cpuSeconds(master);
        const startedAt = performance.now();
        const wrk = await runWrk({
          wrkPath: settings.wrkPath,
          url: appd.url,
          mode: 'keep-alive',
          connections: settings.connections,
          durationSeconds: settings.durationSeconds,
        });
        const core = (100 * (cpuSeconds(master) - cpuBefore)) / ((performance.now() - startedAt) / 1000);
        const scraping = await scraper?.stop();
        if (scraping) {
          scrapes += scraping.scrapes;
          failures += scraping.failures;
          metricsBytes = scraping.metricsBytes;
          scrapeDurations.push(...scraping.durationsMs);
        }
        (withScraper ? scraped : quiet).push({ rps: wrk.requestsPerSecond, core });
        log(
          `admin listener round ${roundIndex + 1} ${withScraper ? 'scraped' : 'quiet'}: ${Math.round(wrk.requestsPerSecond)} req/s, master ${core.toFixed(1)}% of a core`,
        );
      }
    }
    const quietRps = median(quiet.map((run) => run.rps));
    const scrapedRps = median(scraped.map((run) => run.rps));
    return {
      rounds: settings.rounds,
      quietRequestsPerSecond: Math.round(quietRps),
      scrapedRequestsPerSecond: Math.round(scrapedRps),
      throughputRatio: round(scrapedRps / quietRps, 3),
      quietMasterCorePercent: round(median(quiet.map((run) => run.core)), 2),
      scrapedMasterCorePercent: round(median(scraped.map((run) => run.core)), 2),
      scrapes,
      scrapeFailures: failures,
      medianScrapeMs: round(median(scrapeDurations), 1),
      metricsBytes,
    };
  } finally {
    await appd.stop();
  }
}
