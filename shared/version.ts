// The installed appd version, read from package.json next to the compiled code.
// Used by every process (appd --version, appctl --version, the control protocol hello).

import { readFileSync } from 'node:fs';

let cached: string | null = null;

export function readPackageVersion(): string {
  if (cached === null) {
    // Compiled files live in dist/<folder>/, so package.json is two levels up.
    const packageJson = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    cached = packageJson.version ?? '0.0.0';
  }
  return cached;
}
