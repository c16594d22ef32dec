// Serves a Web-standard handler ({ fetch(Request): Response }, as Hono exports) on node:http.
// Runs in each HTTP worker process whose app exports a fetch handler.
//
// fetch gets @hono/node-server's environment as its second argument, { incoming, outgoing } (the Node
// request and response), so getConnInfo(c) and other node-server helpers work unchanged. getConnInfo
// reads incoming.socket.remoteAddress: when a trusted proxy forwarded the client (X-Forwarded-For,
// Forwarded), incoming is a view of the request whose socket names that client (see client-address.ts
// for the rules); otherwise it is the request itself, at no cost.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { isIPv6, type Socket } from 'node:net';
import { changesUrl, clientOf, type ClientView } from './proxy/client-address.js';

/** @hono/node-server's bindings: what its serve() passes to fetch, and what getConnInfo reads. */
export interface NodeServerEnvironment {
  readonly incoming: IncomingMessage;
  readonly outgoing: ServerResponse;
}

export interface FetchHandler {
  fetch(request: Request, environment: NodeServerEnvironment, ...rest: unknown[]): Response | Promise<Response>;
}

/** Whether a raw header name can name the client (x-forwarded-for, forwarded); most names fail the length test. */
function namesClient(name: string): boolean {
  const length = name.length;
  if (length !== 15 && length !== 9) return false;
  const lower = name.toLowerCase();
  return lower === 'x-forwarded-for' || lower === 'forwarded';
}

/** Reads through to `target`, with its methods bound to it, except for the properties given. */
function overlay<T extends object>(target: T, overrides: Readonly<Record<PropertyKey, unknown>>): T {
  return new Proxy(target, {
    get(object, key) {
      if (Object.hasOwn(overrides, key)) return overrides[key];
      const value: unknown = Reflect.get(object, key, object);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(object) : value;
    },
  });
}

/** The request as a node-server helper should see it: its socket's remote address is the client's. */
function incomingFor(request: IncomingMessage, client: ClientView): IncomingMessage {
  const address = client.clientAddress;
  if (address === null || address === request.socket.remoteAddress) return request;
  // A forwarded address has no port of its own; the family follows the address.
  const socket = overlay<Socket>(request.socket, {
    remoteAddress: address,
    remotePort: undefined,
    remoteFamily: isIPv6(address) ? 'IPv6' : 'IPv4',
  });
  return overlay(request, { socket, connection: socket });
}

function isEncrypted(request: IncomingMessage): boolean {
  return 'encrypted' in request.socket && request.socket.encrypted === true;
}

function urlOf(client: ClientView, request: IncomingMessage): string {
  return `${client.scheme}://${client.host ?? 'localhost'}${request.url ?? '/'}`;
}

/** The Request, and whether a header may name a client other than the peer (X-Forwarded-For, Forwarded). */
function toRequest(request: IncomingMessage): { readonly converted: Request; readonly namesClient: boolean } {
  const headers = new Headers();
  const raw = request.rawHeaders;
  let forwarded = false;
  let client = false;
  for (let index = 0; index + 1 < raw.length; index += 2) {
    const name = raw[index] ?? '';
    // HTTP/2 pseudo-headers and hop-by-hop names are not valid in a Web Headers object.
    if (!name.startsWith(':')) headers.append(name, raw[index + 1] ?? '');
    if (changesUrl(name)) forwarded = true;
    if (namesClient(name)) client = true;
  }
  // Only a request carrying X-Forwarded-Proto/-Host or Forwarded asks who sent it (a trusted proxy's
  // scheme and host go into the URL, anyone else's are ignored); the rest cost no lookup.
  const url = forwarded
    ? urlOf(clientOf(request), request)
    : `${isEncrypted(request) ? 'https' : 'http'}://${request.headers.host ?? 'localhost'}${request.url ?? '/'}`;
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
  return { converted: new Request(url, init), namesClient: client };
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
      .then(() => {
        const { converted, namesClient: forwardedClient } = toRequest(request);
        // Only a request naming a forwarded client asks who sent it (a trusted proxy's word counts, anyone else's is ignored).
        const incoming = forwardedClient ? incomingFor(request, clientOf(request)) : request;
        return handler.fetch(converted, { incoming, outgoing: response });
      })
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
