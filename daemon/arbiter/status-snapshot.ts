// Builds the status snapshot (`appctl status`, shared/control/status.ts) from the arbiter's pools and
// workers plus RSS and CPU read from /proc. Run by the appd master, inside the arbiter loop.

import {
  STATUS_FORMAT,
  type PoolStatus,
  type SlotStatus,
  type StatusSnapshot,
  type WorkerIdentity,
  type WorkerStatus,
} from '../../shared/control/status.js';
import { readPackageVersion } from '../../shared/version.js';
import type { Listener } from '../sockets/listeners.js';
import type { Pool } from '../pools/pool.js';
import type { ProcessUsage } from '../metrics/process-usage.js';
import { SlotRecord, slotState } from '../pools/slot.js';
import type { Supervisor } from '../workers/supervisor.js';
import type { WorkerHandle } from '../workers/handle.js';
import type { MasterCounters } from '../metrics/counters.js';
import type { ListenQueue } from '../metrics/listen-queue.js';
import { poolRequests, restartsByReason } from '../metrics/status-figures.js';

export interface SnapshotSources {
  readonly name: string;
  readonly phase: string;
  /** The monotonic clock's time at start, and now; the wall clock's now, to show when it started. */
  readonly startedAt: number;
  readonly now: number;
  readonly wallNow: number;
  readonly supervisor: Supervisor;
  readonly listeners: readonly Listener[];
  readonly usage: ProcessUsage;
  readonly controlSocket: string;
  readonly configFile: string | null;
  /** The never-decreasing counters (/metrics): request figures and restarts by reason. */
  readonly metrics: MasterCounters;
  /** Each TCP listener's accept queue (ListenQueueSampler). */
  readonly listenQueues: readonly ListenQueue[];
}

/** Which worker, in the fields' order of `status --json` and `events --json` (scripts may read them in order). */
export function workerIdentity(worker: WorkerHandle): WorkerIdentity {
  return { tag: worker.tag, pool: worker.pool, slot: worker.slot, generation: worker.generation, pid: worker.pid };
}

function workerStatus(worker: WorkerHandle, pool: Pool, sources: SnapshotSources): WorkerStatus {
  const usage = sources.usage.sample(worker.pid, sources.now);
  const stats = worker.stats;
  return {
    ...workerIdentity(worker),
    state: worker.state,
    uptimeMs: sources.now - worker.spawnedAt,
    bootMs: worker.readyAt === null ? null : worker.readyAt - worker.spawnedAt,
    requests: stats?.requests ?? null,
    inFlight: stats?.inFlight ?? null,
    connections: stats?.connections ?? null,
    loopDelayP50Ms: stats?.loopDelayP50 ?? null,
    loopDelayP99Ms: stats?.loopDelayP99 ?? null,
    heapUsedBytes: stats?.heapUsed ?? null,
    proxyRejected: stats?.proxyRejected ?? null,
    statsAgeMs: stats === null ? null : sources.now - worker.lastHeartbeatAt,
    rssBytes: usage?.rssBytes ?? null,
    cpuPercent: usage?.cpuPercent ?? null,
    restarts: pool.slots.get(worker.slot)?.restarts ?? 0,
    stopReason: worker.state === 'stopping' ? worker.retireReason : null,
  };
}

function slotStatus(pool: Pool, slot: number, workers: readonly WorkerHandle[], now: number): SlotStatus {
  // Not pool.slot(): a status request must not create records in the arbiter's state.
  const record = pool.slots.get(slot) ?? new SlotRecord();
  const lastExit = record.lastExit;
  return {
    slot,
    state: slotState(record, workers, slot < pool.desired, now),
    restarts: record.restarts,
    failures: record.failures,
    lastExit: lastExit && {
      code: lastExit.code,
      signal: lastExit.signal,
      reason: lastExit.reason,
      at: new Date(lastExit.at).toISOString(),
    },
  };
}

function poolStatus(pool: Pool, sources: SnapshotSources): PoolStatus {
  const handles = sources.supervisor
    .workersOf(pool.name)
    .sort((left, right) => left.slot - right.slot || left.generation - right.generation || left.id - right.id);
  const slotNumbers = new Set([
    ...Array.from({ length: pool.desired }, (_unused, index) => index),
    ...handles.map((worker) => worker.slot),
  ]);
  const slots = [...slotNumbers]
    .sort((left, right) => left - right)
    .map((slot) =>
      slotStatus(
        pool,
        slot,
        handles.filter((worker) => worker.slot === slot),
        sources.now,
      ),
    );
  const workers = handles.map((worker) => workerStatus(worker, pool, sources));
  return {
    name: pool.name,
    kind: pool.settings.kind,
    desired: pool.desired,
    ready: sources.supervisor.readyCount(pool),
    generation: pool.generation,
    reloading: pool.rollout !== null,
    stopped: pool.stopped,
    restarts: [...pool.slots.values()].reduce((sum, record) => sum + record.restarts, 0),
    restartsByReason: restartsByReason(pool, sources.metrics),
    requests: poolRequests(pool, sources.supervisor, sources.metrics),
    slots,
    workers,
  };
}

export function buildStatusSnapshot(sources: SnapshotSources): StatusSnapshot {
  const master = sources.usage.sample(process.pid, sources.now);
  const pools = [...sources.supervisor.pools.values()].map((pool) => poolStatus(pool, sources));
  sources.usage.retainOnly(new Set([process.pid, ...pools.flatMap((pool) => pool.workers.map((worker) => worker.pid))]));
  return {
    format: STATUS_FORMAT,
    name: sources.name,
    version: readPackageVersion(),
    node: process.version,
    master: {
      pid: process.pid,
      phase: sources.phase,
      startedAt: new Date(sources.wallNow - (sources.now - sources.startedAt)).toISOString(),
      uptimeMs: sources.now - sources.startedAt,
      rssBytes: master?.rssBytes ?? null,
      cpuPercent: master?.cpuPercent ?? null,
      controlSocket: sources.controlSocket,
      listeners: sources.listeners.map((listener) => listener.url),
      listenQueues: sources.listenQueues,
      configFile: sources.configFile,
    },
    pools,
  };
}

/**
 * What a status watcher must hear about soon, not on the next second: the phase, each pool's target,
 * generation and rollout, each worker's state. Cheap (no /proc), so the loop computes it every pass.
 */
export function statusSignature(supervisor: Supervisor, phase: string): string {
  const parts = [phase];
  for (const pool of supervisor.pools.values())
    parts.push(`${pool.name}:${pool.desired}:${pool.generation}:${pool.stopped ? 's' : ''}:${pool.rollout?.phase ?? ''}`);
  for (const worker of supervisor.workers.values()) parts.push(`${worker.id}:${worker.state}`);
  return parts.join(' ');
}
