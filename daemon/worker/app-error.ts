// An app's error as people should read it: its message and the app's own stack frames, without appd's
// frames (the worker's loader) or Node's internal ones (the module loader), which say nothing about the
// app. Runs in each HTTP worker and in the --check-config process.

import { fileURLToPath } from 'node:url';

/** appd's compiled code: dist/daemon/ and dist/shared/ (this file is dist/daemon/worker/app-error.js). */
const APPD_CODE = [fileURLToPath(new URL('../', import.meta.url)), fileURLToPath(new URL('../../shared', import.meta.url))];

function isNoiseFrame(line: string): boolean {
  if (!/^\s+at /.test(line)) return false;
  return line.includes('node:internal/') || APPD_CODE.some((directory) => line.includes(directory));
}

export function describeAppError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const stack = error.stack ?? `${error.name}: ${error.message}`;
  return stack
    .split('\n')
    .filter((line) => !isNoiseFrame(line))
    .join('\n');
}
