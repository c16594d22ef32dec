// What an old master gives up when its successor (upgrade) has taken over, and takes back if the
// successor dies while this master still runs: unix socket files, the pidfile, the control socket
// path, its title, and systemd's main pid. Run by the appd master.

import { describeError } from '../../shared/errors.js';
import type { ControlServer } from '../control/server.js';
import type { Listener } from '../sockets/listeners.js';
import type { Logger } from '../master/logger.js';
import { removePidfile, writePidfile } from '../master/pidfile.js';
import { masterTitle, setProcessTitle, upgradeMasterComm, upgradeMasterTitle } from '../contracts/process-title.js';
import type { SystemdLifecycle } from '../systemd/lifecycle.js';
import type { Handover } from './coordinator.js';
import { oldPidfilePath } from './messages.js';

export interface MasterHandoverContext {
  readonly name: string;
  readonly logger: Logger;
  readonly listeners: () => readonly Listener[];
  readonly pidfile: string | null;
  readonly control: () => ControlServer | null;
  readonly systemd: SystemdLifecycle | null;
}

export function masterHandover({ name, logger, listeners, pidfile, control, systemd }: MasterHandoverContext): Handover {
  /** Unix socket files this master would have removed on exit: the successor serves them now. */
  const released = new Set<Listener>();
  return {
    handedOver: () => {
      for (const listener of listeners()) {
        if (!listener.ownsPath) continue;
        listener.ownsPath = false;
        released.add(listener);
      }
      setProcessTitle(upgradeMasterTitle('old', name), upgradeMasterComm('old'));
      systemd?.handedOver();
    },
    takeBack: () => {
      for (const listener of released) listener.ownsPath = true;
      released.clear();
      if (pidfile) {
        writePidfile(pidfile);
        removePidfile(oldPidfilePath(pidfile));
      }
      setProcessTitle(masterTitle(name), 'appd: master');
      systemd?.tookBack();
      control()
        ?.reclaimPath()
        .catch((error: unknown) => logger.error(`cannot bind the control socket path again: ${describeError(error)}`));
    },
  };
}
