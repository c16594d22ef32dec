// Files and sockets the master creates at paths a setting names (pidfile, error-logfile, control-socket):
// a failure becomes one line naming the setting, where its value came from and the cause, exit 2.
// Run by the appd master.

import { describeSource, type ResolvedConfig } from '../../shared/config/resolve.js';
import { AppdError, ConfigError, describeFileError } from '../../shared/errors.js';

type PathSetting = 'pidfile' | 'errorLogfile' | 'controlSocket';

const FLAG_NAMES: Readonly<Record<PathSetting, string>> = {
  pidfile: 'pidfile',
  errorLogfile: 'error-logfile',
  controlSocket: 'control-socket',
};

/** A Node system error (EACCES, ENOENT, EROFS ...), as opposed to a bug or one of our own errors. */
function isSystemError(error: unknown): boolean {
  return error instanceof Error && !(error instanceof AppdError) && typeof (error as NodeJS.ErrnoException).code === 'string';
}

/**
 * Runs `action` on `path`; a system error from it becomes "cannot VERB SETTING PATH (from SOURCE): CAUSE [CODE]".
 * Our own errors (a live daemon on the socket, a path too long) pass through as they are.
 */
export async function onSettingPath<T>(
  resolved: ResolvedConfig,
  key: PathSetting,
  path: string,
  verb: string,
  action: () => T | Promise<T>,
): Promise<T> {
  try {
    return await action();
  } catch (error) {
    if (!isSystemError(error)) throw error;
    throw new ConfigError(
      `cannot ${verb} ${FLAG_NAMES[key]} ${path} (from ${describeSource(resolved.sources[key])}): ${describeFileError(error)}`,
    );
  }
}
