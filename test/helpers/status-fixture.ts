// Status snapshots built in memory (the shape of `appctl status --json`) for tests of what appctl
// renders from them (top, status figures). Runs in the ava test process.

import { STATUS_FORMAT, type PoolStatus, type StatusSnapshot, type WorkerStatus } from '../../shared/control/status.js';

/** A ready worker of pool web in SLOT with PID, and these fields changed. */
export function workerStatus(slot: number, pid: number, fields: Partial<WorkerStatus> = {}): WorkerStatus {
  return {
    tag: `web.${slot} g1`,
    pool: 'web',
    slot,
    generation: 1,
    pid,
    state: 'ready',
    uptimeMs: 5000,
    bootMs: 50,
    requests: 0,
    inFlight: 0,
    connections: 0,
    loopDelayP50Ms: 0.1,
    loopDelayP99Ms: 1.5,
    heapUsedBytes: 5e6,
    proxyRejected: 0,
    statsAgeMs: 0,
    rssBytes: 60e6,
    cpuPercent: 1.5,
    restarts: 0,
    stopReason: null,
    ...fields,
  };
}

/** Daemon shop (master pid 100, one listener) with one pool web of these workers, each slot running; POOL and MASTER change fields. */
export function statusSnapshot(
  workers: readonly WorkerStatus[],
  pool: Partial<PoolStatus> = {},
  master: Partial<StatusSnapshot['master']> = {},
): StatusSnapshot {
  return {
    format: STATUS_FORMAT,
    name: 'shop',
    version: '0.1.0',
    node: 'v20.0.0',
    master: {
      pid: 100,
      phase: 'running',
      startedAt: '',
      uptimeMs: 60_000,
      rssBytes: 50e6,
      cpuPercent: 0.5,
      controlSocket: '/s',
      listeners: ['http://127.0.0.1:8000'],
      configFile: null,
      ...master,
    },
    pools: [
      {
        name: 'web',
        kind: 'http',
        desired: workers.length,
        ready: workers.length,
        generation: 1,
        reloading: false,
        stopped: false,
        restarts: 0,
        slots: workers.map((each) => ({ slot: each.slot, state: 'running', restarts: 0, failures: 0, lastExit: null })),
        workers,
        ...pool,
      },
    ],
  };
}
