// The group keeper: a small shell process that outlives the master to clean up after it. The master
// tells it each worker's process group as it starts and once it is cleaned up; if the master dies
// without saying goodbye (SIGKILL, OOM), the keeper sees its pipe close and sends TERM to every group
// it still knows, then KILL to what is left after the graceful timeout. Run by the appd master (a /bin/sh child).
//
// Why a separate process: whatever runs in the master dies with it, and a parent-death signal reaches
// only the direct child (a command's own children, a worker's `sh -c`, keep running, reparented to
// PID 1). Why the shell: it costs ~1 MB and no Node start; it needs nothing but kill and sleep.

import { spawn, type ChildProcess } from 'node:child_process';

/**
 * Reads "+PGID SECONDS" (track, with the grace that group gets) and "-PGID" (forget) lines on stdin.
 * On end of input: TERM to every group still tracked, then every second checks whether any is left,
 * up to the longest grace; then KILL. `kill -0 -G` and `kill -TERM -G` work in dash, bash and ash
 * (dash refuses `kill -- -G`). It ignores TERM, INT and HUP: it must outlive a master killed with its
 * process group, and under systemd (KillMode=mixed) it exits on its own once the master is gone.
 */
const KEEPER_SCRIPT = `trap '' INT TERM HUP
groups=' '
grace=0
while IFS= read -r line; do
  case $line in
    +*)
      entry=\${line#+}
      group=\${entry%% *}
      seconds=\${entry#* }
      groups="$groups$group "
      [ "$seconds" -gt "$grace" ] 2>/dev/null && grace=$seconds
      ;;
    -*)
      group=\${line#-}
      case $groups in *" $group "*) groups="\${groups%% $group *} \${groups#* $group }" ;; esac
      ;;
  esac
done
set -- $groups
[ $# -eq 0 ] && exit 0
for group do kill -TERM -$group 2>/dev/null; done
waited=0
while [ $waited -lt $grace ]; do
  left=
  for group do kill -0 -$group 2>/dev/null && left=1; done
  [ -z "$left" ] && exit 0
  sleep 1
  waited=$((waited + 1))
done
for group do kill -KILL -$group 2>/dev/null; done
`;

/** The environment variable that carries the script. */
const SCRIPT_VARIABLE = 'APPD_GROUP_KEEPER_SCRIPT';

export interface KeeperEvents {
  /** It exited while the master lives (killed from outside); the master starts another. */
  gone(code: number | null, signal: NodeJS.Signals | null): void;
}

export class GroupKeeper {
  readonly #child: ChildProcess;

  constructor(name: string, events: KeeperEvents) {
    // Its own session: a terminal's Ctrl-C or a kill of the master's process group does not reach it.
    // argv[0] names it in ps; the script comes in the environment, so that ps shows one short line
    // (/dev/fd/N cannot be opened on a pipe Node made: a socket).
    this.#child = spawn('/bin/sh', ['-c', `eval "$${SCRIPT_VARIABLE}"`], {
      argv0: `appd: group keeper [${name}]`,
      stdio: ['pipe', 'ignore', 'ignore'],
      detached: true,
      env: { PATH: '/usr/bin:/bin', [SCRIPT_VARIABLE]: KEEPER_SCRIPT },
    });
    // The master must be able to exit while it runs: nothing here holds the event loop.
    this.#child.unref();
    const input = this.#child.stdin;
    if (input && 'unref' in input && typeof input.unref === 'function') (input as unknown as { unref(): void }).unref();
    // EPIPE when it is gone: its exit event follows and a new keeper gets the whole list.
    input?.on('error', () => undefined);
    // 'error' without 'exit' when it cannot be started at all (no /bin/sh, EAGAIN).
    let reported = false;
    const gone = (code: number | null, signal: NodeJS.Signals | null): void => {
      if (reported) return;
      reported = true;
      events.gone(code, signal);
    };
    this.#child.once('error', () => gone(null, null));
    this.#child.once('exit', gone);
  }

  get pid(): number {
    return this.#child.pid ?? -1;
  }

  track(group: number, graceSeconds: number): void {
    this.#child.stdin?.write(`+${group} ${Math.ceil(graceSeconds)}\n`);
  }

  forget(group: number): void {
    this.#child.stdin?.write(`-${group}\n`);
  }

  /** Ends its input as the master would by exiting: it cleans up whatever it still tracks. */
  close(): void {
    this.#child.stdin?.end();
  }

  /**
   * Ends its input and waits, at most `timeoutMs`, for it to exit: with nothing left to track it exits at
   * once. Race guarded: a keeper still running when the master exits is, under systemd (KillMode=mixed),
   * SIGKILLed with whatever else is left in the unit, and the stop is logged as having killed processes.
   */
  exited(timeoutMs: number): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null || this.#child.pid === undefined) return Promise.resolve();
    return new Promise((settle) => {
      const timer = setTimeout(settle, timeoutMs);
      this.#child.once('exit', () => {
        clearTimeout(timer);
        settle();
      });
      this.#child.stdin?.end();
    });
  }
}
