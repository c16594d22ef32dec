// How a child process ended, in the words every log line and message uses ("exit code 3", "signal
// SIGKILL"). Run by the appd master.

export function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return code !== null ? `exit code ${code}` : `signal ${signal ?? 'unknown'}`;
}
