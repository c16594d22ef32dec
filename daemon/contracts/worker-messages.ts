// The contract between the master and an HTTP worker: the boot spec passed in the environment and the
// messages on the IPC channel. Imported by both the appd master and its worker processes.

import type { AdoptListen } from '../../shared/settings/kinds.js';
import { readRequestCounts, type RequestCounts } from './request-counts.js';

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
  /** Set for script workers (started with the adoption preload instead of the worker bundle, worker/worker.cjs). */
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
  /** Trusted proxies (forwarded-allow-ips, validated by the master), whether unix peers are trusted, which headers they set. */
  readonly forwardedAllowIps: string;
  readonly forwardedAllowUnix: boolean;
  readonly forwardedHeaders: 'x-forwarded' | 'forwarded';
  /** The last this many listeners are the slot's own sockets (slot-bind): accepted on only once the master says 'accept-slot'. */
  readonly slotListenerCount: number;
  /** Per listener (same order): whether its connections must start with a PROXY header, and which version. */
  readonly proxyProtocol: readonly ('off' | 'v1' | 'v2' | 'auto')[];
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
  /** Connections closed since the worker started for want of a valid PROXY protocol header. */
  readonly proxyRejected: number;
  /** Totals since the worker started, for /metrics; the master checks them with readRequestCounts. */
  readonly counts?: RequestCounts;
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
  | { readonly type: 'draining' }
  /** slot-bind, while draining: none of its slot-socket connections can carry another request (closed, upgraded, or answering with Connection: close). */
  | { readonly type: 'released-slot' };

export type MasterToWorker =
  | { readonly type: 'drain' }
  | { readonly type: 'reopen-logs' }
  /** slot-bind: start accepting on the slot sockets (the last slotListenerCount listeners); the slot's previous worker has stopped. */
  | { readonly type: 'accept-slot' };

/**
 * The longest line the master reads from a worker's channel, newline included. A longer one (or bytes
 * that never end in a newline) gets the worker killed: the channel is how a hostile app would try to
 * grow or crash the master. A heartbeat is a few hundred bytes; a boot error is cut to
 * BOOT_ERROR_MAX_CHARACTERS by the worker before it is sent.
 */
export const CHANNEL_MAX_LINE_BYTES = 64 * 1024;
export const BOOT_ERROR_MAX_CHARACTERS = 8 * 1024;

/**
 * The channel is a plain socket pair at this index of the worker's stdio; the master sets Node's
 * NODE_CHANNEL_FD to it, so process.send() works in the worker while the master parses the lines
 * itself (Node's own parser throws in the master on a line that is not JSON and buffers without bound).
 */
export function channelFd(listenerCount: number): number {
  return 3 + listenerCount;
}

const BOOT_PHASES: readonly string[] = ['load', 'init', 'listen', 'setting'] satisfies readonly BootPhase[];
const STAT_FIELDS = [
  'requests',
  'inFlight',
  'connections',
  'loopDelayP50',
  'loopDelayP99',
  'heapUsed',
  'heapTotal',
  'proxyRejected',
] as const satisfies readonly (keyof WorkerStats)[];

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function readStats(value: unknown): WorkerStats | string {
  if (!isRecord(value)) return 'heartbeat without stats';
  const stats: Record<string, number> = {};
  for (const field of STAT_FIELDS) {
    const number = value[field];
    if (!isFiniteNumber(number) || number < 0) return `heartbeat stat "${field}" is not a number >= 0`;
    stats[field] = number;
  }
  // Optional (a worker of an older appd on disk sends none); when present it must have the right shape.
  const counts = readRequestCounts(value);
  if (counts === null && 'counts' in value) return 'heartbeat counts are malformed';
  return (counts === null ? stats : { ...stats, counts }) as unknown as WorkerStats;
}

/** What a parsed channel line is: a message of the contract, one the master ignores, or a violation. */
export type ChannelReading =
  | { readonly kind: 'message'; readonly message: WorkerToMaster }
  /** Valid JSON the contract does not know (an app calling process.send for its own reasons). */
  | { readonly kind: 'foreign'; readonly type: string }
  | { readonly kind: 'violation'; readonly reason: string };

/**
 * Checks a parsed channel line field by field and builds a fresh message of only the known fields,
 * so nothing a worker adds reaches the master's state. A message of a known type that is malformed
 * is a violation; a message of another type is foreign (counted, not acted on).
 */
export function readWorkerMessage(value: unknown): ChannelReading {
  if (!isRecord(value)) return { kind: 'foreign', type: Array.isArray(value) ? 'array' : typeof value };
  const type = value['type'];
  const bad = (reason: string): ChannelReading => ({ kind: 'violation', reason: `malformed "${String(type)}" message: ${reason}` });
  switch (type) {
    case 'ready':
    case 'draining':
    case 'released-slot':
      return { kind: 'message', message: { type } };
    case 'recycle': {
      const reason = value['reason'];
      if (typeof reason !== 'string' || reason.length > BOOT_ERROR_MAX_CHARACTERS) return bad('reason is not a short string');
      return { kind: 'message', message: { type, reason } };
    }
    case 'boot-error': {
      const { phase, message, code } = value;
      if (typeof phase !== 'string' || !BOOT_PHASES.includes(phase)) return bad('unknown phase');
      if (typeof message !== 'string' || message.length > BOOT_ERROR_MAX_CHARACTERS) return bad('message is not a short string');
      if (code !== undefined && (typeof code !== 'string' || code.length > 200)) return bad('code is not a short string');
      const boot = { type, phase: phase as BootPhase, message };
      return { kind: 'message', message: code === undefined ? boot : { ...boot, code } };
    }
    case 'heartbeat': {
      const stats = readStats(value['stats']);
      if (typeof stats === 'string') return bad(stats);
      return { kind: 'message', message: { type, stats } };
    }
    default:
      // Node's own internal messages ({cmd: "NODE_..."}) land here too: the master never acts on them.
      return { kind: 'foreign', type: typeof value['cmd'] === 'string' ? value['cmd'] : typeof type === 'string' ? type : 'untyped' };
  }
}

export function isMasterMessage(value: unknown): value is MasterToWorker {
  if (typeof value !== 'object' || value === null || !('type' in value)) return false;
  return value.type === 'drain' || value.type === 'reopen-logs' || value.type === 'accept-slot';
}

/** The watchdog thread's first line before the stack; seeing it, the master knows the stack is out. */
export const STACK_HEADER = 'timed out; its main thread was running:';

/** The byte the master writes on a worker's stdin to ask its watchdog thread for the stuck stack. */
export const STACK_REQUEST_BYTE = 's';
