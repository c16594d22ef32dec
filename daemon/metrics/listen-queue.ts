// How many connections wait in each listening TCP socket's accept queue, read from /proc/net/tcp{,6} by
// socket inode (for a listening socket the kernel shows its accept queue as rx_queue; the limit is not
// there, it is the backlog capped by somaxconn). Unix sockets have no such figure in /proc. Run by the appd master.

import { readlinkSync } from 'node:fs';
import { hasErrorCode } from '../../shared/errors.js';
import type { Listener } from '../sockets/listeners.js';
import type { Supervisor } from '../workers/supervisor.js';
import { readProc } from '../workers/process-usage.js';

export interface ListenQueue {
  /** "127.0.0.1:8000", "[::1]:8000". */
  readonly bind: string;
  readonly queued: number;
  /** The queue's length limit: the listen() backlog, capped by net.core.somaxconn. */
  readonly limit: number;
}

/** The backlog a listener's sockets get: its pool's (the web pool's in the single-app form). */
export function backlogOf(listener: Listener, supervisor: Supervisor, fallback: number): number {
  const pool = listener.pool === null ? supervisor.pools.get('web') : supervisor.pools.get(listener.pool);
  return pool?.settings.backlog ?? fallback;
}

const LISTEN_STATE = '0A';

function socketInode(fd: number): string | null {
  try {
    return /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`))?.[1] ?? null;
  } catch (error) {
    if (hasErrorCode(error, 'ENOENT', 'EBADF')) return null; // closed by a reload a moment ago
    throw error;
  }
}

export function listenAddressText(listener: Listener): string {
  const { address } = listener;
  if (address.kind === 'unix') return `unix:${address.path}`;
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

/** The accept queue of every TCP listener; unix listeners are left out (Linux shows no queue for them in /proc). */
export function readListenQueues(listeners: readonly Listener[], backlog: (listener: Listener) => number): ListenQueue[] {
  const somaxconn = Number(readProc('/proc/sys/net/core/somaxconn') ?? Infinity);
  const wanted = new Map<string, Listener>();
  for (const listener of listeners) {
    if (listener.address.kind !== 'tcp') continue;
    const inode = socketInode(listener.fd);
    if (inode !== null) wanted.set(inode, listener);
  }
  if (wanted.size === 0) return [];
  const found: ListenQueue[] = [];
  for (const file of ['/proc/self/net/tcp', '/proc/self/net/tcp6']) {
    const table = readProc(file);
    if (table === null) continue;
    for (const line of table.split('\n')) {
      const fields = line.trim().split(/\s+/);
      // sl local rem st tx_queue:rx_queue tr:when retrnsmt uid timeout inode
      if (fields[3] !== LISTEN_STATE) continue;
      const listener = wanted.get(fields[9] ?? '');
      if (!listener) continue;
      const queued = (fields[4] ?? '').split(':')[1] ?? '0';
      found.push({ bind: listenAddressText(listener), queued: parseInt(queued, 16), limit: Math.min(backlog(listener), somaxconn) });
    }
  }
  return found;
}
