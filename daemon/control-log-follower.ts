// One `appctl logs [-f]` reader: recent lines, then new ones in batches, through a bounded buffer; a
// reader that stops reading is dropped, so it can never grow the master. Run by the appd master.

import type { LogLineMessage, RequestOf, ServerMessage } from '../shared/control/protocol.js';
import type { LogReader } from './events.js';
import type { LogLine } from './logger.js';

/** Unread bytes (queued here plus queued in the socket) past which a following client is dropped. */
export const SUBSCRIBER_BUFFER_BYTES = 1024 * 1024;
/** At most this much of the ring is sent up front; older lines are left out. */
const RECENT_BYTES = 512 * 1024;
/** Lines and bytes per frame, so one frame stays far below the frame limit. */
const BATCH_LINES = 512;
const BATCH_BYTES = 256 * 1024;
/** Msgpack overhead of one line besides its text (keys, time, pid, source), roughly. */
const LINE_OVERHEAD_BYTES = 64;

/** What a follower needs from its connection. */
export interface FollowerSink {
  /** Writes one frame; false if the connection is gone. */
  send(message: ServerMessage): boolean;
  /** Bytes written to the socket that the client has not read yet. */
  unreadBytes(): number;
  /** Closes the connection because this reader fell too far behind. */
  drop(reason: string): void;
}

function sizeOf(line: LogLine): number {
  return line.text.length + line.source.length + LINE_OVERHEAD_BYTES;
}

function toMessage(line: LogLine): LogLineMessage {
  return { time: line.time, source: line.source, pid: line.pid, level: line.level, text: line.text };
}

export class LogFollower implements LogReader {
  readonly pool: string | null;
  readonly lines: number;
  readonly follow: boolean;
  readonly #id: string;
  readonly #sink: FollowerSink;
  #stop: (() => void) | null = null;
  #pending: LogLine[] = [];
  #pendingBytes = 0;
  #flushScheduled = false;
  #ended = false;

  constructor(request: RequestOf<'logs'>, id: string, sink: FollowerSink) {
    this.pool = request.pool;
    this.lines = request.lines;
    this.follow = request.follow;
    this.#id = id;
    this.#sink = sink;
  }

  begin(recent: readonly LogLine[], stop: (() => void) | null): void {
    this.#stop = stop;
    // The connection may have closed while the request waited on the queue.
    if (this.#ended) return this.end();
    let budget = RECENT_BYTES;
    let first = recent.length;
    while (first > 0 && budget - sizeOf(recent[first - 1] as LogLine) >= 0) {
      first -= 1;
      budget -= sizeOf(recent[first] as LogLine);
    }
    for (const line of recent.slice(first)) this.#queue(line);
    this.#flush();
  }

  line(line: LogLine): void {
    if (this.#ended) return;
    this.#queue(line);
    if (this.#pendingBytes + this.#sink.unreadBytes() > SUBSCRIBER_BUFFER_BYTES) {
      this.#sink.drop('it stopped reading the log');
      return;
    }
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      // One frame per turn of the event loop instead of one per line.
      setImmediate(() => {
        this.#flushScheduled = false;
        this.#flush();
      });
    }
  }

  /** Stops the subscription and forgets queued lines (the connection closed or was dropped). */
  end(): void {
    this.#ended = true;
    this.#stop?.();
    this.#stop = null;
    this.#pending = [];
    this.#pendingBytes = 0;
  }

  #queue(line: LogLine): void {
    this.#pending.push(line);
    this.#pendingBytes += sizeOf(line);
  }

  #flush(): void {
    if (this.#ended) return;
    let batch: LogLineMessage[] = [];
    let batchBytes = 0;
    for (const line of this.#pending) {
      batch.push(toMessage(line));
      batchBytes += sizeOf(line);
      if (batch.length >= BATCH_LINES || batchBytes >= BATCH_BYTES) {
        if (!this.#sendBatch(batch)) return;
        batch = [];
        batchBytes = 0;
      }
    }
    if (batch.length > 0 && !this.#sendBatch(batch)) return;
    this.#pending = [];
    this.#pendingBytes = 0;
  }

  /** The check comes first, so the socket never holds more than the limit plus one batch. */
  #sendBatch(lines: LogLineMessage[]): boolean {
    if (this.#sink.unreadBytes() > SUBSCRIBER_BUFFER_BYTES) {
      this.#sink.drop('it stopped reading the log');
      return false;
    }
    if (this.#sink.send({ type: 'log', id: this.#id, lines })) return true;
    this.end();
    return false;
  }
}
