// A WebSocket test client that queues every message and remembers how the connection closed.
// Runs in the ava test process.

import WebSocket from 'ws';

export class TestSocket {
  readonly socket: WebSocket;
  readonly closed: Promise<{ code: number; reason: string }>;
  readonly #messages: string[] = [];
  #waiter: (() => void) | null = null;

  private constructor(socket: WebSocket) {
    this.socket = socket;
    socket.on('message', (data: Buffer) => {
      this.#messages.push(data.toString('utf8'));
      this.#waiter?.();
    });
    this.closed = new Promise((settle) =>
      socket.once('close', (code: number, reason: Buffer) => settle({ code, reason: reason.toString('utf8') })),
    );
    // Errors (a cut connection) end in 'close' too, with code 1006; the tests assert on that.
    socket.on('error', () => undefined);
  }

  static open(url: string, timeoutMs = 10_000): Promise<TestSocket> {
    const socket = new WebSocket(url, { handshakeTimeout: timeoutMs });
    const client = new TestSocket(socket);
    return new Promise((settle, fail) => {
      socket.once('open', () => settle(client));
      socket.once('error', fail);
    });
  }

  /** The next message not yet taken, waiting up to timeoutMs for it. */
  async next(timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (this.#messages.length === 0) {
      if (Date.now() > deadline) throw new Error(`no WebSocket message within ${timeoutMs}ms`);
      await new Promise<void>((wake) => {
        this.#waiter = wake;
        setTimeout(wake, 50);
      });
    }
    return this.#messages.shift() ?? '';
  }

  /** Sends `text` and returns the next message (the echo). */
  async roundTrip(text: string): Promise<string> {
    this.socket.send(text);
    return this.next();
  }

  close(): void {
    this.socket.close(1000, 'done');
  }

  /** Kills the connection without a close handshake (teardown). */
  terminate(): void {
    this.socket.terminate();
  }
}
