// The admin listener (--metrics-bind): /metrics, /livez, /readyz and /startupz, answered by the master
// from its own event loop with its own small limits, never through a worker. Run by the appd master.

import { lstatSync, unlinkSync } from 'node:fs';
// Named imports: esbuild's interop for a default import copies every export, and on Node 24 node:http's lazy
// WebSocket getters load undici with it (~70 ms of CPU, megabytes of a master that lives for months).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createConnection, type Socket } from 'node:net';
import type { BindAddress } from '../../shared/bind-address.js';
import { BindError, describeError, hasErrorCode } from '../../shared/errors.js';
import type { Arbiter } from '../arbiter/arbiter.js';
import type { Logger } from '../master/logger.js';
import { collectFamilies } from './collect.js';
import { CONTENT_TYPES, negotiateFormat, renderFamilies } from './exposition.js';
import { backlogOf } from './listen-queue.js';
import { liveness, readiness, startup, type HealthAnswer, type HealthSources, type ProbeState } from './health.js';
import { monotonicMilliseconds } from '../arbiter/clock.js';

/** Scrapers and probes are few: more connections than this are refused at once (the master must not grow). */
const MAX_CONNECTIONS = 16;
/** Request line and headers together; a scrape needs a few hundred bytes. */
const MAX_HEADER_BYTES = 8192;
const HEADERS_TIMEOUT_MS = 5000;
const REQUEST_TIMEOUT_MS = 10_000;
const KEEP_ALIVE_MS = 5000;
/** A connection idle this long is closed, whatever it is doing. */
const IDLE_TIMEOUT_MS = 15_000;
/** An upgrade's successor tries the address this often until the old master lets it go. */
const TAKEOVER_RETRY_MS = 500;
/** A failing collection is logged at most this often (a scraper retries every few seconds). */
const ERROR_LOG_INTERVAL_MS = 60_000;

export interface AdminServerOptions {
  readonly address: BindAddress & { kind: 'tcp' | 'unix' };
  /** File mode of a unix socket (unix-socket-mode). */
  readonly socketMode: number;
  readonly logger: Logger;
  readonly arbiter: Arbiter;
  /** Milestones the arbiter reported (first ready, last loop), kept since before it started. */
  readonly probes: ProbeState;
  /** Set in an upgrade's successor: the old master holds the address until it exits; keep trying. */
  readonly predecessorHoldsAddress: boolean;
}

type Route = (request: IncomingMessage) => { status: number; type: string; body: string };

function json(answer: HealthAnswer): { status: number; type: string; body: string } {
  return { status: answer.status, type: 'application/json', body: `${JSON.stringify(answer.body)}\n` };
}

/** What is on disk at a unix path: nothing, a socket nobody listens on any more, one in use, or something else. */
async function unixPathState(path: string): Promise<'absent' | 'stale' | 'live' | 'not-a-socket'> {
  try {
    if (!lstatSync(path).isSocket()) return 'not-a-socket';
  } catch (error) {
    if (hasErrorCode(error, 'ENOENT')) return 'absent';
    throw error;
  }
  return new Promise((settle) => {
    const probe = createConnection(path);
    probe.once('connect', () => {
      probe.destroy();
      settle('live');
    });
    probe.once('error', (error) => settle(hasErrorCode(error, 'ECONNREFUSED') ? 'stale' : 'live'));
  });
}

export class AdminServer {
  readonly #options: AdminServerOptions;
  readonly #server: Server;
  #lastErrorLoggedAt = -Infinity;
  #retry: NodeJS.Timeout | null = null;
  #closed = false;
  readonly #routes: Readonly<Record<string, Route>>;

  private constructor(options: AdminServerOptions) {
    this.#options = options;
    const health = this.#healthSources();
    this.#routes = {
      '/metrics': (request) => {
        const format = negotiateFormat(request.headers.accept, new URLSearchParams((request.url ?? '').split('?')[1] ?? '').get('format'));
        return { status: 200, type: CONTENT_TYPES[format], body: renderFamilies(collectFamilies(this.#metricsSources()), format) };
      },
      '/livez': () => json(liveness(health)),
      '/readyz': () => json(readiness(health)),
      '/startupz': () => json(startup(health)),
      '/': () => ({
        status: 200,
        type: 'application/json',
        body: `${JSON.stringify({ endpoints: ['/metrics', '/livez', '/readyz', '/startupz'] })}\n`,
      }),
    };
    this.#server = createServer(
      {
        maxHeaderSize: MAX_HEADER_BYTES,
        headersTimeout: HEADERS_TIMEOUT_MS,
        requestTimeout: REQUEST_TIMEOUT_MS,
        keepAliveTimeout: KEEP_ALIVE_MS,
        connectionsCheckingInterval: 1000,
      },
      (request, response) => this.#answer(request, response),
    );
    this.#server.maxConnections = MAX_CONNECTIONS;
    this.#server.setTimeout(IDLE_TIMEOUT_MS, (socket: Socket) => socket.destroy());
    // A client error (bad request line, headers too large) is answered by Node; the socket must not leak.
    this.#server.on('clientError', (_error, socket) => socket.destroy());
  }

  /** Binds the address (an upgrade's successor: as soon as the old master frees it) and starts answering. */
  static async open(options: AdminServerOptions): Promise<AdminServer> {
    const admin = new AdminServer(options);
    await admin.#bind();
    return admin;
  }

  /** "127.0.0.1:9100" or "unix:/run/app/metrics.sock" (port 0 resolved), once bound. */
  get addressText(): string | null {
    const bound = this.#server.address();
    if (bound === null) return null;
    if (typeof bound === 'string') return `unix:${bound}`;
    return bound.family === 'IPv6' ? `[${bound.address}]:${bound.port}` : `${bound.address}:${bound.port}`;
  }

  async #bind(): Promise<void> {
    const { address, logger, predecessorHoldsAddress } = this.#options;
    if (address.kind === 'unix') {
      const state = await unixPathState(address.path);
      if (state === 'not-a-socket')
        throw new BindError(`metrics-bind ${address.text}: the path exists and is not a socket; refusing to replace it`);
      if (state === 'stale') unlinkSync(address.path);
      if (state === 'live' && !predecessorHoldsAddress) throw new BindError(`metrics-bind ${address.text}: another process listens there`);
      if (state === 'live') return this.#retryUntilFree('the old master serves it until it exits');
    }
    try {
      await this.#listen();
    } catch (error) {
      if (predecessorHoldsAddress && hasErrorCode(error, 'EADDRINUSE'))
        return this.#retryUntilFree('the old master serves it until it exits');
      throw new BindError(`cannot listen on metrics-bind ${address.text}: ${describeError(error)}`);
    }
    logger.info(`Metrics and health at: ${this.#urlText()}`);
  }

  #urlText(): string {
    const text = this.addressText ?? this.#options.address.text;
    return text.startsWith('unix:')
      ? `${text} (GET /metrics /livez /readyz /startupz)`
      : `http://${text}/metrics (and /livez /readyz /startupz)`;
  }

  /** An upgrade's successor: the old master answers probes until it exits; then this one takes the address. */
  #retryUntilFree(why: string): void {
    this.#options.logger.info(`metrics-bind ${this.#options.address.text}: ${why}; taking it over then`);
    const attempt = (): void => {
      this.#retry = null;
      if (this.#closed) return;
      void this.#bindQuietly().then((bound) => {
        if (bound) this.#options.logger.info(`Metrics and health at: ${this.#urlText()}`);
        else if (!this.#closed) this.#retry = setTimeout(attempt, TAKEOVER_RETRY_MS);
      });
    };
    this.#retry = setTimeout(attempt, TAKEOVER_RETRY_MS);
  }

  async #bindQuietly(): Promise<boolean> {
    const { address } = this.#options;
    try {
      if (address.kind === 'unix') {
        const state = await unixPathState(address.path);
        if (state === 'live' || state === 'not-a-socket') return false;
        if (state === 'stale') unlinkSync(address.path);
      }
      await this.#listen();
      return true;
    } catch (error) {
      if (hasErrorCode(error, 'EADDRINUSE', 'ENOENT')) return false; // still held: try again shortly
      this.#options.logger.error(`cannot listen on metrics-bind ${address.text}: ${describeError(error)}`);
      return false;
    }
  }

  #listen(): Promise<void> {
    const { address, socketMode } = this.#options;
    return new Promise((settle, fail) => {
      const failed = (error: Error): void => fail(error);
      this.#server.once('error', failed);
      const listening = (): void => {
        this.#server.off('error', failed);
        settle();
      };
      if (address.kind === 'tcp') {
        this.#server.listen({ host: address.host ?? undefined, port: address.port }, listening);
        return;
      }
      // The socket file gets its mode as it is created (umask around the synchronous bind), never by a
      // chmod on the path afterwards, which another user could have swapped for a link in between.
      const previous = process.umask(0o777 & ~socketMode);
      try {
        this.#server.listen({ path: address.path }, listening);
      } finally {
        process.umask(previous);
      }
    });
  }

  #healthSources(): HealthSources {
    const { arbiter, probes } = this.#options;
    return {
      supervisor: arbiter.supervisor,
      phase: () => arbiter.phase,
      startedUp: () => probes.startedUp,
      loopAgeMs: () => monotonicMilliseconds() - probes.lastLoopAt,
    };
  }

  #metricsSources(): Parameters<typeof collectFamilies>[0] {
    const arbiter = this.#options.arbiter;
    return {
      supervisor: arbiter.supervisor,
      listeners: arbiter.listeners,
      counters: arbiter.metrics,
      now: arbiter.now(),
      backlogOf: (listener) => backlogOf(listener, arbiter.supervisor, arbiter.config.backlog),
    };
  }

  #answer(request: IncomingMessage, response: ServerResponse): void {
    const send = (status: number, type: string, body: string, extra: Record<string, string> = {}): void => {
      response.writeHead(status, {
        'content-type': type,
        'content-length': Buffer.byteLength(body),
        'cache-control': 'no-store',
        ...extra,
      });
      response.end(request.method === 'HEAD' ? undefined : body);
    };
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      return send(405, 'application/json', '{"error":"only GET and HEAD"}\n', { allow: 'GET, HEAD', connection: 'close' });
    }
    // A probe has no body; one that sends a body is not read, and the connection is closed after the answer.
    if (
      (request.headers['content-length'] !== undefined && request.headers['content-length'] !== '0') ||
      request.headers['transfer-encoding'] !== undefined
    ) {
      return send(413, 'application/json', '{"error":"no request body expected"}\n', { connection: 'close' });
    }
    const path = (request.url ?? '/').split('?')[0] ?? '/';
    const route = this.#routes[path];
    if (!route)
      return send(
        404,
        'application/json',
        `${JSON.stringify({ error: 'not found', endpoints: ['/metrics', '/livez', '/readyz', '/startupz'] })}\n`,
      );
    let answer: { status: number; type: string; body: string };
    try {
      answer = route(request);
    } catch (error) {
      const now = monotonicMilliseconds();
      if (now - this.#lastErrorLoggedAt >= ERROR_LOG_INTERVAL_MS) {
        this.#lastErrorLoggedAt = now;
        this.#options.logger.error(`metrics-bind ${this.#options.address.text}: ${path} failed: ${describeError(error)}`);
      }
      return send(500, 'application/json', '{"error":"internal error; see the appd log"}\n');
    }
    send(answer.status, answer.type, answer.body);
  }

  /** Stops answering (the socket file is removed); pending retries end. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#retry) clearTimeout(this.#retry);
    if (!this.#server.listening) return;
    await new Promise<void>((settle) => {
      this.#server.close(() => settle());
      this.#server.closeAllConnections();
    });
  }
}
