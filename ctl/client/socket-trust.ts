// Whom appctl is about to talk to: a control socket counts only in a directory of the caller's or
// root's that no one else may write, and is reached through that directory's descriptor. Run by appctl.
//
// A socket in $TMPDIR/appd-0 that another user made first would otherwise answer root's `appctl stop`
// with whatever it likes (issue 13, attack 6).
//
// A directory of another user counts too when root handed it to that user: it sits in a directory of
// root's that no one else may write (systemd's RuntimeDirectory=appd with User=appd gives /run/appd to
// the service's user), so only root could have made it theirs; then root's `appctl -n shop` talks to
// the daemon root chose to run as that user, and the socket must be that user's or root's.

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

function problemWith(what: string, path: string, stats: Stats, self: number, delegatedTo: number | null = null): string | null {
  if (stats.uid !== self && stats.uid !== 0 && stats.uid !== delegatedTo)
    return `the ${what} ${path} belongs to uid ${stats.uid}, not to you (uid ${self}) or root`;
  const mode = stats.mode & 0o7777;
  if ((mode & 0o022) !== 0) return `the ${what} ${path} may be written by group or others (mode ${mode.toString(8).padStart(4, '0')})`;
  return null;
}

function refuse(path: string, problem: string): never {
  throw new UntrustedPathError(`refusing the control socket ${path}: ${problem}, so someone else could stand in for the daemon there`);
}

/**
 * The owner of the directory held by `directoryFd` when root handed it over: its parent (as found by
 * `path`) is root's and not writable by group or others, and still holds this very directory (same
 * device and inode, so no rename in between); else null.
 */
function delegatedOwner(path: string, directory: Stats): number | null {
  if (directory.uid === 0) return null;
  let parentFd: number;
  try {
    parentFd = openSync(dirname(path), constants.O_RDONLY | constants.O_DIRECTORY);
  } catch (error) {
    if (hasErrorCode(error, 'ENOENT', 'ENOTDIR', 'EACCES')) return null; // no parent to vouch for it
    throw error;
  }
  try {
    const parent = fstatSync(parentFd);
    if (parent.uid !== 0 || (parent.mode & 0o022) !== 0) return null;
    const child = lstatSync(`/proc/self/fd/${parentFd}/${basename(path)}`);
    return child.dev === directory.dev && child.ino === directory.ino ? directory.uid : null;
  } catch (error) {
    if (hasErrorCode(error, 'ENOENT')) return null; // renamed away meanwhile
    throw error;
  } finally {
    closeSync(parentFd);
  }
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
    const directoryStats = fstatSync(directoryFd);
    const delegatedTo = directoryStats.uid === self ? null : delegatedOwner(directory, directoryStats);
    const directoryProblem = problemWith('socket directory', directory, directoryStats, self, delegatedTo);
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
    const socketProblem = problemWith('socket', path, socketStats, self, delegatedTo);
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
  const problem = problemWith('socket directory', directory, stats, self, stats.uid === self ? null : delegatedOwner(directory, stats));
  if (problem !== null) refuse(directory, problem);
  return true;
}
