// The control sockets appctl may talk to: the ones named NAME in the socket directories, and the sockets
// of one directory. Run by appctl: by find-daemon.ts as it connects, and by its bin, which starts a plain
// status's connections early (early-connection.ts).

import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { SOCKET_SUFFIX } from '../../shared/control/socket-path.js';
import { hasErrorCode } from '../../shared/errors.js';
import { checkSocketDirectory } from './socket-trust.js';

export function isSocket(path: string): boolean {
  try {
    return lstatSync(path).isSocket();
  } catch (error) {
    if (hasErrorCode(error, 'ENOENT', 'ENOTDIR', 'EACCES')) return false; // nothing usable there
    throw error;
  }
}

/** Where a daemon named `name` would have its socket, one path per socket directory, in their order. */
export function namedSockets(name: string, directories: readonly string[]): string[] {
  return directories.map((directory) => join(directory, `${name}${SOCKET_SUFFIX}`));
}

/** The daemons' sockets in `directory`; throws UntrustedPathError when it exists and someone else could write it. */
export function socketsIn(directory: string): string[] {
  // Reached only when no earlier directory had a live daemon: one planted by someone else is refused aloud.
  checkSocketDirectory(directory);
  try {
    return readdirSync(directory)
      .filter((entry) => entry.endsWith(SOCKET_SUFFIX) && !entry.startsWith('.'))
      .map((entry) => join(directory, entry))
      .filter(isSocket);
  } catch (error) {
    if (hasErrorCode(error, 'ENOENT', 'ENOTDIR', 'EACCES')) return []; // no daemon ever ran here
    throw error;
  }
}
