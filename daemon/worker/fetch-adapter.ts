// Serves a Web-standard handler ({ fetch(Request): Response }, as Hono exports) on node:http.
// Runs in each HTTP worker process whose app exports a fetch handler.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { changesUrl, clientOf, type ClientView } from './client-address.js';

export interface FetchHandler {
  fetch(request: Request, ...rest: unknown[]): Response | Promise<Response>;
}

function isEncrypted(request: IncomingMessage): boolean {
  return 'encrypted' in request.socket && request.socket.encrypted === true;
}

function urlOf(client: ClientView, request: IncomingMessage): string {
  return `${client.scheme}://${client.host ?? 'localhost'}${request.url ?? '/'}`;
}

function toRequest(request: IncomingMessage): Request {
  const headers = new Headers();
  const raw = request.rawHeaders;
  let forwarded = false;
  for (let index = 0; index + 1 < raw.length; index += 2) {
    const name = raw[index] ?? '';
    // HTTP/2 pseudo-headers and hop-by-hop names are not valid in a Web Headers object.
    if (!name.startsWith(':')) headers.append(name, raw[index + 1] ?? '');
    if (changesUrl(name)) forwarded = true;
  }
  // Only a request carrying X-Forwarded-Proto/-Host or Forwarded asks who sent it (a trusted proxy's
  // scheme and host go into the URL, anyone else's are ignored); the rest cost no lookup.
  const url = forwarded ? urlOf(clientOf(request), request) : `${isEncrypted(request) ? 'https' : 'http'}://${request.headers.host ?? 'localhost'}${request.url ?? '/'}`;
  const method = request.method ?? 'GET';
  const abort = new AbortController();
  request.once('close', () => {
    if (!request.complete) abort.abort();
  });
  const init: RequestInit & { duplex?: 'half' } = { method, headers, signal: abort.signal };
  if (method !== 'GET' && method !== 'HEAD') {
    init.body = Readable.toWeb(request) as ReadableStream<Uint8Array>;
    init.duplex = 'half';
  }
  return new Request(url, init);
}

async function writeResponse(response: Response, target: ServerResponse): Promise<void> {
  const headers: Record<string, string | string[]> = {};
  response.headers.forEach((value, name) => {
    if (name !== 'set-cookie') headers[name] = value;
  });
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) headers['set-cookie'] = cookies;
  target.writeHead(response.status, response.statusText, headers);
  if (!response.body) {
    target.end();
    return;
  }
  for await (const chunk of Readable.fromWeb(response.body as NodeReadableStream<Uint8Array>)) {
    if (!target.write(chunk)) await new Promise((settle) => target.once('drain', settle));
  }
  target.end();
}

export function fetchHandlerToListener(handler: FetchHandler) {
  return (request: IncomingMessage, response: ServerResponse): void => {
    Promise.resolve()
      .then(() => handler.fetch(toRequest(request)))
      .then((result) => writeResponse(result, response))
      .catch((error: unknown) => {
        // The app's error goes to its stderr (tagged by the master); the client gets a plain 500.
        console.error(error);
        if (!response.headersSent) {
          response.writeHead(500, { 'content-type': 'text/plain' });
          response.end('Internal Server Error\n');
        } else {
          response.destroy();
        }
      });
  };
}
