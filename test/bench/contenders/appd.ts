// appd as a bench contender: a daemon serving the hello app with N workers, its log captured, its
// control socket and pidfile in the scratch directory (the pidfile follows the master across an
// upgrade). Runs in the bench process.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from '../../helpers/processes.js';
import { registerProcess } from '../cleanup.js';
import { cleanEnvironment, runCommand, type CommandResult } from '../run-command.js';
import {
  BENCH_FIXTURES,
  PROJECT_ROOT,
  childWorkers,
  freePort,
  freshDirectory,
  readPidfile,
  spawnServer,
  stopGroup,
  type Contender,
  type ServerProcess,
} from './contender.js';

export const APPD = join(PROJECT_ROOT, 'dist/daemon/appd.cjs');
export const APPCTL = join(PROJECT_ROOT, 'dist/ctl/appctl.cjs');

export interface AppdOptions {
  readonly scratch: string;
  readonly workers: number;
  /** More appd flags (e.g. --no-timeout-stack for an A/B run). */
  readonly extraArgs?: readonly string[];
  /** node flags for the master itself (e.g. --cpu-prof while profiling). */
  readonly masterNodeArgs?: readonly string[];
  readonly timeoutMs?: number;
}

export class AppdContender implements Contender {
  readonly key = 'appd' as const;
  readonly url: string;
  readonly statsDirectory: string;
  readonly controlSocket: string;
  readonly #pidfile: string;
  readonly #server: ServerProcess;
  readonly #seenMasters = new Set<number>();

  private constructor(server: ServerProcess, url: string, statsDirectory: string, controlSocket: string, pidfile: string) {
    this.#server = server;
    this.url = url;
    this.statsDirectory = statsDirectory;
    this.controlSocket = controlSocket;
    this.#pidfile = pidfile;
    this.#seenMasters.add(server.pid);
  }

  static async start(options: AppdOptions): Promise<AppdContender> {
    const port = await freePort();
    const name = `bench-${port}`;
    const runDirectory = join(options.scratch, 'run');
    mkdirSync(runDirectory, { recursive: true });
    const statsDirectory = freshDirectory(join(options.scratch, 'stats', name));
    const controlSocket = join(runDirectory, `${name}.sock`);
    const pidfile = join(runDirectory, `${name}.pid`);
    const args = [
      ...(options.masterNodeArgs ?? []),
      APPD,
      join(BENCH_FIXTURES, 'hello-app.cjs'),
      '-w',
      String(options.workers),
      '-b',
      `127.0.0.1:${port}`,
      '--name',
      name,
      '--control-socket',
      controlSocket,
      '--pidfile',
      pidfile,
      ...(options.extraArgs ?? []),
    ];
    const env = cleanEnvironment({ BENCH_STATS_DIR: statsDirectory, APPD_CMD_ARGS: '', XDG_RUNTIME_DIR: runDirectory });
    const server = spawnServer(process.execPath, args, env, options.scratch);
    const contender = new AppdContender(server, `http://127.0.0.1:${port}/`, statsDirectory, controlSocket, pidfile);
    const exited = new Promise<never>((_settle, fail) =>
      server.child.once('exit', (code) => fail(new Error(`appd exited with ${code} before it was ready:\n${server.output()}`))),
    );
    await Promise.race([contender.waitForLog(/\[INFO\] ready: /, 0, options.timeoutMs ?? 60_000), exited]);
    return contender;
  }

  /** The master now serving: the pidfile's pid (a successor after an upgrade), else the one we started. */
  masterPid(): number {
    const pid = readPidfile(this.#pidfile);
    if (pid === null) return this.#server.pid;
    if (!this.#seenMasters.has(pid)) {
      this.#seenMasters.add(pid);
      registerProcess(pid); // a successor master is not in our process group's bookkeeping otherwise
    }
    return pid;
  }

  workerPids(): number[] {
    return childWorkers(this.masterPid(), 'appd: worker');
  }

  /** The master's log (stderr) so far; only the first master's, a successor logs elsewhere. */
  output(): string {
    return this.#server.output();
  }

  async waitForLog(pattern: RegExp, from: number, timeoutMs: number): Promise<RegExpExecArray> {
    return waitFor(`appd log matching ${pattern}`, () => pattern.exec(this.output().slice(from)), timeoutMs, 5).catch((error: Error) => {
      throw new Error(`${error.message}\n--- appd output ---\n${this.output().slice(-4000)}`);
    });
  }

  signal(signal: NodeJS.Signals): void {
    process.kill(this.masterPid(), signal);
  }

  appctl(args: readonly string[], timeoutMs = 60_000): Promise<CommandResult> {
    return runCommand(process.execPath, [APPCTL, '-s', this.controlSocket, ...args], { timeoutMs });
  }

  async stop(): Promise<void> {
    const workers = this.workerPids();
    await stopGroup(this.#server.pid, this.masterPid(), [...this.#seenMasters, ...workers]);
  }
}
