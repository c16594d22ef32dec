// The control protocol between appctl (or any client) and the appd master: message types, the protocol
// version, limits and error codes. Imported by both the appd master and appctl; framing is frame-codec.ts.

import type { StatusSnapshot, WorkerIdentity } from './status.js';

/**
 * Bumped on any change an older peer would misread. The daemon answers a hello with another
 * version with `unsupported_protocol` and closes, so a stale appctl fails loudly instead of guessing
 * (PM2 has no versioning and only warns "In-memory PM2 is out-of-date").
 */
export const PROTOCOL_VERSION = 1;

/**
 * The largest frame body appctl accepts from the daemon (a status of thousands of workers fits). A
 * bigger length prefix is refused before any of the body is read.
 */
export const MAX_FRAME_BYTES = 4 * 1024 * 1024;

/**
 * The largest frame the daemon accepts from a client: requests are small, and a connection can
 * make the daemon hold at most this much, so a thousand hostile connections cannot grow it much.
 */
export const MAX_REQUEST_FRAME_BYTES = 64 * 1024;

/** Before its hello a connection may send frames of at most this much (a hello is under 100 bytes). */
export const MAX_HELLO_FRAME_BYTES = 4 * 1024;

/** Bytes of the big-endian length prefix in front of every frame. */
export const FRAME_HEADER_BYTES = 4;

/** Error codes in `error` messages; stable, scripts may test them. */
export const ERROR_CODES = [
  /** The bytes are not a frame of one msgpack value (the connection is closed). */
  'bad_frame',
  /** The length prefix exceeds MAX_FRAME_BYTES (the connection is closed). */
  'frame_too_large',
  /** A well-formed frame whose message has the wrong shape (the connection is closed). */
  'bad_message',
  /** Something other than a hello came first (the connection is closed). */
  'hello_required',
  /** The hello named a protocol version this daemon does not speak (the connection is closed). */
  'unsupported_protocol',
  /** A request for a command this daemon does not know; the connection stays usable. */
  'unknown_command',
  /** A known command with invalid arguments; the connection stays usable. */
  'bad_request',
  /** A request id already in use on this connection, or too many requests at once. */
  'too_many_requests',
  /** The daemon holds too many control connections; try again. */
  'busy',
  /** The connection did not say hello in time, or sat idle (the connection is closed). */
  'timeout',
  /** The daemon stopped before the request finished. */
  'shutting_down',
  /** The client sent one bad request after another (the connection is closed). */
  'too_many_errors',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export type ScaleChange = { readonly relative: number } | { readonly absolute: number };

/** Every command and its arguments (`object`: none), keyed by command name (a typed table on both sides). */
export interface RequestArguments {
  ping: object;
  status: object;
  config: object;
  scale: { readonly pool: string | null; readonly change: ScaleChange };
  reload: { readonly pool: string | null };
  /** Replace workers without reading the config: every pool, one pool, or one slot of a pool. */
  restart: { readonly pool: string | null; readonly slot: number | null };
  'stop-pool': { readonly pool: string };
  'start-pool': { readonly pool: string };
  upgrade: object;
  stop: { readonly mode: 'graceful' | 'quick' };
  /** The most recent `lines` lines (of one pool's workers, or all), then every new one when following. */
  logs: {
    readonly pool: string | null;
    readonly lines: number;
    readonly follow: boolean;
    /**
     * While following, send at most this many lines a second, and a note of how many were left out
     * (appctl top shows a dozen lines; a chatty app writes thousands). Absent or 0: every line.
     */
    readonly maxLinesPerSecond?: number;
  };
  /** Every worker state change from now on (for dashboards and scripts), until the client goes. */
  events: object;
  /**
   * Status snapshots as `status` messages: one at once, then about once a second and soon after a
   * worker or pool changes, until the client goes (appctl top). The reply comes only when the daemon stops.
   */
  watch: object;
}
export type Command = keyof RequestArguments;
export const COMMANDS = [
  'ping',
  'status',
  'config',
  'scale',
  'reload',
  'restart',
  'stop-pool',
  'start-pool',
  'upgrade',
  'stop',
  'logs',
  'events',
  'watch',
] as const satisfies readonly Command[];

export type Request = { readonly [C in Command]: { readonly command: C } & RequestArguments[C] }[Command];
export type RequestOf<C extends Command> = Extract<Request, { command: C }>;

/** The final answer to a request. Immediate commands complete at once; jobs (reload, scale, upgrade, stop) when they end. */
export type Outcome =
  | { readonly status: 'completed'; readonly message: string; readonly data?: unknown }
  | { readonly status: 'failed'; readonly message: string }
  | { readonly status: 'rolled_back'; readonly message: string };

export interface ClientHello {
  readonly type: 'hello';
  readonly protocol: number;
  /** "appctl 0.1.0": shown in the daemon's log lines about this client. */
  readonly client: string;
  /** The client's own pid, as it says (only for log lines; Node cannot read SO_PEERCRED). */
  readonly pid: number;
}

export type ClientMessage = ClientHello | { readonly type: 'request'; readonly id: string; readonly request: Request };

export interface DaemonIdentity {
  readonly name: string;
  readonly pid: number;
  readonly version: string;
  readonly node: string;
}

/**
 * The text of the line a follower with maxLinesPerSecond gets in place of the lines it was not sent
 * (source "master", level "warning"); clients recognise it by OMITTED_LINES_MARK.
 */
export function omittedLinesText(count: number, limit: number): string {
  return `${count} line(s) ${OMITTED_LINES_MARK} (it asked for at most ${limit} a second)`;
}
export const OMITTED_LINES_MARK = 'not sent to this client';

/** The count in an omitted-lines note, or null if `line` is not one. */
export function omittedLinesCount(line: LogLineMessage): number | null {
  if (line.source !== 'master' || !line.text.includes(OMITTED_LINES_MARK)) return null;
  return Number(/^(\d+) line/.exec(line.text)?.[1] ?? 0);
}

export interface LogLineMessage {
  /** Milliseconds since the epoch. */
  readonly time: number;
  /** "master" or the worker ("web.3 g2"). */
  readonly source: string;
  readonly pid: number;
  /** debug … critical for the master's lines; stdout or stderr for a worker's output. */
  readonly level: string;
  readonly text: string;
}

/** A worker changed state (streamed to `events` subscribers). */
export interface WorkerEventMessage extends WorkerIdentity {
  /** Milliseconds since the epoch. */
  readonly time: number;
  /** starting (just spawned), ready, stopping, exited. */
  readonly state: string;
  /** Why it is stopping, or how it exited ("exit code 0", "signal SIGKILL (oom)": with the restart reason when one applies); else null. */
  readonly detail: string | null;
}

export type ServerMessage =
  | { readonly type: 'welcome'; readonly protocol: number; readonly daemon: DaemonIdentity }
  | { readonly type: 'progress'; readonly id: string; readonly text: string }
  | { readonly type: 'log'; readonly id: string; readonly lines: readonly LogLineMessage[] }
  | { readonly type: 'event'; readonly id: string; readonly events: readonly WorkerEventMessage[] }
  /** One snapshot for a `watch` request; `time` is the daemon's clock (epoch ms) when it was taken. */
  | { readonly type: 'status'; readonly id: string; readonly time: number; readonly snapshot: StatusSnapshot }
  | { readonly type: 'reply'; readonly id: string; readonly outcome: Outcome }
  | { readonly type: 'error'; readonly id: string | null; readonly code: ErrorCode; readonly message: string };

/** Codes after which the daemon closes the connection. */
export const FATAL_ERROR_CODES: ReadonlySet<ErrorCode> = new Set([
  'bad_frame',
  'frame_too_large',
  'bad_message',
  'hello_required',
  'unsupported_protocol',
  'timeout',
  'busy',
  'too_many_errors',
]);
