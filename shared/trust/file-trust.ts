// sshd's StrictModes rule for files whose content runs as the master: the file and every directory
// above it may be written only by root or the master's own uid. Run by the appd master (config file,
// the Node and script an upgrade starts) and by appctl (the control socket it is about to trust).

import { lstatSync, realpathSync, type Stats } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { AppdError, EXIT, describeFileError } from '../errors.js';

/** A file the master would execute, or a socket appctl would talk to, that someone else could replace. */
export class UntrustedPathError extends AppdError {
  constructor(message: string) {
    super(message, EXIT.usage);
  }
}

const STICKY = 0o1000;
const GROUP_WRITE = 0o020;
const OTHER_WRITE = 0o002;

function trustedOwner(uid: number, self: number): boolean {
  return uid === 0 || uid === self;
}

/** What is wrong with one component of a path (the file or a directory above it), or null. */
function componentProblem(path: string, stats: Stats, self: number): string | null {
  if (!trustedOwner(stats.uid, self)) {
    return `${path} is owned by uid ${stats.uid}, not by root${self === 0 ? '' : ` or uid ${self}`} (fix: chown ${self === 0 ? 'root' : self} ${path})`;
  }
  // A symlink's own mode means nothing; its target is checked through the real path.
  if (stats.isSymbolicLink()) return null;
  // A sticky directory (/tmp) lets others create entries but not replace ours: our entry is checked next.
  if (stats.isDirectory() && (stats.mode & STICKY) !== 0) return null;
  const mode = stats.mode & 0o7777;
  if ((mode & (GROUP_WRITE | OTHER_WRITE)) !== 0) {
    const who = (mode & OTHER_WRITE) !== 0 ? 'every user' : `group ${stats.gid}`;
    return `${path} is writable by ${who} (mode ${mode.toString(8).padStart(4, '0')}; fix: chmod go-w ${path})`;
  }
  return null;
}

function chainProblem(start: string, self: number): string | null {
  for (let current = start; ; current = dirname(current)) {
    let stats: Stats;
    try {
      stats = lstatSync(current);
    } catch (error) {
      return `cannot check ${current}: ${describeFileError(error)}`;
    }
    const problem = componentProblem(current, stats, self);
    if (problem !== null) return problem;
    if (current === '/') return null;
  }
}

/**
 * Why `path` is not safe to execute as uid `self` (or to trust as its control socket), or null when it
 * is: every component of the path as named, and of its real path when symlinks lead elsewhere, is
 * owned by root or `self` and not writable by group or others (a sticky directory is allowed).
 */
export function untrustedReason(path: string, self: number = process.getuid?.() ?? 0): string | null {
  const absolute = resolve(path);
  const named = chainProblem(absolute, self);
  if (named !== null) return named;
  let real: string;
  try {
    real = realpathSync(absolute);
  } catch (error) {
    return `cannot resolve ${absolute}: ${describeFileError(error)}`;
  }
  return real === absolute ? null : chainProblem(real, self);
}

/** Throws UntrustedPathError "`what` PATH refused: REASON" unless untrustedReason finds nothing. */
export function refuseUntrusted(what: string, path: string, self?: number): void {
  const reason = untrustedReason(path, self);
  if (reason !== null)
    throw new UntrustedPathError(`${what} ${path} refused: ${reason}; only root or the user running appd may be able to change it`);
}
