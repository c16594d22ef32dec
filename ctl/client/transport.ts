// The byte stream under appctl's control connection: a UNIX socket reached through Node's pipe binding
// when this Node gives it (pipe-transport.ts), else through node:net. Run by appctl.
//
// Why two: node:net loads node:stream with it, 29 of Node's modules that a plain `appctl status` runs
// once, for one small write and a few reads: 1.7 ms to load and 1 ms to make the socket, a tenth of the
// command (Node 20). The pipe binding is what node:net's socket drives underneath.

import { openPipeTransport } from './pipe-transport.js';

/** What a transport tells its one owner, in net.Socket's order: connect, data..., then error? and close once. */
export interface TransportListeners {
  connect(): void;
  data(chunk: Buffer): void;
  /** A failed connect, read or write; close() follows. */
  error(error: NodeJS.ErrnoException): void;
  close(): void;
}

export interface Transport {
  /** Queued in order; a failure is reported through error() and close(). */
  write(bytes: Buffer): void;
  /** Stops reading (backpressure from a slow stdout) until resume(). */
  pause(): void;
  resume(): void;
  /** Closes now; close() follows unless it already came. */
  destroy(): void;
  readonly closed: boolean;
}

/** Which transport: 'auto' takes the pipe binding when this Node has it (tests name one to cover both). */
export type TransportKind = 'auto' | 'pipe' | 'net';

/** Connects to the UNIX socket at `path`. */
export async function openTransport(path: string, listeners: TransportListeners, kind: TransportKind = 'auto'): Promise<Transport> {
  if (kind !== 'net') {
    const transport = openPipeTransport(path, listeners);
    if (transport !== null) return transport;
    if (kind === 'pipe') throw new Error('this Node gives no pipe binding (process.binding)');
  }
  const { openNetTransport } = await import('./net-transport.js');
  return openNetTransport(path, listeners);
}
