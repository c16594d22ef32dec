// Starts a real appd daemon in a temp directory for a test, the way a user would, and guarantees that
// every process it started and every file is gone after the test, even when the test fails.
// Runs in the ava test process.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ExecutionContext } from 'ava';
import { childrenTable, commandLine, isAlive, killQuietly, parentTable, waitFor } from './processes.js';

export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const APPD = join(PROJECT_ROOT, 'dist/daemon/appd.cjs');
export const APPCTL = join(PROJECT_ROOT, 'dist/ctl/appctl.cjs');
const SETPRIV = '/usr/bin/setpriv';

export function fixture(name: string): string {
  return join(PROJECT_ROOT, 'test/fixtures', name);
}

export interface DaemonOptions {
  readonly args: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  /** Files to create in the temp directory before start: relative path -> content. */
  readonly files?: Readonly<Record<string, string>>;
  /** Runs after the files are written, before the daemon starts (e.g. to chmod the directory). */
  readonly prepare?: (directory: string) => void;
  /** What to wait for before returning: the "ready" log line (default), or nothing. */
  readonly waitFor?: 'ready' | 'nothing';
  readonly timeoutMs?: number;
  /** A command that runs appd for us (systemd-socket-activate ..., unshare ...); node, appd and args follow it. */
  readonly wrapper?: readonly string[];
  /** Options for the master's node (e.g. V8 heap flags), before appd's script. */
  readonly nodeArguments?: readonly string[];
  /** The appd script to run: the checkout's, or a copy another user can read (installationForOthers). */
  readonly appd?: string;
}

/** A temp directory removed after the test. */
export function tempDirectory(t: ExecutionContext, prefix = 'appd-test-'): string {
  const directory = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(directory, { recursive: true, force: true }));
  return directory;
}

/**
 * The daemons of this test file that are still watched, and the one timer that remembers their
 * descendants: one pass over /proc every 100 ms for all of them. A timer per daemon, each walking /proc
 * once per process of its tree, kept the test process's only thread busy for seconds a second when a
 * file started a dozen daemons at once under load (appctl.test.ts: 4 of 13 timed out waiting for ready).
 */
const watchedDaemons = new Set<TestDaemon>();
let watchTimer: NodeJS.Timeout | null = null;

function watchDaemon(daemon: TestDaemon): void {
  watchedDaemons.add(daemon);
  if (watchTimer !== null) return;
  watchTimer = setInterval(() => {
    const children = childrenTable(parentTable());
    for (const watched of watchedDaemons) watched.descendants(children);
  }, 100);
  watchTimer.unref();
}

function unwatchDaemon(daemon: TestDaemon): void {
  watchedDaemons.delete(daemon);
  if (watchedDaemons.size > 0 || watchTimer === null) return;
  clearInterval(watchTimer);
  watchTimer = null;
}

export class TestDaemon {
  readonly directory: string;
  readonly child: ChildProcess;
  /** What the daemon printed on stdout and stderr. */
  printed = '';
  /** The --error-logfile, when the test gave one; its content counts as output too. */
  readonly logFile: string | null;
  readonly #seen = new Set<number>();
  #exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(directory: string, child: ChildProcess, logFile: string | null) {
    this.directory = directory;
    this.child = child;
    this.logFile = logFile;
    child.stdout?.setEncoding('utf8').on('data', (text: string) => (this.printed += text));
    child.stderr?.setEncoding('utf8').on('data', (text: string) => (this.printed += text));
    // 'close' rather than 'exit': it comes after the last of stdout and stderr has been read.
    this.#exit = new Promise((settle) => child.once('close', (code, signal) => settle({ code, signal })));
    // Remember every descendant ever seen, so cleanup can kill by pid whatever escaped the group.
    watchDaemon(this);
  }

  /** Everything the daemon printed, then everything in its log file. */
  get output(): string {
    if (this.logFile === null) return this.printed;
    try {
      return this.printed + readFileSync(this.logFile, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return this.printed; // not created yet
      throw error;
    }
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** The first "Listening at: http://HOST:PORT" the daemon logged. */
  get port(): number {
    const match = /Listening at: https?:\/\/[^\s]*:(\d+) /.exec(this.output);
    if (!match) throw new Error(`the daemon logged no TCP listener:\n${this.output}`);
    return Number(match[1]);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The URL of the first TCP listener of a pool (a daemon with pools). */
  urlOf(pool: string): string {
    const match = new RegExp(`Listening at: https?://[^\\s]*:(\\d+) \\(fd \\d+, bound, pool ${pool}\\)`).exec(this.output);
    if (!match) throw new Error(`the daemon logged no TCP listener for pool ${pool}:\n${this.output}`);
    return `http://127.0.0.1:${match[1]}`;
  }

  /**
   * Live descendants (workers and their children). The master's group keeper (a shell that cleans up
   * if the master dies) is remembered for cleanup but not listed: it is neither. `children` is a
   * childrenTable already read (the shared watch timer's); by default, one pass over /proc now.
   */
  descendants(children: ReadonlyMap<number, readonly number[]> = childrenTable(parentTable())): number[] {
    const found: number[] = [];
    const queue = [this.pid];
    while (queue.length > 0) {
      const parent = queue.shift() ?? -1;
      for (const child of children.get(parent) ?? []) {
        this.#seen.add(child);
        if (commandLine(child).startsWith('appd: group keeper')) continue;
        found.push(child);
        queue.push(child);
      }
    }
    return found;
  }

  /** Live worker pids (by title), sorted by slot. */
  workers(): number[] {
    return this.descendants()
      .filter((pid) => commandLine(pid).startsWith('appd: worker'))
      .sort((left, right) => commandLine(left).localeCompare(commandLine(right)));
  }

  async waitForWorkers(count: number, timeoutMs = 30_000): Promise<number[]> {
    return waitFor(
      `${count} workers`,
      () => {
        const workers = this.workers();
        return workers.length === count ? workers : null;
      },
      timeoutMs,
    );
  }

  /** Waits until the log matches (counting only output after `from` characters). */
  async waitForLog(pattern: RegExp, timeoutMs = 30_000, from = 0): Promise<RegExpExecArray> {
    return waitFor(`log matching ${pattern}`, () => pattern.exec(this.output.slice(from)), timeoutMs).catch((error: Error) => {
      throw new Error(`${error.message}\n--- daemon output ---\n${this.output}`);
    });
  }

  signal(signal: NodeJS.Signals): void {
    killQuietly(this.pid, signal);
  }

  exited(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    return this.#exit;
  }

  /** SIGKILL to the process group and to every pid ever seen; waits until none is alive. */
  async cleanup(): Promise<void> {
    unwatchDaemon(this);
    this.descendants();
    try {
      process.kill(-this.pid, 'SIGKILL');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error; // group already gone
    }
    killQuietly(this.pid);
    for (const pid of this.#seen) killQuietly(pid);
    await waitFor('every daemon process to die', () => [this.pid, ...this.#seen].every((pid) => !isAlive(pid)), 5000);
  }
}

/** The end of a long output: a test that floods the log must not flood the report of its failure. */
function lastLines(text: string, count: number): string {
  const lines = text.split('\n');
  return lines.length <= count ? text : `[${lines.length - count} earlier lines left out]\n${lines.slice(-count).join('\n')}`;
}

export async function startDaemon(t: ExecutionContext, options: DaemonOptions): Promise<TestDaemon> {
  const directory = tempDirectory(t);
  for (const [name, content] of Object.entries(options.files ?? {})) {
    mkdirSync(dirname(join(directory, name)), { recursive: true });
    writeFileSync(join(directory, name), content);
  }
  options.prepare?.(directory);
  // If this test process dies (ava kills a timed-out test file without running its teardowns), the
  // daemon gets SIGKILL too, and its workers follow when their IPC channel drops: nothing leaks.
  const tieToTest = existsSync(SETPRIV) ? [SETPRIV, '--pdeathsig', 'SIGKILL', '--'] : [];
  const [command = process.execPath, ...commandArguments] = [
    ...tieToTest,
    ...(options.wrapper ?? []),
    process.execPath,
    ...(options.nodeArguments ?? []),
    options.appd ?? APPD,
    ...options.args,
  ];
  const child = spawn(command, commandArguments, {
    cwd: directory,
    // Its own process group, so cleanup can kill the master and all its workers at once.
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, XDG_RUNTIME_DIR: directory, APPD_CMD_ARGS: '', ...options.env },
  });
  const logIndex = options.args.indexOf('--error-logfile');
  const logName = logIndex >= 0 ? options.args[logIndex + 1] : undefined;
  const daemon = new TestDaemon(directory, child, logName ? resolve(directory, logName) : null);
  t.teardown(async () => {
    // A failed test shows what the daemon said (t.passed is settled by the time teardowns run).
    if (!t.passed) t.log(`--- appd output (pid ${daemon.pid}) ---\n${lastLines(daemon.output, 300)}`);
    await daemon.cleanup();
  });
  if (options.waitFor !== 'nothing') {
    await Promise.race([
      daemon.waitForLog(/\[INFO\] ready: /, options.timeoutMs ?? 60_000),
      daemon.exited().then(({ code }) => {
        throw new Error(`appd exited with code ${code} before it was ready:\n${daemon.output}`);
      }),
    ]);
  }
  return daemon;
}
