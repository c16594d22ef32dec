// A plain `appctl status`'s connections, started by appctl's bin before the rest of appctl is read and
// compiled, and taken over by ControlClient.connect. Run by appctl: its bin starts them, main adopts them.
//
// Why: as a control client connects, the master reads its listeners' accept queues from /proc/net/tcp
// (daemon/metrics/listen-queue.ts), and past the last listening socket the kernel walks its whole
// connection hash table for the next line: 2 ms on this idle 24 GB host, spent before the master reads the
// hello. appctl sent the hello and the status request 0.3 ms after connecting, so it waited those 2 ms;
// connected before its main bundle loads (2-3 ms of work), it does that work meanwhile. A throwaway
// connection from the bin, as a trial: appctl status 25.5 -> 23.8 ms (min of 40 interleaved runs; median
// 29.6 -> 27.9), `node -e 0` 19.9 (Node 20).
//
// The bin and main are two bundles, each with its own copy of this module: the connections pass from one
// to the other in a registry on globalThis under a registered symbol.
//
// Trust: a path is connected early only through trustSocket's check, as ControlClient.connect would, and
// nothing is sent on it until main has adopted it. A path that fails the check, a directory refused,
// anything odd: no early start, and main meets the same problem and reports it.

import type { GlobalOptions } from '../commands/context.js';
import { candidateControlDirectories, type PathContext } from '../../shared/control/socket-path.js';
import { openPipeTransport } from './pipe-transport.js';
import { isSocket, namedSockets, socketsIn } from './socket-candidates.js';
import { trustSocket, type TrustedSocket } from './socket-trust.js';
import type { Transport, TransportListeners } from './transport.js';

/** A plain status talks to one daemon; discovery connects to every socket of a directory: at most this many early. */
const MAX_EARLY_CONNECTIONS = 8;

const REGISTRY = Symbol.for('appd.appctl.early-connections');

/** A connection started early, until main adopts it. */
export interface EarlyConnection {
  /** The checked socket; its directory is held open until the adopter releases it. */
  readonly trusted: TrustedSocket;
  /**
   * Hands the connection to its one owner: what it reported so far (connect, or a failure) reaches
   * `listeners` a microtask later, by when the owner holds the transport returned here, as libuv's own
   * callbacks come a turn of the loop later; what comes after goes straight to them.
   */
  adopt(listeners: TransportListeners): Transport;
}

function registry(): Map<string, EarlyConnection> {
  const holder = globalThis as { [REGISTRY]?: Map<string, EarlyConnection> };
  return (holder[REGISTRY] ??= new Map());
}

/** Connects through the checked directory, its events held until an owner adopts it; null where this Node gives no pipe binding. */
function connectHeld(trusted: TrustedSocket): EarlyConnection | null {
  let owner: TransportListeners | null = null;
  const missed: Array<(listeners: TransportListeners) => void> = [];
  const report = (event: (listeners: TransportListeners) => void): void => {
    if (owner === null) missed.push(event);
    else event(owner);
  };
  const transport = openPipeTransport(trusted.connectPath, {
    connect: () => report((listeners) => listeners.connect()),
    data: (chunk) => report((listeners) => listeners.data(chunk)),
    error: (error) => report((listeners) => listeners.error(error)),
    close: () => report((listeners) => listeners.close()),
  });
  if (transport === null) return null;
  return {
    trusted,
    adopt(listeners) {
      queueMicrotask(() => {
        owner = listeners;
        for (const event of missed.splice(0)) event(listeners);
      });
      return transport;
    },
  };
}

/** The sockets find-daemon.ts would connect to first for these options, where it is cheap to tell. */
function firstSockets(options: GlobalOptions, context: PathContext): string[] {
  const explicit = options.socket ?? context.environment['APPD_SOCKET'];
  if (explicit) return [explicit];
  const directories = candidateControlDirectories(context);
  if (options.name !== undefined) return namedSockets(options.name, directories).filter(isSocket);
  for (const directory of directories) {
    const sockets = socketsIn(directory);
    if (sockets.length > 0) return sockets;
  }
  return [];
}

/** Starts connecting to the daemon(s) a plain `appctl status` with `options` will ask (appctl's bin, before main loads). */
export function startEarlyConnections(options: GlobalOptions, context: PathContext): void {
  let paths: string[];
  try {
    paths = firstSockets(options, context).slice(0, MAX_EARLY_CONNECTIONS);
  } catch (error) {
    // A socket directory refused as untrusted, or unreadable: main finds the same and says so.
    if (!(error instanceof Error)) throw error;
    return;
  }
  const connections = registry();
  for (const path of paths) {
    if (connections.has(path)) continue;
    let trusted: TrustedSocket | null;
    try {
      trusted = trustSocket(path);
    } catch (error) {
      // Refused (someone else could stand in for the daemon there): main refuses it aloud.
      if (!(error instanceof Error)) throw error;
      continue;
    }
    if (trusted === null) continue;
    // No socket there (connectPath is the path itself then): main reports "no daemon" as usual.
    if (trusted.connectPath === path) {
      trusted.release();
      continue;
    }
    const connection = connectHeld(trusted);
    if (connection === null) {
      // No pipe binding (the permission model refuses it): main connects through node:net.
      trusted.release();
      return;
    }
    connections.set(path, connection);
  }
}

/** The connection started early to `path`, if there is one; taken at most once. */
export function takeEarlyConnection(path: string): EarlyConnection | null {
  const connections = registry();
  const connection = connections.get(path) ?? null;
  connections.delete(path);
  return connection;
}
