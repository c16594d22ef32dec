// One client of the control socket: frames in, hello first, each request enqueued on the arbiter as an
// event whose requester writes the progress and reply back; bounded output, errors close. Run by the appd master.

import type net from 'node:net';
import { encodeFrame, FrameDecoder, FrameError } from '../../shared/control/frame-codec.js';
import { parseClientMessage, ProtocolViolation } from '../../shared/control/message-guards.js';
import {
  FATAL_ERROR_CODES,
  MAX_FRAME_BYTES,
  MAX_HELLO_FRAME_BYTES,
  MAX_REQUEST_FRAME_BYTES,
  PROTOCOL_VERSION,
  type ClientMessage,
  type DaemonIdentity,
  type ErrorCode,
  type Outcome,
  type ServerMessage,
} from '../../shared/control/protocol.js';
import { describeError } from '../../shared/errors.js';
import { escapeControl } from '../../shared/trust/escape-text.js';
import { EventFollower, LogFollower } from './followers.js';
import type { SubscriptionSink } from './subscription.js';
import { eventForRequest } from './requests.js';
import { ControlStatusWatcher } from './status-watcher.js';
import type { ArbiterEvent, Requester } from '../arbiter/events.js';
import type { Logger } from '../master/logger.js';

/** A request that streams until the client goes (logs -f, events, watch). */
interface Follower {
  end(): void;
}

/** Requests one connection may have in flight. */
const MAX_OUTSTANDING = 32;
/** Bad requests (unknown command, bad arguments) a connection may send before it is closed. */
const MAX_BAD_REQUESTS = 8;
/** Unread reply bytes past which a client is dropped (far above any real reply). */
const REPLY_BUFFER_BYTES = 2 * MAX_FRAME_BYTES;
const HELLO_TIMEOUT_MS = 5000;
/** A greeted connection with nothing in flight is closed after this long without traffic. */
const IDLE_TIMEOUT_MS = 60_000;
/** After an error frame, how long the client gets to read it before the socket is destroyed. */
const FAIL_GRACE_MS = 1000;

export interface ConnectionContext {
  readonly identity: DaemonIdentity;
  readonly logger: Logger;
  readonly enqueue: (event: ArbiterEvent) => void;
  /** The client said hello; false refuses it (too many clients). */
  readonly greeted: (connection: ControlConnection) => boolean;
  readonly closed: (connection: ControlConnection) => void;
  /** Logs why a connection was closed (throttled: a flood of bad clients must not flood the log). */
  readonly reportFailure: (text: string) => void;
  /**
   * Makes room for `bytes` more unread reply bytes within the budget all clients share, dropping the
   * clients with the most unread first; false when this connection is the one to drop.
   */
  readonly makeRoom: (connection: ControlConnection, bytes: number) => boolean;
}

export class ControlConnection {
  readonly #socket: net.Socket;
  readonly #context: ConnectionContext;
  /** Small frames only until the hello: an unknown client gets no more than a hello needs. */
  readonly #decoder = new FrameDecoder(MAX_HELLO_FRAME_BYTES);
  /** Requests answered by a reply, by id; a subscription's stays here until the client goes. */
  readonly #outstanding = new Map<string, { follower: Follower | null }>();
  #client: string | null = null;
  #badRequests = 0;
  #closed = false;
  #clientEnded = false;

  constructor(socket: net.Socket, context: ConnectionContext) {
    this.#socket = socket;
    this.#context = context;
    socket.setTimeout(HELLO_TIMEOUT_MS);
    socket.on('data', (chunk: Buffer) => this.#guard(() => this.#onData(chunk)));
    socket.on('end', () => this.#guard(() => this.#onEnd()));
    socket.on('timeout', () => this.#guard(() => this.#onTimeout()));
    // ECONNRESET, EPIPE: the client went away; 'close' follows and cleans up.
    socket.on('error', (error) => context.logger.debug(`control connection ${this.name}: ${error.message}`));
    socket.on('close', () => this.#onClose());
  }

  get greeted(): boolean {
    return this.#client !== null;
  }

  /** "appctl (pid 1234)", or "a control client" before the hello. */
  get name(): string {
    return this.#client ?? 'a control client';
  }

  /** A socket callback must never throw into Node (the master would die of one client's input). */
  #guard(work: () => void): void {
    try {
      work();
    } catch (error) {
      this.#context.logger.error(`control connection ${this.name}: internal error, closing it: ${describeError(error)}`);
      this.#socket.destroy();
    }
  }

  #onData(chunk: Buffer): void {
    if (this.#closed) return; // after an error, the rest of what it sends is ignored
    let messages: unknown[];
    try {
      messages = this.#decoder.push(chunk);
    } catch (error) {
      if (!(error instanceof FrameError)) throw error;
      return this.fail(error.code, error.message);
    }
    for (const raw of messages) {
      if (this.#closed) return;
      try {
        this.#onMessage(parseClientMessage(raw));
      } catch (error) {
        if (!(error instanceof ProtocolViolation)) throw error;
        if (FATAL_ERROR_CODES.has(error.code)) return this.fail(error.code, error.message, error.id);
        this.#badRequests += 1;
        // A client that keeps sending what the daemon refuses is probing or broken: it costs a reply each.
        if (this.#badRequests > MAX_BAD_REQUESTS)
          return this.fail('too_many_errors', `${this.#badRequests} bad requests on one connection (the last: ${error.message})`, error.id);
        this.#send({ type: 'error', id: error.id, code: error.code, message: error.message }, REPLY_BUFFER_BYTES);
      }
    }
  }

  #onMessage(message: ClientMessage): void {
    if (message.type === 'hello') {
      if (this.#client !== null) return this.fail('bad_message', 'hello sent twice');
      if (message.protocol !== PROTOCOL_VERSION) {
        return this.fail(
          'unsupported_protocol',
          `this appd (${this.#context.identity.version}) speaks control protocol ${PROTOCOL_VERSION}, the client speaks ${message.protocol}: use the appctl installed with this appd`,
        );
      }
      // Escaped here, not only by the logger: a name is one token of a line, never lines of its own.
      this.#client = `${escapeControl(message.client)} (pid ${message.pid})`;
      if (!this.#context.greeted(this)) return this.fail('busy', 'too many control clients are connected; try again');
      this.#socket.setTimeout(IDLE_TIMEOUT_MS);
      this.#decoder.maxBytes = MAX_REQUEST_FRAME_BYTES;
      this.#send({ type: 'welcome', protocol: PROTOCOL_VERSION, daemon: this.#context.identity }, REPLY_BUFFER_BYTES);
      return;
    }
    if (this.#client === null) return this.fail('hello_required', 'the first message must be a hello');
    const { id, request } = message;
    if (this.#outstanding.has(id) || this.#outstanding.size >= MAX_OUTSTANDING) {
      const why = this.#outstanding.has(id) ? `request id ${id} is already in flight` : `more than ${MAX_OUTSTANDING} requests in flight`;
      this.#send({ type: 'error', id, code: 'too_many_requests', message: why }, REPLY_BUFFER_BYTES);
      return;
    }
    const entry: { follower: Follower | null } = { follower: null };
    const sink: SubscriptionSink = {
      send: (frame) => this.#send(frame, REPLY_BUFFER_BYTES),
      unreadBytes: () => this.#socket.writableLength,
      drop: (reason) => this.#drop(reason),
    };
    const requester: Requester = {
      origin: this.#client,
      progress: (text) => {
        if (this.#outstanding.has(id)) this.#send({ type: 'progress', id, text }, REPLY_BUFFER_BYTES);
      },
      done: (outcome) => this.#finish(id, outcome),
    };
    this.#outstanding.set(id, entry);
    this.#context.enqueue(
      eventForRequest(request, {
        requester,
        logReader: (logs) => {
          const follower = new LogFollower(logs, id, sink);
          entry.follower = follower;
          return follower;
        },
        eventReader: () => {
          const follower = new EventFollower(id, sink);
          entry.follower = follower;
          return follower;
        },
        statusWatcher: () => {
          const watcher = new ControlStatusWatcher(id, sink);
          entry.follower = watcher;
          return watcher;
        },
      }),
    );
  }

  /** The one reply to request `id`; later calls (a second done) are ignored. */
  #finish(id: string, outcome: Outcome): void {
    const entry = this.#outstanding.get(id);
    if (!entry) return;
    this.#outstanding.delete(id);
    entry.follower?.end();
    this.#send({ type: 'reply', id, outcome }, REPLY_BUFFER_BYTES);
    if (this.#clientEnded && this.#outstanding.size === 0) this.#socket.end();
  }

  /** Writes one frame unless the client left that much unread; then it is dropped. */
  #send(message: ServerMessage, limit: number): boolean {
    if (this.#closed) return false;
    let frame: Buffer;
    try {
      frame = encodeFrame(message);
    } catch (error) {
      if (!(error instanceof FrameError) || message.type !== 'reply') throw error;
      frame = encodeFrame({
        type: 'reply',
        id: message.id,
        outcome: { status: 'failed', message: `the answer is too large to send: ${error.message}` },
      });
    }
    if (this.#socket.writableLength + frame.length > limit) {
      this.#drop('it stopped reading its replies');
      return false;
    }
    if (!this.#context.makeRoom(this, frame.length)) {
      this.#drop("the replies every client left unread reached the daemon's budget, and it had left the most");
      return false;
    }
    this.#socket.write(frame);
    return true;
  }

  /** Reply bytes written to this client and not yet taken by the kernel. */
  get unreadBytes(): number {
    return this.#closed ? 0 : this.#socket.writableLength;
  }

  /** Closes a client that holds too much of the shared reply budget (see ConnectionContext.makeRoom). */
  dropForRoom(): void {
    this.#drop("the replies every client left unread reached the daemon's budget, and it had left the most");
  }

  #drop(reason: string): void {
    if (this.#closed) return;
    const unread = this.#socket.writableLength;
    this.#closeNow();
    this.#socket.destroy();
    // After the socket is gone: this line also reaches log followers, this one no longer among them.
    this.#context.logger.warning(
      `dropped control client ${this.name}: ${reason} (${Math.round(unread / 1024)} KiB unread); the daemon keeps no backlog for it`,
    );
  }

  /** Sends an error and closes the connection (bad input, protocol mismatch, timeout). */
  fail(code: ErrorCode, message: string, id: string | null = null): void {
    if (this.#closed) return;
    this.#context.reportFailure(`control connection ${this.name} closed: ${code}: ${message}`);
    this.#send({ type: 'error', id, code, message }, REPLY_BUFFER_BYTES);
    this.#closeNow();
    this.#socket.end();
    // A client that never closes its side must not keep the socket open on ours.
    setTimeout(() => this.#socket.destroy(), FAIL_GRACE_MS).unref();
  }

  #onEnd(): void {
    if (this.#closed) return;
    this.#clientEnded = true;
    if (this.#decoder.bufferedBytes > 0) {
      return this.fail('bad_frame', `truncated frame: the connection ended ${this.#decoder.bufferedBytes} byte(s) into a frame`);
    }
    // A half-closed client still reads: answer what it asked, then close (logs -f ends with it).
    for (const [id, entry] of this.#outstanding)
      if (entry.follower) this.#finish(id, { status: 'completed', message: 'the client closed its side' });
    if (this.#outstanding.size === 0) this.#socket.end();
  }

  #onTimeout(): void {
    if (!this.greeted) return this.fail('timeout', `no hello within ${HELLO_TIMEOUT_MS / 1000}s`);
    if (this.#outstanding.size === 0) this.fail('timeout', `idle for ${IDLE_TIMEOUT_MS / 1000}s`);
  }

  /** Stops every follower and forgets outstanding requests: their replies have nowhere to go. */
  #closeNow(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const entry of this.#outstanding.values()) entry.follower?.end();
    this.#outstanding.clear();
    this.#context.closed(this);
  }

  #onClose(): void {
    this.#closeNow();
  }

  /** The daemon is exiting: answer what is still open, flush, and close. */
  shutDown(): Promise<void> {
    for (const [id, entry] of this.#outstanding) {
      if (entry.follower) this.#finish(id, { status: 'completed', message: 'the daemon stopped' });
      else
        this.#send(
          { type: 'error', id, code: 'shutting_down', message: 'the daemon stopped before the request finished' },
          REPLY_BUFFER_BYTES,
        );
    }
    this.#closeNow();
    if (this.#socket.destroyed) return Promise.resolve();
    return new Promise((settle) => {
      this.#socket.once('close', () => settle());
      this.#socket.end();
    });
  }

  destroy(): void {
    this.#closeNow();
    this.#socket.destroy();
  }
}
