// What appd does about running as PID 1 (a container without an init): it warns that orphans
// will stay zombies, and says what to do. Run by the appd master at start.
//
// Why only a warning: PID 1 inherits every orphaned process of its namespace and must wait() for it,
// but Node.js can only wait for the children it spawned itself (libuv calls waitpid() per child pid;
// there is no waitpid(-1) and no prctl(PR_SET_CHILD_SUBREAPER) from JavaScript). appd's own workers are
// its children and are reaped; grandchildren that an app's subprocess abandons are not, and would pile
// up as zombies. Signals are fine: the master installs handlers for every signal it acts on, so PID 1's
// "no default action" rule does not swallow TERM. A real init in front (tini, docker run --init) reaps.

import type { Logger } from './logger.js';

export function warnIfPidOne(logger: Logger, pid = process.pid): void {
  if (pid !== 1) return;
  logger.warning(
    "appd runs as PID 1: it handles signals, but Node.js cannot reap orphaned processes it did not start, so any that your app's " +
      'subprocesses leave behind stay zombies. Run appd under an init: docker run --init, or ENTRYPOINT ["tini", "--"] in the image.',
  );
}
