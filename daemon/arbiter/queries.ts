// Answers the read-only control requests (ping, status, config, logs, events, top's status feed) from
// the arbiter's state, and streams worker state changes to event watchers. Run by the appd master, inside the arbiter loop.

import type { WorkerEventMessage } from '../../shared/control/protocol.js';
import type { PingData, SettingStatus, StatusSnapshot } from '../../shared/control/status.js';
import { describeExit } from '../workers/exit-reason.js';
import type { EventOf, EventReader, HandlersFor } from './events.js';
import type { LogLine, Logger } from '../master/logger.js';
import type { Supervisor } from '../workers/supervisor.js';
import type { WorkerHandle } from '../workers/handle.js';
import { lineSelector, parseLogSelector } from '../../shared/control/log-selector.js';
import { ProcessUsage } from '../metrics/process-usage.js';
import { StatusFeed } from './status-feed.js';
import { buildStatusSnapshot, statusSignature, workerIdentity, type SnapshotSources } from './status-snapshot.js';
import type { ResolvedConfig } from '../../shared/config/resolve.js';
import type { Config } from '../../shared/settings/table.js';
import type { Listener } from '../sockets/listeners.js';
import type { MasterCounters } from '../metrics/counters.js';
import { backlogOf, ListenQueueSampler, readListenQueues, type ListenQueue } from '../metrics/listen-queue.js';
import { settingRows } from '../config/print-config.js';

export interface QuerySources {
  readonly logger: Logger;
  readonly supervisor: Supervisor;
  name(): string;
  phase(): string;
  uptimeMs(): number;
  /** What a status snapshot is built from (the CPU and RSS samples and the accept queues are this object's). */
  snapshotSources(): Omit<SnapshotSources, 'usage' | 'listenQueues'>;
  /** Reads every TCP listener's accept queue (from /proc: see ListenQueueSampler). */
  readListenQueues(): ListenQueue[];
  /** The monotonic clock, in ms. */
  now(): number;
  settingRows(): SettingStatus[];
}

function workerEvent(worker: WorkerHandle): WorkerEventMessage {
  let detail: string | null = null;
  // An exit carries its restart reason (crash, oom, timeout …) when one applies: "signal SIGKILL (oom)".
  if (worker.state === 'stopping') detail = worker.retireReason;
  else if (worker.state === 'exited')
    detail = `${describeExit(worker.exitCode, worker.exitSignal)}${worker.exitReason === null ? '' : ` (${worker.exitReason})`}`;
  return {
    time: Date.now(),
    ...workerIdentity(worker),
    state: worker.state,
    detail,
  };
}

export class ControlQueries {
  readonly #sources: QuerySources;
  /** Control clients watching worker state changes (appctl events). */
  readonly #eventReaders = new Set<EventReader>();
  /** Control clients watching status snapshots (appctl top). */
  readonly #statusFeed = new StatusFeed();
  readonly #usage = new ProcessUsage();
  readonly #listenQueues: ListenQueueSampler;

  readonly handlers: HandlersFor<'ping' | 'status' | 'show-config' | 'read-logs' | 'watch-events' | 'watch-status' | 'control-connected'> =
    {
      ping: (event) => this.ping(event),
      'control-connected': () => this.#listenQueues.prefetch(),
      status: ({ requester }) => requester.done?.({ status: 'completed', message: 'status', data: this.snapshot() }),
      'watch-status': ({ watcher }) => watcher.begin(this.#statusFeed.add(watcher)),
      'show-config': (event) => this.showConfig(event),
      'read-logs': (event) => this.readLogs(event),
      'watch-events': (event) => this.watchEvents(event),
    };

  constructor(sources: QuerySources) {
    this.#sources = sources;
    this.#listenQueues = new ListenQueueSampler(
      () => sources.readListenQueues(),
      () => sources.now(),
    );
  }

  ping({ requester }: EventOf<'ping'>): void {
    const data: PingData = {
      name: this.#sources.name(),
      pid: process.pid,
      phase: this.#sources.phase(),
      uptimeMs: this.#sources.uptimeMs(),
    };
    requester.done?.({ status: 'completed', message: 'pong', data });
  }

  /** Pools, workers and their stats, as `appctl status` shows them. */
  snapshot(): StatusSnapshot {
    return buildStatusSnapshot({ ...this.#sources.snapshotSources(), usage: this.#usage, listenQueues: this.#listenQueues.current() });
  }

  /**
   * Once per pass of the loop, only while someone watches (appctl top): a snapshot a second, sooner
   * after a change, and a first one for each new watcher.
   */
  publishStatus(now: number): void {
    const { supervisor, phase } = this.#sources;
    this.#statusFeed.publishIfDue(
      now,
      () => statusSignature(supervisor, phase()),
      () => this.snapshot(),
    );
  }

  showConfig({ requester }: EventOf<'show-config'>): void {
    requester.done?.({ status: 'completed', message: 'effective settings', data: this.#sources.settingRows() });
  }

  /** The ring's recent lines and the subscription are taken in one turn of the loop: no line is lost or doubled. */
  readLogs({ reader, requester }: EventOf<'read-logs'>): void {
    const pools = this.#sources.supervisor.pools;
    const selector = parseLogSelector(reader.pool, (name) => pools.has(name));
    if (selector === null) {
      return requester.done?.({
        status: 'failed',
        message: `no pool named "${reader.pool}", nor a slot POOL.N of one (pools: ${[...pools.keys()].join(', ')})`,
      });
    }
    const matches: (line: LogLine) => boolean = lineSelector(selector);
    const logger = this.#sources.logger;
    const recent = reader.lines === 0 ? [] : logger.recent().filter(matches).slice(-reader.lines);
    const stop = reader.follow
      ? logger.subscribe((line) => {
          if (matches(line)) reader.line(line);
        })
      : null;
    reader.begin(recent, stop);
    if (!reader.follow) requester.done?.({ status: 'completed', message: `${recent.length} line(s)` });
  }

  /**
   * Starts with every live worker's current state, then streams each change; answered only when the
   * client goes or the daemon stops.
   */
  watchEvents({ reader }: EventOf<'watch-events'>): void {
    this.#eventReaders.add(reader);
    reader.begin(() => this.#eventReaders.delete(reader));
    for (const worker of this.#sources.supervisor.workers.values()) reader.event(workerEvent(worker));
  }

  /** Called by the supervisor on every state change of a worker. */
  workerChanged(worker: WorkerHandle): void {
    if (this.#eventReaders.size === 0) return;
    const event = workerEvent(worker);
    for (const reader of this.#eventReaders) reader.event(event);
  }
}

/** The arbiter as the control queries see it: its public state only, so a query cannot change it. */
export interface ArbiterView {
  readonly supervisor: Supervisor;
  readonly metrics: MasterCounters;
  readonly startedAt: number;
  readonly config: Config;
  readonly resolved: ResolvedConfig;
  readonly listeners: readonly Listener[];
  readonly phase: string;
  now(): number;
}

/** The arbiter's ControlQueries: each request reads the arbiter's state as it is at that moment. */
export function controlQueriesOf(
  arbiter: ArbiterView,
  context: { logger: Logger; wallNow: () => number; controlSocket: string; startingConfig: ResolvedConfig },
): ControlQueries {
  return new ControlQueries({
    logger: context.logger,
    supervisor: arbiter.supervisor,
    name: () => arbiter.config.name,
    phase: () => arbiter.phase,
    uptimeMs: () => arbiter.now() - arbiter.startedAt,
    snapshotSources: () => ({
      name: arbiter.config.name,
      phase: arbiter.phase,
      startedAt: arbiter.startedAt,
      now: arbiter.now(),
      wallNow: context.wallNow(),
      supervisor: arbiter.supervisor,
      listeners: arbiter.listeners,
      controlSocket: context.controlSocket,
      configFile: arbiter.resolved.configFile,
      metrics: arbiter.metrics,
    }),
    readListenQueues: () =>
      readListenQueues(arbiter.listeners, (listener) => backlogOf(listener, arbiter.supervisor, arbiter.config.backlog)),
    now: () => arbiter.now(),
    settingRows: () => settingRows(context.startingConfig, arbiter.resolved),
  });
}
