// What the arbiter is given by the master's setup (daemon/master/start.ts), and the milestones it reports to
// observers (the --daemon parent, systemd notify, tests). Run by the appd master.

import type { ResolvedConfig } from '../../shared/config/resolve.js';
import type { Arbiter } from './arbiter.js';
import type { JobOutcome } from './events.js';
import type { Listener } from '../sockets/listeners.js';
import type { Logger } from '../master/logger.js';
import type { Handover, SuccessorCommand, SuccessorLauncher } from '../upgrade/coordinator.js';
import type { WorkerSpawner } from '../workers/spawn/spawner.js';
import type { HandedPoolState } from '../upgrade/messages.js';
import type { Clock } from './clock.js';
import type { CompactHeap } from './heap-upkeep.js';

/** Told about the daemon's milestones: the --daemon parent, systemd notify, tests. */
export interface LifecycleObserver {
  ready?(summary: string): void;
  reloading?(): void;
  /** Once per reloading(), when that reload ended: completed, rolled back or failed (a config error). */
  reloaded?(outcome: JobOutcome): void;
  stopping?(): void;
  /** After every pass of the loop (at least every TICK_MS): proof of life for a watchdog, and state to report. */
  looped?(arbiter: Arbiter): void;
}

export interface ArbiterOptions {
  readonly resolved: ResolvedConfig;
  readonly listeners: readonly Listener[];
  readonly logger: Logger;
  readonly baseEnvironment: NodeJS.ProcessEnv;
  /** Starts worker processes; the default is the real one (child_process with baseEnvironment). */
  readonly spawner?: WorkerSpawner;
  /** Reads every config layer again (for reload). */
  readonly readConfig: () => Promise<ResolvedConfig>;
  readonly observer?: LifecycleObserver;
  /** The control socket path, for status. */
  readonly controlSocket?: string;
  /** Monotonic time for deadlines, wall time for display (default: the system's). */
  readonly clock?: Clock;
  readonly random?: () => number;
  /** The master's full garbage collection after workers exit (daemon/master/heap-compaction.ts); none if absent. */
  readonly compactHeap?: CompactHeap;
  /** What upgrade (USR2, appctl upgrade) needs from the master's setup. */
  readonly upgrade: {
    readonly command: () => SuccessorCommand;
    /** Starts the successor (default: launchSuccessor, a real child process). */
    readonly launch?: SuccessorLauncher;
    /** The master this one replaced, while it still runs; null otherwise. */
    readonly predecessorPid: () => number | null;
    readonly handover: Handover;
  };
  /**
   * A successor master (upgrade) takes over only with every worker ready: at boot-timeout with some
   * missing it fails (the old master serves on) instead of serving with fewer workers.
   */
  readonly requireEveryWorker?: boolean;
  /** A successor's workers start past the old master's generations (ps and status tell them apart). */
  readonly firstGeneration?: number;
  /** A successor's pools start as the old master's were left at run time (scaled, stopped). */
  readonly handedPools?: readonly HandedPoolState[];
}
