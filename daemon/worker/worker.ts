// The worker side of the master contract, shared by both ways a worker serves (an app module, or an
// unmodified script whose listen() is adopted): the boot spec, title, signals, IPC, heartbeat with
// stats, the watchdog thread, drain and exit. Runs in each HTTP worker process.

import { EventEmitter } from 'node:events';
import { Server } from 'node:net';
import type { EventLoopUtilization, IntervalHistogram, Performance } from 'node:perf_hooks';
import { setProcessTitle, workerComm, workerTitle } from '../contracts/process-title.js';
import {
  BOOT_ERROR_MAX_CHARACTERS,
  WORKER_EXIT,
  WORKER_SPEC_VARIABLE,
  isMasterMessage,
  type BootPhase,
  type WorkerSpec,
  type WorkerToMaster,
} from '../contracts/worker-messages.js';
import type { AccessLogWriter } from './access-log.js';
import { builtinModule } from './builtin-modules.js';
import { ConnectionTracker } from './connection-tracker.js';
import { awaitWatchdogDisconnect, createExitHandshake, watchdogEnded } from './watchdog-exit.js';
import { listenOnSlotSockets } from './inherited-listeners.js';
import { proxyRejections } from './proxy/protocol-binds.js';

/** What an app's onDrain hook is told: when appd will cut the connections still open. */
export interface DrainNotice {
  readonly gracefulTimeoutMs: number;
  /** Date.now() value at which open connections (WebSockets included) are cut. */
  readonly deadline: number;
}

export type DrainHook = (notice: DrainNotice) => unknown;

/** The process event a script listens to for the drain notice: process.on('appd:drain', ...). */
export const DRAIN_EVENT = 'appd:drain';

/** How long an exiting worker waits for its last heartbeat to be written to the master's channel. */
const LAST_COUNTS_WAIT_MS = 200;

/** Event-loop delay sampling step: finer costs the worker more timer wake-ups. */
const LOOP_DELAY_RESOLUTION_MS = 10;

/**
 * Below this share of a heartbeat interval spent running (not waiting in the poll), the loop counts as
 * idle and its delay histogram is switched off until it is busy again. An idle worker's histogram timer
 * was 96 of its 103 wake-ups a second and 4.4 of its 7.0 ms of CPU a second (Node 20, /proc schedstat);
 * the timer itself keeps the loop about 0.3% busy, so the line sits above that.
 */
const IDLE_LOOP_UTILIZATION = 0.02;

function describe(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}

export class Worker {
  readonly spec: WorkerSpec;
  /** "web.0 g1", as the master tags this worker's lines. */
  readonly tag: string;
  readonly tracker = new ConnectionTracker();
  /** The listening servers; drain closes them (stops accepting). */
  readonly listening: Server[] = [];
  accessLog: AccessLogWriter | null = null;
  #ready = false;
  #slotAccepted = false;
  #draining = false;
  #exiting = false;
  /** The exit the app asked for while draining (process.exit(code)); taken once the drain is done. */
  #appExit: { code: number | string | null | undefined } | null = null;
  /** Node's own process.exit; the app's calls go through the wrapper installed by #holdExitWhileDraining. */
  readonly #processExit = process.exit;
  readonly #drainHooks: DrainHook[] = [];
  /** Builds a heartbeat from the current figures; set once the worker is ready. */
  #heartbeat: (() => WorkerToMaster) | null = null;

  /** Reads the spec from the environment (and removes it, so the app never sees it) and takes over signals and IPC. */
  static fromEnvironment(): Worker {
    const spec = JSON.parse(process.env[WORKER_SPEC_VARIABLE] ?? 'null') as WorkerSpec | null;
    if (!spec || !process.send) {
      console.error('appd worker: started without a spec or an IPC channel; workers are started by appd, not by hand');
      process.exit(2);
    }
    delete process.env[WORKER_SPEC_VARIABLE];
    return new Worker(spec);
  }

  private constructor(spec: WorkerSpec) {
    this.spec = spec;
    this.tag = `${spec.pool}.${spec.slot} g${spec.generation}`;
    setProcessTitle(workerTitle(spec.pool, spec.slot, spec.generation, spec.daemonName), workerComm(spec.pool, spec.slot, spec.generation));
    this.#installHandlers();
    this.#holdExitWhileDraining();
  }

  get ready(): boolean {
    return this.#ready;
  }

  send(message: WorkerToMaster): void {
    // After the master is gone the channel is closed; there is nobody left to tell.
    if (process.connected) process.send?.(message);
  }

  /** Registers an app hook run once when draining starts (WebSocket servers close their clients there). */
  addDrainHook(hook: DrainHook): void {
    this.#drainHooks.push(hook);
  }

  /** Tells the master this worker serves; starts the heartbeat. */
  markReady(): void {
    if (this.#ready || this.#exiting) return;
    this.#ready = true;
    this.send({ type: 'ready' });
    this.#startHeartbeat();
    if (this.spec.timeoutStack) this.#startWatchdog();
  }

  /**
   * Starts the watchdog thread once the worker serves, not before the app loads: the thread is a second
   * Node environment (node:worker_threads and the thread's own boot, ~15-20 ms of CPU) that competed with
   * the app's loading for the start-up. Nothing needs it earlier: the master asks for a stack only after
   * a missed heartbeat, and heartbeats start at ready; a worker that hangs while booting is stopped at
   * boot-timeout without one, and one orphaned then (the master gone) is ended by the group keeper.
   */
  #startWatchdog(): void {
    // Synchronously (not import()): a request that gets the main thread stuck must find the thread started.
    const { Worker: WatchdogThread } = builtinModule('node:worker_threads');
    const exitHandshake = createExitHandshake();
    const watchdog = new WatchdogThread(new URL('./watchdog-thread.js', import.meta.url), {
      workerData: { tag: this.tag, orphanGraceMs: this.spec.gracefulTimeoutMs + 1000, exitHandshake },
      // Not the worker's own node options: a script worker's --import would run appd's preload in it.
      execArgv: [],
    });
    watchdog.unref();
    watchdog.on('error', (error) => console.error(`worker ${this.tag} watchdog thread failed: ${error.message}`));
    // Every way out (the app's process.exit(), an uncaught exception, the loop running empty) passes here.
    process.on('exit', () => awaitWatchdogDisconnect(exitHandshake));
    watchdog.once('exit', () => watchdogEnded(exitHandshake));
  }

  /** Reports why the worker could not boot (the master shows it), then exits with the matching code. */
  failBoot(phase: BootPhase, message: string, code?: string): Promise<never> {
    console.error(message);
    // The whole message went to stderr; the channel carries a bounded copy (the master refuses longer).
    const short =
      message.length > BOOT_ERROR_MAX_CHARACTERS
        ? `${message.slice(0, BOOT_ERROR_MAX_CHARACTERS - 40)}... [cut; the whole error is in the log]`
        : message;
    this.send(code === undefined ? { type: 'boot-error', phase, message: short } : { type: 'boot-error', phase, message: short, code });
    return this.exit(phase === 'load' ? WORKER_EXIT.appLoadFailed : WORKER_EXIT.bootFailed);
  }

  async exit(code: number): Promise<never> {
    if (!this.#exiting) {
      this.#exiting = true;
      await this.accessLog?.close();
      await this.#sendLastCounts();
    }
    // What the app asked for wins: process.exit() without a code uses its process.exitCode, as Node's does.
    Reflect.apply(this.#processExit, process, [this.#appExit ? this.#appExit.code : code]);
    throw new Error('unreachable: process.exit returned');
  }

  /**
   * DESIGN §17: many scripts call process.exit() from their SIGTERM handler (http-server does), and a
   * SIGTERM from outside (a person, systemd stopping the unit) reaches the script's listeners as well as
   * appd's. While draining, the app's process.exit() is held until the drain ends (its connections
   * answered and closed, or graceful-timeout), then taken with the code it asked for. The call returns
   * instead of ending the process; code after it runs, as it does after any call that returns.
   */
  #holdExitWhileDraining(): void {
    const worker = this;
    const exit = this.#processExit;
    process.exit = function (this: NodeJS.Process, code?: number | string | null): never {
      if (!worker.#draining || worker.#exiting) return Reflect.apply(exit, this, [code]) as never;
      worker.#appExit ??= { code };
      return undefined as never;
    } as typeof process.exit;
  }

  /**
   * One last heartbeat, so the requests served since the previous one are counted in the master's
   * totals too (they survive this worker). Waits until it is written to the channel, at most a moment.
   */
  #sendLastCounts(): Promise<void> {
    const message = this.#heartbeat?.();
    if (!message || !process.connected || !process.send) return Promise.resolve();
    const send = process.send.bind(process);
    return new Promise((settle) => {
      const timer = setTimeout(settle, LAST_COUNTS_WAIT_MS);
      send(message, undefined, {}, () => {
        clearTimeout(timer);
        settle();
      });
    });
  }

  /** Graceful stop: stop accepting, let in-flight requests finish, give the app its onDrain, exit when empty. */
  drain(reason: string): void {
    if (!this.#ready) {
      void this.exit(WORKER_EXIT.ok); // nothing accepted yet, nothing to finish
      return;
    }
    if (this.#draining) return;
    this.#draining = true;
    if (reason !== 'master') process.title = `${process.title} (draining)`;
    for (const server of this.listening) {
      // net.Server's close stops accepting; http.Server's would also drop idle keep-alive sockets at once,
      // racing with requests clients are sending on them.
      if (server.listening) Server.prototype.close.call(server);
    }
    // The master waits for this before it reports a reload done: from here on only the new generation accepts.
    this.send({ type: 'draining' });
    const gracefulTimeoutMs = this.spec.gracefulTimeoutMs;
    // The app hears first; the worker exits once its connections are gone and its hooks have settled.
    const hooksSettled = this.#runDrainHooks({ gracefulTimeoutMs, deadline: Date.now() + gracefulTimeoutMs });
    this.tracker.drain(() => void hooksSettled.then(() => this.exit(WORKER_EXIT.ok)), this.spec.keepAliveMs);
    // The slot's next worker accepts there once this one has no connection left that takes requests.
    if (this.spec.slotListenerCount > 0) this.tracker.whenSlotReleased(() => this.send({ type: 'released-slot' }));
    setTimeout(() => {
      const cut = this.tracker.cutAll();
      if (cut.connections > 0) {
        console.error(
          `worker ${this.tag}: graceful-timeout (${gracefulTimeoutMs / 1000}s) reached; cutting ${cut.connections} connection(s), ${cut.upgraded} of them upgraded (WebSocket)`,
        );
      }
      void this.exit(WORKER_EXIT.ok);
    }, gracefulTimeoutMs).unref();
  }

  /** Runs every onDrain hook (and the script's appd:drain listeners); settles when all have, never rejects. */
  #runDrainHooks(notice: DrainNotice): Promise<void> {
    const failed = (error: unknown): void => console.error(`worker ${this.tag}: the app's onDrain hook failed: ${describe(error)}`);
    const running: Promise<unknown>[] = [];
    for (const hook of this.#drainHooks) {
      try {
        running.push(Promise.resolve(hook(notice)).catch(failed));
      } catch (error) {
        failed(error);
      }
    }
    try {
      // Scripts have no export appd could call: they listen on process instead.
      EventEmitter.prototype.emit.call(process, DRAIN_EVENT, notice);
    } catch (error) {
      failed(error);
    }
    return Promise.all(running).then(() => undefined);
  }

  /**
   * slot-bind: the master says this worker now holds its slot. The slot sockets are served by the same
   * server as the others (listening[0]: appd's or the script's adopted one, always first).
   */
  #acceptSlotSockets(): void {
    const server = this.listening[0];
    if (this.#slotAccepted || this.tracker.draining || server === undefined || this.spec.slotListenerCount === 0) return;
    this.#slotAccepted = true;
    listenOnSlotSockets(server, this.spec, (socket) => this.tracker.markSlotConnection(socket)).then(
      (servers) => {
        // A drain that started meanwhile has closed the others already.
        if (this.tracker.draining) for (const forwarder of servers) forwarder.close();
        else this.listening.push(...servers);
      },
      (error: unknown) => console.error(`worker ${this.tag}: cannot accept on its slot sockets: ${describe(error)}`),
    );
  }

  #installHandlers(): void {
    const reopenLogs = (): void => this.accessLog?.reopen();
    process.on('SIGTERM', () => this.drain('SIGTERM'));
    process.on('SIGINT', () => void this.exit(WORKER_EXIT.ok));
    process.on('SIGQUIT', () => void this.exit(WORKER_EXIT.ok));
    // USR1 reopens logs (so Node's inspector cannot be started by USR1 in workers; use --node-args --inspect).
    process.on('SIGUSR1', reopenLogs);
    // Sent to the whole process group by careless scripts (pkill -HUP appd); meaningful only to the master.
    for (const signal of ['SIGHUP', 'SIGUSR2', 'SIGWINCH'] as const) process.on(signal, () => undefined);
    process.on('message', (message: unknown) => {
      if (!isMasterMessage(message)) return;
      // A reload or graceful stop: the app's SIGTERM listeners are not involved (DESIGN §17).
      if (message.type === 'accept-slot') return this.#acceptSlotSockets();
      if (message.type === 'drain') this.drain('asked by the master');
      else reopenLogs();
    });
    // The master died (even by SIGKILL): drain and exit, so no orphan keeps serving on the shared socket.
    process.on('disconnect', () => this.drain('master'));
  }

  #startHeartbeat(): void {
    // Loaded here, after 'ready' went out, not imported: node:perf_hooks brings Node's whole performance
    // timeline (~15 modules, several ms of CPU) that nothing before the first heartbeat needs.
    const perfHooks = builtinModule('node:perf_hooks');
    const loopDelay = new LoopDelay(perfHooks, this.spec.heartbeatIntervalMs);
    let recycleRequested = false;
    const { maxRequests } = this.spec;
    const heartbeat = (): WorkerToMaster => {
      const memory = process.memoryUsage();
      return {
        type: 'heartbeat',
        stats: {
          requests: this.tracker.requests,
          inFlight: this.tracker.inFlight,
          connections: this.tracker.connections,
          loopDelayP50: loopDelay.percentileMs(50),
          loopDelayP99: loopDelay.percentileMs(99),
          heapUsed: memory.heapUsed,
          heapTotal: memory.heapTotal,
          proxyRejected: proxyRejections.total,
          counts: this.tracker.stats.snapshot(),
        },
      };
    };
    this.#heartbeat = heartbeat;
    setInterval(() => {
      loopDelay.intervalEnded();
      this.send(heartbeat());
      loopDelay.nextInterval();
      if (maxRequests > 0 && !recycleRequested && this.tracker.requests >= maxRequests) {
        recycleRequested = true;
        this.send({ type: 'recycle', reason: `served ${this.tracker.requests} requests (max-requests ${maxRequests})` });
      }
    }, this.spec.heartbeatIntervalMs);
  }
}

/**
 * The event-loop delay over each heartbeat interval. While the loop works, a histogram samples it every
 * LOOP_DELAY_RESOLUTION_MS (Node's monitorEventLoopDelay); while it idles, the histogram's timer is off
 * and the delay is how late the heartbeat's own timer ran. An idle loop has no delay to sample: under
 * IDLE_LOOP_UTILIZATION no pause longer than that share of the interval can have happened. The first
 * busy interval after an idle one is sampled only by the heartbeat timer (a pause that ended before it
 * was due is not seen); the histogram runs from the next one on.
 */
class LoopDelay {
  readonly #histogram: IntervalHistogram;
  readonly #performance: Performance;
  readonly #intervalMs: number;
  #sampling = true;
  #utilizationMark: EventLoopUtilization;
  /** When the heartbeat timer is due next and when it last ran (performance.now()), and how late that was. */
  #dueAt: number;
  #ranAt = 0;
  #lateMs = 0;

  constructor(perfHooks: typeof import('node:perf_hooks'), intervalMs: number) {
    this.#histogram = perfHooks.monitorEventLoopDelay({ resolution: LOOP_DELAY_RESOLUTION_MS });
    this.#performance = perfHooks.performance;
    this.#intervalMs = intervalMs;
    this.#histogram.enable();
    this.#utilizationMark = this.#performance.eventLoopUtilization();
    this.#dueAt = this.#performance.now() + intervalMs;
  }

  /** Call as the heartbeat timer runs, before reading percentiles. */
  intervalEnded(): void {
    this.#ranAt = this.#performance.now();
    this.#lateMs = Math.max(0, this.#ranAt - this.#dueAt);
  }

  /** The delay beyond the sampling step at `percentile` over the interval, in milliseconds. */
  percentileMs(percentile: number): number {
    // The histogram records the whole interval between its timer's runs, so an idle loop reads as the
    // resolution itself (10 ms): the delay is what exceeds it.
    if (this.#sampling) return Math.max(0, this.#histogram.percentile(percentile) / 1e6 - LOOP_DELAY_RESOLUTION_MS);
    return this.#lateMs;
  }

  /** Starts the next interval: sampling on if the loop worked during the last one, off if it idled. */
  nextInterval(): void {
    const mark = this.#performance.eventLoopUtilization();
    const busy = this.#performance.eventLoopUtilization(mark, this.#utilizationMark).utilization >= IDLE_LOOP_UTILIZATION;
    this.#utilizationMark = mark;
    this.#histogram.reset();
    if (busy && !this.#sampling) this.#histogram.enable();
    if (!busy && this.#sampling) this.#histogram.disable();
    this.#sampling = busy;
    // Node schedules an interval's next run one interval after the current run started.
    this.#dueAt = this.#ranAt + this.#intervalMs;
  }
}
