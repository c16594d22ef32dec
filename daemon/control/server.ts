// The control socket server: binds the socket file, accepts clients within fixed limits (abandoned
// connections are evicted oldest first), and on exit answers, flushes and removes everything. Run by the appd master.

import net from 'node:net';
import { MAX_FRAME_BYTES, type DaemonIdentity } from '../../shared/control/protocol.js';
import { ControlConnection } from './connection.js';
import {
  bindControlSocket,
  bindStandbyControlSocket,
  prepareControlDirectory,
  removeControlSocket,
  takeOverControlSocket,
} from './socket-file.js';
import type { ArbiterEvent } from '../arbiter/events.js';
import type { Logger } from '../master/logger.js';
import { monotonicMilliseconds } from '../arbiter/clock.js';

/** Connections that have not said hello yet; past this the oldest is closed to make room. */
const MAX_UNGREETED = 256;
/** Clients after the hello (appctl runs, dashboards, scripts). */
const MAX_CLIENTS = 128;
/**
 * Reply bytes all clients together may leave unread: two of the largest frames. Past it, the clients
 * holding the most are dropped first (128 clients that never read used to hold 180 MB of the master).
 */
const UNREAD_BUDGET_BYTES = 2 * MAX_FRAME_BYTES;
/** How long exit waits for clients to read their last replies. */
const SHUTDOWN_FLUSH_MS = 2000;
/** At most this many lines about closed bad connections per window; the rest are counted. */
const FAILURE_LINES_PER_WINDOW = 10;
const FAILURE_WINDOW_MS = 10_000;

export interface ControlServerOptions {
  readonly path: string;
  /** The path came from the default rule (its directory is appd's own and kept at 0700). */
  readonly isDefaultPath: boolean;
  readonly identity: DaemonIdentity;
  readonly logger: Logger;
  readonly enqueue: (event: ArbiterEvent) => void;
  /** A successor master (upgrade): listen at a private name until takeOverPath(), while the old master answers at `path`. */
  readonly standby?: boolean;
}

export class ControlServer {
  readonly path: string;
  #server: net.Server;
  /** Where our socket file is: a private name while on standby, else `path`. */
  #boundPath: string;
  readonly #options: ControlServerOptions;
  /** Insertion order is arrival order: the first entry is the oldest. */
  readonly #ungreeted = new Set<ControlConnection>();
  readonly #clients = new Set<ControlConnection>();
  #inode = -1;
  #closing = false;
  #failureWindowStart = 0;
  #failuresInWindow = 0;

  private constructor(options: ControlServerOptions) {
    this.path = options.path;
    this.#boundPath = options.path;
    this.#options = options;
    this.#server = this.#createServer();
  }

  #createServer(): net.Server {
    // Half-open: a client may send its request and shut its side; it still gets the reply.
    const server = net.createServer({ allowHalfOpen: true }, (socket) => this.#accept(socket));
    server.on('error', (error) => this.#options.logger.error(`control socket ${this.path}: ${error.message}`));
    return server;
  }

  /** Binds the socket (refusing if another daemon owns the path) and starts serving. */
  static async open(options: ControlServerOptions): Promise<ControlServer> {
    const server = new ControlServer(options);
    prepareControlDirectory(options.path, options.isDefaultPath);
    if (options.standby) {
      const { temporary, inode } = await bindStandbyControlSocket(server.#server, options.path);
      server.#boundPath = temporary;
      server.#inode = inode;
      options.logger.info(`Control socket: ${options.path} once this new master takes over (until then at ${temporary})`);
      return server;
    }
    server.#inode = await server.#bind();
    options.logger.info(`Control socket: ${options.path} (appctl -n ${options.identity.name} …)`);
    return server;
  }

  #bind(): Promise<number> {
    const { path, identity, logger } = this.#options;
    return bindControlSocket(this.#server, path, identity.name, () =>
      logger.info(`replaced a stale control socket at ${path} (no daemon answered there)`),
    );
  }

  /** Upgrade, in the new master: from now on appctl reaches this master at `path` (the old one keeps its connected clients). */
  takeOverPath(): void {
    if (this.#boundPath === this.path) return;
    takeOverControlSocket(this.#boundPath, this.path);
    this.#boundPath = this.path;
    this.#options.logger.info(`Control socket: ${this.path} (taken over from the old master)`);
  }

  /**
   * Upgrade, in the old master, after its successor (which had taken the path over) exited: bind the
   * path again, so appctl finds this master. Clients already connected stay connected.
   */
  async reclaimPath(): Promise<void> {
    if (this.#closing) return;
    const replaced = this.#server;
    this.#server = this.#createServer();
    this.#inode = await this.#bind();
    this.#boundPath = this.path;
    replaced.close();
    this.#options.logger.info(`Control socket: ${this.path} (this master answers there again)`);
  }

  #accept(socket: net.Socket): void {
    if (this.#closing) {
      socket.destroy();
      return;
    }
    // The arbiter reads what a status shows from /proc now, while the client prepares its request.
    this.#options.enqueue({ type: 'control-connected' });
    if (this.#ungreeted.size >= MAX_UNGREETED) {
      const oldest = this.#ungreeted.values().next().value;
      oldest?.fail('timeout', `closed to make room: more than ${MAX_UNGREETED} connections were waiting to say hello`);
    }
    const connection = new ControlConnection(socket, {
      identity: this.#options.identity,
      logger: this.#options.logger,
      enqueue: this.#options.enqueue,
      greeted: (greeted) => {
        this.#ungreeted.delete(greeted);
        if (this.#clients.size >= MAX_CLIENTS) return false;
        this.#clients.add(greeted);
        return true;
      },
      closed: (closed) => {
        this.#ungreeted.delete(closed);
        this.#clients.delete(closed);
      },
      reportFailure: (text) => this.#reportFailure(text),
      makeRoom: (asking, bytes) => this.#makeRoom(asking, bytes),
    });
    this.#ungreeted.add(connection);
  }

  #makeRoom(asking: ControlConnection, bytes: number): boolean {
    const everyone = [...this.#clients, ...this.#ungreeted];
    let total = everyone.reduce((sum, connection) => sum + connection.unreadBytes, 0);
    while (total + bytes > UNREAD_BUDGET_BYTES) {
      const largest = everyone.reduce((most, connection) => (connection.unreadBytes > most.unreadBytes ? connection : most), asking);
      if (largest === asking || largest.unreadBytes === 0) return false;
      total -= largest.unreadBytes;
      largest.dropForRoom();
    }
    return true;
  }

  #reportFailure(text: string): void {
    const now = monotonicMilliseconds(); // a window of time: the monotonic clock (a wall-clock step must not reopen or stretch it)
    if (now - this.#failureWindowStart >= FAILURE_WINDOW_MS) {
      this.#failureWindowStart = now;
      this.#failuresInWindow = 0;
    }
    this.#failuresInWindow += 1;
    if (this.#failuresInWindow <= FAILURE_LINES_PER_WINDOW) return this.#options.logger.info(text);
    if (this.#failuresInWindow === FAILURE_LINES_PER_WINDOW + 1) {
      // One summary when the window ends, however many were left out.
      setTimeout(
        () => {
          const suppressed = this.#failuresInWindow - FAILURE_LINES_PER_WINDOW;
          this.#options.logger.warning(
            `${suppressed} more control connection(s) closed for bad input or timeouts within ${FAILURE_WINDOW_MS / 1000}s (not logged one by one)`,
          );
        },
        this.#failureWindowStart + FAILURE_WINDOW_MS - now,
      ).unref();
    }
  }

  /** Stops accepting, removes the socket file (if still ours), answers and flushes every client. */
  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    this.#server.close();
    removeControlSocket(this.#boundPath, this.#inode);
    for (const connection of this.#ungreeted) connection.destroy();
    const clients = [...this.#clients];
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(clients.map((client) => client.shutDown())),
      new Promise<void>((settle) => (timer = setTimeout(settle, SHUTDOWN_FLUSH_MS))),
    ]);
    clearTimeout(timer);
    for (const client of clients) client.destroy();
  }
}
