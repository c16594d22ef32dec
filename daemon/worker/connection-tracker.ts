// Tracks a worker's connections and in-flight requests, and drains them without dropping a request.
// Runs in each HTTP worker process.
//
// Why not server.close() + closeIdleConnections(): under keep-alive load that resets requests a client
// sent on a socket the server was closing (62-78 resets per 6 swaps, measured). Instead: stop accepting,
// answer every in-flight and later request with Connection: close, and close only sockets that have
// been idle for a while, so the race needs a client that waited that long and then sent at that instant.
// Upgraded connections (WebSockets, CONNECT) are never idle-reaped: they belong to the app, which gets
// its onDrain hook to close them; whatever is still open at graceful-timeout is cut by cutAll().

import type { Server } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** A socket idle this long while draining is closed; a busy one gets Connection: close instead. */
const DRAIN_IDLE_MS = 1000;
const REAP_INTERVAL_MS = 100;

interface SocketState {
  active: number;
  lastActivity: number;
  /** Handed to the app by an 'upgrade' or 'connect' event: no longer HTTP, never reaped as idle. */
  upgraded: boolean;
}

export class ConnectionTracker {
  readonly #sockets = new Map<Socket, SocketState>();
  readonly #responses = new Set<ServerResponse>();
  #draining = false;
  #requests = 0;
  #onEmpty: (() => void) | null = null;

  get draining(): boolean {
    return this.#draining;
  }
  get requests(): number {
    return this.#requests;
  }
  get inFlight(): number {
    return this.#responses.size;
  }
  get connections(): number {
    return this.#sockets.size;
  }
  get upgradedConnections(): number {
    let count = 0;
    for (const state of this.#sockets.values()) if (state.upgraded) count += 1;
    return count;
  }

  /** Registers before the app's listener so every request is counted and marked while draining. */
  watch(server: Server): void {
    server.on('connection', (socket: Socket) => {
      this.#sockets.set(socket, { active: 0, lastActivity: Date.now(), upgraded: false });
      socket.once('close', () => {
        this.#sockets.delete(socket);
        this.#checkEmpty();
      });
    });
  }

  /** Call at the start of each request (before the app sees it), so it is counted and marked while draining. */
  requestStarted(request: IncomingMessage, response: ServerResponse): void {
    this.#requests += 1;
    this.#responses.add(response);
    const state = this.#sockets.get(request.socket);
    if (state) state.active += 1;
    if (this.#draining) response.setHeader('Connection', 'close');
    response.once('close', () => {
      this.#responses.delete(response);
      if (state) {
        state.active -= 1;
        state.lastActivity = Date.now();
      }
    });
  }

  /** Call when a request's socket is handed to an 'upgrade' (or 'connect') listener; it counts as a request. */
  upgradeStarted(request: IncomingMessage): void {
    this.#requests += 1;
    const state = this.#sockets.get(request.socket);
    if (state) state.upgraded = true;
  }

  /**
   * Stops keeping connections alive and calls `onEmpty` once the last one is closed. The caller has
   * already stopped accepting (closed its listening handles).
   */
  drain(onEmpty: () => void): void {
    this.#onEmpty = onEmpty;
    if (this.#draining) return;
    this.#draining = true;
    for (const response of this.#responses) {
      if (!response.headersSent) response.setHeader('Connection', 'close');
    }
    this.#reapIdle();
    setInterval(() => this.#reapIdle(), REAP_INTERVAL_MS).unref();
    this.#checkEmpty();
  }

  #reapIdle(): void {
    const now = Date.now();
    for (const [socket, state] of this.#sockets) {
      if (!state.upgraded && state.active === 0 && now - state.lastActivity >= DRAIN_IDLE_MS) socket.destroy();
    }
  }

  /** Destroys every connection still open (graceful-timeout reached); returns how many, and how many were upgraded. */
  cutAll(): { connections: number; upgraded: number } {
    const counts = { connections: this.#sockets.size, upgraded: this.upgradedConnections };
    for (const socket of this.#sockets.keys()) socket.destroy();
    return counts;
  }

  #checkEmpty(): void {
    if (this.#draining && this.#sockets.size === 0 && this.#onEmpty) {
      const done = this.#onEmpty;
      this.#onEmpty = null;
      done();
    }
  }
}
