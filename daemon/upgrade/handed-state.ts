// An upgrade hands the successor what an operator changed at run time (appctl scale, TTIN/TTOU,
// appctl stop-pool), so the new master starts where the old one was, not where the config file says;
// a change to the config itself still wins, as on a reload. Run by both appd masters of an upgrade.

import { countOf } from '../../shared/plural.js';
import type { Logger } from '../master/logger.js';
import type { Pool } from '../pools/pool.js';
import type { HandedPoolState } from './messages.js';

/** The old master's side: every pool it runs (removed ones are gone from its config already). */
export function handedPoolStates(pools: readonly Pool[]): HandedPoolState[] {
  return pools
    .filter((pool) => !pool.removed)
    .map((pool) => ({ name: pool.name, target: pool.target, configured: pool.settings.workers, stopped: pool.hold === 'stopped' }));
}

/**
 * The successor's side, before its first workers start: each pool of its config that the old master
 * had takes over the old target when that was a run-time change and the config's count is unchanged,
 * and stays stopped if it was. Each change is logged. A WINCH (parked pool) is not handed over: the
 * upgrade starts workers, which is what the old master's own HUP or TTIN would have done.
 */
export function applyHandedPoolStates(pools: ReadonlyMap<string, Pool>, handed: readonly HandedPoolState[], logger: Logger): void {
  for (const state of handed) {
    const pool = pools.get(state.name);
    if (!pool) continue; // gone from the new config: the config wins
    const configured = pool.settings.workers;
    if (state.target !== state.configured) {
      if (configured === state.configured) {
        pool.scale(state.target);
        logger.info(
          `upgrade: pool ${pool.name} starts with ${countOf(state.target, 'worker')}, as the old master ran it (scaled at run time; the config says ${configured})`,
        );
      } else {
        logger.info(
          `upgrade: pool ${pool.name} starts with the ${countOf(configured, 'worker')} of its changed config (the old master ran ${state.target}, its config said ${state.configured})`,
        );
      }
    }
    if (state.stopped) {
      pool.stop();
      logger.info(`upgrade: pool ${pool.name} stays stopped, as it was on the old master (appctl start-pool ${pool.name} starts it)`);
    }
  }
}
