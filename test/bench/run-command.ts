// Runs a short-lived command (pm2, appctl, npm, apt-get) to its end with a time limit, and reports its
// output, exit code and whole-process wall time. Runs in the bench process.

import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';

export interface CommandResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** From spawn to exit, in milliseconds. */
  readonly wallMs: number;
}

export interface CommandOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  readonly timeoutMs: number;
}

/**
 * Set by the machine, not by a user of any contender, and paid by every Node process at start: this
 * machine exports NODE_EXTRA_CA_CERTS (its proxy's CA bundle), which Node 20 parses at every start,
 * whatever the process does (measured: node -e 0 35 ms more CPU and 1.8 MB more RSS); Node 24 reads it
 * only once the process uses TLS. It would add the same constant to every command and server measured.
 */
export const MACHINE_STARTUP_VARIABLES = ['NODE_EXTRA_CA_CERTS'] as const;

/** What the bench removed from the environment of the processes it measures, for the report. */
export function removedStartupVariables(): string[] {
  return MACHINE_STARTUP_VARIABLES.filter((name) => process.env[name] !== undefined);
}

/** The environment without npm's run-script variables: npm_config_* would leak into a nested npm or pm2. */
export function installEnvironment(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const environment: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!name.toLowerCase().startsWith('npm_')) environment[name] = value;
  return { ...environment, ...extra };
}

/** The environment of every process measured (servers, appctl, pm2, node -e 0): installEnvironment without MACHINE_STARTUP_VARIABLES. */
export function cleanEnvironment(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const environment = installEnvironment();
  for (const name of MACHINE_STARTUP_VARIABLES) delete environment[name];
  return { ...environment, ...extra };
}

export function runCommand(command: string, args: readonly string[], options: CommandOptions): Promise<CommandResult> {
  return new Promise((settle, fail) => {
    const startedAt = performance.now();
    const child = spawn(command, args, { env: options.env ?? cleanEnvironment(), cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
    child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      fail(error);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      settle({ code, signal, stdout, stderr, wallMs: performance.now() - startedAt });
    });
  });
}

/** The last non-empty line of a failed command's output, for a one-line note. */
export function lastLine(result: CommandResult): string {
  const lines = `${result.stderr}\n${result.stdout}`
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);
  return lines.at(-1) ?? `exit ${result.code ?? result.signal}`;
}
