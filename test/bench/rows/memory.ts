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

/** Lets the fresh pool settle (heartbeats, the PM2 agent's first metrics), then reads /proc. */
export async function readMemory(contender: Contender, workers: number, settleMs = 1500): Promise<MemoryReading> {
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
