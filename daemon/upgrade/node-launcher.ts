// Which Node binary a successor master (upgrade) is started with: the one this master was started by,
// as it was named, so that a Node installed behind the same name is picked up. Run by the appd master.
//
// process.execPath has symlinks resolved (/usr/local/bin/node -> .../v20/bin/node gives the v20 path),
// so after the symlink moved to v22 it would start the old Node again. argv0 is what the user (or
// `#!/usr/bin/env node`) ran: a path, or a name looked up in PATH now, when the upgrade happens.

import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import { hasErrorCode } from '../../shared/errors.js';
import { refuseUntrusted } from '../../shared/trust/file-trust.js';

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch (error) {
    if (hasErrorCode(error, 'ENOENT', 'EACCES', 'ENOTDIR', 'ELOOP')) return false; // not usable: fall back
    throw error;
  }
}

/**
 * `inherited` is what this master's own predecessor used (a successor's argv0 is padded for its
 * title and names nothing). `directory` is where relative paths were given from.
 */
export function nodeLauncher(
  argv0: string,
  inherited: string | null,
  pathVariable: string | undefined,
  directory: string,
  execPath: string,
): string {
  if (inherited !== null && executable(inherited)) return inherited;
  if (argv0.includes('/')) {
    const path = isAbsolute(argv0) ? argv0 : resolve(directory, argv0);
    return executable(path) ? path : execPath;
  }
  if (!/^[\w.+-]+$/.test(argv0)) return execPath;
  for (const entry of (pathVariable ?? '').split(delimiter)) {
    if (entry === '') continue;
    const candidate = join(resolve(directory, entry), argv0);
    if (executable(candidate)) return candidate;
  }
  return execPath;
}

/**
 * Throws UntrustedPathError unless the Node binary and the appd script a successor master would run
 * (as this master's uid, often root) can be changed only by root or that uid: a name looked up in PATH
 * again at upgrade time may find a `node` someone else dropped in node_modules/.bin.
 */
export function refuseUntrustedSuccessor(node: string, script: string): void {
  refuseUntrusted('the Node binary for the new master', node);
  refuseUntrusted('the appd script for the new master', script);
}
