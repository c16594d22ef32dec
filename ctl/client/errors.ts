// appctl's exit codes (DESIGN.md section 5) and the errors that carry them; main.ts catches them once.
// Run by appctl.

import { AppdError } from '../../shared/errors.js';

/** A contract with scripts: 0 done, 1 the operation failed or rolled back, 2 usage, 3 no daemon there. */
export const CTL_EXIT = {
  ok: 0,
  failed: 1,
  usage: 2,
  noDaemon: 3,
} as const;

/** Bad arguments, or a choice appctl cannot make alone (several daemons and no -n). */
export class UsageError extends AppdError {
  constructor(message: string) {
    super(message, CTL_EXIT.usage);
  }
}

/** Nothing listens where appctl looked; the message says where and what to do. */
export class NoDaemonError extends AppdError {
  constructor(message: string) {
    super(message, CTL_EXIT.noDaemon);
  }
}

/** The daemon refused or could not finish: a protocol error, a lost connection, a failed job. */
export class ControlFailure extends AppdError {
  /** The protocol's error code when the daemon sent one. */
  readonly code: string | null;
  constructor(message: string, code: string | null = null) {
    super(message, CTL_EXIT.failed);
    this.code = code;
  }
}
