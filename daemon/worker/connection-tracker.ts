// Tracks a worker's connections and in-flight requests, and drains them without dropping a request.
// Runs in each HTTP worker process.
//
// Why not server.close() + closeIdleConnections(): under keep-alive load that resets requests a client
// sent on a socket the server was closing (62-78 resets per 6 swaps, measured). Instead: stop accepting,
// answer every in-flight and later request with Connection: close, and close a socket only once it has
// been idle as long as keep-alive allows anyway, with no byte of a next request received. Closing an
// idle keep-alive socket always races a client sending on it; closing it sooner than keep-alive would
// add a race that normal operation does not have. Measured: a 1 s limit lost 7 of 422 requests on a
// loaded machine, where a closed-loop client sat idle for over a second between two requests.
// Upgraded connections (WebSockets, CONNECT) are never idle-reaped: they belong to the app, which gets
// its onDrain hook to close them; whatever is still open at graceful-timeout is cut by cutAll().
//
// Pipelined requests are answered, not dropped. Node closes a connection after the response that says
// Connection: close and drops the requests behind it, and a client that keeps its pipeline full has
// always sent more by the time it reads that response (h2load fails those: "we don't have a facility
// to re-start request already in-flight"). So Connection: close goes only on a connection that has
// never pipelined (see arrivedPipelined); a pipelining one is served until its client stops (then it is
// idle, or closed by the client) or graceful-timeout. Measured with h2load --h1 -m 16 -n 3000 across
// a drain: 45-60 requests errored when close went on every pending response, and 60 when it went on
// the last one read; 0 now.
//
// In-flight requests are counted per connection, and a connection's close ends all of them: a response
// Node queued behind another (pipelining) never gets a socket, so it emits no 'close' of its own when
// the client goes away, even once the app ends it (measured on Node 20: 60 of 64 leaked for good).

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Performance } from 'node:perf_hooks';
import { builtinModule } from './builtin-modules.js';
import { RequestStats } from './request-stats.js';

// Not an ES import (builtin-modules.ts says why).
const http = builtinModule('node:http');

/** The shortest idle time after which a draining worker closes a socket (keep-alive 0 means no limit in Node). */
const MINIMUM_DRAIN_IDLE_MS = 1000;
const REAP_INTERVAL_MS = 100;

/**
 * Node's Performance, read from the global once. The global `performance` is an accessor (Node loads
 * node:perf_hooks on its first read), so every read of it runs a getter: two JavaScript calls per request
 * on top of the clock reads themselves. Read at the first connection, not at load: the worker must not
 * load perf_hooks before it is ready (worker.ts says why).
 */
let clock: Performance | undefined;

/** The monotonic clock of every timestamp here (performance.now(), milliseconds). */
function monotonicNow(): number {
  return (clock ??= performance).now();
}

/**
 * Where a tracked socket keeps its Connection. On the socket, not in a Map keyed by sockets: a Map
 * costs a hash per lookup (three per request) and an entry per connection; one property stored the
 * same way on every accepted socket gives them all the same shape.
 */
const CONNECTION = Symbol('appd.connection');

type TrackedSocket = Socket & { [CONNECTION]?: Connection };

/** A tracked connection. A class, so every one has the same shape from its construction on. */
class Connection {
  readonly socket: Socket;
  /** The tracker's list of open connections (a doubly linked list: no hashing, no allocation). */
  previous: Connection | null = null;
  next: Connection | null = null;
  /** Closed: no longer in the list. */
  closed = false;
  /**
   * Its oldest request not answered yet (null: none), and monotonicNow() when it arrived. Requests
   * pipelined behind it wait in `queued`, created only for a client that pipelines: two arrays per
   * connection cost Connection: close traffic an allocation of ~300 bytes per request. Not fields on
   * the response: properties added to every ServerResponse change its shape.
   */
  oldest: ServerResponse | null = null;
  oldestStartedAt = 0;
  queued: ServerResponse[] | null = null;
  queuedStartedAt: number[] | null = null;
  /** How many are open: the oldest and the queued ones. */
  open = 0;
  /** A request of it arrived pipelined (arrivedPipelined): never told Connection: close while draining. */
  pipelined = false;
  /** While draining: the response marked Connection: close (taken back if the client starts pipelining). */
  closing: ServerResponse | null = null;
  /** monotonicNow() when it was accepted or last answered a request. */
  lastActivity: number;
  /** socket.bytesRead when it last became idle: more since means a request is arriving. */
  bytesAtIdle: number;
  /** Handed to the app by an 'upgrade' or 'connect' event: no longer HTTP, never reaped as idle. */
  upgraded = false;
  /** It has had a response: a keep-alive connection between requests, not one whose first is on its way. */
  answered = false;

  constructor(socket: Socket) {
    this.socket = socket;
    this.lastActivity = monotonicNow();
    this.bytesAtIdle = socket.bytesRead;
  }

  add(response: ServerResponse, startedAt: number): void {
    this.open += 1;
    if (this.oldest === null) {
      this.oldest = response;
      this.oldestStartedAt = startedAt;
      return;
    }
    (this.queued ??= []).push(response);
    (this.queuedStartedAt ??= []).push(startedAt);
  }

  /**
   * Takes `response` out of the open ones; returns when its request arrived, or -1 if it was not open.
   * They end in the order they arrived (node:http finishes a pipelined response only once the one
   * before it has finished), so it is the oldest unless an app ended one that had no socket yet.
   */
  remove(response: ServerResponse): number {
    const queued = this.queued;
    const queuedStartedAt = this.queuedStartedAt;
    if (this.oldest === response) {
      const startedAt = this.oldestStartedAt;
      this.open -= 1;
      if (queued !== null && queuedStartedAt !== null && queued.length > 0) {
        this.oldest = queued.shift() ?? null;
        this.oldestStartedAt = queuedStartedAt.shift() ?? 0;
      } else this.oldest = null;
      return startedAt;
    }
    const index = queued === null ? -1 : queued.indexOf(response);
    if (queued === null || queuedStartedAt === null || index < 0) return -1;
    this.open -= 1;
    queued.splice(index, 1);
    return queuedStartedAt.splice(index, 1)[0] ?? 0;
  }

  /** Its open responses, oldest first (a drain and a closed connection look at them; never per request). */
  openResponses(): ServerResponse[] {
    const responses = this.oldest === null ? [] : [this.oldest];
    if (this.queued !== null) responses.push(...this.queued);
    return responses;
  }

  /** Forgets every open response: the connection closed, they never finish. */
  clear(): void {
    this.oldest = null;
    this.open = 0;
    this.queued = null;
    this.queuedStartedAt = null;
  }
}

/**
 * Whether a request that arrives while responses of `connection` are still open was pipelined. Two
 * open, or one that has not sent its headers: the client sent it without waiting. One that has sent
 * its headers may have sent its whole body too and only be waiting to end: a file stream
 * (serve, http-server) ends its response after one more read finds the end of the file, and a client
 * that read the whole body has sent its next request by then. Taken for pipelining, such a keep-alive
 * connection was never told Connection: close and was cut at graceful-timeout (serve 14: 6 requests
 * reset per reload under load). A client pipelining 2 deep to an app that answers at once is missed by
 * this, and can lose its last request of a drain.
 */
function arrivedPipelined(connection: Connection): boolean {
  if (connection.open >= 2) return true;
  return connection.oldest !== null && !connection.oldest.headersSent;
}
/** The connection tracking `socket`, or over TLS the connection its TLSSocket wraps. */
function connectionOf(socket: Socket | null): Connection | undefined {
  if (socket === null) return undefined;
  const own = (socket as TrackedSocket)[CONNECTION];
  if (own !== undefined) return own.closed ? undefined : own;
  // Over TLS a request's socket is the TLSSocket wrapping the connection 'connection' saw (its _parent,
  // an internal of node:tls, on Node 20 and 24 alike); without this a busy TLS connection looked idle
  // and was reaped mid-request while draining.
  const parent = (socket as Socket & { _parent?: unknown })._parent;
  const wrapped = parent instanceof Object ? (parent as TrackedSocket)[CONNECTION] : undefined;
  return wrapped === undefined || wrapped.closed ? undefined : wrapped;
}

/** The tracker a Connection belongs to; one per worker process, set by its constructor. */
let activeTracker: ConnectionTracker | null = null;

/**
 * node:http calls detachSocket(socket) exactly once for each response that finished (its 'finish':
 * all of it handed to the socket), before it ends a Connection: close socket or starts the next
 * pipelined response. Wrapping that one method of the prototype learns every response's end with no
 * 'close' listener per response (a listener store and an emit through it, per request). A response whose
 * connection closes first never finishes: the connection's 'close' ends it (see #socketClosed).
 * Apps that replace a response's prototype (Express) keep http.ServerResponse.prototype under theirs.
 */
function installResponseEnd(): void {
  const prototype = http.ServerResponse.prototype as ServerResponse & { detachSocket(socket: Socket): void };
  const detachSocket = prototype.detachSocket;
  prototype.detachSocket = function detachSocketTracked(this: ServerResponse, socket: Socket): void {
    detachSocket.call(this, socket);
    const connection = connectionOf(socket);
    if (connection !== undefined && activeTracker !== null) activeTracker.responseFinished(connection, this);
  };
}

export class ConnectionTracker {
  /** The open connections, newest first. */
  #first: Connection | null = null;
  #connections = 0;
  /** Answered requests by status class and duration, for the heartbeat. */
  readonly stats = new RequestStats();
  #draining = false;
  #requests = 0;
  #inFlight = 0;
  #onEmpty: (() => void) | null = null;
  #noConnectionWaiters: (() => void)[] = [];
  #idleLimitMs = MINIMUM_DRAIN_IDLE_MS;
  /** slot-bind: the connections accepted on this worker's slot sockets. */
  readonly #slotConnections = new WeakSet<Socket>();
  #onSlotReleased: (() => void) | null = null;

  constructor() {
    if (activeTracker === null) installResponseEnd();
    activeTracker = this;
  }

  get draining(): boolean {
    return this.#draining;
  }
  get requests(): number {
    return this.#requests;
  }
  get inFlight(): number {
    return this.#inFlight;
  }
  get connections(): number {
    return this.#connections;
  }
  get upgradedConnections(): number {
    let count = 0;
    for (let connection = this.#first; connection !== null; connection = connection.next) if (connection.upgraded) count += 1;
    return count;
  }

  /**
   * slot-bind: a connection accepted on a slot socket, marked as it is accepted (node:http sets
   * socket.server to itself, so the listening socket it came from is not known later).
   */
  markSlotConnection(socket: Socket): void {
    this.#slotConnections.add(socket);
  }

  /**
   * slot-bind, while draining: calls `callback` once no connection accepted on a slot socket can carry
   * another request: each is closed, upgraded (the app's), or answering its last request with
   * Connection: close. Until then the slot's next worker must not accept there: a proxy would send a
   * client's requests to both generations.
   *
   * Idle slot connections are closed now, not after keep-alive as others are (see the top of this file):
   * every request a draining worker answers there starts state that dies with it. A socket.io handshake
   * answered by the old worker made a session whose next poll reached the new one (400 Session ID
   * unknown: 11 connect errors of 20 clients across a reload through nginx). The peer of a slot socket
   * is a proxy pinning clients, and a proxy reusing an idle connection as it closes is the race it
   * already meets whenever keep-alive runs out (nginx keeps idle upstream connections 60 s, appd 5 s).
   */
  whenSlotReleased(callback: () => void): void {
    this.#onSlotReleased = callback;
    for (let connection = this.#first; connection !== null; connection = connection.next) {
      const socket = connection.socket;
      // One just accepted has its first request on the way: it is answered (Connection: close). One
      // whose last response is still being written, or that node:http is closing itself (the client
      // asked for Connection: close), is left to finish: cutting it could lose the end of a response.
      const settled = socket.writable && socket.writableLength === 0;
      if (this.#slotConnections.has(socket) && connection.answered && settled && this.#isIdle(connection)) socket.end();
    }
    this.#checkSlotReleased();
  }

  /** No request in flight or arriving (bytes after the last response are one on its way), not upgraded. */
  #isIdle(connection: Connection): boolean {
    return !connection.upgraded && connection.open === 0 && connection.socket.bytesRead === connection.bytesAtIdle;
  }

  /**
   * Counts a connection until it closes; once only (the PROXY header reader tracks it before 'connection').
   * instrumentServer's emit calls it for every 'connection', before any listener (the app's too). The
   * 'close' listener is one function shared by every socket (it reads the socket from `this`): a closure
   * and a once() wrapper per connection cost Connection: close traffic measurable microseconds.
   */
  track(socket: Socket): void {
    const tracked = socket as TrackedSocket;
    if (tracked[CONNECTION] !== undefined) return;
    const connection = new Connection(socket);
    tracked[CONNECTION] = connection;
    const first = this.#first;
    connection.next = first;
    if (first !== null) first.previous = connection;
    this.#first = connection;
    this.#connections += 1;
    socket.on('close', onTrackedSocketClose);
  }

  /** A tracked socket closed: whatever it still had in flight ends with it (see the top of this file). */
  socketClosed(connection: Connection): void {
    if (connection.closed) return;
    connection.closed = true;
    const { previous, next } = connection;
    if (previous === null) this.#first = next;
    else previous.next = next;
    if (next !== null) next.previous = previous;
    connection.previous = null;
    connection.next = null;
    this.#connections -= 1;
    if (connection.open > 0) {
      this.#inFlight -= connection.open;
      // These never finish. The one on the socket is counted as it was answered so far; the ones node:http
      // queued behind it (pipelining) were never started and are not counted.
      const now = monotonicNow();
      const oldest = connection.oldest;
      if (oldest !== null && oldest.socket !== null) this.stats.record(oldest.statusCode, connection.oldestStartedAt, now);
      connection.clear();
    }
    this.#checkEmpty();
    this.#checkSlotReleased();
  }

  /**
   * Call at the start of each request (before the app sees it), so it is counted and marked while draining.
   * Per request this stores it in its connection: no array, no listener, no closure, no field on the
   * response (the request path is measured against a plain node:http server).
   */
  requestStarted(request: IncomingMessage, response: ServerResponse): void {
    this.#requests += 1;
    const connection = connectionOf(request.socket);
    // Every connection of a watched server is tracked; a request on any other is counted, not followed.
    if (connection === undefined) {
      if (this.#draining) response.setHeader('Connection', 'close');
      return;
    }
    if (!connection.pipelined && arrivedPipelined(connection)) connection.pipelined = true;
    if (this.#draining) this.#markClosing(connection, response);
    connection.add(response, monotonicNow());
    this.#inFlight += 1;
  }

  /** A response of `connection` finished (installResponseEnd). One clock read serves the duration and the idle time. */
  responseFinished(connection: Connection, response: ServerResponse): void {
    const startedAt = connection.remove(response);
    if (startedAt < 0) return;
    const now = monotonicNow();
    this.stats.record(response.statusCode, startedAt, now);
    this.#inFlight -= 1;
    connection.answered = true;
    connection.lastActivity = now;
    connection.bytesAtIdle = connection.socket.bytesRead;
  }

  /** Call when a request's socket is handed to an 'upgrade' (or 'connect') listener; it counts as a request. */
  upgradeStarted(request: IncomingMessage): void {
    this.#requests += 1;
    this.stats.recordUpgrade();
    const connection = connectionOf(request.socket);
    if (connection !== undefined) connection.upgraded = true;
  }

  /**
   * Stops keeping connections alive and calls `onEmpty` once the last one is closed. The caller has
   * already stopped accepting (closed its listening handles). A socket idle for `keepAliveMs` (the
   * server's keep-alive timeout; at least 1 s) is closed: a just-accepted one that has not sent its
   * request yet too, which Node's own keep-alive timer does not cover.
   */
  drain(onEmpty: () => void, keepAliveMs: number): void {
    this.#onEmpty = onEmpty;
    if (this.#draining) return;
    this.#draining = true;
    this.#idleLimitMs = Math.max(MINIMUM_DRAIN_IDLE_MS, keepAliveMs);
    for (let connection = this.#first; connection !== null; connection = connection.next) {
      for (const response of connection.openResponses()) this.#markClosing(connection, response);
    }
    this.#reapIdle();
    setInterval(() => this.#reapIdle(), REAP_INTERVAL_MS).unref();
    this.#checkEmpty();
  }

  /**
   * While draining, the response to a connection's latest request: it says Connection: close unless the
   * connection pipelines (see the top of this file). A mark given before the client started pipelining
   * is taken back if that response has not started (else the connection ends there, as it said).
   */
  #markClosing(connection: Connection, response: ServerResponse): void {
    if (connection.pipelined) {
      if (connection.closing !== null && !connection.closing.headersSent) connection.closing.removeHeader('Connection');
      connection.closing = null;
    } else if (!response.headersSent) {
      connection.closing = response;
      response.setHeader('Connection', 'close');
    }
  }

  #reapIdle(): void {
    const now = monotonicNow();
    // A destroyed socket closes later (its 'close' comes from the event loop), so the list holds still here.
    for (let connection = this.#first; connection !== null; connection = connection.next) {
      // Bytes after the last response are a request on its way (its headers not complete yet): it
      // will be answered with Connection: close, so the socket is not idle.
      if (this.#isIdle(connection) && now - connection.lastActivity >= this.#idleLimitMs) connection.socket.destroy();
    }
    this.#checkSlotReleased();
  }

  #checkSlotReleased(): void {
    if (this.#onSlotReleased === null || !this.#draining) return;
    for (let connection = this.#first; connection !== null; connection = connection.next) {
      if (!this.#slotConnections.has(connection.socket)) continue;
      // Marked closing and still answering: its client sends nothing more on it.
      if (!connection.upgraded && !(connection.open > 0 && connection.closing !== null)) return;
    }
    const released = this.#onSlotReleased;
    this.#onSlotReleased = null;
    released();
  }

  /** Destroys every connection still open (graceful-timeout reached); returns how many, and how many were upgraded. */
  cutAll(): { connections: number; upgraded: number } {
    const counts = { connections: this.#connections, upgraded: this.upgradedConnections };
    const sockets: Socket[] = [];
    for (let connection = this.#first; connection !== null; connection = connection.next) sockets.push(connection.socket);
    for (const socket of sockets) socket.destroy();
    return counts;
  }

  /** Calls `callback` once no connection is open (now, if none is). */
  whenNoConnections(callback: () => void): void {
    if (this.#connections === 0) callback();
    else this.#noConnectionWaiters.push(callback);
  }

  #checkEmpty(): void {
    if (this.#connections === 0 && this.#noConnectionWaiters.length > 0) {
      const waiters = this.#noConnectionWaiters;
      this.#noConnectionWaiters = [];
      for (const waiter of waiters) waiter();
    }
    if (this.#draining && this.#connections === 0 && this.#onEmpty) {
      const done = this.#onEmpty;
      this.#onEmpty = null;
      done();
    }
  }
}

/** The 'close' listener of every tracked socket: one function, the socket in `this` (no closure per connection). */
function onTrackedSocketClose(this: Socket): void {
  const connection = (this as TrackedSocket)[CONNECTION];
  if (connection !== undefined && activeTracker !== null) activeTracker.socketClosed(connection);
}
