// The control connection's bytes through node:net, for a Node whose pipe binding appctl cannot reach
// (transport.ts says when). Run by appctl.

import type { Socket } from 'node:net';
import type { Transport, TransportListeners } from './transport.js';

/** node:net as required when first needed (process.getBuiltinModule since Node 20.16; else the import). */
async function loadNet(): Promise<typeof import('node:net')> {
  return process.getBuiltinModule?.('node:net') ?? (await import('node:net'));
}

class NetTransport implements Transport {
  readonly #socket: Socket;

  constructor(socket: Socket, listeners: TransportListeners) {
    this.#socket = socket;
    socket.once('connect', () => listeners.connect());
    socket.on('data', (chunk: Buffer) => listeners.data(chunk));
    socket.on('error', (error) => listeners.error(error));
    socket.on('close', () => listeners.close());
  }

  get closed(): boolean {
    return this.#socket.closed;
  }

  write(bytes: Buffer): void {
    this.#socket.write(bytes);
  }

  pause(): void {
    this.#socket.pause();
  }

  resume(): void {
    this.#socket.resume();
  }

  destroy(): void {
    this.#socket.destroy();
  }
}

export async function openNetTransport(path: string, listeners: TransportListeners): Promise<Transport> {
  const { createConnection } = await loadNet();
  return new NetTransport(createConnection(path), listeners);
}
