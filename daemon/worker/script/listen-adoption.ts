// Intercepts listen() on HTTP and HTTPS servers in a script worker: the call that matches the
// adopt-listen policy is redirected to appd's inherited socket; any other gets a clear error event
// instead of opening a port of its own. Runs in each script worker (installed by adopt-listen.ts).
//
// Patched on net.Server.prototype because every HTTP framework ends in it: Express and Koa call
// http.createServer().listen(), Fastify and Hono's serve() call server.listen(options), ws creates an
// http.Server and listens. Only node:http and node:https servers are adopted; a plain net.Server (a
// raw TCP service, a free-port probe, appd's own forwarders) listens as it asked.

import type http from 'node:http';
import type https from 'node:https';
import { createRequire } from 'node:module';
import net from 'node:net';
import type { AdoptListen } from '../../../shared/settings/kinds.js';
import { LISTEN_NOT_ADOPTED } from '../../contracts/worker-messages.js';

// node:http by require, not an ESM import: on Node 24 an import reads every export of node:http, and its
// lazy WebSocket/MessageEvent getters load undici with http2, tls, crypto and zlib (~70 ms of CPU per
// worker start). node:https (with node:tls) only for a server that is a TLS one: whoever made it loaded it.
const load = createRequire(import.meta.url);
const { Server: HttpServer } = load('node:http') as typeof import('node:http');

/** An https.Server: a tls.Server (it has setSecureContext) that node:https made. */
function isHttpsServer(server: net.Server): server is https.Server {
  return (
    typeof (server as net.Server & { setSecureContext?: unknown }).setSecureContext === 'function' &&
    server instanceof (load('node:https') as typeof import('node:https')).Server
  );
}

export type ListenTarget =
  | { readonly kind: 'port'; readonly port: number; readonly host: string | null }
  | { readonly kind: 'path'; readonly path: string }
  | { readonly kind: 'fd'; readonly fd: number }
  | { readonly kind: 'handle' };

export interface ListenCall {
  readonly target: ListenTarget;
  readonly callback: (() => void) | null;
  /** The caller's AbortSignal, kept so that aborting still closes the server. */
  readonly signal: AbortSignal | null;
}

/** The error event a listen() appd does not adopt gets (as EADDRINUSE would arrive, asynchronously). */
export class ListenNotAdopted extends Error {
  readonly code = LISTEN_NOT_ADOPTED;
}

function portNumber(value: unknown): number {
  if (value === undefined || value === null) return 0;
  const port = typeof value === 'string' ? Number(value.trim()) : value;
  return typeof port === 'number' && Number.isInteger(port) ? port : Number.NaN;
}

/** Reads listen()'s overloads the way node:net does (its normalizeArgs is internal). */
export function describeListenCall(args: readonly unknown[]): ListenCall {
  const last = args[args.length - 1];
  const callback = typeof last === 'function' ? (last as () => void) : null;
  const first = args[0];
  if (typeof first === 'object' && first !== null) {
    const options = first as Record<string, unknown>;
    const signal = options['signal'] instanceof AbortSignal ? options['signal'] : null;
    if ('_handle' in options || options instanceof net.Server) return { target: { kind: 'handle' }, callback, signal };
    if (typeof options['fd'] === 'number') return { target: { kind: 'fd', fd: options['fd'] }, callback, signal };
    if (typeof options['path'] === 'string') return { target: { kind: 'path', path: options['path'] }, callback, signal };
    const host = typeof options['host'] === 'string' ? options['host'] : null;
    return { target: { kind: 'port', port: portNumber(options['port']), host }, callback, signal };
  }
  // listen(path): a string that is not a number names a unix socket.
  if (typeof first === 'string' && first.trim() !== '' && Number.isNaN(Number(first))) {
    return { target: { kind: 'path', path: first }, callback, signal: null };
  }
  const host = typeof args[1] === 'string' ? args[1] : null;
  return { target: { kind: 'port', port: typeof first === 'function' ? 0 : portNumber(first), host }, callback, signal: null };
}

export function describeTarget(target: ListenTarget): string {
  switch (target.kind) {
    case 'port':
      return `listen(port ${Number.isNaN(target.port) ? '(not a number)' : target.port}${target.host ? ` on ${target.host}` : ''})`;
    case 'path':
      return `listen(${target.path})`;
    case 'fd':
      return `listen(fd ${target.fd})`;
    case 'handle':
      return 'listen(a handle)';
  }
}

/** Whether the policy adopts this call; `envPort` is PORT as the worker started with it. */
export function policyMatches(policy: AdoptListen, target: ListenTarget, envPort: number | null): boolean {
  if (policy === 'any') return true;
  if (target.kind !== 'port') return false;
  return target.port === (policy === 'env' ? envPort : policy);
}

/**
 * Fastify, told to listen on "localhost", listens again on the other loopback address with the port
 * the first listen got, and ignores an error there. That is the same service, already served.
 */
function isLoopbackTwin(target: ListenTarget, adoptedServer: net.Server): boolean {
  if (target.kind !== 'port' || (target.host !== '::1' && target.host !== '127.0.0.1')) return false;
  const address = adoptedServer.address();
  const adoptedPort = typeof address === 'object' && address !== null ? address.port : 0;
  return target.port === adoptedPort;
}

export interface AdoptionHandlers {
  /** Prepares the adopted server; returns the options listen() gets instead of the script's ({ fd: 3 }). */
  adopt(server: http.Server | https.Server, call: ListenCall): net.ListenOptions;
  /**
   * A listen() that was refused; `expected` is true for Fastify's loopback twin (nothing to report).
   * Returns whether the script gets the error event (not when the worker fails its boot over it).
   */
  refused(error: ListenNotAdopted, expected: boolean): boolean;
}

/** Replaces net.Server.prototype.listen for the rest of the process; call before the script runs. */
export function installListenAdoption(policy: AdoptListen, envPort: number | null, handlers: AdoptionHandlers): void {
  const originalListen = net.Server.prototype.listen;
  let adopted: { server: net.Server; description: string } | null = null;
  const policyText = policy === 'env' ? `adopt-listen env (PORT=${envPort ?? 'not set'})` : `adopt-listen ${policy}`;

  const adoptingListen = function (this: net.Server, ...args: unknown[]): net.Server {
    if (!(this instanceof HttpServer || isHttpsServer(this))) return Reflect.apply(originalListen, this, args) as net.Server;
    const call = describeListenCall(args);
    const description = describeTarget(call.target);
    let refusal: string | null = null;
    if (adopted) {
      refusal = `appd serves this worker's sockets with the server that called ${adopted.description}; a second HTTP server's ${description} is not served (it would open a port of its own in every worker)`;
    } else if (!policyMatches(policy, call.target, envPort)) {
      const hint =
        policy === 'env'
          ? 'listen on process.env.PORT, or run appd with --adopt-listen any'
          : 'change --adopt-listen (any, env, or the port the script uses)';
      refusal = `${description} does not match ${policyText}, and appd will not let it open a port of its own in every worker: ${hint}`;
    }
    if (refusal !== null) {
      const error = new ListenNotAdopted(refusal);
      const expected = adopted !== null && isLoopbackTwin(call.target, adopted.server);
      // node:net reports listen failures (EADDRINUSE) asynchronously as an 'error' event; so does this.
      process.nextTick(() => {
        if (handlers.refused(error, expected)) this.emit('error', error);
      });
      return this;
    }
    adopted = { server: this, description };
    const options = handlers.adopt(this, call);
    const listenArgs: unknown[] = [call.signal ? { ...options, signal: call.signal } : options];
    // listen({ fd, backlog }) ignores the option for a descriptor (Node 20 and 24): as an argument it counts.
    if (options.backlog !== undefined) listenArgs.push(options.backlog);
    if (call.callback) listenArgs.push(call.callback);
    return Reflect.apply(originalListen, this, listenArgs) as net.Server;
  };
  net.Server.prototype.listen = adoptingListen as typeof net.Server.prototype.listen;
}
