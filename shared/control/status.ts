// The shape of `appctl status --json` and of the other commands' result data: a stable contract for
// scripts, health checks and `appctl top`. Built by the appd master, rendered by appctl.

/** Bumped only when a field changes meaning or disappears; new fields may be added at any time. */
export const STATUS_FORMAT = 1;

/** Which worker: shared by status snapshots and `events` messages. */
export interface WorkerIdentity {
  /** "web.3 g2" */
  readonly tag: string;
  readonly pool: string;
  readonly slot: number;
  readonly generation: number;
  readonly pid: number;
}

export interface WorkerStatus extends WorkerIdentity {
  /** starting, ready, stopping (exited workers are not listed). */
  readonly state: string;
  /** Milliseconds since the worker was spawned. */
  readonly uptimeMs: number;
  /** Milliseconds from spawn to ready, null while starting. */
  readonly bootMs: number | null;
  /** From the worker's last heartbeat; null before the first one. */
  readonly requests: number | null;
  readonly inFlight: number | null;
  readonly connections: number | null;
  /** Event-loop delay percentiles over the last heartbeat interval. */
  readonly loopDelayP50Ms: number | null;
  readonly loopDelayP99Ms: number | null;
  readonly heapUsedBytes: number | null;
  /** Connections it closed for want of a valid PROXY protocol header (proxy-protocol binds), since it started. */
  readonly proxyRejected: number | null;
  /**
   * How old the heartbeat figures above are: `requests` was counted this long before the snapshot, so
   * two snapshots give a request rate without aliasing against the heartbeat interval (appctl top).
   */
  readonly statsAgeMs: number | null;
  /** Read by the master from /proc; null when the process is already gone. */
  readonly rssBytes: number | null;
  /** Percent of one core since the previous status request (over the process's life on the first). */
  readonly cpuPercent: number | null;
  /** Times this slot's worker was started again after exiting on its own (since the daemon started). */
  readonly restarts: number;
  /** Why the master is stopping it (scaled down, replaced, timeout …), else null. */
  readonly stopReason: string | null;
}

export interface SlotStatus {
  readonly slot: number;
  /** supervisord's states: starting, running, backoff, stopping, stopped, exited, fatal. */
  readonly state: string;
  readonly restarts: number;
  /** Failed starts in a row; past start-retries the slot is fatal until an operator acts. */
  readonly failures: number;
  /**
   * How the slot's last worker ended when appd did not plan it (a reload, scale or stop is planned):
   * reason is crashed, failed to boot, failed to spawn, boot timeout, timeout (no heartbeat: appd killed it), oom
   * (the kernel's OOM killer), killed from outside (kill -9 by someone else), or killed.
   */
  readonly lastExit: { readonly code: number | null; readonly signal: string | null; readonly reason: string; readonly at: string } | null;
}

/** Status classes of answered requests (1xx: upgraded connections, WebSockets). */
export type StatusClassCounts = Readonly<Record<'1xx' | '2xx' | '3xx' | '4xx' | '5xx', number>>;

/** An HTTP pool's requests, as the master sums them from its workers' heartbeats (the /metrics figures). */
export interface PoolRequests {
  /** Answered since this master started, by every worker the pool had (replaced ones included). */
  readonly total: StatusClassCounts;
  /** Requests per second over the last `windowMs` (about 10 s); null until the master sampled twice. */
  readonly perSecond: StatusClassCounts | null;
  /** Latency percentiles over the same window, from the duration histogram; null without requests. */
  readonly latencyP50Ms: number | null;
  readonly latencyP99Ms: number | null;
  readonly windowMs: number | null;
}

/** Connections waiting in a listening TCP socket's accept queue (workers not accepting fast enough). */
export interface ListenQueueStatus {
  /** "127.0.0.1:8000" */
  readonly bind: string;
  readonly queued: number;
  /** The backlog, capped by net.core.somaxconn. */
  readonly limit: number;
}

export interface PoolStatus {
  readonly name: string;
  /** http: serves an app or script on the listeners; command: runs any program. */
  readonly kind: 'http' | 'command';
  /** Workers wanted now (0 after WINCH). */
  readonly desired: number;
  /** Workers in slots below `desired` that are ready. */
  readonly ready: number;
  readonly generation: number;
  /** True while a reload rolls the pool to `generation`. */
  readonly reloading: boolean;
  /** Stopped by an operator (no workers until started again). */
  readonly stopped: boolean;
  readonly restarts: number;
  /**
   * Workers replaced since this master started, by reason: crash, timeout, max_requests, max_memory, oom,
   * outside_kill, reload (appd_worker_restarts_total). Absent from daemons before it was added.
   */
  readonly restartsByReason?: Readonly<Record<string, number>>;
  /** HTTP pools only (null for a command pool); absent from daemons before it was added. */
  readonly requests?: PoolRequests | null;
  /** Every wanted slot, and any other slot that still has a worker. */
  readonly slots: readonly SlotStatus[];
  readonly workers: readonly WorkerStatus[];
}

export interface StatusSnapshot {
  readonly format: typeof STATUS_FORMAT;
  readonly name: string;
  readonly version: string;
  readonly node: string;
  readonly master: {
    readonly pid: number;
    /** booting (first workers not ready yet), running, stopping. */
    readonly phase: string;
    readonly startedAt: string;
    readonly uptimeMs: number;
    readonly rssBytes: number | null;
    readonly cpuPercent: number | null;
    readonly controlSocket: string;
    readonly listeners: readonly string[];
    /** The accept queue of each TCP listener (unix sockets have none in /proc); absent from older daemons. */
    readonly listenQueues?: readonly ListenQueueStatus[];
    readonly configFile: string | null;
  };
  readonly pools: readonly PoolStatus[];
}

/** One row of `appctl config`. */
export interface SettingStatus {
  /** The setting's key, or pools.NAME.KEY for a pool's own effective setting. */
  readonly key: string;
  /** As a person reads it (what --print-config prints). */
  readonly value: string;
  /** The value as JSON: numbers, booleans, lists and objects typed (appctl config --json). */
  readonly json: unknown;
  readonly source: string;
  /** A restart-only setting changed by a reload: the value a new master (appctl upgrade) would use. */
  readonly pending?: string;
  readonly pendingJson?: unknown;
}

/** The data of a completed `ping`. */
export interface PingData {
  readonly name: string;
  readonly pid: number;
  readonly phase: string;
  readonly uptimeMs: number;
}
