// Spawns one process of a command pool: any program, with the pool's listeners handed over the
// systemd way (fd 3.., LISTEN_FDS, LISTEN_PID, LISTEN_FDNAMES) and its output piped to the log.
// Run by the appd master.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Identity } from './identity.js';
import { workerEnvironment } from './worker-environment.js';
import type { Listener } from '../../sockets/listeners.js';
import type { PoolSettings } from '../../pools/pool.js';
import { poolDirectory } from './http-worker.js';

/** util-linux's setpriv: ties the process to the master's life (PR_SET_PDEATHSIG), which Node cannot do. */
const SETPRIV = '/usr/bin/setpriv';
/**
 * LISTEN_PID must be the pid of the process that uses the sockets, known only after fork; a POSIX
 * shell sets it to its own pid ($$) and execs the program, which keeps that pid.
 */
const SET_LISTEN_PID = 'LISTEN_PID=$$; export LISTEN_PID; exec "$@"';

export interface CommandIdentity {
  readonly slot: number;
  readonly generation: number;
}

/**
 * A socket's LISTEN_FDNAMES entry: its bound address, with "_" for ":" (the list separator), e.g.
 * 127.0.0.1_8002, [__1]_8002 or unix_/run/app.sock.
 */
export function fdName(listener: Listener): string {
  return listener.url.replace(/^https?:\/\//, '').replaceAll(':', '_');
}

export function canTieToMaster(): boolean {
  return existsSync(SETPRIV);
}

/** The argv actually executed: optional setpriv, optional LISTEN_PID shim, then the pool's command. */
export function commandArgv(settings: PoolSettings, listeners: readonly Listener[]): string[] {
  const command = [...(settings.command ?? []), ...settings.args];
  const withListenPid = listeners.length > 0 ? ['/bin/sh', '-c', SET_LISTEN_PID, 'appd-listen', ...command] : command;
  // Without an IPC channel nothing else tells a command that the master died (even by SIGKILL).
  return canTieToMaster() ? [SETPRIV, '--pdeathsig', 'SIGTERM', '--', ...withListenPid] : withListenPid;
}

export function spawnCommandWorker(
  settings: PoolSettings,
  who: CommandIdentity,
  listeners: readonly Listener[],
  identity: Identity | null,
  baseEnvironment: NodeJS.ProcessEnv,
): ChildProcess {
  const environment: NodeJS.ProcessEnv = {
    ...workerEnvironment(baseEnvironment, settings.envPassthrough, identity),
    ...settings.env,
    APPD_POOL: settings.name,
    APPD_SLOT: String(who.slot),
    APPD_GENERATION: String(who.generation),
  };
  if (listeners.length > 0) {
    environment['LISTEN_FDS'] = String(listeners.length);
    environment['LISTEN_FDNAMES'] = listeners.map(fdName).join(':');
  }
  const [program, ...args] = commandArgv(settings, listeners);
  return spawn(program ?? '', args, {
    ...poolDirectory(settings),
    stdio: ['ignore', 'pipe', 'pipe', ...listeners.map((listener) => listener.fd)],
    env: environment,
    ...(identity ? { uid: identity.uid, gid: identity.gid } : {}),
    // Its own session and process group (setpriv and the shim exec, keeping the pid): what it starts
    // is cleaned up with it (process-groups.ts), and the group keeper does so if the master dies.
    detached: true,
  });
}
