// Puts appd between an http.Server and the app's listeners, whoever created the server (appd, or an
// adopted script): request limits, counting, Connection: close while draining, the access log, and
// marking upgraded sockets. Runs in each HTTP worker process.
//
// Why wrap emit() instead of adding a 'request' listener: a listener cannot stop the app's own
// listeners from answering a request appd refuses (414/431), and it would run after a listener the app
// added first. Wrapping the server's emit sees every 'request' and 'upgrade' before any listener, and
// changes nothing else: Node decides whether an upgrade is handled from listenerCount('upgrade'),
// before emit, so an app without upgrade listeners behaves exactly as it would without appd.

import type { IncomingMessage, ServerResponse, Server as PlainHttpServer } from 'node:http';
import type { Socket } from 'node:net';
import type https from 'node:https';
import type { WorkerSpec } from '../contracts/worker-messages.js';
import { builtinModule } from './builtin-modules.js';
import { compileAccessLogFormat, type AccessLogWriter } from './access-log.js';
import { clientOf, installRequestView, setForwardingPolicy } from './proxy/client-address.js';
import { proxyConnectionStep, showSourceOnTls } from './proxy/protocol-binds.js';
import type { ConnectionTracker } from './connection-tracker.js';

// Not an ES import (builtin-modules.ts says why).
const http = builtinModule('node:http');

export type HttpServer = PlainHttpServer | https.Server;

/** How often the server looks for connections past headers-timeout or request-timeout. */
const CONNECTIONS_CHECKING_INTERVAL_MS = 1000;

/** Gunicorn's limits, which node:http lacks or applies differently; returns a status to refuse with. */
function limitViolation(request: IncomingMessage, spec: WorkerSpec): number | null {
  if (spec.limitRequestLine > 0) {
    const lineLength = (request.method?.length ?? 0) + (request.url?.length ?? 0) + 10;
    if (lineLength > spec.limitRequestLine) return 414;
  }
  const raw = request.rawHeaders;
  if (spec.limitRequestFields > 0 && raw.length / 2 > spec.limitRequestFields) return 431;
  if (spec.limitRequestFieldSize > 0) {
    for (let index = 0; index + 1 < raw.length; index += 2) {
      if ((raw[index]?.length ?? 0) + (raw[index + 1]?.length ?? 0) + 2 > spec.limitRequestFieldSize) return 431;
    }
  }
  return null;
}

/** Node caps all headers together (a server option, fixed at creation); keep it above Gunicorn's per-field limit. */
export function maxHeaderSize(spec: WorkerSpec): number {
  return Math.max(16384, spec.limitRequestFieldSize * 2);
}

/** Counts, limits and logs each request, then hands it to `dispatch` (the app's listeners). */
function requestHandler(
  spec: WorkerSpec,
  tracker: ConnectionTracker,
  accessLog: AccessLogWriter | null,
  dispatch: (request: IncomingMessage, response: ServerResponse) => void,
): (request: IncomingMessage, response: ServerResponse) => void {
  const formatLine = accessLog ? compileAccessLogFormat(spec.accessLogFormat) : null;
  return (request, response) => {
    tracker.requestStarted(request, response);
    if (formatLine && accessLog) {
      const startedAt = process.hrtime.bigint();
      const socket = request.socket;
      const bytesBefore = socket.bytesWritten;
      // Now, not at 'close': a socket whose peer is gone no longer knows the peer's address.
      const client = formatLine.usesClient ? clientOf(request) : null;
      response.once('close', () => {
        const declared = Number(response.getHeader('content-length'));
        const bytesSent = Number.isFinite(declared) ? declared : socket.bytesWritten - bytesBefore;
        accessLog.append(formatLine({ request, response, startedAt, client, bytesSent }));
      });
    }
    const refusal = limitViolation(request, spec);
    if (refusal !== null) {
      response.writeHead(refusal, { 'content-type': 'text/plain', connection: 'close' });
      response.end(`${http.STATUS_CODES[refusal] ?? 'Bad Request'}\n`);
      return;
    }
    dispatch(request, response);
  };
}

/**
 * Instruments a server created by appd or by the app. Call before it accepts its first connection;
 * the app may add its listeners before or after.
 */
export function instrumentServer(
  server: HttpServer,
  spec: WorkerSpec,
  tracker: ConnectionTracker,
  accessLog: AccessLogWriter | null,
): void {
  setForwardingPolicy({
    forwardedAllowIps: spec.forwardedAllowIps,
    trustUnixPeers: spec.forwardedAllowUnix,
    headers: spec.forwardedHeaders,
  });
  installRequestView();
  server.keepAliveTimeout = spec.keepAliveMs;
  server.headersTimeout = spec.headersTimeoutMs;
  server.requestTimeout = spec.requestTimeoutMs;
  // Node reads this property when the server starts listening (@types/node knows it only as a creation
  // option) and checks only every 30 s by default, so a 2 s headers-timeout could take 32 s to fire.
  (server as HttpServer & { connectionsCheckingInterval: number }).connectionsCheckingInterval = CONNECTIONS_CHECKING_INTERVAL_MS;
  // Node drops headers past maxHeadersCount silently; let one more through so the limit check sees it.
  server.maxHeadersCount = spec.limitRequestFields > 0 ? spec.limitRequestFields + 1 : 0;
  // The server's own emit (EventEmitter's, or one an instrumentation library installed), untyped because
  // the wrapper forwards every event name.
  const emit = server.emit as (this: HttpServer, event: string | symbol, ...args: unknown[]) => boolean;
  const handle = requestHandler(spec, tracker, accessLog, (request, response) => {
    emit.call(server, 'request', request, response);
  });
  // Only a worker with PROXY binds looks at connections: the others' emit stays as it was.
  const proxied = spec.proxyProtocol.some((mode) => mode !== 'off')
    ? proxyConnectionStep(server, spec, tracker, (socket) => emit.call(server, 'connection', socket))
    : null;
  if (proxied !== null && spec.certfile !== null) server.on('secureConnection', showSourceOnTls);
  // Named parameters for the two events of every request and connection, `arguments` for the rest:
  // no rest array and no spread on the hot path. The tracker follows a connection here, before any
  // listener (the app's too) sees it, instead of from a listener of its own.
  const instrumented = function (this: HttpServer, event: string | symbol, first?: unknown, second?: unknown): boolean {
    if (event === 'request') {
      handle(first as IncomingMessage, second as ServerResponse);
      return true;
    }
    if (event === 'connection') {
      if (proxied !== null && proxied(first as Socket)) return true;
      tracker.track(first as Socket);
      return emit.call(this, event, first);
    }
    if (event === 'upgrade' || event === 'connect') tracker.upgradeStarted(first as IncomingMessage);
    // Node emits 'close' once the server's own connections are gone, not counting the ones appd's
    // forwarders (other binds, slot sockets) hand it; socket.io and ws close every client on it.
    if (event === 'close' && tracker.connections > 0) {
      tracker.whenNoConnections(() => emit.call(this, 'close'));
      return true;
    }
    // Every other event: exactly the arguments given, however many (V8 passes `arguments` to apply without copying).
    return emit.apply(this, arguments as unknown as [string | symbol, ...unknown[]]);
  };
  server.emit = instrumented as typeof server.emit;
}
