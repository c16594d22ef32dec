// A successor master (upgrade) started orphaned, for a service manager to adopt: the old master follows
// it through their IPC channel instead of as its parent. Run by the appd master, under systemd only.
//
// Why (measured with systemd 252 as PID 1, test/systemd/real-upgrade.test.ts): systemd accepts MAINPID=
// from a process of the service, but remembers a main process that is not its child as "alien" (journal:
// "Supervising process N which is not our child"), and for an alien main process `systemctl stop` and
// `restart` do not wait after SIGTERM under KillMode=mixed: the whole cgroup gets SIGKILL at once,
// in-flight requests die and the unit ends failed (Result=signal). The flag is computed when the main pid
// changes, and only then: announcing the same MAINPID= again once the old master exited and the
// successor was reparented to PID 1 is ignored (the pid did not change); a daemon-reload, which reads the
// parentage again, clears it; so does switching MAINPID= to another process and back, which leaves
// systemd following a stranger for a moment. Started through a shell that exits at once ("sh -c 'CMD &'"),
// the successor is reparented to the service manager (PID 1, or a user manager, which is a child
// subreaper) before its first line runs, so the MAINPID= it sends names the manager's own child and
// stop drains as it does before an upgrade.
//
// The cost: the old master is no longer its parent. Its pid comes with its first report (sent first thing,
// see successor.ts), its end is the end of the IPC channel ('close' waits for it), and its exit status is
// the manager's to collect. A signal asked for before the pid is known is sent once it is; while the
// channel is open the process exists, so the pid cannot name another process.

import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { hasErrorCode } from '../../shared/errors.js';
import { isSuccessorReport } from './messages.js';
import type { SuccessorProcess } from './coordinator.js';

export class OrphanedSuccessor extends EventEmitter implements SuccessorProcess {
  pid: number | undefined = undefined;
  #pendingSignal: NodeJS.Signals | null = null;
  #closed = false;

  constructor(shell: ChildProcess) {
    super();
    shell.on('message', (message: unknown) => {
      if (this.pid === undefined && isSuccessorReport(message) && 'pid' in message) this.#learnPid(message.pid);
      this.emit('message', message);
    });
    shell.on('close', (code, signal) => {
      this.#closed = true;
      // The shell exits 0 once it forked; then 'close' means the successor's channel ended, status unknown.
      if (code === 0) this.emit('close', null, null);
      else this.emit('close', code, signal);
    });
    shell.on('error', (error) => this.emit('error', error));
  }

  kill(signal: NodeJS.Signals): boolean {
    if (this.#closed) return false;
    if (this.pid === undefined) {
      this.#pendingSignal = signal;
      return true;
    }
    try {
      process.kill(this.pid, signal);
      return true;
    } catch (error) {
      if (hasErrorCode(error, 'ESRCH')) return false; // exited just now: its 'close' follows
      throw error;
    }
  }

  #learnPid(pid: number): void {
    if (!Number.isInteger(pid) || pid <= 1) return;
    this.pid = pid;
    const pending = this.#pendingSignal;
    this.#pendingSignal = null;
    if (pending) this.kill(pending);
  }
}

/** Starts `execPath args` in the background of a shell that exits at once; the options are spawn()'s. */
export function spawnOrphaned(execPath: string, args: readonly string[], options: Parameters<typeof spawn>[2]): OrphanedSuccessor {
  return new OrphanedSuccessor(spawn('/bin/sh', ['-c', '"$@" &', 'appd-upgrade', execPath, ...args], options));
}
