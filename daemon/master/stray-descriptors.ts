// Closes the descriptors the master was started with that are open without close-on-exec and that
// appd has no use for, so no worker (another user, often) inherits them. Run by the appd master at start.
//
// Node opens everything with O_CLOEXEC, and its spawn() closes nothing else in the child: a descriptor
// the caller left open (`exec 200< /root/secret; appd --user nobody ...`) reached every worker as fd 200.

import { closeSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Config } from '../../shared/settings/table.js';
import { hasErrorCode } from '../../shared/errors.js';
import { allBinds } from '../pools/pool.js';
import { HANDOFF_VARIABLE, SD_LISTEN_FDS_START } from '../sockets/inherited.js';

const O_CLOEXEC = 0o2000000;

/**
 * What appd itself takes from its caller and must keep: stdio, Node's IPC channel (--daemon, an
 * upgrade), systemd's sockets (LISTEN_FDS for this pid), a previous master's (APPD_LISTEN_FDS) and
 * descriptors a bind names (fd://N).
 */
export function descriptorsToKeep(config: Config, environment: NodeJS.ProcessEnv): Set<number> {
  const keep = new Set([0, 1, 2]);
  const channel = (process as { channel?: { fd?: number } }).channel?.fd;
  if (typeof channel === 'number') keep.add(channel);
  if (environment['LISTEN_PID'] === String(process.pid)) {
    const count = Number(environment['LISTEN_FDS'] ?? '0');
    for (let index = 0; index < count; index += 1) keep.add(SD_LISTEN_FDS_START + index);
  }
  const handoff = environment[HANDOFF_VARIABLE];
  if (handoff) for (const entry of JSON.parse(handoff) as { fd: number }[]) keep.add(entry.fd);
  for (const { bind } of allBinds(config)) if (bind.kind === 'fd') keep.add(bind.fd);
  return keep;
}

/**
 * Waits until Node's own start-up reads are done. Node 24 reads NODE_EXTRA_CA_CERTS on a thread of its
 * own at start, through an fopen() without close-on-exec. Race guarded: closing that descriptor under
 * the thread made it fail ("Ignoring extra certs ... bad end line"), and its own close() later hit
 * whatever had reused the number by then (a listening socket: the master died of EBADF at start).
 * Asking for the certificates joins that thread; Node 20 reads them on the main thread, before us.
 */
function settleNodeStartupReads(environment: NodeJS.ProcessEnv): void {
  if (!environment['NODE_EXTRA_CA_CERTS'] || !hasGetCACertificates(process.versions.node)) return;
  // Loaded only here: node:tls (with node:crypto) costs the master about 2 MB it does not otherwise need.
  // getCACertificates exists from Node 22.15/23.10 (and @types/node 20 does not declare it).
  const tls = createRequire(import.meta.url)('node:tls') as { getCACertificates?: (type: 'extra') => unknown };
  tls.getCACertificates?.('extra');
}

/**
 * Whether this Node has tls.getCACertificates (22.15 and later 22s, 23.10 and later), told from the
 * version alone: on an older Node, loading node:tls to find out would cost its memory for nothing.
 */
export function hasGetCACertificates(version: string): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > 23 || (major === 23 && minor >= 10) || (major === 22 && minor >= 15);
}

/** Closes every other descriptor without close-on-exec; returns "fd N (what it was)" for each, for the log. */
export function closeStrayDescriptors(keep: ReadonlySet<number>, environment: NodeJS.ProcessEnv = process.env): string[] {
  settleNodeStartupReads(environment);
  const closed: string[] = [];
  for (const name of readdirSync('/proc/self/fd')) {
    const fd = Number(name);
    if (keep.has(fd)) continue;
    let info: string;
    let target: string;
    try {
      info = readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
      target = readlinkSync(`/proc/self/fd/${fd}`);
    } catch (error) {
      // The descriptor readdir itself used, closed by now.
      if (hasErrorCode(error, 'ENOENT')) continue;
      throw error;
    }
    const flags = Number.parseInt(/^flags:\s+([0-7]+)$/m.exec(info)?.[1] ?? '0', 8);
    if ((flags & O_CLOEXEC) !== 0) continue;
    closeSync(fd);
    closed.push(`fd ${fd} (${target})`);
  }
  return closed;
}
