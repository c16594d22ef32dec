// Runs a terminal program (appctl top) in a detached tmux session of a given size, on a tmux server of
// its own (-L with a unique name), reads the screen with capture-pane and types keys; the server and
// everything in its pane are killed in teardown. Runs in the ava test process.

import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { tempDirectory } from './daemon.js';
import { childrenOf, isAlive, killQuietly, waitFor } from './processes.js';

let serverCount = 0;

export interface PaneOptions {
  /** The program and its arguments. */
  readonly command: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  readonly width: number;
  readonly height: number;
}

function quote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

export class TmuxPane {
  readonly socketName: string;
  readonly #exitFile: string;
  /** The shell tmux started in the pane; the program runs as its child. */
  readonly shellPid: number;

  private constructor(socketName: string, exitFile: string, shellPid: number) {
    this.socketName = socketName;
    this.#exitFile = exitFile;
    this.shellPid = shellPid;
  }

  static start(t: ExecutionContext, options: PaneOptions): TmuxPane {
    serverCount += 1;
    const socketName = `appd-test-${process.pid}-${serverCount}-${Date.now().toString(36)}`;
    const exitFile = join(tempDirectory(t, 'appd-tmux-'), 'exit-code');
    // The shell outlives the program just long enough to record how it exited.
    const script = `${options.command.map(quote).join(' ')}; echo $? > ${quote(exitFile)}`;
    const environment: NodeJS.ProcessEnv = { ...process.env, LANG: 'C.UTF-8', ...options.env };
    delete environment['TMUX'];
    const tmux = (...args: string[]) =>
      spawnSync('tmux', ['-L', socketName, ...args], { encoding: 'utf8', env: environment, timeout: 10_000 });
    let pane: TmuxPane | undefined;
    t.teardown(() => {
      // Children of the pane's shell by pid first (the program under test), then the server.
      const shell = pane?.shellPid ?? -1;
      for (const pid of shell > 0 ? childrenOf(shell) : []) killQuietly(pid);
      tmux('kill-server');
      // tmux leaves its socket file behind when the server is killed.
      rmSync(join(process.env['TMUX_TMPDIR'] || '/tmp', `tmux-${process.getuid?.() ?? 0}`, socketName), { force: true });
    });
    const started = tmux(
      '-f',
      '/dev/null',
      'new-session',
      '-d',
      '-x',
      String(options.width),
      '-y',
      String(options.height),
      '-s',
      'test',
      script,
    );
    if (started.status !== 0)
      throw new Error(`tmux new-session failed (${started.status}): ${started.stderr}${started.error?.message ?? ''}`);
    const shellPid = Number(tmux('display-message', '-p', '-t', 'test', '#{pane_pid}').stdout.trim());
    pane = new TmuxPane(socketName, exitFile, shellPid);
    return pane;
  }

  #tmux(...args: string[]): string {
    const result = spawnSync('tmux', ['-L', this.socketName, ...args], { encoding: 'utf8', timeout: 10_000 });
    if (result.status !== 0) throw new Error(`tmux ${args.join(' ')} failed (${result.status}): ${result.stderr}`);
    return result.stdout;
  }

  /** The screen as text, one string per row (trailing spaces kept off by tmux). */
  capture(): string {
    return this.#tmux('capture-pane', '-p', '-t', 'test');
  }

  /** Keys as tmux names them ("+", "Down", "q"). */
  sendKeys(...keys: string[]): void {
    this.#tmux('send-keys', '-t', 'test', ...keys);
  }

  resize(width: number, height: number): void {
    this.#tmux('resize-window', '-t', 'test', '-x', String(width), '-y', String(height));
  }

  /** The program's pid (the pane shell's child), once it runs. */
  async programPid(): Promise<number> {
    return waitFor('the program in the pane', () => childrenOf(this.shellPid)[0]);
  }

  /** Waits until the screen satisfies `probe`; the error shows the last screen. */
  async waitForScreen<T>(what: string, probe: (screen: string) => T | null | undefined | false, timeoutMs = 15_000): Promise<T> {
    let screen = '';
    return waitFor(
      what,
      () => {
        screen = this.capture();
        return probe(screen);
      },
      timeoutMs,
      100,
    ).catch((error: Error) => {
      throw new Error(`${error.message}\n--- screen ---\n${screen}`);
    });
  }

  /** The program's exit code, once it has exited. */
  async exitCode(timeoutMs = 10_000): Promise<number> {
    const text = await waitFor(
      'the program to exit',
      () => (existsSync(this.#exitFile) ? readFileSync(this.#exitFile, 'utf8').trim() : null),
      timeoutMs,
    );
    await waitFor('the pane shell to end', () => !isAlive(this.shellPid), timeoutMs);
    return Number(text);
  }
}
