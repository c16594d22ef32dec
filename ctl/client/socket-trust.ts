// Whom appctl is about to talk to: a control socket counts only in a directory of the caller's or
// root's that no one else may write, and is reached through that directory's descriptor. Run by appctl.
//
// A socket in $TMPDIR/appd-0 that another user made first would otherwise answer root's `appctl stop`
// with whatever it likes (issue 13, attack 6).

import { closeSync, constants, fstatSync, lstatSync, openSync, type Stats } from 'node:fs';
import { basename, dirname } from 'node:path';
import { hasErrorCode } from '../../shared/errors.js';
import { UntrustedPathError } from '../../shared/trust/file-trust.js';

/** A socket that passed the check: connect to `connectPath` (through the held directory), then release(). */
export interface TrustedSocket {
  readonly path: string;
  readonly connectPath: string;
  release(): void;
}

function problemWith(what: string, path: string, stats: Stats, self: number): string | null {
  if (stats.uid !== self && stats.uid !== 0) return `the ${what} ${path} belongs to uid ${stats.uid}, not to you (uid ${self}) or root`;
  const mode = stats.mode & 0o7777;
  if ((mode & 0o022) !== 0) return `the ${what} ${path} may be written by group or others (mode ${mode.toString(8).padStart(4, '0')})`;
  return null;
}

function refuse(path: string, problem: string): never {
  throw new UntrustedPathError(`refusing the control socket ${path}: ${problem}, so someone else could stand in for the daemon there`);
}

/**
 * Checks the socket's directory (as opened: owner the caller or root, not writable by group or
 * others) and the socket in it (likewise), holding the directory open so that the connect goes to
 * the entry that was checked even if someone renames directories above it meanwhile. Returns null
 * when the directory does not exist (nothing there to trust or refuse).
 */
export function trustSocket(path: string, self: number = process.geteuid?.() ?? 0): TrustedSocket | null {
  const directory = dirname(path);
  let directoryFd: number;
  try {
    directoryFd = openSync(directory, constants.O_RDONLY | constants.O_DIRECTORY);
  } catch (error) {
    if (hasErrorCode(error, 'ENOENT', 'ENOTDIR')) return null; // no daemon ever ran here
    throw error;
  }
  try {
    const directoryProblem = problemWith('socket directory', directory, fstatSync(directoryFd), self);
    if (directoryProblem !== null) refuse(path, directoryProblem);
    const connectPath = `/proc/self/fd/${directoryFd}/${basename(path)}`;
    let socketStats: Stats;
    try {
      socketStats = lstatSync(connectPath);
    } catch (error) {
      // No such socket: the caller reports it as "no daemon there", as before.
      if (hasErrorCode(error, 'ENOENT')) return { path, connectPath: path, release: () => closeSync(directoryFd) };
      throw error;
    }
    if (!socketStats.isSocket()) refuse(path, 'it is not a socket');
    const socketProblem = problemWith('socket', path, socketStats, self);
    if (socketProblem !== null) refuse(path, socketProblem);
    return { path, connectPath, release: () => closeSync(directoryFd) };
  } catch (error) {
    closeSync(directoryFd);
    throw error;
  }
}

/** Like trustSocket, for a directory appctl is about to list: throws if it exists and is not trustworthy. */
export function checkSocketDirectory(directory: string, self: number = process.geteuid?.() ?? 0): boolean {
  let stats: Stats;
  try {
    stats = lstatSync(directory);
  } catch (error) {
    if (hasErrorCode(error, 'ENOENT', 'ENOTDIR')) return false; // no daemon ever ran here
    throw error;
  }
  if (!stats.isDirectory()) refuse(directory, 'it is not a directory');
  const problem = problemWith('socket directory', directory, stats, self);
  if (problem !== null) refuse(directory, problem);
  return true;
}
