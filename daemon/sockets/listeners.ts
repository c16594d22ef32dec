// Binds the configured addresses, or adopts sockets inherited from systemd (LISTEN_FDS), fd://N or a
// previous master (APPD_LISTEN_FDS), and keeps their descriptors open for workers. Run by the appd master.

import { existsSync, lstatSync, readFileSync, readlinkSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import { dirname, resolve } from 'node:path';
import { formatListenUrl, parseBindAddress, type BindAddress } from '../../shared/bind-address.js';
import { BindError, hasErrorCode } from '../../shared/errors.js';
import { BindFailure, bindTcpWithoutListening, socketAddress, wrapInheritedDescriptor, type RawServerHandle } from './server-handle.js';
import { listenWithoutAccepting, type ListenMode } from './listen-without-accepting.js';
import { bindUnixSocketFile, type UnixSocketFile } from './unix-socket-file.js';

export type ListenerOrigin = 'bound' | 'systemd' | 'fd' | 'previous-master';
export type ListenerAddress = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string };

export interface Listener {
  /** The address as configured ("127.0.0.1:0"), or the inherited one for unnamed systemd sockets. */
  readonly bindText: string;
  /** The pool whose bind it is (null in the single-app form, where every worker gets every socket). */
  readonly pool: string | null;
  readonly fd: number;
  readonly address: ListenerAddress;
  readonly url: string;
  readonly origin: ListenerOrigin;
  /** Kept referenced so the descriptor stays open for the daemon's lifetime. */
  readonly handle: RawServerHandle;
  /** Whether stopping removes the socket file (not for inherited sockets, nor after a handoff). */
  ownsPath: boolean;
  /** A slot socket (slot-bind): the template it comes from and its slot; absent for the pool's shared binds. */
  readonly slot?: SlotOfListener;
}

export interface SlotOfListener {
  /** The slot-bind text as configured ("unix:/run/web.{slot}.sock"). */
  readonly template: string;
  readonly index: number;
  /**
   * reuse-port: one of the slot sockets all bound to the pool's bind `template` with SO_REUSEPORT. The
   * worker serves it like a shared bind (listens at once, drains as usual); only its owner is the slot.
   */
  readonly reusePort?: true;
}

/** A socket descriptor handed to this process, and the bind it stands for if known. */
export interface InheritedSocket {
  readonly fd: number;
  readonly bindText: string | null;
  /** The pool it served under the previous master (two pools may both bind ":0"). */
  readonly pool: string | null;
  /** systemd's name for it (LISTEN_FDNAMES), matched by a bind "fd://NAME". */
  readonly name: string | null;
  readonly origin: ListenerOrigin;
  /** A unix socket file the previous master would have removed on exit: this master removes it now. */
  readonly ownsPath?: boolean;
}

const ERROR_EXPLANATIONS: Record<string, string> = {
  EADDRINUSE: 'address already in use (another process listens there)',
  EACCES: 'permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)',
  UNIX_EACCES: 'permission denied (the directory is not writable for this user)',
  EADDRNOTAVAIL: 'address not available on this machine',
  ENOENT: 'directory does not exist',
  EINVAL: 'invalid address',
};

function bindFailed(text: string, code: string, unix = false): BindError {
  const explanation = (unix ? ERROR_EXPLANATIONS[`UNIX_${code}`] : undefined) ?? ERROR_EXPLANATIONS[code] ?? code;
  return new BindError(`cannot listen on ${text}: ${explanation} [${code}]`);
}

/** The unix socket path behind a descriptor, from /proc (libuv's Pipe wrap has no getsockname). */
function unixPathOfDescriptor(fd: number): string | null {
  const link = readlinkSync(`/proc/self/fd/${fd}`);
  const inode = /^socket:\[(\d+)\]$/.exec(link)?.[1];
  if (!inode) return null;
  for (const line of readFileSync('/proc/self/net/unix', 'utf8').split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields[6] === inode) return fields[7] ?? null;
  }
  return null;
}

/**
 * A previous master's unix socket was bound at a private name and renamed into place (see
 * unix-socket-file.ts): /proc still shows the name it was bound at, its bind text says where it is.
 */
function handedOverUnixPath(inherited: InheritedSocket): string | null {
  if (inherited.origin !== 'previous-master' || inherited.bindText === null) return null;
  // The previous master's own bind text, which parsed when it bound it.
  const bind = parseBindAddress(inherited.bindText);
  return bind.kind === 'unix' ? resolve(bind.path) : null;
}

function describeHandle(handle: RawServerHandle, fd: number, knownUnixPath: string | null): ListenerAddress {
  const tcp = socketAddress(handle);
  if (tcp && handle.constructor.name === 'TCP') return { kind: 'tcp', host: tcp.address, port: tcp.port };
  const path = knownUnixPath ?? unixPathOfDescriptor(fd);
  if (path === null) throw new BindError(`inherited descriptor ${fd} is not a listening TCP or unix socket`);
  return { kind: 'unix', path };
}

function sameAddress(bind: BindAddress, address: ListenerAddress, resolvedHost: string | null): boolean {
  if (bind.kind === 'unix') return address.kind === 'unix' && resolve(bind.path) === address.path;
  if (bind.kind !== 'tcp' || address.kind !== 'tcp' || bind.port !== address.port) return false;
  const wildcard = ['::', '0.0.0.0'];
  return resolvedHost === null ? wildcard.includes(address.host) : resolvedHost === address.host;
}

/** Removes a unix socket file left by a daemon that died; refuses to touch a live one or a non-socket. */
async function clearStaleUnixSocket(path: string, text: string): Promise<void> {
  let stats;
  try {
    stats = lstatSync(path);
  } catch (error) {
    if (hasErrorCode(error, 'ENOENT')) return; // nothing there: the normal case
    throw error;
  }
  if (!stats.isSocket()) throw new BindError(`cannot listen on ${text}: ${path} exists and is not a socket`);
  const alive = await new Promise<boolean>((settle) => {
    const probe = net.connect(path);
    probe.once('connect', () => {
      probe.destroy();
      settle(true);
    });
    probe.once('error', () => settle(false));
  });
  if (alive) throw bindFailed(text, 'EADDRINUSE');
  unlinkSync(path);
}

async function resolveHost(host: string | null): Promise<{ address: string | null; family: 4 | 6 }> {
  if (host === null) return { address: null, family: 6 };
  const family = net.isIP(host);
  if (family === 4 || family === 6) return { address: host, family };
  // Loaded only for a host name (a bind to an IP address, the usual case, never needs the resolver).
  const { lookup } = await import('node:dns/promises');
  const found = await lookup(host);
  return { address: found.address, family: found.family === 6 ? 6 : 4 };
}

async function bindOne(
  bind: BindAddress,
  unixSocket: UnixSocketFile,
  inheritedNames: readonly string[],
  reusePort: boolean,
): Promise<Listener> {
  if (bind.kind === 'fd') {
    return adoptDescriptor({ fd: bind.fd, bindText: bind.text, name: null, pool: null, origin: 'fd' });
  }
  if (bind.kind === 'named-fd') {
    const known = inheritedNames.length > 0 ? `LISTEN_FDNAMES has ${inheritedNames.join(', ')}` : 'no socket was passed (LISTEN_FDS)';
    throw new BindError(`cannot listen on ${bind.text}: no inherited socket is named "${bind.name}" (${known})`);
  }
  if (bind.kind === 'unix') {
    const path = resolve(bind.path);
    // libuv reports a missing directory as EACCES; say what is really wrong.
    if (!existsSync(dirname(path))) throw new BindError(`cannot listen on ${bind.text}: directory ${dirname(path)} does not exist`);
    await clearStaleUnixSocket(path, bind.text);
    return bindUnixPath(path, bind.text, unixSocket);
  }
  let target;
  try {
    target = await resolveHost(bind.host);
  } catch (error) {
    throw new BindError(
      `cannot listen on ${bind.text}: cannot resolve host ${bind.host ?? ''} (${error instanceof Error ? error.message : String(error)})`,
    );
  }
  return bindTcpAddress(bind.text, target.address, bind.port, target.family, reusePort);
}

/** Binds a unix socket at `path` (where no live socket is) with its mode and owner; also binds slot sockets at run time. */
export function bindUnixPath(path: string, text: string, unixSocket: UnixSocketFile): Listener {
  let handle: RawServerHandle;
  try {
    handle = bindUnixSocketFile(path, unixSocket, text);
  } catch (error) {
    if (error instanceof BindFailure) throw bindFailed(text, error.code, true);
    throw error;
  }
  const address: ListenerAddress = { kind: 'unix', path };
  return { bindText: text, pool: null, fd: handle.fd, address, url: formatListenUrl(address), origin: 'bound', handle, ownsPath: true };
}

/** Binds a TCP address already resolved (null: every interface); also binds slot sockets at run time. */
export function bindTcpAddress(text: string, host: string | null, port: number, family: 4 | 6, reusePort = false): Listener {
  let handle: RawServerHandle;
  try {
    handle = bindTcpWithoutListening(host, port, family, { reusePort });
  } catch (error) {
    if (error instanceof BindFailure) throw bindFailed(text, error.code);
    throw error;
  }
  const bound = socketAddress(handle);
  const address: ListenerAddress = { kind: 'tcp', host: bound?.address ?? host ?? '::', port: bound?.port ?? port };
  return { bindText: text, pool: null, fd: handle.fd, address, url: formatListenUrl(address), origin: 'bound', handle, ownsPath: false };
}

function adoptDescriptor(inherited: InheritedSocket): Listener {
  let handle: RawServerHandle;
  try {
    handle = wrapInheritedDescriptor(inherited.fd);
  } catch (error) {
    const code = error instanceof BindFailure ? error.code : String(error);
    throw new BindError(
      `cannot use inherited descriptor ${inherited.fd} (${inherited.bindText ?? inherited.origin}): not an open socket [${code}]`,
    );
  }
  const address = describeHandle(handle, inherited.fd, handedOverUnixPath(inherited));
  const url = formatListenUrl(address);
  return {
    bindText: inherited.bindText ?? url,
    pool: inherited.pool,
    fd: inherited.fd,
    address,
    url,
    origin: inherited.origin,
    handle,
    ownsPath: inherited.ownsPath ?? false,
  };
}

/**
 * Every configured bind becomes a listener: an inherited socket with the same address (or the same
 * bind text, after an upgrade) is adopted, the rest are bound now. With no explicit bind and sockets
 * from systemd, all of those are used.
 */
/** A bind and the pool it belongs to (null: the single-app form's global bind). */
export interface OwnedBind {
  readonly pool: string | null;
  readonly bind: BindAddress;
  /** Mode, owner and group for a unix socket file (the pool's, or the global settings). */
  readonly unixSocket: UnixSocketFile;
  readonly slot?: SlotOfListener;
}

export async function openListeners(
  binds: readonly OwnedBind[],
  bindIsDefault: boolean,
  inherited: readonly InheritedSocket[],
  modeOf: (pool: string | null) => ListenMode,
): Promise<Listener[]> {
  const listeners = await bindOrAdopt(binds, bindIsDefault, inherited);
  try {
    // Inherited sockets usually listen already (systemd, a previous master): listening again only
    // sets the backlog. Sockets just bound start queueing connections here, before any worker runs.
    await listenWithoutAccepting(listeners, modeOf);
  } catch (error) {
    closeListeners(listeners.filter((listener) => listener.origin === 'bound'));
    throw error;
  }
  return listeners;
}

async function bindOrAdopt(
  binds: readonly OwnedBind[],
  bindIsDefault: boolean,
  inherited: readonly InheritedSocket[],
): Promise<Listener[]> {
  const adopted = new Map(inherited.map((socket) => [adoptDescriptor(socket), socket] as const));
  if (bindIsDefault && adopted.size > 0) return [...adopted.keys()];
  const listeners: Listener[] = [];
  const unused = new Set(adopted.keys());
  const inheritedNames = inherited.flatMap((socket) => (socket.name === null ? [] : [socket.name]));
  const matches = (bind: BindAddress, pool: string | null, listener: Listener, host: string | null): boolean => {
    // After an upgrade, a socket goes back to the pool that had it: ":0" in two pools are two sockets.
    const previousPool = adopted.get(listener)?.pool ?? null;
    if (previousPool !== null && previousPool !== pool) return false;
    // The same bind text as under the previous master is the same socket, whatever its kind: its
    // descriptor number and systemd name do not survive the handoff (fd://3, fd://web).
    if (adopted.get(listener)?.origin === 'previous-master' && listener.bindText === bind.text) return true;
    if (bind.kind === 'named-fd') return adopted.get(listener)?.name === bind.name;
    // fd://3 naming a descriptor systemd also passed is that same socket, not a second one.
    if (bind.kind === 'fd') return listener.fd === bind.fd;
    return listener.bindText === bind.text || sameAddress(bind, listener.address, host);
  };
  try {
    for (const { bind, pool, unixSocket, slot } of binds) {
      const host = bind.kind === 'tcp' ? (await resolveHost(bind.host)).address : null;
      const match = [...unused].find((listener) => matches(bind, pool, listener, host));
      const owner = slot === undefined ? { pool } : { pool, slot };
      if (match) {
        unused.delete(match);
        listeners.push({ ...match, bindText: bind.text, ...owner });
      } else {
        listeners.push({ ...(await bindOne(bind, unixSocket, inheritedNames, slot?.reusePort === true)), ...owner });
      }
    }
  } catch (error) {
    closeListeners(listeners);
    throw error;
  }
  // Inherited sockets no bind asked for are closed: keeping them would hold ports nobody serves.
  for (const listener of unused) listener.handle.close();
  return listeners;
}

/** "http://127.0.0.1:8000 (fd 19, bound, pool web)": how a listener is named in the log. */
export function describeListener(listener: Listener, how: string): string {
  const slot = listener.slot === undefined ? '' : `, ${listener.slot.reusePort ? 'reuse-port ' : ''}slot ${listener.slot.index}`;
  return `${listener.url} (fd ${listener.fd}, ${how}${listener.pool === null ? '' : `, pool ${listener.pool}`}${slot})`;
}

/** Closes every descriptor and removes the unix socket files this daemon created. */
export function closeListeners(listeners: readonly Listener[]): void {
  for (const listener of listeners) {
    // libuv unlinks the path of a unix socket it bound when the handle closes. After an upgrade the
    // successor serves that file: the descriptor is left to close with this process instead.
    if (listener.origin === 'bound' && listener.address.kind === 'unix' && !listener.ownsPath) continue;
    listener.handle.close();
    if (listener.ownsPath && listener.address.kind === 'unix') {
      try {
        unlinkSync(listener.address.path);
      } catch (error) {
        if (!hasErrorCode(error, 'ENOENT')) throw error; // already gone: fine
      }
    }
  }
}
