// Gathers every family of the catalog from the master's own state: pools and workers (with their last
// heartbeat), the never-decreasing counters, /proc for workers' memory and CPU and the accept queues,
// and the master process itself. Run by the appd master for each /metrics request.

import { readdirSync } from 'node:fs';
import { DURATION_BUCKETS_SECONDS, STATUS_CLASSES, readRequestCounts } from '../contracts/request-counts.js';
import { readPackageVersion } from '../../shared/version.js';
import { RESTART_REASONS } from '../workers/exit-reason.js';
import { readCpuSeconds, readProc, readRssBytes } from './process-usage.js';
import type { Supervisor } from '../workers/supervisor.js';
import type { WorkerHandle } from '../workers/handle.js';
import type { Listener } from '../sockets/listeners.js';
import { slotState } from '../pools/slot.js';
import { METRICS, type MetricSpec } from './catalog.js';
import { RELOAD_BUCKETS_SECONDS, RELOAD_OUTCOMES, type MasterCounters } from './counters.js';
import type { Family, HistogramSample, Sample } from './exposition.js';
import { readListenQueues } from './listen-queue.js';

export interface MetricsSources {
  readonly supervisor: Supervisor;
  readonly listeners: readonly Listener[];
  readonly counters: MasterCounters;
  readonly now: number;
  /** The listen() backlog the workers of this listener's pool use. */
  backlogOf(listener: Listener): number;
}

const WORKER_STATES = ['starting', 'ready', 'stopping', 'backoff', 'fatal'] as const;

/** The soft limit on open files, from /proc/self/limits ("Max open files  1024  4096  files"). */
function readMaxFds(): number | null {
  const match = /^Max open files\s+(\d+|unlimited)/m.exec(readProc('/proc/self/limits') ?? '');
  return match?.[1] === undefined ? null : match[1] === 'unlimited' ? Infinity : Number(match[1]);
}

function processFamilies(): Family[] {
  const memory = process.memoryUsage();
  const cpu = process.cpuUsage();
  const vmSizeKilobytes = /^VmSize:\s+(\d+) kB$/m.exec(readProc('/proc/self/status') ?? '')?.[1];
  const gauge = (spec: MetricSpec & { readonly type: 'gauge' }, value: number | null | undefined): Family[] =>
    value === null || value === undefined ? [] : [{ spec, samples: [{ labels: [], value }] }];
  return [
    { spec: METRICS.processCpu, samples: [{ labels: [], value: (cpu.user + cpu.system) / 1e6 }] },
    ...gauge(METRICS.processResident, memory.rss),
    ...gauge(METRICS.processVirtual, vmSizeKilobytes === undefined ? null : Number(vmSizeKilobytes) * 1024),
    ...gauge(METRICS.processStart, Math.round(Date.now() / 1000 - process.uptime())),
    ...gauge(METRICS.processOpenFds, readdirSync('/proc/self/fd').length),
    ...gauge(METRICS.processMaxFds, readMaxFds()),
    ...gauge(METRICS.nodeHeapUsed, memory.heapUsed),
    ...gauge(METRICS.nodeHeapTotal, memory.heapTotal),
    ...gauge(METRICS.nodeExternal, memory.external),
  ];
}

/** Per-slot figures; while a reload overlaps two workers in a slot, memory and CPU add up and the worst delay shows. */
function slotFamilies(sources: MetricsSources): Family[] {
  const delay: Sample[] = [];
  const memory: Sample[] = [];
  const cpu: Sample[] = [];
  for (const pool of sources.supervisor.pools.values()) {
    const bySlot = new Map<number, WorkerHandle[]>();
    for (const worker of sources.supervisor.workersOf(pool.name)) bySlot.set(worker.slot, [...(bySlot.get(worker.slot) ?? []), worker]);
    for (const [slot, workers] of [...bySlot].sort(([left], [right]) => left - right)) {
      const labels = [pool.name, String(slot)];
      let rss = 0;
      let cpuSeconds = 0;
      let worstDelay: number | null = null;
      for (const worker of workers) {
        rss += readRssBytes(worker.pid) ?? 0;
        const seconds = readCpuSeconds(worker.pid);
        if (seconds !== null) sources.counters.noteWorkerCpu(worker.id, seconds);
        cpuSeconds += seconds ?? 0;
        const p99 = worker.stats?.loopDelayP99;
        if (typeof p99 === 'number' && Number.isFinite(p99)) worstDelay = Math.max(worstDelay ?? 0, p99 / 1000);
      }
      memory.push({ labels, value: rss });
      cpu.push({ labels, value: sources.counters.slotCpu(pool.name, slot, cpuSeconds) });
      if (worstDelay !== null) delay.push({ labels, value: worstDelay });
    }
  }
  return [
    { spec: METRICS.loopDelay, samples: delay },
    { spec: METRICS.residentMemory, samples: memory },
    { spec: METRICS.workerCpu, samples: cpu },
  ];
}

function poolFamilies(sources: MetricsSources): Family[] {
  const { supervisor, counters, now } = sources;
  const requests: Sample[] = [];
  const durations: HistogramSample[] = [];
  const inFlight: Sample[] = [];
  const connections: Sample[] = [];
  const workers: Sample[] = [];
  const desired: Sample[] = [];
  const restarts: Sample[] = [];
  const reloads: Sample[] = [];
  const reloadDurations: HistogramSample[] = [];
  const generation: Sample[] = [];
  for (const pool of supervisor.pools.values()) {
    const name = pool.name;
    const live = supervisor.workersOf(name);
    if (pool.settings.kind === 'http') {
      const totals = counters.requestTotals(name, live);
      STATUS_CLASSES.forEach((code, index) => requests.push({ labels: [name, code], value: totals.byClass[index] ?? 0 }));
      durations.push({ labels: [name], bounds: DURATION_BUCKETS_SECONDS, buckets: totals.durationBuckets, sum: totals.durationSumSeconds });
      let answering = 0;
      let open = 0;
      for (const worker of live) {
        // Only stats whose counts passed the check: the rest of a heartbeat comes from the same untrusted worker.
        if (readRequestCounts(worker.stats) === null) continue;
        answering += worker.stats?.inFlight ?? 0;
        open += worker.stats?.connections ?? 0;
      }
      inFlight.push({ labels: [name], value: answering });
      connections.push({ labels: [name], value: open });
    }
    const byState = new Map<string, number>(WORKER_STATES.map((state) => [state, 0]));
    for (const worker of live) byState.set(worker.state, (byState.get(worker.state) ?? 0) + 1);
    for (let slot = 0; slot < pool.desired; slot += 1) {
      const record = pool.slots.get(slot);
      if (!record) continue;
      const state = slotState(
        record,
        live.filter((worker) => worker.slot === slot),
        true,
        now,
      );
      if (state === 'backoff' || state === 'fatal') byState.set(state, (byState.get(state) ?? 0) + 1);
    }
    for (const state of WORKER_STATES) workers.push({ labels: [name, state], value: byState.get(state) ?? 0 });
    desired.push({ labels: [name], value: pool.desired });
    const restartCounts = counters.restarts(name);
    for (const reason of RESTART_REASONS) restarts.push({ labels: [name, reason], value: restartCounts.get(reason) ?? 0 });
    const reloadCounts = counters.reloads(name);
    for (const outcome of RELOAD_OUTCOMES) reloads.push({ labels: [name, outcome], value: reloadCounts.outcomes.get(outcome) ?? 0 });
    reloadDurations.push({
      labels: [name],
      bounds: RELOAD_BUCKETS_SECONDS,
      buckets: reloadCounts.durations.buckets,
      sum: reloadCounts.durations.sum,
    });
    generation.push({ labels: [name], value: pool.generation });
  }
  return [
    { spec: METRICS.requests, samples: requests },
    { spec: METRICS.requestDuration, histograms: durations },
    { spec: METRICS.inFlight, samples: inFlight },
    { spec: METRICS.connections, samples: connections },
    { spec: METRICS.workers, samples: workers },
    { spec: METRICS.workersDesired, samples: desired },
    { spec: METRICS.restarts, samples: restarts },
    { spec: METRICS.reloads, samples: reloads },
    { spec: METRICS.reloadDuration, histograms: reloadDurations },
    { spec: METRICS.generation, samples: generation },
  ];
}

function listenFamilies(sources: MetricsSources): Family[] {
  const queued: Sample[] = [];
  const limits: Sample[] = [];
  for (const queue of readListenQueues(sources.listeners, sources.backlogOf)) {
    queued.push({ labels: [queue.bind], value: queue.queued });
    limits.push({ labels: [queue.bind], value: queue.limit });
  }
  return [
    { spec: METRICS.listenQueue, samples: queued },
    { spec: METRICS.listenQueueMax, samples: limits },
  ];
}

export function collectFamilies(sources: MetricsSources): Family[] {
  return [
    ...poolFamilies(sources),
    ...slotFamilies(sources),
    ...listenFamilies(sources),
    { spec: METRICS.info, samples: [{ labels: [readPackageVersion(), process.version], value: 1 }] },
    { spec: METRICS.up, samples: [{ labels: [], value: 1 }] },
    ...processFamilies(),
  ];
}
