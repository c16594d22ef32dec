// Finds listening sockets this process was started with: from systemd socket activation (LISTEN_FDS,
// LISTEN_PID, LISTEN_FDNAMES) or from a previous master during an upgrade (APPD_LISTEN_FDS). Run by the appd master.

import type { InheritedSocket } from './listeners.js';

/** systemd passes sockets from this descriptor on (sd_listen_fds(3)). */
export const SD_LISTEN_FDS_START = 3;

/** The environment variable a master sets for its successor: JSON [{ fd, bind, pool, ownsPath }]. */
export const HANDOFF_VARIABLE = 'APPD_LISTEN_FDS';

/**
 * Reads and then removes the variables, so that workers and the apps they run never believe the
 * sockets were meant for them.
 */
export function takeInheritedSockets(environment: NodeJS.ProcessEnv): InheritedSocket[] {
  const sockets: InheritedSocket[] = [];
  const handoff = environment[HANDOFF_VARIABLE];
  if (handoff) {
    const entries = JSON.parse(handoff) as { fd: number; bind: string; pool?: string | null; ownsPath?: boolean }[];
    for (const entry of entries) {
      sockets.push({
        fd: entry.fd,
        bindText: entry.bind,
        pool: entry.pool ?? null,
        name: null,
        origin: 'previous-master',
        ownsPath: entry.ownsPath === true,
      });
    }
  } else if (environment['LISTEN_PID'] === String(process.pid)) {
    const count = Number(environment['LISTEN_FDS'] ?? '0');
    const names = (environment['LISTEN_FDNAMES'] ?? '').split(':');
    for (let index = 0; index < count; index += 1) {
      // systemd names a socket after its unit ("appd.socket") unless FileDescriptorName= says otherwise;
      // a bind "fd://NAME" picks it by that name, any other bind by its address.
      const name = names[index];
      sockets.push({ fd: SD_LISTEN_FDS_START + index, bindText: null, pool: null, name: name ? name : null, origin: 'systemd' });
    }
  }
  for (const variable of [HANDOFF_VARIABLE, 'LISTEN_PID', 'LISTEN_FDS', 'LISTEN_FDNAMES']) delete environment[variable];
  return sockets;
}
