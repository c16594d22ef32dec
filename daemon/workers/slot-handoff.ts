// slot-bind's one-holder rule: of the workers of one slot, only one accepts on the slot's sockets at a
// time, so every request of a pinned client reaches the same process. A new worker (reload, recycle,
// crash replacement) is told to start accepting there once it is ready and its predecessor has released
// the slot: stopped accepting, and none of its connections from the slot sockets can carry another
// request (a proxy's idle keep-alive connection could: see WorkerHandle.hasReleasedSlot).
// Connections wait in the socket's queue in between. Run by the appd master.

import type { Pool } from '../pools/pool.js';
import type { WorkerHandle } from './handle.js';

export interface SlotHandoffContext {
  workersOf(pool: string, slot: number): WorkerHandle[];
  hasReleasedSlot(worker: WorkerHandle): boolean;
}

export class SlotHandoff {
  /** Workers told to accept on their slot sockets. */
  readonly #holders = new WeakSet<WorkerHandle>();

  /** One pass: every slot whose holder has stopped accepting (or never was) gets its newest ready worker. */
  step(pools: Iterable<Pool>, context: SlotHandoffContext): void {
    for (const pool of pools) {
      if (pool.settings.kind !== 'http' || pool.settings.slotBind.length === 0) continue;
      for (let slot = 0; slot < pool.target; slot += 1) {
        const workers = context.workersOf(pool.name, slot);
        if (workers.some((worker) => this.#holders.has(worker) && !context.hasReleasedSlot(worker))) continue;
        const next = workers.filter((worker) => worker.state === 'ready').at(-1);
        if (next === undefined || this.#holders.has(next)) continue;
        this.#holders.add(next);
        next.send({ type: 'accept-slot' });
      }
    }
  }
}
