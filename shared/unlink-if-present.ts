// Removes a file that may already be gone (a temp file never created, a socket another stop removed).
// Run by the appd master (socket files) and by appctl and the workers (their code cache).

import { unlinkSync } from 'node:fs';
import { hasErrorCode } from './errors.js';

export function unlinkIfPresent(path: string): void {
  try {
    unlinkSync(path);
  } catch (error) {
    if (!hasErrorCode(error, 'ENOENT')) throw error; // already gone: what the caller wanted
  }
}
