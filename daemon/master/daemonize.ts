// --daemon: the command re-runs itself detached (Node cannot fork) and exits only when the daemon is
// ready (0) or failed (its exit code and error), so scripts can trust it. Run by the appd command.

import { spawn } from 'node:child_process';
import { EXIT } from '../../shared/errors.js';
import { stderrMessage } from '../../shared/trust/escape-text.js';

/** Set in the detached child so it knows it is the daemon and whom to report to. */
export const DAEMON_CHILD_VARIABLE = 'APPD_DAEMON_CHILD';

type DaemonReport = { type: 'daemon-ready'; summary: string } | { type: 'daemon-failed'; exitCode: number; message: string };

function isReport(value: unknown): value is DaemonReport {
  return (
    typeof value === 'object' && value !== null && 'type' in value && (value.type === 'daemon-ready' || value.type === 'daemon-failed')
  );
}

/** The foreground side: start the daemon and wait for its verdict. */
export function detachAndWait(argv: readonly string[]): Promise<number> {
  const script = process.argv[1] ?? '';
  const child = spawn(process.execPath, [...process.execArgv, script, ...argv], {
    detached: true,
    stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
    env: { ...process.env, [DAEMON_CHILD_VARIABLE]: '1' },
    // Room for the master's title, which is cut at the length of the original argv.
    argv0: `appd${' '.repeat(64)}`,
  });
  return new Promise((settle) => {
    let verdict: DaemonReport | null = null;
    child.on('message', (message: unknown) => {
      if (!isReport(message)) return;
      verdict = message;
      if (message.type === 'daemon-ready') {
        process.stderr.write(`appd: running in the background as pid ${child.pid} (${message.summary})\n`);
        child.disconnect();
        child.unref();
        settle(EXIT.ok);
      } else {
        process.stderr.write(stderrMessage(message.message));
      }
    });
    child.on('exit', (code, signal) => {
      if (verdict?.type === 'daemon-ready') return;
      if (verdict?.type === 'daemon-failed') return settle(verdict.exitCode);
      process.stderr.write(`appd: the daemon exited before it was ready (${code !== null ? `exit code ${code}` : `signal ${signal}`})\n`);
      settle(code ?? EXIT.runtimeFailure);
    });
  });
}

/** The daemon side: whether we are it, and how to report. */
export function isDaemonChild(): boolean {
  return process.env[DAEMON_CHILD_VARIABLE] === '1' && typeof process.send === 'function';
}

export function reportToForeground(report: DaemonReport): void {
  if (!process.connected) return;
  process.send?.(report, () => {
    // Once the foreground command has its answer the channel has no more use.
    if (report.type === 'daemon-ready' && process.connected) process.disconnect();
  });
}
