// reuse-port's preconditions, checked once per configuration (start, reload, --check-config): the Node
// release, HTTP pools, and binds a socket per worker can share (fixed-port TCP on an IP literal).
// Run by the appd master (and appctl's config checks, through resolveConfig).

import { isIP } from 'node:net';
import type { BindAddress } from '../bind-address.js';
import { ConfigError } from '../errors.js';
import type { Config } from '../settings/table.js';

/** SO_REUSEPORT on a bound TCP handle came with libuv 1.49: Node 22.12 and 23.1. */
export function nodeHasReusePort(version: string = process.versions.node): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12);
}

/** Why `bind` cannot be one of several SO_REUSEPORT sockets, or null when it can. */
function unsuitableBind(bind: BindAddress): string | null {
  if (bind.kind === 'unix') return 'a unix socket cannot be shared by port (SO_REUSEPORT is for TCP)';
  if (bind.kind !== 'tcp') return 'an inherited socket (systemd, fd://) is one socket: appd cannot bind one per worker beside it';
  if (bind.port === 0) return 'port 0 would give each worker a different random port: give a fixed port';
  // Slot sockets are bound while the master runs (scale up), where a name lookup cannot be waited for.
  if (bind.host !== null && isIP(bind.host) === 0) return `a host name: give its IP address (e.g. 127.0.0.1:${bind.port})`;
  return null;
}

/** Every pool (or the single-app form) with reuse-port on: its program kind, binds and this Node. */
export function checkReusePort(values: Config, where: (perPool: boolean) => string): void {
  const users =
    values.pools === null
      ? [{ pool: null, own: false, on: values.reusePort, binds: values.bind, command: false }]
      : Object.entries(values.pools).map(([pool, overrides]) => ({
          pool,
          own: overrides['reusePort'] !== undefined,
          on: (overrides['reusePort'] as boolean | undefined) ?? values.reusePort,
          binds: (overrides['bind'] ?? []) as BindAddress[],
          command: overrides['command'] !== undefined,
        }));
  for (const { pool, own, on, binds, command } of users) {
    if (!on) continue;
    const setting = own ? `pools.${pool ?? ''}.reusePort` : pool === null ? 'reuse-port' : `reuse-port, for pools.${pool}`;
    if (!nodeHasReusePort())
      throw new ConfigError(`${setting} (from ${where(own)}) needs Node >= 22.12 or >= 23.1 (SO_REUSEPORT); this is ${process.version}`);
    if (command)
      throw new ConfigError(`${setting} (from ${where(own)}) is for HTTP pools: a command pool's program gets its sockets as they are`);
    for (const bind of binds) {
      const why = unsuitableBind(bind);
      if (why !== null) throw new ConfigError(`${setting} (from ${where(own)}) cannot serve bind ${bind.text}: ${why}`);
    }
  }
}
