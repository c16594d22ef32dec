// The pidfile: refused if it names a live process, written atomically, removed only while it is ours.
// Run by the appd master.

import { readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { AlreadyRunningError, hasErrorCode } from '../../shared/errors.js';

export function readPid(path: string): number | null {
  try {
    const pid = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch (error) {
    if (hasErrorCode(error, 'ENOENT')) return null; // no pidfile yet
    throw error;
  }
}

export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else, which still means the pid is taken.
    return hasErrorCode(error, 'EPERM');
  }
}

/**
 * Throws if the pidfile names another live process; a stale one is overwritten by write(). A
 * successor master (upgrade) passes the old master's pid: that one is expected there.
 */
export function checkPidfile(path: string, expectedPid: number | null = null): void {
  const pid = readPid(path);
  if (pid !== null && pid !== process.pid && pid !== expectedPid && isProcessAlive(pid)) {
    throw new AlreadyRunningError(`pidfile ${path} names process ${pid}, which is running: is appd already running?`);
  }
}

export function writePidfile(path: string, pid: number = process.pid): void {
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, `${pid}\n`, { mode: 0o644 });
  try {
    renameSync(temporary, path);
  } catch (error) {
    unlinkSync(temporary); // the rename failed (the path is a directory, say): leave nothing behind
    throw error;
  }
}

/** Removes the pidfile if it still holds our pid (a successor master may have taken it over). */
export function removePidfile(path: string): void {
  if (readPid(path) !== process.pid) return;
  try {
    unlinkSync(path);
  } catch (error) {
    if (!hasErrorCode(error, 'ENOENT')) throw error; // removed by someone else meanwhile: fine
  }
}
