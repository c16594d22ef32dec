// What a reload does to the master's sockets: keep the ones still bound by some pool, bind the new
// addresses, close the ones no pool names any more. Run by the appd master.

import type { ResolvedConfig } from '../../shared/config/resolve.js';
import { closeListeners, openListeners, type Listener, type OwnedBind } from './listeners.js';
import { listenModesOf, listenWithoutAccepting } from './listen-without-accepting.js';
import { ConfigError } from '../../shared/errors.js';
import { allBinds, poolSettingsFromConfig } from '../pools/pool.js';

export interface ListenerPlan {
  readonly keep: Listener[];
  readonly open: OwnedBind[];
  readonly close: Listener[];
}

function sameOwnedBind(listener: Listener, wanted: OwnedBind): boolean {
  return listener.pool === wanted.pool && listener.bindText === wanted.bind.text;
}

/**
 * A reload cannot switch a pool to reuse-port: its old workers keep accepting on the shared socket,
 * which holds the port against per-slot SO_REUSEPORT sockets (switching off fails its bind, EADDRINUSE).
 */
function refuseReusePortSwitch(current: readonly Listener[], next: ResolvedConfig): void {
  for (const pool of poolSettingsFromConfig(next.values)) {
    if (!pool.reusePort) continue;
    const owner = next.values.pools === null ? null : pool.name;
    const shared = current.find((listener) => listener.pool === owner && pool.bind.some((bind) => bind.text === listener.bindText));
    if (shared)
      throw new ConfigError(
        `reuse-port (pool ${pool.name}) was off at start: ${shared.url} is one shared socket its workers accept on; switching to per-worker sockets needs a restart`,
      );
  }
}

export function planListeners(current: readonly Listener[], next: ResolvedConfig): ListenerPlan {
  refuseReusePortSwitch(current, next);
  // Sockets handed over by systemd with no bind configured stay as they are: they are the binds.
  if (next.values.pools === null && next.sources.bind.kind === 'default') return { keep: [...current], open: [], close: [] };
  const wanted = allBinds(next.values);
  const keep = current.filter((listener) => wanted.some((bind) => sameOwnedBind(listener, bind)));
  const open = wanted.filter((bind) => !current.some((listener) => sameOwnedBind(listener, bind)));
  const close = current.filter((listener) => !keep.includes(listener));
  return { keep, open, close };
}

/**
 * Binds the plan's new addresses and makes them listen; if one fails, the ones already bound are
 * closed again. Kept sockets whose pool changed its backlog (or kind) listen again in the new mode.
 */
export async function openPlannedListeners(plan: ListenerPlan, next: ResolvedConfig): Promise<Listener[]> {
  const modeOf = listenModesOf(next.values);
  const opened = plan.open.length === 0 ? [] : await openListeners(plan.open, false, [], modeOf);
  try {
    await listenWithoutAccepting(plan.keep, modeOf);
  } catch (error) {
    closeListeners(opened);
    throw error;
  }
  return opened;
}
