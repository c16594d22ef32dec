// The master's end of an HTTP worker's message channel: newline-delimited JSON read with a bound on
// line length and rate, every line checked against the contract before it becomes an event. Run by the appd master.

import type { Socket } from 'node:net';
import { escapeAndCut } from '../../shared/trust/escape-text.js';
import { CHANNEL_MAX_LINE_BYTES, readWorkerMessage, type MasterToWorker, type WorkerToMaster } from '../contracts/worker-messages.js';
import { monotonicMilliseconds } from '../arbiter/clock.js';

/** More lines than this in one second is a flood (heartbeats come at most 20 a second). */
const MAX_LINES_PER_SECOND = 500;
/** Of a line that broke the contract, this much is quoted in the log (escaped). */
const QUOTED_CHARACTERS = 120;
/** Messages to a worker that does not read its channel are dropped beyond this, not buffered. */
const MAX_UNSENT_BYTES = 64 * 1024;
const NEWLINE = 0x0a;

export interface WorkerChannelEvents {
  message(message: WorkerToMaster): void;
  /** The first valid message of a type the contract does not know (later ones are only counted). */
  foreign(type: string): void;
  /** The worker broke the contract; the channel is closed and nothing more is read from it. */
  violation(reason: string): void;
}

export class WorkerChannel {
  readonly #socket: Socket;
  readonly #events: WorkerChannelEvents;
  /** Bytes of the line being read, before its newline; their total never exceeds the line bound. */
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #windowStart = monotonicMilliseconds();
  #linesInWindow = 0;
  #closed = false;
  foreignMessages = 0;

  constructor(socket: Socket, events: WorkerChannelEvents) {
    this.#socket = socket;
    this.#events = events;
    socket.on('data', (chunk: Buffer) => this.#read(chunk));
    // A read or write error on a dying worker's channel says nothing its exit event does not.
    socket.on('error', () => this.#close());
  }

  /** Returns whether the message was handed to the socket (a closed or clogged channel drops it). */
  send(message: MasterToWorker): boolean {
    if (this.#closed || !this.#socket.writable || this.#socket.writableLength > MAX_UNSENT_BYTES) return false;
    this.#socket.write(`${JSON.stringify(message)}\n`);
    return true;
  }

  #read(chunk: Buffer): void {
    let start = 0;
    while (!this.#closed) {
      const newline = chunk.indexOf(NEWLINE, start);
      const end = newline === -1 ? chunk.length : newline;
      if (this.#pendingBytes + (end - start) >= CHANNEL_MAX_LINE_BYTES) {
        const head = Buffer.concat([...this.#pending, chunk.subarray(start, Math.min(end, start + QUOTED_CHARACTERS))]);
        return this.#violate(`sent a line longer than ${CHANNEL_MAX_LINE_BYTES} bytes on its channel, starting "${quote(head)}..."`);
      }
      if (newline === -1) {
        if (end > start) {
          this.#pending.push(chunk.subarray(start));
          this.#pendingBytes += end - start;
        }
        return;
      }
      const line = this.#pending.length === 0 ? chunk.subarray(start, end) : Buffer.concat([...this.#pending, chunk.subarray(start, end)]);
      this.#pending = [];
      this.#pendingBytes = 0;
      start = newline + 1;
      this.#line(line);
    }
  }

  #line(line: Buffer): void {
    const now = monotonicMilliseconds();
    if (now - this.#windowStart >= 1000) {
      this.#windowStart = now;
      this.#linesInWindow = 0;
    }
    this.#linesInWindow += 1;
    if (this.#linesInWindow > MAX_LINES_PER_SECOND)
      return this.#violate(`sent more than ${MAX_LINES_PER_SECOND} messages in a second on its channel`);
    let value: unknown;
    try {
      value = JSON.parse(line.toString('utf8'));
    } catch {
      // The parser's own message would quote the line unescaped; the quote below is escaped and cut.
      return this.#violate(`sent a line that is not JSON on its channel: "${quote(line)}"`);
    }
    const reading = readWorkerMessage(value);
    if (reading.kind === 'message') this.#events.message(reading.message);
    else if (reading.kind === 'violation') this.#violate(`${reading.reason}: "${quote(line)}"`);
    else {
      this.foreignMessages += 1;
      if (this.foreignMessages === 1) this.#events.foreign(escapeAndCut(reading.type, QUOTED_CHARACTERS));
    }
  }

  #violate(reason: string): void {
    this.#close();
    this.#events.violation(reason);
  }

  /** Stops reading and frees what was buffered; the worker sees its channel close. */
  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#socket.destroy();
  }
}

function quote(bytes: Buffer): string {
  return escapeAndCut(bytes.subarray(0, QUOTED_CHARACTERS * 4).toString('utf8'), QUOTED_CHARACTERS);
}
