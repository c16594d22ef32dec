// The pidfile: refused if it names a live process or holds anything but a pid, written through an
// unpredictable temp file and a rename, never through a symlink; removed only while it is ours. Run by the appd master.

import { closeSync, constants, fstatSync, openSync, readSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { AlreadyRunningError, ConfigError, hasErrorCode } from '../../shared/errors.js';
import { unpredictableHex } from '../../shared/trust/unpredictable-name.js';

/** A pid is at most 7 digits on Linux (pid_max 4194304); a longer file is not a pidfile. */
const MAX_PIDFILE_BYTES = 32;

/** What a pidfile path holds; "other" (a symlink, a directory, text that is not a pid) is never touched. */
export type PidfileContent =
  { readonly kind: 'absent' } | { readonly kind: 'pid'; readonly pid: number } | { readonly kind: 'other'; readonly what: string };

/**
 * Reads the path without following a symlink at its end (O_NOFOLLOW) and without blocking on a FIFO
 * (O_NONBLOCK): a path another user planted cannot make the master read, or later write or delete,
 * a file it points to.
 */
export function inspectPidfile(path: string): PidfileContent {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    if (hasErrorCode(error, 'ENOENT')) return { kind: 'absent' };
    if (hasErrorCode(error, 'ELOOP')) return { kind: 'other', what: 'it is a symbolic link' };
    throw error;
  }
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) return { kind: 'other', what: 'it is not a regular file' };
    if (stats.size > MAX_PIDFILE_BYTES) return { kind: 'other', what: `it holds ${stats.size} bytes, not a pid` };
    const buffer = Buffer.alloc(MAX_PIDFILE_BYTES);
    const text = buffer.subarray(0, readSync(fd, buffer, 0, MAX_PIDFILE_BYTES, 0)).toString('latin1');
    const pid = /^\s*(\d{1,9})\s*$/.exec(text) ? Number(text.trim()) : NaN;
    return Number.isInteger(pid) && pid > 0
      ? { kind: 'pid', pid }
      : { kind: 'other', what: text.trim() === '' ? 'it is empty' : 'it holds something other than a pid' };
  } finally {
    closeSync(fd);
  }
}

/** The pid a pidfile names; null when there is none or the path holds something else. */
export function readPid(path: string): number | null {
  const content = inspectPidfile(path);
  return content.kind === 'pid' ? content.pid : null;
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
 * Throws if the pidfile names another live process, or if the path holds anything but a pidfile (it
 * would be replaced now and deleted on stop). A stale one is replaced by write(). A successor master
 * (upgrade) passes the old master's pid: that one is expected there.
 */
export function checkPidfile(path: string, expectedPid: number | null = null): void {
  const content = inspectPidfile(path);
  if (content.kind === 'other') {
    throw new ConfigError(
      `pidfile ${path} exists and is not a pidfile (${content.what}); refusing to replace it: remove it or choose another path`,
    );
  }
  if (content.kind === 'pid' && content.pid !== process.pid && content.pid !== expectedPid && isProcessAlive(content.pid)) {
    throw new AlreadyRunningError(`pidfile ${path} names process ${content.pid}, which is running: is appd already running?`);
  }
}

/**
 * Writes a new file under an unpredictable name (O_CREAT|O_EXCL|O_NOFOLLOW: a name planted in advance
 * fails the open, it is never written through) and renames it over the path, which replaces the
 * directory entry itself, never a file a symlink there points to.
 */
export function writePidfile(path: string, pid: number = process.pid): void {
  const temporary = join(dirname(path), `.${basename(path)}.${unpredictableHex(12)}.tmp`);
  const fd = openSync(temporary, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
  try {
    writeSync(fd, `${pid}\n`);
  } finally {
    closeSync(fd);
  }
  try {
    renameSync(temporary, path);
  } catch (error) {
    unlinkSync(temporary); // the rename failed (the path is a directory, say): leave nothing behind
    throw error;
  }
}

/**
 * Removes the pidfile if it still holds `pid`, ours by default (a successor master may have taken it
 * over); a new master passes the old master's pid for PIDFILE.oldbin once that one is gone.
 */
export function removePidfile(path: string, pid: number = process.pid): void {
  if (readPid(path) !== pid) return;
  try {
    unlinkSync(path);
  } catch (error) {
    if (!hasErrorCode(error, 'ENOENT')) throw error; // removed by someone else meanwhile: fine
  }
}
