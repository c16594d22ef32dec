// Opens the files a worker's settings name (access-logfile, certfile, keyfile): a failure is a boot
// failure of phase 'setting', one line naming the setting, the path and the cause, which the master
// turns into exit 2 at first start (retrying cannot help). Runs in each HTTP worker process.

import { resolve } from 'node:path';
import { describeFileError } from '../../shared/errors.js';
import { AppBootFailure } from './load-app.js';

export function openSettingFile<T>(setting: 'access-logfile' | 'certfile' | 'keyfile', path: string, open: (path: string) => T): T {
  try {
    return open(path);
  } catch (error) {
    throw new AppBootFailure('setting', `cannot open ${setting} ${resolve(path)}: ${describeFileError(error)}`);
  }
}
