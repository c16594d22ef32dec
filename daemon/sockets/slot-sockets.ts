// slot-bind: each slot of a pool gets its own socket, owned by the master for as long as the slot
// exists (every generation's worker of that slot inherits the same socket, so its queue survives
// reloads and crashes), bound when a slot first needs it and closed when scaling removes the slot.
// reuse-port uses the same ownership for sockets that all bind the pool's own address with SO_REUSEPORT.
// Run by the appd master (the supervisor asks for a slot's sockets when it spawns its worker).

import { existsSync, lstatSync, readFileSync, unlinkSync } from 'node:fs';
import { isIP } from 'node:net';
import { dirname, resolve } from 'node:path';
import type { BindAddress } from '../../shared/bind-address.js';
import { BindError, ConfigError, describeError, hasErrorCode } from '../../shared/errors.js';
import { slotAddress, slotOfAddress } from '../../shared/slot-address.js';
import type { Config } from '../../shared/settings/table.js';
import type { Logger } from '../master/logger.js';
import { poolSettingsFromConfig, unixSocketFile, type Pool, type PoolSettings } from '../pools/pool.js';
import {
  bindTcpAddress,
  bindUnixPath,
  closeListeners,
  describeListener,
  type InheritedSocket,
  type Listener,
  type OwnedBind,
} from './listeners.js';
import { listenWithoutAccepting } from './listen-without-accepting.js';
import type { UnixSocketFile } from './unix-socket-file.js';

function keyOf(pool: string, template: string, slot: number): string {
  return `${pool}\u0000${template}\u0000${slot}`;
}

/** Whether a live socket is bound at `path`: the kernel's table of unix sockets lists it (no connect needed). */
function unixPathInUse(path: string): boolean {
  return readFileSync('/proc/self/net/unix', 'utf8')
    .split('\n')
    .some((line) => line.endsWith(` ${path}`));
}

/** The synchronous twin of listeners.ts's stale-socket check, for sockets bound while the master runs. */
function clearStaleSocketFile(path: string, text: string): void {
  let stats;
  try {
    stats = lstatSync(path);
  } catch (error) {
    if (hasErrorCode(error, 'ENOENT')) return; // nothing there: the normal case
    throw error;
  }
  if (!stats.isSocket()) throw new BindError(`cannot listen on ${text}: ${path} exists and is not a socket`);
  if (unixPathInUse(path))
    throw new BindError(`cannot listen on ${text}: address already in use (another process listens there) [EADDRINUSE]`);
  unlinkSync(path);
}

/** Whether the kernel moves a closed reuseport socket's queued connections to its siblings (Linux 5.14+, per network namespace). */
function kernelMigratesQueuedConnections(): boolean {
  try {
    return readFileSync('/proc/sys/net/ipv4/tcp_migrate_req', 'utf8').trim() === '1';
  } catch (error) {
    if (hasErrorCode(error, 'ENOENT', 'EACCES')) return false; // an older kernel, or /proc/sys hidden: assume not
    throw error;
  }
}

function bindSlotAddress(address: BindAddress, unixSocket: UnixSocketFile, reusePort: boolean): Listener {
  if (address.kind === 'unix') {
    const path = resolve(address.path);
    if (!existsSync(dirname(path))) throw new BindError(`cannot listen on ${address.text}: directory ${dirname(path)} does not exist`);
    clearStaleSocketFile(path, address.text);
    return bindUnixPath(path, address.text, unixSocket);
  }
  if (address.kind !== 'tcp') throw new BindError(`cannot listen on ${address.text}: not a slot address`);
  // parseSlotTemplate allows only IP literals: no lookup to wait for.
  return bindTcpAddress(address.text, address.host, address.port, address.host === null || isIP(address.host) === 6 ? 6 : 4, reusePort);
}

/** reuse-port: the pool's binds, each bound once per slot (checkReusePort allowed only fixed-port TCP). */
function reusePortBinds(pool: PoolSettings): BindAddress[] {
  return pool.kind === 'http' && pool.reusePort ? pool.bind.filter((bind) => bind.kind === 'tcp') : [];
}

/**
 * The slot sockets to open at start, with the pools' binds: one per slot of each pool's worker count,
 * and as many more as a previous master handed over (it may have been scaled up since the config said).
 */
export function initialSlotBinds(config: Config, inherited: readonly InheritedSocket[]): OwnedBind[] {
  const binds: OwnedBind[] = [];
  for (const pool of poolSettingsFromConfig(config)) {
    for (const template of pool.slotBind) {
      const handedOver = inherited.flatMap((socket) =>
        socket.pool === pool.name && socket.bindText !== null ? [slotOfAddress(template, socket.bindText)] : [],
      );
      const count = Math.max(pool.workers, ...handedOver.map((slot) => (slot === null ? 0 : slot + 1)));
      for (let slot = 0; slot < count; slot += 1) {
        const address = slotAddress(template, slot);
        if (address)
          binds.push({ pool: pool.name, bind: address, unixSocket: unixSocketFile(pool), slot: { template: template.text, index: slot } });
      }
    }
    for (const bind of reusePortBinds(pool)) {
      // A previous master hands each slot's socket over under the same bind text: one per slot it had.
      const handedOver = inherited.filter((socket) => socket.pool === pool.name && socket.bindText === bind.text).length;
      for (let slot = 0; slot < Math.max(pool.workers, handedOver); slot += 1)
        binds.push({
          pool: pool.name,
          bind,
          unixSocket: unixSocketFile(pool),
          slot: { template: bind.text, index: slot, reusePort: true },
        });
    }
  }
  return binds;
}

/**
 * reuse-port binds one socket per slot itself: sockets systemd passed (one each) cannot be split per
 * worker, and adopting them beside SO_REUSEPORT ones would hold the port (EADDRINUSE) or serve nothing.
 */
export function refuseReusePortWithSystemdSockets(config: Config, inherited: readonly InheritedSocket[]): void {
  const passed = inherited.filter((socket) => socket.origin === 'systemd').length;
  const pool = poolSettingsFromConfig(config).find((settings) => reusePortBinds(settings).length > 0);
  if (passed === 0 || pool === undefined) return;
  const setting = config.pools === null ? 'reuse-port' : `pools.${pool.name}.reusePort`;
  throw new ConfigError(
    `${setting} cannot be used with sockets passed by systemd (LISTEN_FDS=${passed}): appd binds each worker's SO_REUSEPORT socket itself; drop the socket unit or reuse-port`,
  );
}

export class SlotSockets {
  readonly #sockets = new Map<string, Listener>();
  /** Addresses whose bind failed, so a slot restarting in a loop logs it once. */
  readonly #failed = new Set<string>();
  readonly #logger: Logger;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  /** Takes the slot sockets opened at start (listeners with a slot). */
  adopt(listeners: readonly Listener[]): void {
    for (const listener of listeners) {
      if (listener.slot && listener.pool !== null)
        this.#sockets.set(keyOf(listener.pool, listener.slot.template, listener.slot.index), listener);
    }
  }

  listeners(): Listener[] {
    return [...this.#sockets.values()];
  }

  /** The slot's sockets, in the order of the pool's slot-bind; binds the ones it does not have yet. */
  forSlot(settings: PoolSettings, slot: number): Listener[] {
    return this.#socketsOf(settings, slot, settings.slotBind, false);
  }

  /** reuse-port: the slot's own SO_REUSEPORT socket on each of the pool's binds; binds the ones it does not have yet. */
  reusePortForSlot(settings: PoolSettings, slot: number): Listener[] {
    return this.#socketsOf(settings, slot, reusePortBinds(settings), true);
  }

  #socketsOf(settings: PoolSettings, slot: number, templates: readonly BindAddress[], reusePort: boolean): Listener[] {
    const found: Listener[] = [];
    for (const template of templates) {
      const key = keyOf(settings.name, template.text, slot);
      const known = this.#sockets.get(key) ?? this.#bind(settings, template, slot, key, reusePort);
      if (known) found.push(known);
    }
    return found;
  }

  #bind(settings: PoolSettings, template: BindAddress, slot: number, key: string, reusePort: boolean): Listener | null {
    const pool = settings.name;
    const address = reusePort ? template : slotAddress(template, slot);
    if (address === null) {
      this.#failOnce(key, `slot-bind ${template.text}: slot ${slot} would listen past port 65535; ${pool}.${slot} starts without it`);
      return null;
    }
    try {
      const listener: Listener = {
        ...bindSlotAddress(address, unixSocketFile(settings), reusePort),
        pool,
        slot: reusePort ? { template: template.text, index: slot, reusePort: true } : { template: template.text, index: slot },
      };
      this.#sockets.set(key, listener);
      this.#failed.delete(key);
      this.#logger.info(`Listening at: ${describeListener(listener, 'bound')}`);
      this.#listen(listener, settings);
      return listener;
    } catch (error) {
      // A socket owner or group that no longer exists is a ConfigError: the slot still starts, without it.
      if (!(error instanceof BindError) && !(error instanceof ConfigError)) throw error;
      this.#failOnce(key, `${error.message}; slot ${pool}.${slot} starts without its slot socket`);
      return null;
    }
  }

  /**
   * The slot's worker is spawned at once, before the helper has run: an HTTP worker listens itself (with
   * the same backlog), a command program gets a listening socket a moment later (race: a program that
   * calls accept() before then gets EINVAL and is restarted; only for a slot socket bound on scale-up).
   */
  #listen(listener: Listener, settings: PoolSettings): void {
    const mode = { backlog: settings.backlog, blocking: settings.kind === 'command' };
    listenWithoutAccepting([listener], () => mode).catch((error: unknown) =>
      this.#logger.error(`${describeError(error)}; ${listener.pool ?? '?'}.${listener.slot?.index ?? '?'} listens when its worker does`),
    );
  }

  #failOnce(key: string, message: string): void {
    if (this.#failed.has(key)) return;
    this.#failed.add(key);
    this.#logger.error(message);
  }

  /**
   * Closes the master's copy of every slot socket no pool wants any more: its slot is at or above the
   * pool's target (scaled down), its template left slot-bind, or its pool is gone. A worker still
   * holding one keeps accepting on it until it stops (drain); a unix path disappears at once.
   */
  retain(pools: ReadonlyMap<string, Pool>): void {
    for (const [key, listener] of this.#sockets) {
      const slot = listener.slot;
      const pool = listener.pool === null ? undefined : pools.get(listener.pool);
      const wanted =
        slot !== undefined &&
        pool !== undefined &&
        !pool.removed &&
        slot.index < pool.target &&
        (slot.reusePort ? reusePortBinds(pool.settings) : pool.settings.slotBind).some((template) => template.text === slot.template);
      if (wanted) continue;
      this.#sockets.delete(key);
      try {
        closeListeners([listener]);
        this.#logger.info(`closed slot socket ${listener.url} of ${listener.pool ?? '?'}.${slot?.index ?? '?'} (no such slot any more)`);
        if (slot?.reusePort && !kernelMigratesQueuedConnections())
          this.#logger.warning(
            `reuse-port: connections still queued on ${listener.url} of ${listener.pool ?? '?'}.${slot.index} when its worker stops are reset (net.ipv4.tcp_migrate_req is not 1; with 1 the kernel moves them to the other slots)`,
          );
      } catch (error) {
        this.#logger.error(`cannot remove slot socket ${listener.url}: ${describeError(error)}`);
      }
    }
  }
}
