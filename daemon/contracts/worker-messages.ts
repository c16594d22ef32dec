// The contract between the master and an HTTP worker: the boot spec passed in the environment and the
// messages on the IPC channel. Imported by both the appd master and its worker processes.

import type { AdoptListen } from '../../shared/settings/kinds.js';

/** The environment variable carrying a worker's boot spec (JSON); removed by the worker on start. */
export const WORKER_SPEC_VARIABLE = 'APPD_WORKER_SPEC';

/** Exit codes a worker uses to tell the master why it could not boot (Gunicorn's contract). */
export const WORKER_EXIT = {
  ok: 0,
  bootFailed: 3,
  appLoadFailed: 4,
} as const;

export interface WorkerSpec {
  readonly daemonName: string;
  readonly pool: string;
  readonly slot: number;
  readonly generation: number;
  readonly app: string;
  /** Set for script workers (started with the adoption preload instead of worker/main.js). */
  readonly script: string | null;
  readonly adoptListen: AdoptListen;
  readonly waitReady: boolean;
  /** Listening sockets are inherited at fd 3 .. 3 + listenerCount - 1. */
  readonly listenerCount: number;
  readonly listenerUrls: readonly string[];
  readonly backlog: number;
  readonly heartbeatIntervalMs: number;
  readonly gracefulTimeoutMs: number;
  readonly keepAliveMs: number;
  /** Requests after which the worker asks to be recycled (jitter applied by the master); 0: never. */
  readonly maxRequests: number;
  readonly accessLog: string | null;
  readonly accessLogFormat: string;
  /** node:http's headersTimeout and requestTimeout; 0 turns each off. */
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly limitRequestLine: number;
  readonly limitRequestFields: number;
  readonly limitRequestFieldSize: number;
  readonly forwardedAllowIps: string;
  readonly certfile: string | null;
  readonly keyfile: string | null;
  readonly timeoutStack: boolean;
}

export interface WorkerStats {
  readonly requests: number;
  readonly inFlight: number;
  readonly connections: number;
  /** Event-loop delay percentiles over the last heartbeat interval, milliseconds. */
  readonly loopDelayP50: number;
  readonly loopDelayP99: number;
  readonly heapUsed: number;
  readonly heapTotal: number;
}

/** setting: a file a setting names cannot be opened (access-logfile, certfile, keyfile); retrying will not help. */
export type BootPhase = 'load' | 'init' | 'listen' | 'setting';

/** The boot-error code of a script whose listen() the adopt-listen policy refused; retrying cannot help. */
export const LISTEN_NOT_ADOPTED = 'ERR_APPD_LISTEN_NOT_ADOPTED';

export type WorkerToMaster =
  | { readonly type: 'ready' }
  | { readonly type: 'boot-error'; readonly phase: BootPhase; readonly message: string; readonly code?: string }
  | { readonly type: 'heartbeat'; readonly stats: WorkerStats }
  | { readonly type: 'recycle'; readonly reason: string }
  /** It stopped accepting (drain started): from now on no new connection reaches it. */
  | { readonly type: 'draining' };

export type MasterToWorker = { readonly type: 'drain' } | { readonly type: 'reopen-logs' };

/** Narrowing for messages arriving on the IPC channel, which are untyped JSON. */
export function isWorkerMessage(value: unknown): value is WorkerToMaster {
  if (typeof value !== 'object' || value === null || !('type' in value)) return false;
  return ['ready', 'boot-error', 'heartbeat', 'recycle', 'draining'].includes(String(value.type));
}

export function isMasterMessage(value: unknown): value is MasterToWorker {
  if (typeof value !== 'object' || value === null || !('type' in value)) return false;
  return value.type === 'drain' || value.type === 'reopen-logs';
}

/** The watchdog thread's first line before the stack; seeing it, the master knows the stack is out. */
export const STACK_HEADER = 'timed out; its main thread was running:';

/** The byte the master writes on a worker's stdin to ask its watchdog thread for the stuck stack. */
export const STACK_REQUEST_BYTE = 's';
