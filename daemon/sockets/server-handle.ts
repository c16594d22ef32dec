// The only place appd uses Node internals: net._createServerHandle, which binds a socket without
// listening on it (node:cluster's SCHED_NONE mode uses it too), and the handle's setBlocking. Run by the appd master.
//
// Why: a master that calls listen() on a public net.Server also accepts connections itself, and the
// ones it takes hang (measured in ../shared/research/node-feasibility.md section 2). Workers call
// listen({ fd }) on the inherited descriptor; the master only binds and keeps the fd open.
// test/daemon/server-handle.test.ts fails loudly if a Node release changes this API.

import net from 'node:net';

/**
 * libuv's name for a negative errno ("EADDRINUSE"), from node:util fetched when a bind fails. Not a static
 * import: an ES module import of node:util reads every export, which on Node 24 loads worker_threads,
 * assert and more (3 MB an idle master does not use); not createRequire either: node:module brings Node's
 * ES module loader and source-map support into the master (+0.2 MB on Node 20). process.getBuiltinModule
 * (Node 20.16, 22.3) does neither; an older Node names the number.
 */
function getSystemErrorName(result: number): string {
  const util = process.getBuiltinModule?.('node:util');
  return util ? util.getSystemErrorName(result) : `errno ${result}`;
}

/** The parts of libuv's TCP/Pipe wrap that appd uses. */
export interface RawServerHandle {
  readonly fd: number;
  /** Only TCP wraps have it; a unix socket's Pipe wrap does not. */
  getsockname?(out: { address?: string; port?: number; family?: string }): number;
  /** libuv's uv_stream_set_blocking: sets or clears O_NONBLOCK on the socket; returns 0 or an errno. */
  setBlocking?(blocking: boolean): number;
  close(): void;
}

type CreateServerHandle = (
  address: string | null,
  port: number | null,
  addressType: number | null,
  fd?: number,
  flags?: number,
) => RawServerHandle | number;

/** libuv's UV_TCP_IPV6ONLY */
const IPV6_ONLY_FLAG = 1;
/** libuv's UV_TCP_REUSEPORT (libuv 1.49: Node 22.12, 23.1; older ones ignore it, so reuse-port checks the release first). */
const REUSE_PORT_FLAG = 2;

function createServerHandle(): CreateServerHandle {
  const internal = (net as unknown as { _createServerHandle?: unknown })._createServerHandle;
  if (typeof internal !== 'function') {
    throw new Error(
      `this Node.js (${process.version}) has no net._createServerHandle; appd cannot bind without accepting. Please report it.`,
    );
  }
  return internal as CreateServerHandle;
}

/** A bind failure with the system error name (EADDRINUSE, EACCES, ...). */
export class BindFailure extends Error {
  readonly code: string;
  constructor(code: string) {
    super(code);
    this.code = code;
  }
}

function unwrap(result: RawServerHandle | number): RawServerHandle {
  if (typeof result === 'number') throw new BindFailure(getSystemErrorName(result));
  return result;
}

/**
 * Binds a TCP socket; `address` null means every interface (IPv6 dual-stack, else IPv4).
 *
 * libuv reports EADDRINUSE from bind() only at the next listen() (its "delayed error") and returns a
 * socket that is not bound at all. A worker given that descriptor would listen on a random port
 * without a word, so a socket that did not get its port counts as EADDRINUSE here.
 */
export function bindTcpWithoutListening(
  address: string | null,
  port: number,
  family: 4 | 6,
  options: { ipv6Only?: boolean; reusePort?: boolean } = {},
): RawServerHandle {
  const flags = (options.ipv6Only ? IPV6_ONLY_FLAG : 0) | (options.reusePort ? REUSE_PORT_FLAG : 0);
  const handle = unwrap(createServerHandle()(address, port, address === null ? null : family, undefined, flags));
  const bound = socketAddress(handle);
  if (!bound || bound.port === 0 || (port !== 0 && bound.port !== port)) {
    handle.close();
    throw new BindFailure('EADDRINUSE');
  }
  return handle;
}

/** Binds a unix stream socket at `path` (which must not exist). */
export function bindUnixWithoutListening(path: string): RawServerHandle {
  return unwrap(createServerHandle()(path, -1, -1));
}

/** Wraps a socket descriptor we inherited (systemd, fd://N, a previous master) to read its address. */
export function wrapInheritedDescriptor(fd: number): RawServerHandle {
  try {
    return unwrap(createServerHandle()(null, null, null, fd));
  } catch (error) {
    if (error instanceof BindFailure) throw error;
    // Node throws ERR_INVALID_FD_TYPE for a descriptor that is not a socket.
    throw new BindFailure(error instanceof Error && 'code' in error ? String(error.code) : 'EBADF');
  }
}

export function socketAddress(handle: RawServerHandle): { address: string; port: number; family: string } | null {
  const out: { address?: string; port?: number; family?: string } = {};
  if (!handle.getsockname || handle.getsockname(out) !== 0 || out.port === undefined || out.address === undefined) return null;
  return { address: out.address, port: out.port, family: out.family ?? '' };
}

/**
 * Sets or clears O_NONBLOCK on the socket behind `handle` (it belongs to the socket, so every process
 * holding it sees the change). Node has no public fcntl; its stream wraps expose libuv's setBlocking.
 */
export function setDescriptorBlocking(handle: RawServerHandle, blocking: boolean): void {
  if (typeof handle.setBlocking !== 'function') {
    throw new Error(
      `this Node.js (${process.version}) has no setBlocking on socket handles; appd cannot hand command pools a blocking socket. Please report it.`,
    );
  }
  const result = handle.setBlocking(blocking);
  if (result !== 0) throw new BindFailure(getSystemErrorName(result));
}
