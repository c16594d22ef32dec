// How many connections wait in each listening TCP socket's accept queue, read from /proc/net/tcp{,6} by
// socket inode (for a listening socket the kernel shows its accept queue as rx_queue; the limit is not
// there, it is the backlog capped by somaxconn). Unix sockets have no such figure in /proc. Run by the appd master.

import { closeSync, openSync, readlinkSync, readSync } from 'node:fs';
import { hasErrorCode } from '../../shared/errors.js';
import type { Listener } from '../sockets/listeners.js';
import type { Supervisor } from '../workers/supervisor.js';
import { readProc } from './process-usage.js';

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

/** Bytes read from a /proc/net table at a time: a hundred lines or so. */
const CHUNK_BYTES = 16 * 1024;

/**
 * The LISTEN lines of a /proc/net/tcp table. The kernel lists listening sockets first, then every
 * other one (established, TIME_WAIT ...), and writes the text as it is read: reading stops at the
 * first line that is not LISTEN, so a busy server's ten thousand connections cost nothing (the
 * whole table of a thousand sockets took 8 ms, measured).
 */
function listeningLines(path: string): string[] {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    if (hasErrorCode(error, 'ENOENT')) return []; // no IPv6 in this kernel
    throw error;
  }
  const lines: string[] = [];
  try {
    const buffer = Buffer.alloc(CHUNK_BYTES);
    let pending = '';
    let header = true;
    for (;;) {
      const read = readSync(fd, buffer, 0, CHUNK_BYTES, null);
      if (read === 0) return lines;
      const parts = (pending + buffer.toString('latin1', 0, read)).split('\n');
      pending = parts.pop() ?? '';
      for (const line of parts) {
        if (header) {
          header = false;
          continue;
        }
        if (line.trim().split(/\s+/)[3] !== LISTEN_STATE) return lines;
        lines.push(line);
      }
    }
  } finally {
    closeSync(fd);
  }
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
    for (const line of listeningLines(file)) {
      const fields = line.trim().split(/\s+/);
      // sl local rem st tx_queue:rx_queue tr:when retrnsmt uid timeout inode
      const listener = wanted.get(fields[9] ?? '');
      if (!listener) continue;
      const queued = (fields[4] ?? '').split(':')[1] ?? '0';
      found.push({ bind: listenAddressText(listener), queued: parseInt(queued, 16), limit: Math.min(backlog(listener), somaxconn) });
    }
  }
  return found;
}
