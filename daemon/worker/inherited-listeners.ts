// Makes one http.Server accept on every listening socket the master handed down (fd 3, 4, ...): the
// server listens on the first descriptor itself, and each further descriptor gets a small net.Server
// that passes its connections to it. Runs in each HTTP worker process.
//
// Why one server rather than one per descriptor: an app that attaches to "the" server (WebSockets,
// socket.io) or a script that created its own must see every connection, and a script calls listen()
// once. Emitting 'connection' is node:http's documented way to hand a server a socket; node:https
// starts TLS on it the same way.

import { createServer, type Server, type Socket } from 'node:net';
import { SD_LISTEN_FDS_START } from '../sockets/inherited.js';
import type { WorkerSpec } from '../contracts/worker-messages.js';
import { requireProxyHeader } from './proxy/protocol-binds.js';

/** A listen failure with its errno code (EADDRINUSE when another process got the port first). */
export class ListenFailure extends Error {
  readonly code: string;
  constructor(message: string, code: string) {
    super(message);
    this.code = code;
  }
}

function describeListener(spec: WorkerSpec, index: number): string {
  return spec.listenerUrls[index] ?? `fd ${SD_LISTEN_FDS_START + index}`;
}

/** What listen() is given for the first inherited socket (the backlog goes as listen()'s own argument). */
export function primaryListenOptions(spec: WorkerSpec): { fd: number; backlog: number } {
  return { fd: SD_LISTEN_FDS_START, backlog: spec.backlog };
}

/**
 * A descriptor that was never bound (libuv defers bind's EADDRINUSE and leaves the socket unbound)
 * makes listen() pick a random port silently; serving there would look healthy and answer nobody.
 */
export function assertListeningWhereTheMasterBound(server: Server, spec: WorkerSpec, index: number): void {
  const url = describeListener(spec, index);
  const address = server.address();
  const expectedPort = /:(\d+)$/.exec(url)?.[1];
  if (typeof address === 'object' && address !== null && expectedPort !== undefined && String(address.port) !== expectedPort) {
    server.close();
    throw new ListenFailure(`${url} was handed down unbound: listen() chose port ${address.port} instead`, 'EADDRINUSE');
  }
}

function listenOn(server: Server, spec: WorkerSpec, index: number): Promise<void> {
  return new Promise((settle, fail) => {
    const onListenError = (error: NodeJS.ErrnoException): void => {
      fail(new ListenFailure(`cannot listen on ${describeListener(spec, index)}: ${error.message}`, error.code ?? 'EUNKNOWN'));
    };
    server.once('error', onListenError);
    // The backlog as an argument: listen({ fd, backlog }) ignores the option for a descriptor (Node 20
    // and 24) and would reset the master's backlog to 511 (ss -ltn showed 511 with --backlog 100).
    server.listen({ fd: SD_LISTEN_FDS_START + index }, spec.backlog, () => {
      server.off('error', onListenError);
      try {
        assertListeningWhereTheMasterBound(server, spec, index);
      } catch (error) {
        fail(error);
        return;
      }
      // Accept errors (EMFILE under a flood) are reported, not fatal: the kernel keeps the connection queued.
      server.on('error', (error) => console.error(`server on ${describeListener(spec, index)}: ${error.message}`));
      settle();
    });
  });
}

/**
 * Listens on fd 4 .. for `server` (which listens on fd 3 itself); returns the forwarding servers. The
 * slot's own sockets (slot-bind, the last ones) wait for the master's 'accept-slot': listenOnSlotSockets.
 */
export async function forwardOtherListeners(server: Server, spec: WorkerSpec): Promise<Server[]> {
  return forwardListeners(server, spec, 1, spec.listenerCount - spec.slotListenerCount);
}

/**
 * Starts accepting on the slot's own sockets (slot-bind), once the slot's previous worker has released
 * the slot; `accepted` sees each connection first.
 */
export async function listenOnSlotSockets(server: Server, spec: WorkerSpec, accepted: (socket: Socket) => void): Promise<Server[]> {
  return forwardListeners(server, spec, spec.listenerCount - spec.slotListenerCount, spec.listenerCount, accepted);
}

async function forwardListeners(
  server: Server,
  spec: WorkerSpec,
  from: number,
  to: number,
  accepted?: (socket: Socket) => void,
): Promise<Server[]> {
  const forwarders: Server[] = [];
  for (let index = Math.max(1, from); index < to; index += 1) {
    // noDelay as node:http sets it on the connections it accepts itself.
    const forwarder = createServer({ noDelay: true }, (socket) => {
      accepted?.(socket);
      server.emit('connection', socket);
    });
    const proxyProtocol = spec.proxyProtocol[index] ?? 'off';
    if (proxyProtocol !== 'off') requireProxyHeader(forwarder, proxyProtocol, describeListener(spec, index));
    await listenOn(forwarder, spec, index);
    forwarders.push(forwarder);
  }
  return forwarders;
}

/** Listens on every inherited socket; returns every listening server (the app's first), for drain to close. */
export async function listenOnInheritedSockets(server: Server, spec: WorkerSpec): Promise<Server[]> {
  await listenOn(server, spec, 0);
  return [server, ...(await forwardOtherListeners(server, spec))];
}
