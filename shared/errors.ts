// Error classes that carry the process exit code they end in; each boundary catches them once.
// Used by every process: appd master, its workers, and appctl.

/** Exit codes of `appd` (DESIGN.md section 4); a contract with ops scripts and systemd. */
export const EXIT = {
  ok: 0,
  runtimeFailure: 1,
  usage: 2,
  bootFailed: 3,
  appLoadFailed: 4,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** Base class: a message meant for a human, plus the exit code the process ends with. */
export class AppdError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.exitCode = exitCode;
  }
}

/** A bad flag, config key or value. The message names the setting and where it came from. */
export class ConfigError extends AppdError {
  constructor(message: string) {
    super(message, EXIT.usage);
  }
}

/** A listener that cannot be bound or adopted (EADDRINUSE, EACCES, bad fd). */
export class BindError extends AppdError {
  constructor(message: string) {
    super(message, EXIT.usage);
  }
}

/** Another daemon already holds the name, pidfile or control socket. */
export class AlreadyRunningError extends AppdError {
  constructor(message: string) {
    super(message, EXIT.usage);
  }
}

/** No worker became ready at first start; the message carries the app's own error. */
export class BootError extends AppdError {
  constructor(message: string) {
    super(message, EXIT.bootFailed);
  }
}

/** The app module could not be imported at first start. */
export class AppLoadError extends AppdError {
  constructor(message: string) {
    super(message, EXIT.appLoadFailed);
  }
}

/** A broken invariant inside appd itself: a bug, never the user's fault. */
export class AppdBug extends AppdError {
  constructor(message: string) {
    super(`internal error (a bug in appd): ${message}`, EXIT.runtimeFailure);
  }
}

/** The text to print for any thrown value, without a stack for our own errors. */
export function describeError(error: unknown): string {
  if (error instanceof AppdError) return error.message;
  if (error instanceof Error) return error.stack ?? error.message;
  return String(error);
}

const FILE_ERROR_CAUSES: Readonly<Record<string, string>> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOENT: 'no such file or directory',
  ENOTDIR: 'a part of the path is not a directory',
  EISDIR: 'it is a directory',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  ELOOP: 'too many symbolic links',
  ENAMETOOLONG: 'the name is too long',
};

/** "permission denied [EACCES]": why opening, creating or writing a file failed, for one-line messages. */
export function describeFileError(error: unknown): string {
  const code = typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string' ? error.code : null;
  if (code === null) return error instanceof Error ? error.message : String(error);
  return `${FILE_ERROR_CAUSES[code] ?? code.toLowerCase()} [${code}]`;
}

/** True when `error` is a Node system error with one of the given codes (ENOENT, ESRCH, ...). */
export function hasErrorCode(error: unknown, ...codes: string[]): boolean {
  return typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string' && codes.includes(error.code);
}
