// What every appctl subcommand gets: the global options (-n, -s, --json, --timeout), a connection to the
// chosen daemon, output helpers, and runJob() for requests whose outcome is the exit code. Run by appctl.

import type { Command as Commander } from 'commander';
import { writeSync } from 'node:fs';
import type { Outcome, Request } from '../../shared/control/protocol.js';
import { hasErrorCode } from '../../shared/errors.js';
import { currentPathContext } from '../../shared/control/socket-path.js';
import type { ControlClient, RequestHandlers } from '../client/connection.js';
import { CTL_EXIT, UsageError } from '../client/errors.js';
import { connectToDaemon } from '../client/find-daemon.js';

export interface GlobalOptions {
  readonly name?: string;
  readonly socket?: string;
  readonly json?: boolean;
  readonly timeout?: string;
  readonly raw?: boolean;
}

/** Quick commands fail after this long without an answer (a health check must not hang). */
export const QUICK_TIMEOUT_MS = 10_000;

export class CommandContext {
  readonly options: GlobalOptions;

  constructor(options: GlobalOptions) {
    this.options = options;
  }

  get json(): boolean {
    return this.options.json === true;
  }

  /** --timeout in ms, else `fallback` (null: wait as long as the daemon takes; jobs end on their own). */
  timeoutMs(fallback: number | null): number | null {
    if (this.options.timeout === undefined) return fallback;
    const seconds = Number(this.options.timeout);
    if (!Number.isFinite(seconds) || seconds < 0)
      throw new UsageError(`--timeout expects seconds (0: no limit), got "${this.options.timeout}"`);
    return seconds === 0 ? null : seconds * 1000;
  }

  /**
   * `request` (small, no handlers) is sent with the hello; `client.request(request)` gives its outcome.
   * `deadlineMs`: the daemon must have answered the hello and the requests made until then within it.
   */
  connect(request?: Request, deadlineMs: number | null = null): Promise<ControlClient> {
    const choice = { name: this.options.name, socket: this.options.socket };
    return connectToDaemon(choice, currentPathContext(), { raw: this.options.raw === true, request, deadlineMs });
  }

  print(text: string): void {
    writeOutput(`${text}\n`);
  }

  /** Progress and notes: stderr under --json, so stdout stays one JSON document. */
  note(text: string): void {
    (this.json ? process.stderr : process.stdout).write(`${text}\n`);
  }

  printJson(value: unknown): void {
    writeOutput(`${JSON.stringify(value, null, 2)}\n`);
  }
}

/**
 * `appctl logs -f | head -1`: the reader went away, which ends our work; exit quietly, not with a stack.
 * Installed by whatever first uses process.stdout (once).
 */
export function exitQuietlyOnBrokenPipe(): void {
  if (process.stdout.listenerCount('error') > 0) return;
  process.stdout.on('error', (error) => {
    if (!hasErrorCode(error, 'EPIPE')) throw error;
    process.exit(CTL_EXIT.ok);
  });
}

let outputQueued = false;

/** Whether some output went to process.stdout's queue (a full non-blocking stdout): exiting now would cut it. */
export function isOutputQueued(): boolean {
  return outputQueued;
}

/**
 * Writes `text` to stdout (fd 1) at once, without process.stdout: creating that stream costs appctl
 * status about a millisecond of its start-up. A reader that went away (EPIPE: `appctl status | head -0`)
 * ends appctl quietly with 0, as exitQuietlyOnBrokenPipe does. A non-blocking stdout that is full (EAGAIN:
 * set so by another process sharing it) gets the rest through process.stdout, which waits for room.
 * Mixing both keeps the order: process.stdout writes pipes, files and terminals synchronously on Linux.
 */
export function writeOutput(text: string): void {
  const bytes = Buffer.from(text);
  let written = 0;
  while (written < bytes.length) {
    try {
      written += writeSync(1, bytes, written);
    } catch (error) {
      if (hasErrorCode(error, 'EPIPE')) process.exit(CTL_EXIT.ok);
      if (!hasErrorCode(error, 'EAGAIN')) throw error;
      exitQuietlyOnBrokenPipe();
      outputQueued = true;
      process.stdout.write(bytes.subarray(written));
      return;
    }
  }
}

/** For streams (logs -f, events): --timeout means "follow this long", then exit 0; null: forever. */
export function followFor(timeoutMs: number | null): Promise<number> {
  if (timeoutMs === null) return new Promise<number>(() => undefined);
  return new Promise<number>((settle) => setTimeout(() => settle(CTL_EXIT.ok), timeoutMs).unref());
}

/** Sends `request`, prints progress and the outcome; the outcome gives the exit code. */
export async function runJob(
  context: CommandContext,
  request: Request,
  options: {
    readonly timeoutMs: number | null;
    readonly handlers?: RequestHandlers;
    readonly render?: (outcome: Outcome & { status: 'completed' }) => string;
    /** Runs after a completed outcome, before the result is printed. */
    readonly afterCompleted?: (client: ControlClient) => Promise<void>;
  },
): Promise<number> {
  const client = await context.connect(undefined, context.timeoutMs(options.timeoutMs));
  const shown: string[] = [];
  try {
    const handlers: RequestHandlers = {
      progress: (text) => {
        shown.push(text);
        context.note(text);
      },
      ...options.handlers,
    };
    const outcome = await client.request(request, handlers);
    if (outcome.status === 'completed') await options.afterCompleted?.(client);
    if (context.json) context.printJson(outcome);
    // A job's outcome repeats what it reported as progress (each pool's result): print only the rest.
    const unseen = notYetShown(outcome.message, shown);
    if (outcome.status !== 'completed') {
      // Still a line on stderr for scripts, but not the whole (multi-line) error a second time.
      process.stderr.write(`appctl: ${unseen === '' ? (outcome.message.split('\n')[0] ?? '') : unseen}\n`);
      return CTL_EXIT.failed;
    }
    if (context.json) return CTL_EXIT.ok;
    if (options.render) context.print(options.render(outcome));
    else if (unseen !== '') context.print(unseen);
    return CTL_EXIT.ok;
  } finally {
    client.close();
  }
}

/** `message` without the parts already printed as progress (the daemon joins them into the outcome). */
export function notYetShown(message: string, shown: readonly string[]): string {
  let rest = message;
  for (const text of shown) if (text !== '') rest = rest.replace(text, '');
  return rest.trim() === '' ? '' : rest.replace(/^\n+|\n+$/g, '').replace(/\n{3,}/g, '\n\n');
}

/** How a subcommand file hooks into the program: it defines its command and hands its action to `run`. */
export type Register = (program: Commander, run: (action: (context: CommandContext) => Promise<number>) => Promise<void>) => void;
