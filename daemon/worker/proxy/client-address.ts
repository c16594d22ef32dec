// Who the client of a request is, as appd reports it (access log, a fetch app's URL, req.appd): the
// peer itself, the source a PROXY protocol header gave, or what a trusted proxy forwarded. Computed on
// first use and cached, so a request nobody asks about costs nothing. Runs in each HTTP worker process.

import type { IncomingMessage } from 'node:http';
import { isIPv6, type Socket } from 'node:net';
import { TrustedProxies } from '../../../shared/trusted-proxies.js';
import { builtinModule } from '../builtin-modules.js';
import { clientHop, forwardedHops, xForwardedHops, type ForwardedHop } from './forwarded-headers.js';

// Not an ES import (builtin-modules.ts says why).
const http = builtinModule('node:http');

/** What appd knows about the client of one request: `req.appd` in a listener app. */
export interface ClientView {
  /** The client's IP address; null when unknown (a unix socket peer that forwarded nothing). */
  readonly clientAddress: string | null;
  /** "https" when the client used TLS: to appd, or to a trusted proxy that said so. */
  readonly scheme: 'http' | 'https';
  /** The host the client asked for (Host, or a trusted proxy's forwarded host); null if none. */
  readonly host: string | null;
  /** The address of the connection's peer (the proxy in front, if any); null on a unix socket. */
  readonly peerAddress: string | null;
}

/** How one connection's peer is judged; set once per worker from its spec. */
export interface ForwardingPolicy {
  /** forwarded-allow-ips, as the master validated it. */
  readonly forwardedAllowIps: string;
  readonly trustUnixPeers: boolean;
  readonly headers: 'x-forwarded' | 'forwarded';
}

/** What a PROXY protocol header said about a connection (set by proxy-protocol.ts before HTTP starts). */
export interface ProxiedConnection {
  /** The proxy's own address (null on a unix socket). */
  readonly peerAddress: string | null;
  /** The source the header gave; null for LOCAL or UNKNOWN (health checks): the peer then is the client. */
  readonly sourceAddress: string | null;
}

interface ConnectionVerdict {
  readonly peerAddress: string | null;
  /** The address the connection stands for: the PROXY header's source, or the peer. */
  readonly address: string | null;
  /** Whether forwarded headers on it count. */
  readonly trusted: boolean;
}

const VERDICT = Symbol('appd.connection');
const VIEW = Symbol('appd.client');
/** Set on a socket by the PROXY protocol reader. */
export const PROXIED = Symbol('appd.proxied');

type MarkedSocket = Socket & { [VERDICT]?: ConnectionVerdict; [PROXIED]?: ProxiedConnection; _parent?: unknown };
type MarkedRequest = IncomingMessage & { [VIEW]?: ClientView };

let policy: ForwardingPolicy = { forwardedAllowIps: '127.0.0.1,::1', trustUnixPeers: true, headers: 'x-forwarded' };
/**
 * policy.forwardedAllowIps parsed on first use, not as the worker starts: most workers never ask who a
 * client is, and parsing "::1" loads node:net's SocketAddress and BlockList (~1 ms of a worker's start).
 */
let trustedProxies: TrustedProxies | null = null;

function trustedProxyList(): TrustedProxies {
  trustedProxies ??= new TrustedProxies(policy.forwardedAllowIps);
  return trustedProxies;
}

export function setForwardingPolicy(next: ForwardingPolicy): void {
  policy = next;
  trustedProxies = null;
}

/** Whether a connection's peer counts as a trusted proxy (before any PROXY header is read). */
export function isTrustedPeer(socket: Socket): boolean {
  const address = socket.remoteAddress;
  if (typeof address === 'string') return trustedProxyList().trusts(address);
  return policy.trustUnixPeers && isUnixSocket(socket);
}

/**
 * A unix socket's peer has no address; neither has a TCP socket whose peer already reset, which must
 * not pass for a trusted local one. The handle says which it is (node:net's Pipe, as server-handle.ts reads it).
 */
function isUnixSocket(socket: Socket): boolean {
  const handle = (socket as Socket & { _handle?: { constructor?: { name?: string } } | null })._handle;
  return handle?.constructor?.name === 'Pipe';
}

/** The connection the request came on: over TLS, the TCP socket under the TLSSocket. */
function connectionOf(socket: Socket): MarkedSocket {
  const marked = socket as MarkedSocket;
  if (marked[PROXIED] === undefined && marked._parent instanceof Object) {
    const parent = marked._parent as MarkedSocket;
    if (parent[PROXIED] !== undefined) return parent;
  }
  return marked;
}

function verdictOf(socket: MarkedSocket): ConnectionVerdict {
  const known = socket[VERDICT];
  if (known) return known;
  const proxied = socket[PROXIED];
  let verdict: ConnectionVerdict;
  if (proxied) {
    // The connection is the client's, relayed: its source is the peer whose headers are judged.
    const address = proxied.sourceAddress ?? proxied.peerAddress;
    verdict = {
      peerAddress: proxied.peerAddress,
      address,
      trusted: address === null ? policy.trustUnixPeers : trustedProxyList().trusts(address),
    };
  } else {
    const address = socket.remoteAddress ?? null;
    verdict = { peerAddress: address, address, trusted: isTrustedPeer(socket) };
  }
  socket[VERDICT] = verdict;
  return verdict;
}

function encrypted(socket: Socket): boolean {
  return 'encrypted' in socket && socket.encrypted === true;
}

/** Applies what the trusted proxy forwarded; only the configured header family is read. */
function forwardedView(request: IncomingMessage, direct: ClientView): ClientView {
  let hops: ForwardedHop[];
  let scheme: ForwardedHop['scheme'];
  let host: string | null;
  const trusted = trustedProxyList();
  const index = (found: ForwardedHop[]): number => clientHop(found, (address) => trusted.trusts(address));
  if (policy.headers === 'forwarded') {
    hops = forwardedHops(request.rawHeaders, isIPv6);
    // The element naming the client carries the scheme and host it used; with no usable for=, the
    // element the trusted peer itself added.
    const described = hops[index(hops)] ?? hops.at(-1);
    scheme = described?.scheme ?? null;
    host = described?.host ?? null;
  } else {
    ({ hops, scheme, host } = xForwardedHops(request.rawHeaders, isIPv6));
  }
  const client = hops[index(hops)]?.address ?? null;
  return {
    clientAddress: client ?? direct.clientAddress,
    scheme: scheme ?? direct.scheme,
    host: host ?? direct.host,
    peerAddress: direct.peerAddress,
  };
}

/** The client of a request, as appd reports it everywhere; computed once per request. */
export function clientOf(request: IncomingMessage): ClientView {
  const marked = request as MarkedRequest;
  const known = marked[VIEW];
  if (known) return known;
  const socket = connectionOf(request.socket);
  const verdict = verdictOf(socket);
  const direct: ClientView = {
    clientAddress: verdict.address,
    scheme: encrypted(request.socket) ? 'https' : 'http',
    host: request.headers.host ?? null,
    peerAddress: verdict.peerAddress,
  };
  const view = verdict.trusted ? forwardedView(request, direct) : direct;
  marked[VIEW] = view;
  return view;
}

/** Whether a raw header name can change the scheme or host (cheap: most names fail the length test). */
export function changesUrl(name: string): boolean {
  const length = name.length;
  if (length !== 9 && length !== 16 && length !== 17) return false;
  const lower = name.toLowerCase();
  return lower === 'x-forwarded-proto' || lower === 'x-forwarded-host' || lower === 'forwarded';
}

/**
 * req.appd: the client view of a server request, on every IncomingMessage of the worker. A getter on
 * the prototype costs a request nothing until the app reads it (Express and Koa put their own request
 * prototypes in front, which inherit it).
 */
export function installRequestView(): void {
  if (Object.getOwnPropertyDescriptor(http.IncomingMessage.prototype, 'appd')) return;
  Object.defineProperty(http.IncomingMessage.prototype, 'appd', {
    configurable: true,
    enumerable: false,
    get(this: IncomingMessage): ClientView | undefined {
      // Responses a client request receives are IncomingMessages too; they have no method.
      return typeof this.method === 'string' && this.socket ? clientOf(this) : undefined;
    },
  });
}
