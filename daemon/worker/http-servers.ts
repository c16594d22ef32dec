// Creates one HTTP(S) server per inherited listening socket, all serving the app through appd's request
// limits, counters and access log, and listens on the descriptors. Runs in each HTTP worker process.

import { readFileSync } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { Server } from 'node:net';
import { SD_LISTEN_FDS_START } from '../inherited-sockets.js';
import type { WorkerSpec } from '../worker-messages.js';
import { AccessLogWriter, compileAccessLogFormat } from './access-log.js';
import type { ConnectionTracker } from './connection-tracker.js';
import type { RequestListener } from './load-app.js';

/** A listen failure with its errno code (EADDRINUSE when another process got the port first). */
export class ListenFailure extends Error {
  readonly code: string;
  constructor(message: string, code: string) {
    super(message);
    this.code = code;
  }
}

function trustedProxy(allowed: string): (address: string) => boolean {
  const list = allowed.split(',').map((item) => item.trim());
  if (list.includes('*')) return () => true;
  const set = new Set(list.flatMap((item) => [item, `::ffff:${item}`]));
  return (address) => set.has(address);
}

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

export interface HttpServers {
  readonly servers: Server[];
  readonly accessLog: AccessLogWriter | null;
}

export function createRequestHandler(
  app: RequestListener,
  spec: WorkerSpec,
  tracker: ConnectionTracker,
  accessLog: AccessLogWriter | null,
): (request: IncomingMessage, response: ServerResponse) => void {
  const formatLine = accessLog ? compileAccessLogFormat(spec.accessLogFormat) : null;
  const isTrusted = trustedProxy(spec.forwardedAllowIps);
  return (request, response) => {
    tracker.requestStarted(request, response);
    if (formatLine && accessLog) {
      const startedAt = process.hrtime.bigint();
      const socket = request.socket;
      const bytesBefore = socket.bytesWritten;
      response.once('close', () => {
        const peer = socket.remoteAddress ?? '-';
        const forwarded = request.headers['x-forwarded-for'];
        const remoteAddress =
          typeof forwarded === 'string' && isTrusted(peer) ? (forwarded.split(',')[0]?.trim() ?? peer) : peer;
        const declared = Number(response.getHeader('content-length'));
        const bytesSent = Number.isFinite(declared) ? declared : socket.bytesWritten - bytesBefore;
        accessLog.append(formatLine({ request, response, startedAt, remoteAddress, bytesSent }));
      });
    }
    const refusal = limitViolation(request, spec);
    if (refusal !== null) {
      response.writeHead(refusal, { 'content-type': 'text/plain', connection: 'close' });
      response.end(`${http.STATUS_CODES[refusal] ?? 'Bad Request'}\n`);
      return;
    }
    app(request, response);
  };
}

export async function listenOnInheritedSockets(
  app: RequestListener,
  spec: WorkerSpec,
  tracker: ConnectionTracker,
): Promise<HttpServers> {
  const accessLog = spec.accessLog ? new AccessLogWriter(spec.accessLog) : null;
  const handler = createRequestHandler(app, spec, tracker, accessLog);
  const tls = spec.certfile && spec.keyfile ? { cert: readFileSync(spec.certfile), key: readFileSync(spec.keyfile) } : null;
  // Node caps all headers together; keep that cap above Gunicorn's per-field limit.
  const maxHeaderSize = Math.max(16384, spec.limitRequestFieldSize * 2);
  const servers: Server[] = [];
  for (let index = 0; index < spec.listenerCount; index += 1) {
    const options = { maxHeaderSize };
    const server = tls ? https.createServer({ ...options, ...tls }) : http.createServer(options);
    server.keepAliveTimeout = spec.keepAliveMs;
    // Node drops headers past maxHeadersCount silently; let one more through so the limit check sees it.
    server.maxHeadersCount = spec.limitRequestFields > 0 ? spec.limitRequestFields + 1 : 0;
    tracker.watch(server);
    server.on('request', handler);
    const fd = SD_LISTEN_FDS_START + index;
    await new Promise<void>((settle, fail) => {
      const onListenError = (error: NodeJS.ErrnoException): void => {
        fail(new ListenFailure(`cannot listen on ${spec.listenerUrls[index] ?? `fd ${fd}`}: ${error.message}`, error.code ?? 'EUNKNOWN'));
      };
      server.once('error', onListenError);
      server.listen({ fd, backlog: spec.backlog }, () => {
        server.off('error', onListenError);
        settle();
      });
    });
    // Accept errors (EMFILE under a flood) are reported, not fatal: the kernel keeps the connection queued.
    server.on('error', (error) => console.error(`server on ${spec.listenerUrls[index] ?? `fd ${fd}`}: ${error.message}`));
    servers.push(server);
  }
  return { servers, accessLog };
}
