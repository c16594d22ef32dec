// The contract between `appd --check-config` and the short-lived process that loads a pool's app the way
// a worker would: the spec it gets in the environment and the one verdict line it writes on fd 3.
// Imported by the appd process that checks and by the check process (daemon/worker/check-boot.ts).

import type { AdoptListen } from '../../shared/settings/kinds.js';

/** The environment variable carrying the check's spec (JSON); removed by the check process on start. */
export const CHECK_SPEC_VARIABLE = 'APPD_CHECK_SPEC';
/** The pipe the verdict is written to: stdout and stderr belong to the app. */
export const CHECK_VERDICT_FD = 3;
/** A verdict longer than this is cut: the checking process reads no more (an app's stack can be long). */
export const CHECK_VERDICT_LIMIT = 64 * 1024;

export interface CheckSpec {
  /** The app reference (PATH, PATH:EXPORT, PATH:FACTORY()), resolved against the worker's directory. */
  readonly app: string;
  /** An absolute script path, run as the main module up to its listen(); null for an app module. */
  readonly script: string | null;
  readonly adoptListen: AdoptListen;
}

/** What the check found; phases as a worker's boot failures (load: exit 4; init, listen: exit 3). */
export type CheckVerdict =
  | { readonly ok: true; readonly detail: string }
  | { readonly ok: false; readonly phase: 'load' | 'init' | 'setting' | 'listen'; readonly message: string };
