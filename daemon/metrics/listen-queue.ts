// How many connections wait in each listening TCP socket's accept queue, read from /proc/net/tcp{,6} by
// socket inode (for a listening socket the kernel shows its accept queue as rx_queue; the limit is not
// there, it is the backlog capped by somaxconn), for /metrics and, read as a control client connects, for
// status. Unix sockets have no such figure in /proc. Run by the appd master.

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

/**
 * The tables, each with the bytes asked of it per read. The kernel generates a table as it is read:
 * after each line it looks for the next socket to show, and past the last listening socket that
 * means walking its whole connection table (every TIME_WAIT socket of the machine, for tcp6 every
 * IPv4 one too). tcp's lines are 150 bytes, padded by the kernel: reading one line at a time, that
 * walk happens only when a wanted socket is the last listener. tcp6's lines have no fixed width,
 * and a read that ends inside a line makes the kernel walk again for the rest: a page at a time.
 */
const TABLES = [
  { path: '/proc/self/net/tcp', readBytes: 150 },
  { path: '/proc/self/net/tcp6', readBytes: 4096 },
] as const;

/**
 * The LISTEN lines of /proc/net/tcp, then /proc/net/tcp6, for the socket inodes in `wanted`, by inode.
 * The kernel lists listening sockets first, then every other one (established, TIME_WAIT ...):
 * reading a table stops at its first line that is not LISTEN, and all reading stops as soon as
 * every wanted inode has its line. So tcp6, whose reading walks past every IPv4 socket of the
 * machine, is read only for an IPv6 listener: with 28,000 TIME_WAIT sockets (a busy machine, or
 * the bench's status row just after its throughput runs) that walk cost status 8-16 ms, measured.
 */
function listeningLines(wanted: ReadonlySet<string>): Map<string, string> {
  const found = new Map<string, string>();
  for (const { path, readBytes } of TABLES) {
    if (found.size === wanted.size) break;
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (error) {
      if (hasErrorCode(error, 'ENOENT')) continue; // no IPv6 in this kernel
      throw error;
    }
    try {
      readListeningLines(fd, readBytes, wanted, found);
    } finally {
      closeSync(fd);
    }
  }
  return found;
}

/** Reads one table's lines into `found` until its first line that is not LISTEN, or every wanted inode is found. */
function readListeningLines(fd: number, readBytes: number, wanted: ReadonlySet<string>, found: Map<string, string>): void {
  const buffer = Buffer.alloc(readBytes);
  let pending = '';
  let header = true;
  for (;;) {
    const read = readSync(fd, buffer, 0, readBytes, null);
    if (read === 0) return;
    const parts = (pending + buffer.toString('latin1', 0, read)).split('\n');
    pending = parts.pop() ?? '';
    for (const line of parts) {
      if (header) {
        header = false;
        continue;
      }
      // sl local rem st tx_queue:rx_queue tr:when retrnsmt uid timeout inode
      const fields = line.trim().split(/\s+/);
      if (fields[3] !== LISTEN_STATE) return;
      const inode = fields[9] ?? '';
      if (wanted.has(inode)) found.set(inode, line);
      if (found.size === wanted.size) return;
    }
  }
}

/** A burst of control clients connecting within this many ms shares one reading. */
const BURST_MS = 10;
/** How long a reading waits for the request of the client it was taken for; past it, status reads again. */
const READING_KEPT_MS = 1000;

/**
 * The accept queues that status snapshots show, read when a control client connects rather than when
 * its request arrives. Reading the table can be slow: after the last listening socket the kernel looks
 * for the next line through its whole connection hash table (262,144 buckets on this 24 GB machine:
 * 1.6-2 ms when they are nearly all empty, as on an idle host), and the master waits for it. Read as
 * the client connects, it overlaps the client's own work up to its request (about 1 ms for appctl).
 * Each reading serves one snapshot: the next one reads again, or takes the next client's reading.
 */
export class ListenQueueSampler {
  readonly #read: () => ListenQueue[];
  /** The monotonic clock, in ms. */
  readonly #now: () => number;
  /** Taken for a client that connected, until a snapshot uses it. */
  #reading: { readonly at: number; readonly queues: ListenQueue[] } | null = null;

  constructor(read: () => ListenQueue[], now: () => number) {
    this.#read = read;
    this.#now = now;
  }

  /** A control client connected: its request (a status, usually) follows in a moment. */
  prefetch(): void {
    if (this.#reading !== null && this.#now() - this.#reading.at <= BURST_MS) return;
    this.#reading = { at: this.#now(), queues: this.#read() };
  }

  /** The accept queues for one snapshot: the reading taken as its client connected, else read now. */
  current(): ListenQueue[] {
    const reading = this.#reading;
    this.#reading = null;
    return reading !== null && this.#now() - reading.at <= READING_KEPT_MS ? reading.queues : this.#read();
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
  for (const [inode, line] of listeningLines(new Set(wanted.keys()))) {
    const listener = wanted.get(inode);
    if (!listener) continue;
    const queued = (line.trim().split(/\s+/)[4] ?? '').split(':')[1] ?? '0';
    found.push({ bind: listenAddressText(listener), queued: parseInt(queued, 16), limit: Math.min(backlog(listener), somaxconn) });
  }
  return found;
}
