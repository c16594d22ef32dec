// One appd unit in a sandbox as a test sees it: start from a known state, and what systemd logged about
// it: the sd_notify messages it received (debug level) and its state changes. Runs in the ava test process.

import type { ExecutionContext } from 'ava';
import type { SystemdSandbox } from './sandbox.js';

/** One "Got notification message from PID N (KEY=VALUE, ...)" line of systemd's, parsed. */
export interface ReceivedNotification {
  readonly pid: number;
  readonly fields: ReadonlyMap<string, string>;
  /** Its position among the journal lines read (to order it against other lines). */
  readonly line: number;
}

/** systemd joins the fields with ", "; a STATUS= text may contain ", " too, so split only before KEY=. */
export function parseNotification(text: string, line: number): ReceivedNotification | null {
  const match = /Got notification message from PID (\d+) \((.*)\)$/.exec(text);
  if (!match) return null;
  const fields = new Map<string, string>();
  for (const part of (match[2] ?? '').split(/, (?=[A-Z_]+=)/)) fields.set(part.slice(0, part.indexOf('=')), part.slice(part.indexOf('=') + 1));
  return { pid: Number(match[1]), fields, line };
}

export class SandboxedService {
  readonly sandbox: SystemdSandbox;
  readonly unit: string;

  constructor(sandbox: SystemdSandbox, unit: string) {
    this.sandbox = sandbox;
    this.unit = unit;
  }

  /** Active with a first master, whatever an earlier test left (stopped, failed, upgraded). */
  async startFresh(t: ExecutionContext): Promise<number> {
    const { ActiveState } = await this.sandbox.show(this.unit, ['ActiveState']);
    if (ActiveState !== 'inactive') await this.sandbox.exec(['systemctl', 'stop', this.unit]);
    if (ActiveState === 'failed') await this.sandbox.exec(['systemctl', 'reset-failed', this.unit]);
    await this.sandbox.mustExec(['systemctl', 'start', this.unit]);
    const { MainPID } = await this.sandbox.waitForState(this.unit, { ActiveState: 'active', SubState: 'running', MainPID: /^[1-9]\d*$/ });
    t.log(`${this.unit} started, MainPID ${MainPID}`);
    return Number(MainPID);
  }

  async mainPid(): Promise<number> {
    return Number((await this.sandbox.show(this.unit, ['MainPID']))['MainPID']);
  }

  /** The journal lines about the unit since `cursor`, with the notifications among them parsed. */
  async journal(cursor: string): Promise<{ lines: string[]; notifications: ReceivedNotification[] }> {
    const lines = await this.sandbox.journal(`${this.unit}.service`, cursor);
    const notifications = lines.map((text, index) => parseNotification(text, index)).filter((parsed): parsed is ReceivedNotification => parsed !== null);
    // systemd-notify's own synchronisation message carries nothing else.
    return { lines, notifications: notifications.filter((notification) => !(notification.fields.size === 1 && notification.fields.has('BARRIER'))) };
  }
}
