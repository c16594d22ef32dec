// PM2 as a bench contender: its CLI (installed in the scratch directory) with a PM2_HOME of its own,
// the hello server in cluster mode, the God daemon found through pm2.pid. `pm2 kill` ends it, also when
// the bench fails. Runs in the bench process.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { forgetCleanup, registerCleanup, registerProcess } from '../cleanup.js';
import { cleanEnvironment, lastLine, runCommand, type CommandResult } from '../run-command.js';
import { BENCH_FIXTURES, childWorkers, freePort, freshDirectory, readPidfile, waitForWorkers, type Contender } from './contender.js';
import { isAlive, killQuietly, sleep } from '../../helpers/processes.js';

export const PM2_APP_NAME = 'bench-hello';

export class Pm2Contender implements Contender {
  readonly key = 'pm2' as const;
  readonly url: string;
  readonly statsDirectory: string;
  readonly #pm2Path: string;
  readonly #home: string;
  readonly #env: NodeJS.ProcessEnv;
  readonly #seen = new Set<number>();

  private constructor(pm2Path: string, home: string, url: string, statsDirectory: string, env: NodeJS.ProcessEnv) {
    this.#pm2Path = pm2Path;
    this.#home = home;
    this.url = url;
    this.statsDirectory = statsDirectory;
    this.#env = env;
  }

  /** A fresh God daemon (any left from an earlier run in this PM2_HOME is killed first) serving `instances` workers. */
  static async start(pm2Path: string, scratch: string, instances: number): Promise<Pm2Contender> {
    const port = await freePort();
    const home = join(scratch, 'pm2-home');
    mkdirSync(home, { recursive: true });
    const statsDirectory = freshDirectory(join(scratch, 'stats', `pm2-${port}`));
    const env = cleanEnvironment({ PM2_HOME: home, PORT: String(port), BENCH_STATS_DIR: statsDirectory });
    const contender = new Pm2Contender(pm2Path, home, `http://127.0.0.1:${port}/`, statsDirectory, env);
    registerCleanup('pm2', () => contender.stop());
    await contender.pm2(['kill'], 60_000);
    const started = await contender.pm2(
      ['start', join(BENCH_FIXTURES, 'hello-server.cjs'), '-i', String(instances), '--name', PM2_APP_NAME],
      120_000,
    );
    if (started.code !== 0) throw new Error(`pm2 start failed: ${lastLine(started)}`);
    await waitForWorkers(contender, instances, 60_000);
    contender.remember();
    return contender;
  }

  /** Runs the pm2 CLI against this PM2_HOME; the result carries the whole-process wall time. */
  pm2(args: readonly string[], timeoutMs = 60_000): Promise<CommandResult> {
    return runCommand(process.execPath, [this.#pm2Path, ...args], { env: this.#env, timeoutMs });
  }

  /** The God daemon (it changes on `pm2 update`). */
  masterPid(): number | null {
    return readPidfile(join(this.#home, 'pm2.pid'));
  }

  workerPids(): number[] {
    return childWorkers(this.masterPid(), 'hello-server');
  }

  /** Registers the daemon and workers for the last-resort SIGKILL (they are not in our process groups). */
  remember(): void {
    const master = this.masterPid();
    for (const pid of [...(master === null ? [] : [master]), ...this.workerPids()]) {
      this.#seen.add(pid);
      registerProcess(pid);
    }
  }

  async stop(): Promise<void> {
    this.remember();
    forgetCleanup('pm2');
    await this.pm2(['kill'], 60_000);
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && [...this.#seen].some(isAlive)) await sleep(25);
    for (const pid of this.#seen) killQuietly(pid);
  }
}
