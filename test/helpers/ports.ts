// Which TCP ports a set of processes listen on, and which client ports a process is connected to, from
// /proc (their socket descriptors matched against the kernel's TCP tables). Runs in the ava test process.

import { execFile } from 'node:child_process';
import net from 'node:net';
import { promisify } from 'node:util';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { hasErrorCode } from '../../shared/errors.js';

function socketInodes(pid: number): Set<string> {
  const inodes = new Set<string>();
  let descriptors: string[];
  try {
    descriptors = readdirSync(`/proc/${pid}/fd`);
  } catch (error) {
    if (hasErrorCode(error, 'ENOENT', 'ESRCH')) return inodes; // the process is gone: it listens on nothing
    throw error;
  }
  for (const descriptor of descriptors) {
    try {
      const inode = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${descriptor}`))?.[1];
      if (inode) inodes.add(inode);
    } catch (error) {
      if (!hasErrorCode(error, 'ENOENT')) throw error; // closed between readdir and readlink
    }
  }
  return inodes;
}

const LISTEN_STATE = '0A';

/** Sorted distinct TCP (v4 and v6) ports in LISTEN state held by any of `pids`. */
export function findListeningPorts(pids: readonly number[]): number[] {
  const inodes = new Set(pids.flatMap((pid) => [...socketInodes(pid)]));
  const ports = new Set<number>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      const [, local, , state, , , , , , inode] = fields;
      if (state === LISTEN_STATE && inode && inodes.has(inode) && local) ports.add(parseInt(local.split(':')[1] ?? '0', 16));
    }
  }
  return [...ports].sort((left, right) => left - right);
}

/**
 * The peer ports of the established TCP connections a process holds on local port `port`: for a server
 * worker, the client ports of the connections it accepted. Read while the process is stopped (SIGSTOP),
 * it is exact. Asks the kernel through ss (inet_diag, filtered by port), off the event loop: /proc/net/tcp
 * lists every TIME_WAIT of a busy test machine and takes a fifth of a second to read.
 */
export async function establishedPeerPorts(pid: number, port: number): Promise<Set<number>> {
  const inodes = socketInodes(pid);
  const ports = new Set<number>();
  const { stdout: listing } = await promisify(execFile)('ss', ['-tnHe', 'state', 'established', `( sport = :${port} )`], {
    encoding: 'utf8',
  });
  for (const line of listing.split('\n')) {
    const inode = /\bino:(\d+)/.exec(line)?.[1];
    if (!inode || !inodes.has(inode)) continue;
    // "LOCAL:PORT PEER:PORT" are the first two address-looking fields ([::ffff:127.0.0.1]:5000 included).
    const peer = line.split(/\s+/).filter((field) => /^\S+:\d+$/.test(field))[1];
    if (peer) ports.add(Number(peer.slice(peer.lastIndexOf(':') + 1)));
  }
  return ports;
}

/**
 * Ports freePort() has handed out in this test process. Race guarded: the kernel may give a port just
 * closed to the very next listen(0), so two calls in a row returned the same port (the PM2 test's two
 * apps then collided: EADDRINUSE).
 */
const handedOut = new Set<number>();

/** A TCP port free right now, for tools that cannot bind port 0 themselves (systemd-socket-activate). */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt += 1) {
    const server = net.createServer();
    await new Promise<void>((settle) => server.listen(0, '127.0.0.1', settle));
    const { port } = server.address() as net.AddressInfo;
    await new Promise((settle) => server.close(settle));
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error('the kernel gave only ports this test process had already handed out, 100 times');
}

/** The first of `count` consecutive TCP ports free right now (slot-bind gives slot N port + N). */
export async function freeConsecutivePorts(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const first = await freePort();
    if (first + count > 65535) continue;
    const held: net.Server[] = [];
    try {
      for (let port = first; port < first + count; port += 1) {
        const server = net.createServer();
        await new Promise<void>((settle, fail) => {
          server.once('error', fail);
          server.listen(port, '127.0.0.1', settle);
        });
        held.push(server);
      }
      return first;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error; // taken: try another range
    } finally {
      await Promise.all(held.map((server) => new Promise((settle) => server.close(settle))));
    }
  }
  throw new Error(`no ${count} consecutive free ports found`);
}
