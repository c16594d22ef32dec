// Runs the real appctl binary against a test daemon (found through XDG_RUNTIME_DIR, as a user's shell
// would) and collects exit code and output; long-running ones are killed by pid in teardown.
// Runs in the ava test process.

import { spawn, type ChildProcess } from 'node:child_process';
import type { ExecutionContext } from 'ava';
import { ControlClient } from '../../ctl/client/connection.js';
import type { StatusSnapshot } from '../../shared/control/status.js';
import { APPCTL, type TestDaemon } from './daemon.js';
import { killQuietly } from './processes.js';

export interface AppctlResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface AppctlOptions {
  /** The XDG_RUNTIME_DIR appctl searches (a test daemon's directory). */
  readonly runtimeDirectory: string;
  readonly env?: Readonly<Record<string, string>>;
  readonly timeoutMs?: number;
}

export function spawnAppctl(args: readonly string[], options: AppctlOptions): ChildProcess {
  const environment: NodeJS.ProcessEnv = { ...process.env, XDG_RUNTIME_DIR: options.runtimeDirectory, ...options.env };
  if (!options.env?.['APPD_SOCKET']) delete environment['APPD_SOCKET'];
  return spawn(process.execPath, [APPCTL, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: environment });
}

/**
 * Runs appctl to completion, killing it after `timeoutMs` (default 60 s: it only bounds how long a failing
 * test takes; at load 35 on 2 cores an appctl status took over 20 s to start, ask and print).
 */
export function appctl(args: readonly string[], options: AppctlOptions): Promise<AppctlResult> {
  const child = spawnAppctl(args, options);
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (text: string) => (stdout += text));
  child.stderr?.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  const timer = setTimeout(() => killQuietly(child.pid ?? -1), options.timeoutMs ?? 60_000);
  return new Promise((settle) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      settle({ code, stdout, stderr });
    }),
  );
}

/** A long-running appctl (logs -f) whose output accumulates; killed in teardown. */
export function followAppctl(
  t: ExecutionContext,
  args: readonly string[],
  options: AppctlOptions,
): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const child = spawnAppctl(args, options);
  let output = '';
  child.stdout?.setEncoding('utf8').on('data', (text: string) => (output += text));
  child.stderr?.setEncoding('utf8').on('data', (text: string) => (output += text));
  const exited = new Promise<number | null>((settle) => child.on('close', (code) => settle(code)));
  t.teardown(() => killQuietly(child.pid ?? -1));
  return { child, output: () => output, exited };
}

/** `appctl status --json` of the daemon found in `runtimeDirectory`, parsed; throws if appctl failed. */
export async function statusOf(runtimeDirectory: string): Promise<StatusSnapshot> {
  const result = await appctl(['status', '--json'], { runtimeDirectory });
  if (result.code !== 0) throw new Error(`appctl status exited ${result.code}: ${result.stderr}`);
  return JSON.parse(result.stdout) as StatusSnapshot;
}

/**
 * Status asked in this process over one control connection: no appctl start-up per poll, which on a
 * busy machine takes longer than a state that lasts a second or two (a stopping worker, a backoff).
 */
export async function statusPoller(t: ExecutionContext, daemon: TestDaemon): Promise<() => Promise<StatusSnapshot>> {
  const socket = (await daemon.waitForLog(/Control socket: (\S+)/))[1] ?? '';
  const client = await ControlClient.connect(socket);
  t.teardown(() => client.close());
  return async () => {
    const outcome = await client.request({ command: 'status' });
    if (outcome.status !== 'completed') throw new Error(`status: ${JSON.stringify(outcome)}`);
    return outcome.data as StatusSnapshot;
  };
}
