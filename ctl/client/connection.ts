// appctl's side of the control protocol: connect, hello, send requests with nanoid ids, and route the
// daemon's progress, log lines and replies back to each request by id. Run by appctl.

// Request ids only tell one connection's replies apart: unpredictability buys nothing, and the secure
// variant's node:crypto costs appctl about 15 ms of start-up.
import { nanoid } from 'nanoid/non-secure';
import { encodeFrame, FrameDecoder, FrameError } from '../../shared/control/frame-codec.js';
import { parseServerMessage, ProtocolViolation } from '../../shared/control/message-guards.js';
import {
  MAX_FRAME_BYTES,
  PROTOCOL_VERSION,
  type DaemonIdentity,
  type LogLineMessage,
  type Outcome,
  type Request,
  type ServerMessage,
  type WorkerEventMessage,
} from '../../shared/control/protocol.js';
import type { StatusSnapshot } from '../../shared/control/status.js';
import { hasErrorCode } from '../../shared/errors.js';
import { ControlFailure, NoDaemonError } from './errors.js';
import { trustSocket } from './socket-trust.js';
import { openTransport, type Transport, type TransportKind, type TransportListeners } from './transport.js';
import { escapeStringsForTerminal } from '../../shared/trust/escape-text.js';

export interface RequestHandlers {
  progress?(text: string): void;
  log?(lines: readonly LogLineMessage[]): void;
  events?(events: readonly WorkerEventMessage[]): void;
  /** A snapshot of a `watch` request, taken at `time` by the daemon's clock. */
  status?(snapshot: StatusSnapshot, time: number): void;
}

/** Connects refused with EAGAIN (a full accept queue) are retried this often, over about a second. */
const CONNECT_ATTEMPTS = 10;

interface Pending {
  readonly handlers: RequestHandlers;
  readonly settle: (outcome: Outcome) => void;
  readonly fail: (error: Error) => void;
}

/** Node's answer at its open-files limit is to accept, then close at once (libuv's EMFILE trick). */
function closedBeforeHello(path: string): string {
  return `the daemon at ${path} accepted the connection and closed it before saying hello: it may be out of file descriptors (ulimit -n; see its log), stopping, or crashed`;
}

/** What a failed connect means to the user: exit 3 (nobody there) or 1 (somebody, but not for us). */
function connectError(path: string, error: unknown): Error {
  // Closed under our hello (EPIPE) or reset: somebody accepted, then hung up.
  if (hasErrorCode(error, 'EPIPE', 'ECONNRESET')) return new ControlFailure(closedBeforeHello(path));
  if (hasErrorCode(error, 'ENOENT'))
    return new NoDaemonError(`no appd is listening on ${path} (no such socket); start one with appd, or check -n/-s`);
  if (hasErrorCode(error, 'ECONNREFUSED'))
    return new NoDaemonError(`no appd is listening on ${path} (a stale socket: its daemon is gone); start one with appd`);
  if (hasErrorCode(error, 'EACCES'))
    return new ControlFailure(`permission denied on ${path}: the control socket is only for the user running the daemon`);
  const code = hasErrorCode(error, 'EAGAIN') ? 'EAGAIN' : null;
  return new ControlFailure(`cannot connect to ${path}: ${error instanceof Error ? error.message : String(error)}`, code);
}

/** How connect() talks to the daemon. */
export interface ConnectOptions {
  /** Server text as sent, not escaped for the terminal (--raw). */
  readonly raw?: boolean;
  /** A small request without handlers (status), sent in the same write as the hello. */
  readonly request?: Request;
  /**
   * For a quick exchange: unless the daemon has answered the hello and every request made until then
   * within this many ms of the hello, the connection breaks with a "timeout" error (null: no limit).
   */
  readonly deadlineMs?: number | null;
  /** The byte stream under the connection (transport.ts); tests name one to cover each. */
  readonly transport?: TransportKind;
}

export class ControlClient {
  readonly path: string;
  /** Set by #open, before anything is sent. */
  #transport: Transport | null = null;
  /** closed()'s callers, until the transport closes. */
  readonly #closeWaiters: Array<() => void> = [];
  readonly #decoder = new FrameDecoder(MAX_FRAME_BYTES);
  readonly #pending = new Map<string, Pending>();
  #daemon: DaemonIdentity | null = null;
  #welcome: { settle: () => void; fail: (error: Error) => void } | null = null;
  #broken: Error | null = null;
  /** The timer of connect()'s deadlineMs, until close() or a broken connection. */
  #deadline: NodeJS.Timeout | null = null;
  /** The request connect() sent with the hello, until request() hands out its outcome. */
  #sentWithHello: { readonly request: Request; readonly outcome: Promise<Outcome> } | null = null;

  /** Server text is escaped for the terminal unless the user asked for it raw (--raw). */
  readonly #raw: boolean;

  private constructor(path: string, raw: boolean) {
    this.path = path;
    this.#raw = raw;
  }

  /** Connects through `connectPath`; resolves once the daemon has welcomed the hello. */
  async #open(connectPath: string, options: ConnectOptions): Promise<void> {
    const welcomed = new Promise<void>((settle, fail) => {
      this.#welcome = { settle, fail };
    });
    const path = this.path;
    const listeners: TransportListeners = {
      // Reported from a later turn of the loop (libuv's callback), by when #transport below is set.
      connect: () => this.#sayHello(options.request, options.deadlineMs ?? null),
      data: (chunk) => this.#onData(chunk),
      error: (error) =>
        this.#breakWith(this.#daemon ? new ControlFailure(`connection to ${path} failed: ${error.message}`) : connectError(path, error)),
      close: () => {
        this.#breakWith(
          new ControlFailure(
            this.#daemon
              ? `the daemon closed the connection before answering (it may have stopped or crashed; see its log)`
              : closedBeforeHello(path),
          ),
        );
        for (const waiter of this.#closeWaiters.splice(0)) waiter();
      },
    };
    this.#transport = await openTransport(connectPath, listeners, options.transport);
    await welcomed;
  }

  /**
   * Connects and exchanges hellos; rejects with NoDaemonError when nothing listens. EAGAIN means
   * the daemon's accept queue is full for a moment (a burst of clients): it is retried briefly.
   *
   * `request` (a small one without handlers: status) goes out in the same write as the hello, so its
   * reply follows the welcome without a second round trip; `request(sameObject)` then resolves with its
   * outcome. The daemon reads a connection's frames in order and checks the hello first: one that
   * refuses it (unsupported_protocol, busy) answers with an error and closes without reading the
   * request, and connect() rejects with that error as before. Every daemon since the control protocol
   * began reads all frames of a read in order, so an older daemon of protocol 1 answers both.
   */
  static async connect(path: string, options: ConnectOptions = {}): Promise<ControlClient> {
    // Refuses a socket someone else could have put there; connects through the directory it checked.
    const trusted = trustSocket(path);
    try {
      for (let attempt = 1; ; attempt += 1) {
        const client = new ControlClient(path, options.raw === true);
        try {
          await client.#open(trusted?.connectPath ?? path, options);
          return client;
        } catch (error) {
          if (!(error instanceof ControlFailure && error.code === 'EAGAIN') || attempt >= CONNECT_ATTEMPTS) throw error;
          await new Promise((settle) => setTimeout(settle, 20 * attempt));
        }
      }
    } finally {
      trusted?.release();
    }
  }

  get daemon(): DaemonIdentity {
    if (!this.#daemon) throw new Error('not connected');
    return this.#daemon;
  }

  /**
   * Sends one request; resolves with its outcome (a failed job too), rejects on a protocol error. The
   * request given to connect() was sent with the hello: its outcome, without sending it again.
   */
  request(request: Request, handlers: RequestHandlers = {}): Promise<Outcome> {
    if (this.#sentWithHello !== null && this.#sentWithHello.request === request) {
      const { outcome } = this.#sentWithHello;
      this.#sentWithHello = null;
      return outcome;
    }
    if (this.#broken) return Promise.reject(this.#broken);
    const id = nanoid();
    return new Promise((settle, fail) => {
      this.#pending.set(id, { handlers, settle, fail });
      this.#send({ type: 'request', id, request });
    });
  }

  /** Stops reading the socket (backpressure from a slow stdout). */
  pause(): void {
    this.#transport?.pause();
  }

  resume(): void {
    this.#transport?.resume();
  }

  /** Resolves when the daemon closes the connection (after `stop`, once the master has let go of everything). */
  closed(): Promise<void> {
    if (this.#transport?.closed !== false) return Promise.resolve();
    return new Promise((settle) => this.#closeWaiters.push(settle));
  }

  close(): void {
    this.#stopDeadline();
    this.#pending.clear();
    this.#transport?.destroy();
  }

  #send(message: unknown): void {
    this.#transport?.write(encodeFrame(message));
  }

  /** The hello, and `request` after it in the same write (one system call, usually one read by the daemon). */
  #sayHello(request: Request | undefined, deadlineMs: number | null): void {
    const hello = encodeFrame({ type: 'hello', protocol: PROTOCOL_VERSION, client: 'appctl', pid: process.pid });
    if (request === undefined) this.#transport?.write(hello);
    else {
      const id = nanoid();
      const outcome = new Promise<Outcome>((settle, fail) => this.#pending.set(id, { handlers: {}, settle, fail }));
      // A refused hello fails this too, but connect() reports that error; nobody may be waiting here yet.
      outcome.catch(() => undefined);
      this.#sentWithHello = { request, outcome };
      this.#transport?.write(Buffer.concat([hello, encodeFrame({ type: 'request', id, request })]));
    }
    // Started after the write, while the daemon works on the answer: its first timer costs appctl
    // 0.3 ms of Node's timer code. The kernel accepts connections for a master whose loop is stuck
    // (SIGSTOP, a busy loop in it): without a deadline the hello would wait for a welcome forever.
    if (deadlineMs !== null) this.#deadline = setTimeout(() => this.#expire(deadlineMs), deadlineMs);
  }

  #expire(deadlineMs: number): void {
    const daemon = this.#daemon === null ? `the daemon at ${this.path}` : `appd '${this.#daemon.name}' (pid ${this.#daemon.pid})`;
    this.#breakWith(
      new ControlFailure(
        `no answer from ${daemon} within ${deadlineMs / 1000}s; is its master stuck? (--timeout changes the limit)`,
        'timeout',
      ),
    );
  }

  #stopDeadline(): void {
    if (this.#deadline === null) return;
    clearTimeout(this.#deadline);
    this.#deadline = null;
  }

  #onData(chunk: Buffer): void {
    let messages: ServerMessage[];
    try {
      const decoded = this.#decoder.push(chunk);
      // Escaped before validation and use: every string the server sent reaches a terminal somewhere.
      messages = (this.#raw ? decoded : decoded.map(escapeStringsForTerminal)).map(parseServerMessage);
    } catch (error) {
      if (!(error instanceof FrameError || error instanceof ProtocolViolation)) throw error;
      return this.#breakWith(new ControlFailure(`${this.path} does not speak appd's control protocol: ${error.message}`));
    }
    for (const message of messages) this.#dispatch(message);
  }

  #dispatch(message: ServerMessage): void {
    switch (message.type) {
      case 'welcome':
        this.#daemon = message.daemon;
        this.#welcome?.settle();
        this.#welcome = null;
        return;
      case 'progress':
        this.#pending.get(message.id)?.handlers.progress?.(message.text);
        return;
      case 'log':
        this.#pending.get(message.id)?.handlers.log?.(message.lines);
        return;
      case 'event':
        this.#pending.get(message.id)?.handlers.events?.(message.events);
        return;
      case 'status':
        this.#pending.get(message.id)?.handlers.status?.(message.snapshot, message.time);
        return;
      case 'reply': {
        const pending = this.#pending.get(message.id);
        this.#pending.delete(message.id);
        pending?.settle(message.outcome);
        return;
      }
      case 'error': {
        const failure = new ControlFailure(`appd refused the request: ${message.message} [${message.code}]`, message.code);
        const pending = message.id === null ? undefined : this.#pending.get(message.id);
        if (pending) {
          this.#pending.delete(message.id ?? '');
          pending.fail(failure);
        } else {
          this.#breakWith(failure);
        }
      }
    }
  }

  /** The connection is unusable: every waiting request (and the hello) fails with `error`. */
  #breakWith(error: Error): void {
    if (this.#broken) return;
    this.#broken = error;
    this.#stopDeadline();
    this.#welcome?.fail(error);
    this.#welcome = null;
    for (const pending of this.#pending.values()) pending.fail(error);
    this.#pending.clear();
    this.#transport?.destroy();
  }
}
