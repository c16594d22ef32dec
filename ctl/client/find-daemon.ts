// Finds the daemon appctl should talk to: -s PATH, else $APPD_SOCKET, else -n NAME in the socket
// directories, else the only daemon running (several: list them and ask for -n). Run by appctl.

import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { candidateControlDirectories, SOCKET_SUFFIX, type PathContext } from '../../shared/control/socket-path.js';
import { hasErrorCode } from '../../shared/errors.js';
import { ControlClient, type ConnectOptions } from './connection.js';
import { NoDaemonError, UsageError } from './errors.js';
import { checkSocketDirectory } from './socket-trust.js';
import { UntrustedPathError } from '../../shared/trust/file-trust.js';

export interface DaemonChoice {
  readonly name?: string | undefined;
  readonly socket?: string | undefined;
}

function isSocket(path: string): boolean {
  try {
    return lstatSync(path).isSocket();
  } catch (error) {
    if (hasErrorCode(error, 'ENOENT', 'ENOTDIR', 'EACCES')) return false; // nothing usable there
    throw error;
  }
}

function socketsIn(directory: string): string[] {
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

/**
 * Connects to every socket found; stale ones (their daemon died) are skipped, other failures reported to
 * `notStale`. `request` goes with the hello only where there is one socket: it is for the daemon chosen.
 */
async function liveDaemons(
  paths: readonly string[],
  options: ConnectOptions,
  notStale: (error: Error) => void = () => undefined,
): Promise<ControlClient[]> {
  const each = { ...options, request: paths.length === 1 ? options.request : undefined };
  const attempts = await Promise.allSettled(paths.map((path) => ControlClient.connect(path, each)));
  for (const attempt of attempts) {
    // Something is there but failed (closed before its hello, permission denied): told to the caller.
    if (attempt.status === 'rejected' && attempt.reason instanceof Error && !(attempt.reason instanceof NoDaemonError))
      notStale(attempt.reason);
  }
  const clients = attempts.flatMap((attempt) => (attempt.status === 'fulfilled' ? [attempt.value] : []));
  // A socket that failed the trust check is not "stale": say so, rather than "no daemon".
  const refused = attempts.find(
    (attempt): attempt is PromiseRejectedResult => attempt.status === 'rejected' && attempt.reason instanceof UntrustedPathError,
  );
  if (refused && clients.length === 0) throw refused.reason;
  return clients;
}

/**
 * Returns a connected client, or throws NoDaemonError (exit 3) / UsageError (exit 2) saying what to do.
 * `options.request`, when the daemon is known before connecting, is sent with the hello (ControlClient.connect).
 */
export async function connectToDaemon(choice: DaemonChoice, context: PathContext, options: ConnectOptions = {}): Promise<ControlClient> {
  const explicit = choice.socket ?? context.environment['APPD_SOCKET'];
  if (explicit) return ControlClient.connect(explicit, options);
  const directories = candidateControlDirectories(context);
  if (choice.name !== undefined) {
    const candidates = directories.map((directory) => join(directory, `${choice.name}${SOCKET_SUFFIX}`));
    const existing = candidates.filter(isSocket);
    let notStale: Error | undefined;
    const [client, ...others] = await liveDaemons(existing, options, (error) => (notStale ??= error));
    for (const other of others) other.close();
    if (client) return client;
    // A socket where something answered and then failed (closed before its hello, permission denied)
    // is not stale: say what happened.
    if (notStale) throw notStale;
    const stale = existing.length > 0 ? ` (${existing.join(', ')} is stale: its daemon is gone)` : '';
    throw new NoDaemonError(
      `no appd running with name '${choice.name}' (looked in ${candidates.join(', ')})${stale}; start one with appd or pass -s`,
    );
  }
  // The default directory first; the others only if it has no live daemon, so the daemons of this
  // shell's own environment are never mixed up with a system service's.
  let clients: ControlClient[] = [];
  for (const directory of directories) {
    clients = await liveDaemons(socketsIn(directory), options);
    if (clients.length > 0) break;
  }
  const [only, ...more] = clients;
  if (!only) {
    throw new NoDaemonError(`no appd running (looked in ${directories.join(', ')}); start one with appd, or pass -n NAME or -s SOCKET`);
  }
  if (more.length === 0) return only;
  const listing = clients.map((client) => `  ${client.daemon.name.padEnd(20)} pid ${client.daemon.pid}  ${client.path}`).join('\n');
  for (const client of clients) client.close();
  throw new UsageError(`${clients.length} appd daemons are running; say which with -n NAME:\n${listing}`);
}
