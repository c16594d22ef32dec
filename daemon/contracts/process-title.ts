// Sets process titles so the master and each worker stand apart in ps, and a short distinct comm for top.
// Run by the appd master and by each worker process.
//
// Two limits, measured on Node 20 and 24: the title (ps -o args) is cut silently at the length of the
// original argv, and comm (ps -o comm, top) is 15 bytes. Workers are spawned with a --title padded with
// spaces, which leaves room for long titles; comm is written separately in a compact form.

import { writeFileSync } from 'node:fs';
import { hasErrorCode } from '../../shared/errors.js';

export const COMM_MAX_BYTES = 15;

export function masterTitle(name: string): string {
  return `appd: master [${name}]`;
}

/** Upgrade: a new master still booting, and the old one once replaced (Unicorn's "master (old)"). */
export function upgradeMasterTitle(role: 'new' | 'old', name: string): string {
  return `appd: master (${role}) [${name}]`;
}

/** The 15 bytes of comm for those (top shows them): "appd: master" would not tell the two apart. */
export function upgradeMasterComm(role: 'new' | 'old'): string {
  return `appd: ${role}master`;
}

export function workerTitle(pool: string, slot: number, generation: number, name: string): string {
  return `appd: worker ${pool}.${slot} g${generation} [${name}]`;
}

/** "appd: web.0 g3": the part that tells workers apart, within the 15 bytes top shows. */
export function workerComm(pool: string, slot: number, generation: number): string {
  return `appd: ${pool}.${slot} g${generation}`;
}

/** Sets the title and comm; returns the title as the kernel kept it (shorter if argv had no room). */
export function setProcessTitle(title: string, comm: string): string {
  process.title = title;
  try {
    writeFileSync('/proc/self/comm', Buffer.from(comm).subarray(0, COMM_MAX_BYTES));
  } catch (error) {
    // Not Linux, or /proc not mounted (some containers): the title alone still identifies us.
    if (!hasErrorCode(error, 'ENOENT', 'EACCES', 'EROFS', 'EINVAL')) throw error;
  }
  return process.title;
}
