// The memory rows: resident set size of the supervising process (appd's master, PM2's God daemon, a
// node:cluster primary) with 2 and with 16 workers, each started fresh and idle. Runs in the bench process.

import { sleep } from '../../helpers/processes.js';
import type { Contender, ContenderKey } from '../contenders/contender.js';
import { rssKilobytes } from '../proc-usage.js';

export interface MemoryReading {
  readonly contender: ContenderKey;
  readonly workers: number;
  readonly masterRssKilobytes: number | null;
  readonly workerRssKilobytes: readonly number[];
}

/**
 * How long a fresh pool idles before its memory is read. Idle, not just started: V8's memory reducer
 * gives back what start-up left behind (the young generation's second half, freed old-generation pages)
 * 8 s after start-up's collections (--gc-memory-reducer-start-delay-ms), once the process allocates
 * little. An appd master on Node 20 read 47.0 MB 1.5 s after its pool was up and 44.8-46.3 MB from 10 s
 * to 90 s (45.2 at 12 s); a node:cluster primary, which allocates almost nothing at start-up, read 42.7
 * MB throughout, and on Node 24 neither moved (52.0-52.2 and 47.7 MB). Every contender waits the same.
 */
export const IDLE_SETTLE_MS = 12_000;

/** Lets the fresh pool settle (heartbeats, the PM2 agent's first metrics, V8's memory reducer), then reads /proc. */
export async function readMemory(contender: Contender, workers: number, settleMs = IDLE_SETTLE_MS): Promise<MemoryReading> {
  await sleep(settleMs);
  const master = contender.masterPid();
  return {
    contender: contender.key,
    workers,
    masterRssKilobytes: master === null ? null : rssKilobytes(master),
    workerRssKilobytes: contender.workerPids().map((pid) => rssKilobytes(pid) ?? 0),
  };
}

/** Starts a contender with `workers` workers, reads its memory, stops it (also on failure). */
export async function memoryOfFreshPool(start: () => Promise<Contender>, workers: number): Promise<MemoryReading> {
  const contender = await start();
  try {
    return await readMemory(contender, workers);
  } finally {
    await contender.stop();
  }
}
