// The control socket on disk: a 0700 directory, a 0600 socket, one daemon per path (a live one is
// named with its pid, a stale one replaced), removed on exit only while it is still ours. Run by the appd master.

import { linkSync, lstatSync, mkdirSync, renameSync, unlinkSync, type Stats } from 'node:fs';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { UNIX_PATH_MAX_BYTES } from '../../shared/bind-address.js';
import { encodeFrame, FrameDecoder } from '../../shared/control/frame-codec.js';
import { parseServerMessage } from '../../shared/control/message-guards.js';
import { PROTOCOL_VERSION, type DaemonIdentity } from '../../shared/control/protocol.js';
import { AlreadyRunningError, ConfigError, hasErrorCode } from '../../shared/errors.js';
import { unlinkIfPresent } from '../../shared/unlink-if-present.js';

/** Connections the kernel queues before the master accepts them (capped by net.core.somaxconn). */
const CONTROL_BACKLOG = 1024;
/** How long a probe waits for the daemon behind an existing socket to say who it is. */
const PROBE_TIMEOUT_MS = 2000;

export type SocketProbe =
  | { readonly state: 'absent' }
  | { readonly state: 'stale' }
  /** `daemon` is null when something accepted the connection but did not answer like appd. */
  | { readonly state: 'live'; readonly daemon: DaemonIdentity | null };

function lstatOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch (error) {
    if (hasErrorCode(error, 'ENOENT')) return null;
    throw error;
  }
}

/** Asks whatever listens on `path` who it is: a hello, answered by a welcome naming name and pid. */
export function probeControlSocket(path: string): Promise<SocketProbe> {
  const existing = lstatOrNull(path);
  if (existing === null) return Promise.resolve({ state: 'absent' });
  if (!existing.isSocket()) throw new ConfigError(`control socket path ${path} exists and is not a socket; refusing to replace it`);
  return new Promise((settle) => {
    const socket = net.createConnection(path);
    const decoder = new FrameDecoder();
    const finish = (probe: SocketProbe): void => {
      clearTimeout(timer);
      socket.destroy();
      settle(probe);
    };
    const timer = setTimeout(() => finish({ state: 'live', daemon: null }), PROBE_TIMEOUT_MS);
    socket.on('connect', () =>
      socket.write(encodeFrame({ type: 'hello', protocol: PROTOCOL_VERSION, client: 'appd (startup check)', pid: process.pid })),
    );
    socket.on('data', (chunk) => {
      try {
        for (const raw of decoder.push(chunk)) {
          const message = parseServerMessage(raw);
          return finish({ state: 'live', daemon: message.type === 'welcome' ? message.daemon : null });
        }
      } catch {
        // Not an appd speaking our protocol; it is alive all the same and must not be replaced.
        finish({ state: 'live', daemon: null });
      }
    });
    socket.on('error', (error) => {
      if (hasErrorCode(error, 'ENOENT'))
        finish({ state: 'absent' }); // removed since the lstat
      else if (hasErrorCode(error, 'ECONNREFUSED'))
        finish({ state: 'stale' }); // a socket file nobody listens on
      else finish({ state: 'live', daemon: null }); // EAGAIN (backlog full), EACCES: somebody is there
    });
    socket.on('close', () => finish({ state: 'live', daemon: null }));
  });
}

/**
 * Refuses to start when a live daemon owns the path: the message names its pid. A successor master
 * (upgrade) expects its old master there (`expectedPid`), and only that one.
 */
export async function refuseIfRunning(
  path: string,
  name: string,
  expectedPid: number | null = null,
  nameOrigin = '',
): Promise<SocketProbe> {
  const probe = await probeControlSocket(path);
  if (probe.state !== 'live' || (expectedPid !== null && probe.daemon?.pid === expectedPid)) return probe;
  const who = probe.daemon ? `appd "${probe.daemon.name}" (pid ${probe.daemon.pid})` : 'another process';
  const origin = nameOrigin === '' ? '' : ` (this one is named "${name}" ${nameOrigin})`;
  throw new AlreadyRunningError(
    `${who} is already running on control socket ${path}; stop it (appctl -n ${name} stop), or give this one another name with --name NAME or name: 'NAME' in its config file${origin}, or another --control-socket`,
  );
}

/**
 * Creates the socket's directory with mode 0700 if it is missing. Default or configured, it must be
 * a directory of the master's uid that neither group nor others may write: anyone who can write
 * there can replace the socket with their own (appctl would talk to them) or race our renames. One
 * planted in /tmp by another user is refused, as is a shared one; nothing is chmodded by path.
 */
export function prepareControlDirectory(path: string, isDefault: boolean): void {
  checkPathLength(path);
  const directory = dirname(path);
  mkdirSync(directory, { recursive: true, mode: 0o700 });
  const stat = lstatSync(directory);
  const uid = process.geteuid?.() ?? 0;
  const fix = isDefault ? 'remove it' : 'choose a directory of your own';
  if (!stat.isDirectory()) {
    throw new ConfigError(
      `control socket directory ${directory} is not a directory (a symbolic link?); refusing to use it (${fix}, or set --control-socket)`,
    );
  }
  if (stat.uid !== uid) {
    throw new ConfigError(
      `control socket directory ${directory} is owned by uid ${stat.uid}, not by uid ${uid} running appd; refusing to use it (${fix}, or set --control-socket)`,
    );
  }
  if ((stat.mode & 0o022) !== 0) {
    const mode = (stat.mode & 0o7777).toString(8).padStart(4, '0');
    throw new ConfigError(
      `control socket directory ${directory} is writable by group or others (mode ${mode}); refusing to use it (chmod go-w ${directory}, or set --control-socket)`,
    );
  }
}

function checkPathLength(path: string): void {
  if (Buffer.byteLength(path) > UNIX_PATH_MAX_BYTES) {
    throw new ConfigError(
      `control socket path ${path} is longer than the ${UNIX_PATH_MAX_BYTES} bytes Linux allows; set a shorter --control-socket`,
    );
  }
}

function listen(server: net.Server, path: string): Promise<void> {
  return new Promise((settle, fail) => {
    server.once('error', fail);
    // The umask covers the bind(2) inside listen(), which runs synchronously: the socket is 0600 from
    // its first moment, never connectable by others.
    const previousUmask = process.umask(0o177);
    try {
      server.listen({ path, backlog: CONTROL_BACKLOG }, () => {
        server.off('error', fail);
        settle();
      });
    } finally {
      process.umask(previousUmask);
    }
  });
}

/**
 * Binds `server` at `path` atomically: it listens on a private temporary name first, then link(2)
 * puts it at `path` only if nothing is there, so of two daemons starting at once exactly one wins.
 * An existing stale socket is replaced by rename(2). Returns the socket's inode (see removeControlSocket).
 */
export async function bindControlSocket(server: net.Server, path: string, name: string, onStaleReplaced: () => void): Promise<number> {
  const temporary = await listenAtTemporaryPath(server, path);
  try {
    try {
      linkSync(temporary, path);
      unlinkSync(temporary);
    } catch (error) {
      if (!hasErrorCode(error, 'EEXIST')) throw error;
      // Someone is there: a live daemon (started since our first check) or a stale socket file.
      await refuseIfRunning(path, name);
      renameSync(temporary, path);
      onStaleReplaced();
    }
    return lstatSync(path).ino;
  } catch (error) {
    server.close();
    unlinkIfPresent(temporary);
    throw error;
  }
}

/** Listens at this process's private name next to `path` (mode 0600); `path` itself is not touched. */
async function listenAtTemporaryPath(server: net.Server, path: string): Promise<string> {
  const temporary = join(dirname(path), `.appd-${process.pid}.new`);
  checkPathLength(path);
  checkPathLength(temporary);
  unlinkIfPresent(temporary);
  // Born 0600 under the umask in listen(); no chmod by path after (the name could be swapped in between).
  await listen(server, temporary);
  return temporary;
}

/**
 * A successor master (upgrade) listens at its private name while the old master still answers at
 * `path` (appctl finds no dot-file); takeOverControlSocket moves it over `path` once it is ready.
 */
export async function bindStandbyControlSocket(server: net.Server, path: string): Promise<{ temporary: string; inode: number }> {
  const temporary = await listenAtTemporaryPath(server, path);
  return { temporary, inode: lstatSync(temporary).ino };
}

/** rename(2) replaces the old master's socket atomically: a client connects to one master or the other, never to nothing. */
export function takeOverControlSocket(temporary: string, path: string): void {
  renameSync(temporary, path);
}

/** Removes the socket only if the path is still our inode: after an upgrade it is the successor's. */
export function removeControlSocket(path: string, inode: number): void {
  if (lstatOrNull(path)?.ino === inode) unlinkIfPresent(path);
}
