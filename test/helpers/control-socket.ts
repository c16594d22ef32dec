// A raw client of the control socket for tests that send what appctl never would (bad frames, floods,
// half frames) and read exactly what comes back. Runs in the ava test process.

import net from 'node:net';
import { encodeFrame, FrameDecoder } from '../../shared/control/frame-codec.js';
import { PROTOCOL_VERSION } from '../../shared/control/protocol.js';

export const HELLO = { type: 'hello', protocol: PROTOCOL_VERSION, client: 'test', pid: process.pid };

export class RawControlClient {
  readonly socket: net.Socket;
  readonly messages: Record<string, unknown>[] = [];
  /** Resolves when the daemon closed the connection (or it broke). */
  readonly closed: Promise<void>;
  #decoder = new FrameDecoder();
  #waiters: (() => void)[] = [];

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      for (const message of this.#decoder.push(chunk)) this.messages.push(message as Record<string, unknown>);
      for (const wake of this.#waiters.splice(0)) wake();
    });
    // ECONNRESET when the daemon destroys a connection we still write to: a close all the same.
    socket.on('error', () => undefined);
    this.closed = new Promise((settle) => socket.once('close', () => settle()));
    void this.closed.then(() => {
      for (const wake of this.#waiters.splice(0)) wake();
    });
  }

  static connect(path: string): Promise<RawControlClient> {
    return new Promise((settle, fail) => {
      const socket = net.createConnection(path);
      socket.once('connect', () => settle(new RawControlClient(socket)));
      socket.once('error', fail);
    });
  }

  send(message: unknown): void {
    this.socket.write(encodeFrame(message));
  }

  write(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** The first message matching `predicate`, waiting up to `timeoutMs`; null if the connection closed first. */
  async waitFor(predicate: (message: Record<string, unknown>) => boolean, timeoutMs = 10_000): Promise<Record<string, unknown> | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages.find(predicate);
      if (found) return found;
      if (this.socket.destroyed || this.socket.closed) return null;
      if (Date.now() > deadline) throw new Error(`no matching message within ${timeoutMs}ms; got ${JSON.stringify(this.messages)}`);
      await new Promise<void>((wake) => {
        const timer = setTimeout(wake, 100);
        this.#waiters.push(() => {
          clearTimeout(timer);
          wake();
        });
      });
    }
  }

  destroy(): void {
    this.socket.destroy();
  }
}
