// The new master's side of an upgrade: it knows it is a successor (APPD_UPGRADE_FROM and an IPC channel
// to the old master), takes over the control socket path and the pidfile once its workers are ready,
// and reports back, success or failure. Run by an appd master that an upgrade started.

import type { LifecycleObserver } from '../arbiter/options.js';
import type { ControlServer } from '../control/server.js';
import type { Logger } from '../master/logger.js';
import { readPid, writePidfile } from '../master/pidfile.js';
import { masterTitle, setProcessTitle } from '../contracts/process-title.js';
import type { SystemdNotifier } from '../systemd/notify.js';
import { removeOldPidfileWhenGone } from './old-pidfile.js';
import {
  oldPidfilePath,
  parseUpgradeOrigin,
  UPGRADE_FROM_VARIABLE,
  type HandedPoolState,
  type SuccessorReport,
  type UpgradeOrigin,
} from './messages.js';

/** A report that cannot be sent in this time is given up (the old master sees the exit anyway). */
const REPORT_TIMEOUT_MS = 2000;

export class PredecessorLink {
  /** The old master's pid. */
  readonly pid: number;
  /** This master's workers start at this generation. */
  readonly generation: number;
  /** The Node this master was started with, as named. */
  readonly node: string;
  /** The old master's pools as an operator left them (scaled, stopped): applied over this master's config. */
  readonly pools: readonly HandedPoolState[];

  private constructor(origin: UpgradeOrigin) {
    this.pid = origin.pid;
    this.generation = origin.generation;
    this.node = origin.node;
    this.pools = origin.pools;
  }

  /**
   * The link when this process was started by an upgrade, else null. The variable is removed, so
   * workers never see it; without an IPC channel it was set by hand, and is ignored.
   */
  static fromEnvironment(environment: NodeJS.ProcessEnv): PredecessorLink | null {
    const text = environment[UPGRADE_FROM_VARIABLE];
    delete environment[UPGRADE_FROM_VARIABLE];
    const origin = text === undefined ? null : parseUpgradeOrigin(text);
    if (origin === null || typeof process.send !== 'function') return null;
    // First of all: an old master that started us orphaned learns our pid from this (successor-process.ts).
    const started: SuccessorReport = { type: 'successor-started', pid: process.pid };
    process.send(started);
    return new PredecessorLink(origin);
  }

  /** Whether the old master still runs: its end of the channel closes when it exits, even by SIGKILL. */
  get alive(): boolean {
    return process.connected;
  }

  /** Sends a report and waits until it was written (a failing successor exits right after). */
  report(report: SuccessorReport): Promise<void> {
    return new Promise((settle) => {
      if (!process.connected || !process.send) return settle();
      const timer = setTimeout(settle, REPORT_TIMEOUT_MS);
      process.send(report, undefined, {}, () => {
        clearTimeout(timer);
        settle();
      });
    });
  }

  /** The channel stays open, so `alive` keeps telling, but must not keep this process running. */
  release(): void {
    process.channel?.unref();
  }
}

export interface TakeoverContext {
  readonly link: PredecessorLink;
  readonly name: string;
  readonly logger: Logger;
  /** Opened after the arbiter: null until then (the first generation cannot be ready before). */
  readonly control: () => ControlServer | null;
  readonly pidfile: string | null;
  readonly notifier: SystemdNotifier | null;
}

/**
 * Once the first generation is ready: take over the control socket path and the pidfile (the old
 * pid goes to PIDFILE.oldbin), wait until MAINPID= reached systemd (the old master may exit as soon
 * as it hears from us, and systemd must not think the main process died), then tell the old master.
 */
export function takeoverObserver(context: TakeoverContext): LifecycleObserver {
  return {
    ready: (summary) => void takeOver(context, summary),
  };
}

async function takeOver({ link, name, logger, control, pidfile, notifier }: TakeoverContext, summary: string): Promise<void> {
  try {
    control()?.takeOverPath();
    if (pidfile) {
      // Only while the old master runs: PIDFILE.oldbin never names a pid that is not an appd master.
      const oldMasterNamed = readPid(pidfile) === link.pid && link.alive;
      // The pidfile first, PIDFILE.oldbin second: whoever sees PIDFILE.oldbin appear (Unicorn's documented
      // way to wait for a USR2 upgrade) and then reads PIDFILE must find the new pid there. The other
      // order left a window where both files named the old master, and `kill -TERM $(cat PIDFILE)` meant
      // for the new master stopped the old one (a CI run hit it on Node 24).
      writePidfile(pidfile);
      if (oldMasterNamed) {
        writePidfile(oldPidfilePath(pidfile), link.pid);
        removeOldPidfileWhenGone(pidfile, link, logger);
      }
    }
  } catch (error) {
    const message = `cannot take over from the old master: ${error instanceof Error ? error.message : String(error)}`;
    logger.error(message);
    // The old master rolls back: it stops us and serves on.
    await link.report({ type: 'successor-failed', exitCode: 1, message });
    return;
  }
  setProcessTitle(masterTitle(name), 'appd: master');
  logger.info(
    `took over from the old master (pid ${link.pid})${pidfile ? `: ${pidfile} names this master, ${oldPidfilePath(pidfile)} the old one` : ''}`,
  );
  await notifier?.flush();
  await link.report({ type: 'successor-ready', pid: process.pid, summary });
  link.release();
}
