// The control connection's bytes through Node's pipe binding, the handle node:net's socket drives, without
// node:net and node:stream around it (transport.ts says why). Run by appctl.
//
// The binding's calls are Node's own, unchanged in shape from Node 12 to 24: a Pipe handle, connect() with
// a request whose oncomplete gets the status, readStart() calling onread with the read's size and offset
// in streamBaseState, writeBuffer() with a request. Anything unlike that shape, or no process.binding at
// all, and appctl uses node:net instead (openPipeTransport returns null).

import { getSystemErrorName } from 'node:util';
import { nodeBinding } from '../../shared/node-binding.js';
import type { Transport, TransportListeners } from './transport.js';

interface ConnectRequest {
  oncomplete: (status: number) => void;
}

interface WriteRequest {
  handle: PipeHandle;
  /** Holds the bytes until libuv has written them (an asynchronous write). */
  buffer: Buffer;
  oncomplete: (status: number) => void;
}

interface PipeHandle {
  /** Called with the read's ArrayBuffer, or undefined at the end or on an error (streamBaseState says). */
  onread: (arrayBuffer: ArrayBuffer | undefined) => void;
  connect(request: ConnectRequest, path: string): number;
  readStart(): number;
  readStop(): number;
  writeBuffer(request: WriteRequest, bytes: Buffer): number;
  close(callback: () => void): void;
}

interface PipeBinding {
  Pipe: new (type: number) => PipeHandle;
  PipeConnectWrap: new () => ConnectRequest;
  constants: { SOCKET: number };
}

interface StreamBinding {
  WriteWrap: new () => WriteRequest;
  streamBaseState: Int32Array;
  kReadBytesOrError: number;
  kArrayBufferOffset: number;
}

interface Bindings {
  readonly pipe: PipeBinding;
  readonly stream: StreamBinding;
}

function isFunction(value: unknown): boolean {
  return typeof value === 'function';
}

/** The two bindings, when both have the shape this file drives; else null. */
function loadBindings(): Bindings | null {
  const pipe = nodeBinding<Partial<PipeBinding>>('pipe_wrap');
  const stream = nodeBinding<Partial<StreamBinding>>('stream_wrap');
  if (pipe === null || stream === null) return null;
  const prototype = (pipe.Pipe as { prototype?: Record<string, unknown> } | undefined)?.prototype;
  const shaped =
    isFunction(pipe.Pipe) &&
    isFunction(pipe.PipeConnectWrap) &&
    typeof pipe.constants?.SOCKET === 'number' &&
    isFunction(stream.WriteWrap) &&
    stream.streamBaseState instanceof Int32Array &&
    typeof stream.kReadBytesOrError === 'number' &&
    typeof stream.kArrayBufferOffset === 'number' &&
    ['connect', 'readStart', 'readStop', 'writeBuffer', 'close'].every((method) => isFunction(prototype?.[method]));
  return shaped ? { pipe: pipe as PipeBinding, stream: stream as StreamBinding } : null;
}

/** An error as node:net makes it from a libuv status: "connect ENOENT /run/appd/x.sock", code ENOENT. */
function statusError(status: number, syscall: string, path: string): NodeJS.ErrnoException {
  const code = getSystemErrorName(status);
  const error: NodeJS.ErrnoException = new Error(`${syscall} ${code} ${path}`);
  error.code = code;
  error.errno = status;
  error.syscall = syscall;
  return error;
}

class PipeTransport implements Transport {
  readonly #handle: PipeHandle;
  readonly #stream: StreamBinding;
  readonly #path: string;
  readonly #listeners: TransportListeners;
  #connected = false;
  #reading = false;
  #paused = false;
  /** Closed by us or by a failure: every later callback of the handle is ignored. */
  #closing = false;
  #closed = false;

  constructor(bindings: Bindings, path: string, listeners: TransportListeners) {
    this.#stream = bindings.stream;
    this.#path = path;
    this.#listeners = listeners;
    this.#handle = new bindings.pipe.Pipe(bindings.pipe.constants.SOCKET);
    this.#handle.onread = (arrayBuffer) => this.#onRead(arrayBuffer);
    const request = new bindings.pipe.PipeConnectWrap();
    request.oncomplete = (status) => this.#onConnect(status);
    const status = this.#handle.connect(request, path);
    // libuv reports a failed connect through the request, but a refusal before it (a path too long)
    // comes back here: reported a turn later, as node:net does, once the owner holds this transport.
    if (status < 0) process.nextTick(() => this.#fail(status, 'connect'));
  }

  get closed(): boolean {
    return this.#closed;
  }

  write(bytes: Buffer): void {
    if (this.#closing) return;
    const request = new this.#stream.WriteWrap();
    request.handle = this.#handle;
    request.buffer = bytes;
    request.oncomplete = (status) => {
      if (status < 0) this.#fail(status, 'write');
    };
    const status = this.#handle.writeBuffer(request, bytes);
    // Reported a turn later, as node:net does: the caller may be in the middle of its own bookkeeping.
    if (status < 0) process.nextTick(() => this.#fail(status, 'write'));
  }

  pause(): void {
    this.#paused = true;
    if (this.#reading) {
      this.#handle.readStop();
      this.#reading = false;
    }
  }

  resume(): void {
    this.#paused = false;
    this.#startReading();
  }

  destroy(): void {
    if (this.#closing) return;
    this.#closing = true;
    this.#handle.close(() => {
      this.#closed = true;
      this.#listeners.close();
    });
  }

  #startReading(): void {
    if (!this.#connected || this.#paused || this.#reading || this.#closing) return;
    const status = this.#handle.readStart();
    if (status < 0) return this.#fail(status, 'read');
    this.#reading = true;
  }

  #onConnect(status: number): void {
    if (this.#closing) return;
    if (status < 0) return this.#fail(status, 'connect');
    this.#connected = true;
    this.#startReading();
    this.#listeners.connect();
  }

  #onRead(arrayBuffer: ArrayBuffer | undefined): void {
    if (this.#closing) return;
    const state = this.#stream.streamBaseState;
    const read = state[this.#stream.kReadBytesOrError] ?? 0;
    if (read < 0) return this.#end(read);
    if (read === 0 || arrayBuffer === undefined) return;
    // A view of the bytes read, as node:net hands them out (the ArrayBuffer is this read's own).
    this.#listeners.data(Buffer.from(arrayBuffer, state[this.#stream.kArrayBufferOffset] ?? 0, read));
  }

  /** The daemon closed its side (EOF), or the read failed. */
  #end(status: number): void {
    if (getSystemErrorName(status) === 'EOF') this.destroy();
    else this.#fail(status, 'read');
  }

  #fail(status: number, syscall: string): void {
    if (this.#closing) return;
    this.#listeners.error(statusError(status, syscall, this.#path));
    this.destroy();
  }
}

/** A transport connecting to `path`, or null when this Node's pipe binding is out of reach. */
export function openPipeTransport(path: string, listeners: TransportListeners): Transport | null {
  const bindings = loadBindings();
  return bindings === null ? null : new PipeTransport(bindings, path, listeners);
}
