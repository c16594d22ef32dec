// Runs commands as a second local account (nobody, uid 65534, through util-linux's setpriv) for tests
// that act as another user would, and registers root-only tests so they skip visibly. Runs in the ava test process.

import test, { type ExecutionContext, type ImplementationFn } from 'ava';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';

export const NOBODY = 65534;
const SETPRIV = '/usr/bin/setpriv';
export const AS_NOBODY: readonly string[] = [SETPRIV, `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', '--'];

export const RUNNING_AS_ROOT = process.getuid?.() === 0;

/** Why a root-only test cannot run here, or null when it can. */
export function rootOnlyReason(): string | null {
  if (!RUNNING_AS_ROOT) return 'needs root (to run a second account and a root master)';
  if (!existsSync(SETPRIV)) return `needs ${SETPRIV} (util-linux)`;
  return null;
}

/** A test that needs root and setpriv: registered as skipped, with the reason in its title, elsewhere. */
export function rootTest(title: string, implementation: ImplementationFn<[]>): void {
  const reason = rootOnlyReason();
  if (reason === null) test(title, implementation);
  else test.skip(`${title} [skipped: ${reason}]`, implementation);
}

export interface CommandResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `command` as nobody (a PATH-only environment unless `env` adds to it); killed after `timeoutMs`. */
export function runAsNobody(command: readonly string[], options: { env?: Readonly<Record<string, string>>; timeoutMs?: number; cwd?: string } = {}): Promise<CommandResult> {
  return run([...AS_NOBODY, ...command], { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...options.env }, options.timeoutMs ?? 20_000, options.cwd);
}

/** Runs a command and collects its exit code and output; killed after `timeoutMs`. */
export function run(command: readonly string[], env: NodeJS.ProcessEnv, timeoutMs = 20_000, cwd?: string): Promise<CommandResult> {
  const [program = '', ...args] = command;
  const child = spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'], env, ...(cwd ? { cwd } : {}) });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((settle) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      settle({ code, stdout, stderr });
    }),
  );
}

/** `--user nobody` when the tests run as root (the deployment the attacks aim at), else nothing. */
export function workerUserArguments(): string[] {
  return RUNNING_AS_ROOT && existsSync(SETPRIV) ? ['--user', 'nobody'] : [];
}

export type { ExecutionContext };
