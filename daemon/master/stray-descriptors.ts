// Closes the descriptors the master was started with that are open without close-on-exec and that
// appd has no use for, so no worker (another user, often) inherits them. Run by the appd master at start.
//
// Node opens everything with O_CLOEXEC, and its spawn() closes nothing else in the child: a descriptor
// the caller left open (`exec 200< /root/secret; appd --user nobody ...`) reached every worker as fd 200.

import { closeSync, readdirSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';
import type { Config } from '../../shared/settings/table.js';
import { hasErrorCode } from '../../shared/errors.js';
import { allBinds } from '../pools/pool.js';
import { HANDOFF_VARIABLE, SD_LISTEN_FDS_START } from '../sockets/inherited.js';
import { monotonicMilliseconds } from '../arbiter/clock.js';

const O_CLOEXEC = 0o2000000;
/** How long the master waits for Node's certificate thread to close its file (it takes milliseconds). */
const STARTUP_READ_WAIT_MS = 10_000;

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
 * Waits until Node's own start-up reads are done. Node 24 reads NODE_EXTRA_CA_CERTS (with its bundled
 * roots) on a thread of its own at start, through an fopen() without close-on-exec. Race guarded: closing
 * that descriptor under the thread made it fail ("Ignoring extra certs ... bad end line"), and its own
 * close() later hit whatever had reused the number by then (a listening socket: the master died of EBADF
 * at start). So: while a descriptor is open on that file, wait (the thread reads a file and closes it:
 * milliseconds), and never close one open on it (closeStrayDescriptors). Node 20 reads it on the main
 * thread, before us, so nothing is open then.
 *
 * Not tls.getCACertificates('extra'), which joins the thread too: loading node:tls for it cost an idle
 * master 4 MB of RSS on Node 24 (bench, 2 workers: 69.3 -> 65.4 MB; issue 21). Returns the file's real path, or null.
 */
function settleNodeStartupReads(environment: NodeJS.ProcessEnv): string | null {
  const file = environment['NODE_EXTRA_CA_CERTS'];
  if (!file) return null;
  let certificates: string;
  try {
    certificates = realpathSync(file);
  } catch (error) {
    // Node cannot open it either (it warns on its own): nothing of ours to wait for.
    if (hasErrorCode(error, 'ENOENT') || hasErrorCode(error, 'EACCES') || hasErrorCode(error, 'ENOTDIR')) return null;
    throw error;
  }
  const deadline = monotonicMilliseconds() + STARTUP_READ_WAIT_MS;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  while (openDescriptorsOn(certificates).length > 0 && monotonicMilliseconds() < deadline) Atomics.wait(pause, 0, 0, 5);
  return certificates;
}

/** The descriptors of this process open on `path` (a real path). */
function openDescriptorsOn(path: string): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${name}`) === path) found.push(Number(name));
    } catch (error) {
      // Closed since readdir (readdir's own descriptor among them).
      if (hasErrorCode(error, 'ENOENT')) continue;
      throw error;
    }
  }
  return found;
}

/** Closes every other descriptor without close-on-exec; returns "fd N (what it was)" for each, for the log. */
export function closeStrayDescriptors(keep: ReadonlySet<number>, environment: NodeJS.ProcessEnv = process.env): string[] {
  const certificates = settleNodeStartupReads(environment);
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
    // Node's certificate thread, if it outlived the wait: its descriptor is its own to close.
    if (target === certificates) continue;
    const flags = Number.parseInt(/^flags:\s+([0-7]+)$/m.exec(info)?.[1] ?? '0', 8);
    if ((flags & O_CLOEXEC) !== 0) continue;
    closeSync(fd);
    closed.push(`fd ${fd} (${target})`);
  }
  return closed;
}
