// A real Prometheus server for a test: scrapes the given targets every second from a temp directory,
// answers PromQL over its HTTP API, and is killed (by pid) with its files removed after the test.
// Runs in the ava test process.

import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { tempDirectory } from './daemon.js';
import { freePort } from './ports.js';
import { isAlive, killQuietly, waitFor } from './processes.js';

/** Whether Debian's prometheus and promtool are on PATH (.ci/run installs them). */
export const PROMETHEUS_INSTALLED =
  spawnSync('prometheus', ['--version']).status === 0 && spawnSync('promtool', ['--version']).status === 0;

export interface ScrapeJob {
  readonly name: string;
  /** HOST:PORT of the admin listener. */
  readonly target: string;
  /** Query parameters for the scrape (format: ['prometheus'] forces the text format). */
  readonly params?: Readonly<Record<string, readonly string[]>>;
}

export interface VectorSample {
  readonly metric: Readonly<Record<string, string>>;
  readonly value: number;
}

export class PrometheusServer {
  readonly url: string;
  #output = '';

  private constructor(url: string) {
    this.url = url;
  }

  static async start(t: ExecutionContext, jobs: readonly ScrapeJob[]): Promise<PrometheusServer> {
    const directory = tempDirectory(t, 'appd-prometheus-');
    const config = {
      global: { scrape_interval: '1s', scrape_timeout: '900ms', evaluation_interval: '1s' },
      scrape_configs: jobs.map((job) => ({
        job_name: job.name,
        static_configs: [{ targets: [job.target] }],
        ...(job.params ? { params: job.params } : {}),
      })),
    };
    // JSON is YAML: no YAML writer needed.
    writeFileSync(join(directory, 'prometheus.yml'), JSON.stringify(config));
    const port = await freePort();
    const child = spawn(
      'prometheus',
      [
        `--config.file=${join(directory, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(directory, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=warn',
      ],
      { cwd: directory, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const server = new PrometheusServer(`http://127.0.0.1:${port}`);
    child.stdout.setEncoding('utf8').on('data', (text: string) => (server.#output += text));
    child.stderr.setEncoding('utf8').on('data', (text: string) => (server.#output += text));
    t.teardown(async () => {
      if (!t.passed) t.log(`--- prometheus output ---\n${server.#output.slice(-4000)}`);
      killQuietly(child.pid ?? -1);
      await waitFor('prometheus to exit', () => !isAlive(child.pid ?? -1), 10_000);
    });
    await waitFor('prometheus to answer', async () => (await fetch(`${server.url}/-/ready`).catch(() => null))?.ok, 30_000, 200);
    return server;
  }

  /** An instant query, at `time` (epoch seconds) or now. */
  async query(expression: string, time?: number): Promise<VectorSample[]> {
    const parameters = new URLSearchParams({ query: expression });
    if (time !== undefined) parameters.set('time', String(time));
    const response = await fetch(`${this.url}/api/v1/query?${parameters}`);
    const body = (await response.json()) as {
      status: string;
      error?: string;
      data?: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] };
    };
    if (body.status !== 'success' || !body.data) throw new Error(`prometheus query ${expression} failed: ${body.error ?? response.status}`);
    if (body.data.resultType !== 'vector')
      throw new Error(`prometheus query ${expression}: expected a vector, got ${body.data.resultType}`);
    return body.data.result.map((item) => ({ metric: item.metric, value: Number(item.value[1]) }));
  }

  /** The single value of a query returning one sample, or null when it returns none. */
  async value(expression: string, time?: number): Promise<number | null> {
    const result = await this.query(expression, time);
    if (result.length > 1) throw new Error(`prometheus query ${expression}: expected one sample, got ${result.length}`);
    return result[0]?.value ?? null;
  }

  /**
   * The time (epoch seconds, millisecond precision) of the newest scraped sample of `selector`: an
   * instant query at exactly that time makes rate() extrapolate nothing past it.
   */
  async lastSampleTime(selector: string): Promise<number> {
    const parameters = new URLSearchParams({ query: `${selector}[1m]` });
    const response = await fetch(`${this.url}/api/v1/query?${parameters}`);
    const body = (await response.json()) as { status: string; data?: { resultType: string; result: { values: [number, string][] }[] } };
    const last = body.data?.result[0]?.values.at(-1);
    if (body.status !== 'success' || !last) throw new Error(`prometheus has no samples of ${selector}`);
    return last[0];
  }

  /** Each target's health as Prometheus sees it, with the last scrape error. */
  async targets(): Promise<{ job: string; health: string; lastError: string }[]> {
    const response = await fetch(`${this.url}/api/v1/targets`);
    const body = (await response.json()) as { data: { activeTargets: { labels: { job: string }; health: string; lastError: string }[] } };
    return body.data.activeTargets.map((target) => ({ job: target.labels.job, health: target.health, lastError: target.lastError }));
  }
}
