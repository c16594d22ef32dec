// Binds a unix listening socket with its mode, owner and group already set when its name appears:
// bound under a umask inside a private 0700 directory, chowned there, then renamed into place. Run by the appd master.
//
// chmod or chown by path after bind(2) raced: in a directory another user can write, the name could be
// swapped for a symlink in between and root would change the mode or owner of any file (issue 13).

import { chownSync, closeSync, constants, fstatSync, mkdtempSync, openSync, renameSync, rmdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { BindError, ConfigError, hasErrorCode } from '../../shared/errors.js';
import { unlinkIfPresent } from '../../shared/unlink-if-present.js';
import { unpredictableHex } from '../../shared/trust/unpredictable-name.js';
import { groupIdOf, userIdOf } from '../workers/spawn/identity.js';
import { BindFailure, bindUnixWithoutListening, type RawServerHandle } from './server-handle.js';

/** What the socket file should look like: `owner` and `group` are names or numbers, null to keep the master's. */
export interface UnixSocketFile {
  readonly mode: number;
  readonly owner: string | null;
  readonly group: string | null;
}

/** -1 leaves an id as it is (chown(2)'s convention). */
function resolveIds(file: UnixSocketFile, text: string): { uid: number; gid: number } | null {
  if (file.owner === null && file.group === null) return null;
  const uid = file.owner === null ? -1 : userIdOf(file.owner);
  if (uid === null) throw new ConfigError(`cannot listen on ${text}: unknown unix-socket-owner "${file.owner}"`);
  const gid = file.group === null ? -1 : groupIdOf(file.group);
  if (gid === null) throw new ConfigError(`cannot listen on ${text}: unknown unix-socket-group "${file.group}"`);
  return { uid, gid };
}

/**
 * Binds a socket that appears at `path` with `file`'s mode, owner and group, replacing a stale socket
 * there (the caller checked it is one). The private directory is reached through its descriptor
 * (/proc/self/fd/N/NAME), so no other process can swap any name on the way, and the path stays short
 * whatever the final one is. libuv unlinks the name it bound when the handle closes: that name is gone
 * by then and was never guessable; the caller removes the real path.
 */
export function bindUnixSocketFile(path: string, file: UnixSocketFile, text: string): RawServerHandle {
  const ids = resolveIds(file, text);
  let directory: string;
  try {
    directory = mkdtempSync(join(dirname(path), '.appd-bind-'));
  } catch (error) {
    // Worded by the caller like a failed bind(2) there would be ("the directory is not writable").
    if (hasErrorCode(error, 'EACCES', 'EPERM', 'EROFS', 'ENOENT')) throw new BindFailure((error as NodeJS.ErrnoException).code ?? 'EACCES');
    throw error;
  }
  let directoryFd = -1;
  try {
    directoryFd = openSync(directory, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
    const stats = fstatSync(directoryFd);
    // mkdtemp made it 0700 and ours; a different one under that name means someone swapped it.
    if (stats.uid !== process.geteuid?.() || (stats.mode & 0o077) !== 0)
      throw new BindError(
        `cannot listen on ${text}: ${directory} changed hands while binding; is another user writing in ${dirname(path)}?`,
      );
    const inner = `/proc/self/fd/${directoryFd}/${unpredictableHex(12)}`;
    // bind(2) creates the file with 0777 & ~umask: the mode is right from the start, no chmod.
    const previousUmask = process.umask(~file.mode & 0o777);
    let handle: RawServerHandle;
    try {
      handle = bindUnixWithoutListening(inner);
    } finally {
      process.umask(previousUmask);
    }
    try {
      if (ids) chownSync(inner, ids.uid, ids.gid);
      renameSync(inner, path);
    } catch (error) {
      handle.close();
      unlinkIfPresent(inner);
      if (hasErrorCode(error, 'EPERM'))
        throw new BindError(
          `cannot listen on ${text}: cannot give the socket to ${file.owner ?? ''}${file.group === null ? '' : `:${file.group}`} (operation not permitted; only root may give files away) [EPERM]`,
        );
      throw error;
    }
    return handle;
  } finally {
    if (directoryFd >= 0) closeSync(directoryFd);
    rmdirQuietly(directory);
  }
}

function rmdirQuietly(path: string): void {
  try {
    rmdirSync(path);
  } catch (error) {
    if (!hasErrorCode(error, 'ENOENT')) throw error; // already gone: what we wanted
  }
}
