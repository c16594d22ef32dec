// What a reload does to the master's sockets: keep the ones still bound by some pool, bind the new
// addresses, close the ones no pool names any more. Run by the appd master.

import type { ResolvedConfig } from '../../shared/config/resolve.js';
import { closeListeners, openListeners, type Listener, type OwnedBind } from './listeners.js';
import { listenModesOf, listenWithoutAccepting } from './listen-without-accepting.js';
import { allBinds } from '../pools/pool.js';

export interface ListenerPlan {
  readonly keep: Listener[];
  readonly open: OwnedBind[];
  readonly close: Listener[];
}

function sameOwnedBind(listener: Listener, wanted: OwnedBind): boolean {
  return listener.pool === wanted.pool && listener.bindText === wanted.bind.text;
}

export function planListeners(current: readonly Listener[], next: ResolvedConfig): ListenerPlan {
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
