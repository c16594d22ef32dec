// Which TCP ports a set of processes listen on, from /proc (their socket descriptors matched against
// the kernel's LISTEN table). Runs in the ava test process.

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
