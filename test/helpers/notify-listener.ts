// A real unix datagram listener standing in for systemd's NOTIFY_SOCKET (test/fixtures/notify-listener.py),
// and the parsed messages it received; killed by pid after the test. Runs in the ava test process.

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { fixture, tempDirectory } from './daemon.js';
import { isAlive, killQuietly, waitFor } from './processes.js';

export interface NotifyMessage {
  /** The sender pid systemd would see (SCM_CREDENTIALS). */
  readonly pid: number;
  /** CLOCK_MONOTONIC in microseconds when it arrived. */
  readonly receivedUsec: bigint;
  readonly text: string;
  /** KEY=VALUE lines as a map. */
  readonly fields: ReadonlyMap<string, string>;
}

export class NotifyListener {
  readonly socket: string;
  readonly messages: NotifyMessage[] = [];

  constructor(socket: string) {
    this.socket = socket;
  }

  /** Messages other than systemd-notify's own BARRIER=1 that carry `key` (optionally with `value`). */
  having(key: string, value?: string): NotifyMessage[] {
    return this.messages.filter((message) => message.fields.has(key) && (value === undefined || message.fields.get(key) === value));
  }

  async waitFor(key: string, value?: string, count = 1, timeoutMs = 10_000): Promise<NotifyMessage[]> {
    return waitFor(
      `${count} notify message(s) with ${key}${value === undefined ? '' : `=${value}`}; got:\n${this.describe()}`,
      () => {
        const found = this.having(key, value);
        return found.length >= count ? found : null;
      },
      timeoutMs,
    );
  }

  describe(): string {
    return this.messages.map((message) => `  pid ${message.pid}: ${message.text.replace(/\n/g, ' | ')}`).join('\n');
  }
}

/** Debian's python3 first: a python3 found on PATH may be a version manager's shim, slow to start under load. */
export const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

export async function startNotifyListener(t: ExecutionContext): Promise<NotifyListener> {
  const directory = tempDirectory(t, 'appd-notify-');
  const listener = new NotifyListener(join(directory, 'notify.sock'));
  const child = spawn(PYTHON, [fixture('notify-listener.py'), listener.socket], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(async () => {
    if (child.pid === undefined) return;
    killQuietly(child.pid);
    await waitFor('the notify listener to exit', () => !isAlive(child.pid ?? -1), 5000);
  });
  let buffered = '';
  let listening = false;
  child.stdout.setEncoding('utf8').on('data', (text: string) => {
    buffered += text;
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) {
      const parsed = JSON.parse(line) as { listening?: string; pid?: number; receivedUsec?: number; text?: string };
      if (parsed.listening) {
        listening = true;
        continue;
      }
      const text = parsed.text ?? '';
      const fields = new Map(
        text
          .split('\n')
          .filter(Boolean)
          .map((entry) => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)] as const),
      );
      if (fields.has('BARRIER')) continue; // systemd-notify's own synchronisation message
      listener.messages.push({ pid: parsed.pid ?? -1, receivedUsec: BigInt(parsed.receivedUsec ?? 0), text, fields });
    }
  });
  await waitFor('the notify listener to bind', () => listening || child.exitCode !== null, 10_000);
  if (!listening) throw new Error(`the notify listener (python3) did not start (exit code ${child.exitCode})`);
  return listener;
}
