// PIDFILE.oldbin names the old master only while it runs: the new master removes it when the old one
// is gone (even SIGKILLed: its end of the upgrade channel closes), and a fresh start removes one that
// an interrupted upgrade left naming a dead pid, so `kill $(cat PIDFILE.oldbin)` cannot hit a reused
// pid. Run by the appd master.

import { readFileSync } from 'node:fs';
import { describeError, hasErrorCode } from '../../shared/errors.js';
import type { Logger } from '../master/logger.js';
import { inspectPidfile, isProcessAlive, removePidfile } from '../master/pidfile.js';
import { oldPidfilePath } from './messages.js';

/** What the new master knows of the old one: its pid, and whether its channel is still open. */
export interface OldMaster {
  readonly pid: number;
  readonly alive: boolean;
}

function removeLogged(path: string, pid: number, why: string, logger: Logger): void {
  try {
    removePidfile(path, pid);
    logger.info(`removed ${path}: ${why}`);
  } catch (error) {
    logger.error(`cannot remove ${path} (${why}): ${describeError(error)}`);
  }
}

/** Once the old master is gone, PIDFILE.oldbin goes too (if it still names it). */
export function removeOldPidfileWhenGone(pidfile: string, oldMaster: OldMaster, logger: Logger): void {
  const path = oldPidfilePath(pidfile);
  const gone = (): void => removeLogged(path, oldMaster.pid, `the old master (pid ${oldMaster.pid}) has exited`, logger);
  // The channel to the old master closes when it exits, however it exits; it may be closed already.
  if (!oldMaster.alive) return gone();
  process.once('disconnect', gone);
}

/** Whether `pid` runs an appd master: its title, as process-title.ts writes it ("appd: master [NAME]", "appd: master (old) [NAME]"). */
function isAppdMaster(pid: number): boolean {
  try {
    return /^appd: master\b/.test(readFileSync(`/proc/${pid}/cmdline`, 'latin1'));
  } catch (error) {
    if (hasErrorCode(error, 'ENOENT', 'ESRCH')) return false; // gone meanwhile
    // Another user's process we may not read: alive, and perhaps an appd master; leave the file.
    if (hasErrorCode(error, 'EACCES', 'EPERM')) return true;
    throw error;
  }
}

/**
 * At a fresh start (not an upgrade's successor): a PIDFILE.oldbin naming a pid that no longer runs an
 * appd master was left by an interrupted upgrade (both masters killed); it is removed, and said so.
 * Anything but a pidfile there is left alone (pidfile.ts never touches it).
 */
export function clearStaleOldPidfile(pidfile: string, logger: Logger): void {
  const path = oldPidfilePath(pidfile);
  const content = inspectPidfile(path);
  if (content.kind !== 'pid') return;
  if (!isProcessAlive(content.pid)) {
    removeLogged(path, content.pid, `it named pid ${content.pid}, which is not running (left by an interrupted upgrade)`, logger);
  } else if (!isAppdMaster(content.pid)) {
    removeLogged(
      path,
      content.pid,
      `it named pid ${content.pid}, which is not an appd master (left by an interrupted upgrade; the pid was reused)`,
      logger,
    );
  }
}
