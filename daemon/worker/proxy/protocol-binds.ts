// Binds with proxy-protocol: each connection must start with a PROXY header (v1 or v2) from a trusted
// proxy before HTTP sees a byte; its source becomes the connection's remote address. A connection
// without a valid one is closed and counted, never handed to the app. Runs in each HTTP worker process.
//
// The source replaces req.socket.remoteAddress/remotePort/remoteFamily (own properties over net.Socket's
// getters), as nginx's real_ip from proxy_protocol does for $remote_addr: the connection is the
// client's, relayed, so Express's req.ip, @hono/node-server's getConnInfo and socket.io's handshake
// address all see the client. The proxy's own address stays in req.appd.peerAddress.

import type { Server, Socket } from 'node:net';
import type { WorkerSpec } from '../../contracts/worker-messages.js';
import { isTrustedPeer, PROXIED, type ProxiedConnection } from './client-address.js';
import type { ConnectionTracker } from '../connection-tracker.js';
import { readProxyHeader, V2_MAXIMUM_LENGTH, type ProxySource, type ProxyVersions } from './header-parser.js';

/** How long a connection may take to send its PROXY header when headers-timeout is off. */
const DEFAULT_HEADER_TIMEOUT_MS = 10_000;
/** Rejections are logged once at first, then summed up at most this often (a scanner must not flood the log). */
const REJECTION_LOG_INTERVAL_MS = 10_000;

/** Counts and reports connections closed for want of a valid PROXY header. */
export class ProxyRejections {
  /** Since the worker started; sent with each heartbeat (proxyRejected). */
  total = 0;
  /** The worker's tag for log lines ("web.0 g1"). */
  #tag = 'worker';
  #unreported = 0;
  #lastReason = '';
  #timer: NodeJS.Timeout | null = null;

  setTag(tag: string): void {
    this.#tag = tag;
  }

  record(listener: string, reason: string): void {
    this.total += 1;
    this.#lastReason = `${listener}: ${reason}`;
    if (this.#timer === null) {
      console.error(`worker ${this.#tag}: closed a connection without a valid PROXY protocol header on ${this.#lastReason}`);
      this.#timer = setTimeout(() => this.#summarise(), REJECTION_LOG_INTERVAL_MS).unref();
    } else {
      this.#unreported += 1;
    }
  }

  #summarise(): void {
    this.#timer = null;
    if (this.#unreported === 0) return;
    console.error(
      `worker ${this.#tag}: closed ${this.#unreported} more connection(s) without a valid PROXY protocol header in ${REJECTION_LOG_INTERVAL_MS / 1000}s (last on ${this.#lastReason})`,
    );
    this.#unreported = 0;
    this.#timer = setTimeout(() => this.#summarise(), REJECTION_LOG_INTERVAL_MS).unref();
  }
}

/** The worker's count (one pool, one spec per process). */
export const proxyRejections = new ProxyRejections();

/** The listening servers whose connections must start with a PROXY header, with what they accept. */
const proxyListeners = new WeakMap<Server, { readonly versions: ProxyVersions; readonly url: string }>();

/** Marks a listening server (appd's forwarder for an inherited socket, or the app's own server) as a PROXY bind. */
export function requireProxyHeader(server: Server, versions: ProxyVersions, url: string): void {
  proxyListeners.set(server, { versions, url });
}

/**
 * The 'connection' step of an instrumented server whose worker has PROXY binds: returns a function that
 * takes over a connection from such a bind (true), reads its header, and only then hands it to
 * `serve` (which emits 'connection' for HTTP). Connections from other binds are left alone (false).
 */
export function proxyConnectionStep(
  server: Server,
  spec: WorkerSpec,
  tracker: ConnectionTracker,
  serve: (socket: Socket) => void,
): (socket: Socket) => boolean {
  proxyRejections.setTag(`${spec.pool}.${spec.slot} g${spec.generation}`);
  const primary = spec.proxyProtocol[0];
  if (primary !== undefined && primary !== 'off') requireProxyHeader(server, primary, spec.listenerUrls[0] ?? 'fd 3');
  const timeoutMs = proxyHeaderTimeoutMs(spec.headersTimeoutMs);
  // A tls.Server (https's too) without importing node:tls: every worker loads this file (the heartbeat
  // reads proxyRejections), and node:tls with node:crypto under it is ~11 ms of each worker's start.
  const tls = typeof (server as Server & { setSecureContext?: unknown }).setSecureContext === 'function';
  return (socket) => {
    const listener = proxyListeners.get((socket as Socket & { server?: Server }).server ?? server);
    if (listener === undefined || (socket as Socket & { [PROXIED]?: unknown })[PROXIED] !== undefined) return false;
    // Counted from now: a drain must wait for a connection whose header is on its way.
    tracker.track(socket);
    acceptProxied(socket, tls, listener.versions, timeoutMs, serve, (reason) => proxyRejections.record(listener.url, reason));
    return true;
  };
}

function describePeer(socket: Socket): string {
  return socket.remoteAddress ?? 'a unix socket peer';
}

/**
 * Reads the PROXY header of a fresh connection, then calls `proceed` with the socket positioned at the
 * first byte after it; or closes the socket and calls `rejected`. `proceed` runs at most once.
 */
export function acceptProxied(
  socket: Socket,
  tls: boolean,
  versions: ProxyVersions,
  timeoutMs: number,
  proceed: (socket: Socket) => void,
  rejected: (reason: string) => void,
): void {
  const peerAddress = socket.remoteAddress ?? null;
  if (!isTrustedPeer(socket)) {
    socket.destroy();
    rejected(`peer ${describePeer(socket)} is not a trusted proxy (forwarded-allow-ips)`);
    return;
  }
  let received: Buffer = Buffer.alloc(0);
  const finish = (): void => {
    clearTimeout(timer);
    socket.off('data', onData);
    socket.off('error', onGone);
    socket.off('close', onGone);
  };
  const reject = (reason: string): void => {
    finish();
    socket.destroy();
    rejected(`from ${peerAddress ?? 'a unix socket peer'}: ${reason}`);
  };
  const onData = (chunk: Buffer): void => {
    // Bounded: nothing past the largest header v2 allows is ever kept.
    received = received.length === 0 ? chunk : Buffer.concat([received, chunk.subarray(0, V2_MAXIMUM_LENGTH)]);
    const reading = readProxyHeader(received, versions);
    if (reading.kind === 'incomplete') return;
    if (reading.kind === 'invalid') return reject(reading.reason);
    finish();
    // Paused first: the bytes after the header wait in the stream for HTTP's parser, in order.
    socket.pause();
    if (received.length > reading.length) socket.unshift(received.subarray(reading.length));
    const proxied: ProxiedConnection = { peerAddress, sourceAddress: reading.source?.address ?? null };
    (socket as Socket & { [PROXIED]?: ProxiedConnection })[PROXIED] = proxied;
    if (reading.source) showSource(socket, reading.source);
    proceed(socket);
    // HTTP's parser finds the rest in the stream once it flows. A TLS server must not have it flow: its
    // TLSSocket takes the rest with read() on the next tick, then reads the connection itself, and a
    // flowing socket with no 'data' listener would drop what arrives (seen: 2 of 10 handshakes hung
    // when HAProxy sent the header and the ClientHello in one segment).
    if (!tls) socket.resume();
  };
  // The peer went away before a whole header: nothing reached the app, nothing to count.
  const onGone = (): void => finish();
  const timer = setTimeout(() => reject(`no complete PROXY header within ${timeoutMs / 1000}s`), timeoutMs);
  timer.unref();
  socket.on('data', onData);
  socket.on('error', onGone);
  socket.on('close', onGone);
}

/** The header's source as the socket's remote address: own properties over net.Socket's getters. */
function showSource(socket: Socket, source: ProxySource): void {
  Object.defineProperty(socket, 'remoteAddress', { value: source.address, configurable: true });
  Object.defineProperty(socket, 'remotePort', { value: source.port, configurable: true });
  Object.defineProperty(socket, 'remoteFamily', { value: source.family, configurable: true });
}

/**
 * With TLS in the worker, requests come on a TLSSocket over the relayed connection (its _parent, as
 * connection-tracker.ts reads it), which asks the kernel for the peer itself: it gets the source too.
 */
export function showSourceOnTls(tlsSocket: Socket): void {
  const parent = (tlsSocket as Socket & { _parent?: unknown })._parent;
  if (!(parent instanceof Object)) return;
  const proxied = (parent as Socket & { [PROXIED]?: ProxiedConnection })[PROXIED];
  const source = proxied === undefined ? undefined : (parent as Socket).remoteAddress;
  if (proxied?.sourceAddress === null || source === undefined) return;
  const parentSocket = parent as Socket;
  showSource(tlsSocket, {
    address: source,
    port: parentSocket.remotePort ?? 0,
    family: parentSocket.remoteFamily === 'IPv6' ? 'IPv6' : 'IPv4',
  });
}

/** The PROXY header deadline: headers-timeout, or 10 s when that is off. */
export function proxyHeaderTimeoutMs(headersTimeoutMs: number): number {
  return headersTimeoutMs > 0 ? headersTimeoutMs : DEFAULT_HEADER_TIMEOUT_MS;
}
