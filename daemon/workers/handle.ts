// The master's view of one worker process: identity (pool, slot, generation), its lifecycle state and
// every time and deadline of it (written only by transition(), see state.ts), last stats and the tail
// of its output. Run by the appd master; the child side is daemon/worker/main.ts.

import { AppdBug } from '../../shared/errors.js';
import type { PoolSettings } from '../pools/pool.js';
import type { WorkerProcess } from './spawn/spawner.js';
import { STACK_HEADER, type MasterToWorker, type WorkerStats } from '../contracts/worker-messages.js';
import {
  TRANSITIONS,
  type BootFailureReport,
  type Deadline,
  type RetireCause,
  type StopMode,
  type WorkerAction,
  type WorkerEvent,
  type WorkerEventPayloads,
  type WorkerState,
} from './state.js';
import type { RecycleCause, RestartReason } from './exit-reason.js';

export type { BootFailureReport } from './state.js';

/** An event with its payload, as one value the compiler can narrow. */
type WorkerHappening = { [Event in WorkerEvent]: { readonly event: Event } & WorkerEventPayloads[Event] }[WorkerEvent];

const OUTPUT_TAIL_LINES = 20;
/** How long after graceful-timeout the master kills an HTTP worker that has not exited by itself. */
const WORKER_CUT_MARGIN_MS = 1000;
/** After a quick stop (INT/QUIT) workers get this long before SIGKILL. */
const QUICK_STOP_GRACE_MS = 2000;
/** After asking a timed-out worker for its stack, wait at most this long for it before SIGKILL. */
const STACK_GRACE_MS = 3000;
/** Once the stack header is seen, the rest of that one write is moments behind. */
const STACK_FLUSH_MS = 250;
/**
 * A stopping HTTP worker that has not said it stopped accepting by then is stuck (a busy loop never
 * runs its drain handler); a reload does not wait for it any longer (murderWorkers kills it later).
 */
const DRAINING_ACK_WAIT_MS = 5000;
/** A draining worker closes idle connections after keep-alive; its 'released-slot' is this late at most. */
const SLOT_RELEASE_GRACE_MS = 5000;

export class WorkerHandle {
  readonly id: number;
  readonly pool: string;
  readonly slot: number;
  readonly generation: number;
  /** The process itself (a child process; a fake one in the in-process tests). */
  readonly process: WorkerProcess;
  readonly spawnedAt: number;
  /** The pool's settings when this worker was spawned; its timeouts are these. */
  readonly settings: PoolSettings;
  readonly outputTail: string[] = [];
  /** Told of every state change (the master's event feed for `appctl events`, metrics). */
  onStateChange: ((worker: WorkerHandle) => void) | null = null;

  #state: WorkerState = 'starting';
  #readyAt: number | null = null;
  #lastHeartbeatAt: number;
  /** Silence (no heartbeat, not ready yet) is judged from here at the earliest: moved on after a master stall. */
  #judgedFrom: number;
  #stats: WorkerStats | null = null;
  #bootFailure: BootFailureReport | null = null;
  #recycleReason: string | null = null;
  #recycleCause: RecycleCause | null = null;
  #retireReason: string | null = null;
  #retireCause: RetireCause | null = null;
  #stopMode: StopMode | null = null;
  #stopRequestedAt: number | null = null;
  #stoppedAcceptingAt: number | null = null;
  #releasedSlotAt: number | null = null;
  #timedOut = false;
  #killAt: number | null = null;
  #stackPrintedAt: number | null = null;
  #killSentAt: number | null = null;
  #exitCode: number | null = null;
  #exitSignal: NodeJS.Signals | null = null;
  #exitReason: RestartReason | null = null;

  constructor(
    id: number,
    pool: string,
    slot: number,
    generation: number,
    workerProcess: WorkerProcess,
    now: number,
    settings: PoolSettings,
  ) {
    this.id = id;
    this.settings = settings;
    this.pool = pool;
    this.slot = slot;
    this.generation = generation;
    this.process = workerProcess;
    this.spawnedAt = now;
    this.#lastHeartbeatAt = now;
    this.#judgedFrom = now;
  }

  get state(): WorkerState {
    return this.#state;
  }
  get readyAt(): number | null {
    return this.#readyAt;
  }
  get lastHeartbeatAt(): number {
    return this.#lastHeartbeatAt;
  }
  get stats(): WorkerStats | null {
    return this.#stats;
  }
  /** Why it could not boot: its own report, a boot timeout, a spawn error, or an exit before ready. */
  get bootFailure(): BootFailureReport | null {
    return this.#bootFailure;
  }
  /** Set when it should be replaced, successor first (max-requests, max-memory, appctl restart of its slot). */
  get recycleReason(): string | null {
    return this.#recycleReason;
  }
  /** Set with recycleReason when the master decided it (max-requests, max-memory): the restarts metric's reason. */
  get recycleCause(): RecycleCause | null {
    return this.#recycleCause;
  }
  /** Why the master retired it (shown in logs and status). */
  get retireReason(): string | null {
    return this.#retireReason;
  }
  get retireCause(): RetireCause | null {
    return this.#retireCause;
  }
  get stopMode(): StopMode | null {
    return this.#stopMode;
  }
  get stopRequestedAt(): number | null {
    return this.#stopRequestedAt;
  }
  /** When it said it stopped accepting (HTTP workers, on drain). */
  get stoppedAcceptingAt(): number | null {
    return this.#stoppedAcceptingAt;
  }
  /** Stopped for failing its heartbeat: the slot records a failure, not a planned stop. */
  get timedOut(): boolean {
    return this.#timedOut;
  }
  get killSentAt(): number | null {
    return this.#killSentAt;
  }
  get exitCode(): number | null {
    return this.#exitCode;
  }
  get exitSignal(): NodeJS.Signals | null {
    return this.#exitSignal;
  }
  /** Why it exited, as a restart reason (null: a planned stop nothing replaces). */
  get exitReason(): RestartReason | null {
    return this.#exitReason;
  }

  get pid(): number {
    return this.process.pid;
  }

  /** "web.3 g2": how a worker is named in logs, titles and status. */
  get tag(): string {
    return `${this.pool}.${this.slot} g${this.generation}`;
  }

  /** "web.3 g2 (pid 1234)" */
  get label(): string {
    return `${this.tag} (pid ${this.pid})`;
  }

  /**
   * The only writer of the state and of every time and deadline of this worker: records the event's
   * payload, moves along the table (state.ts), takes the edge's actions, then tells `onStateChange`
   * when the state really changed (so a watcher reads why and how, already recorded).
   */
  transition<Event extends WorkerEvent>(event: Event, payload: WorkerEventPayloads[Event]): WorkerState {
    const edge = TRANSITIONS[this.#state][event];
    if (edge === null) throw new AppdBug(`worker ${this.label}: event "${event}" in state "${this.#state}"`);
    this.#record({ event, ...payload } as WorkerHappening);
    const changed = edge.next !== this.#state;
    this.#state = edge.next;
    for (const action of edge.actions) this.#perform(action);
    if (changed) this.onStateChange?.(this);
    return edge.next;
  }

  #record(happened: WorkerHappening): void {
    switch (happened.event) {
      case 'became-ready':
        if (this.#readyAt !== null) return;
        this.#readyAt = happened.at;
        this.#lastHeartbeatAt = happened.at;
        return;
      case 'heartbeat':
        this.#lastHeartbeatAt = happened.at;
        this.#stats = happened.stats;
        return;
      case 'boot-error':
        this.#bootFailure = happened.report;
        return;
      case 'draining':
        this.#stoppedAcceptingAt ??= happened.at;
        return;
      case 'released-slot':
        this.#releasedSlotAt ??= happened.at;
        return;
      case 'recycle-requested':
        if (this.#recycleReason !== null) return;
        this.#recycleReason = happened.reason;
        this.#recycleCause = happened.cause;
        return;
      case 'retire':
        this.#stopping(happened.at, happened.reason, happened.cause, happened.mode);
        return;
      case 'missed-heartbeat':
        this.#timedOut = true;
        this.#stopping(happened.at, 'timeout', 'timeout', 'graceful');
        this.#killAt = happened.at + (this.settings.timeoutStack ? STACK_GRACE_MS : 0);
        return;
      case 'boot-timeout':
        this.#bootFailure = happened.report;
        this.#stopping(happened.at, 'boot timeout', 'boot-timeout', 'quick');
        this.#killSentAt = happened.at;
        return;
      case 'stack-printed':
        this.#stackPrintedAt ??= happened.at;
        return;
      case 'kill':
        this.#killSentAt ??= happened.at;
        return;
      case 'master-stalled':
        this.#judgedFrom = happened.at;
        return;
      case 'exited':
        this.#exitCode = happened.code;
        this.#exitSignal = happened.signal;
        this.#exitReason = happened.reason;
        this.#bootFailure ??= happened.bootFailure;
        return;
    }
  }

  #stopping(at: number, reason: string, cause: RetireCause, mode: StopMode): void {
    this.#retireReason = reason;
    this.#retireCause = cause;
    this.#stopMode = mode;
    this.#stopRequestedAt = at;
  }

  /**
   * The next thing due for this worker by the clock, if any: a command counts as up after start-seconds;
   * an HTTP worker must be ready within boot-timeout and then heartbeat within timeout; a stopping one
   * is killed after its grace (graceful-timeout plus a margin, 2 s after a quick stop, or soon after a
   * timeout, once its stack is out).
   */
  deadline(): Deadline | null {
    const settings = this.settings;
    const command = settings.kind === 'command';
    // Killed: nothing is left to judge, its exit is on the way.
    if (this.#killSentAt !== null) return null;
    switch (this.#state) {
      case 'starting':
        if (command) return { at: this.spawnedAt + settings.startSeconds * 1000, event: 'became-ready' };
        return { at: Math.max(this.spawnedAt, this.#judgedFrom) + settings.bootTimeout * 1000, event: 'boot-timeout' };
      case 'ready':
        if (command || settings.timeout <= 0) return null;
        return { at: Math.max(this.#lastHeartbeatAt, this.#judgedFrom) + settings.timeout * 1000, event: 'missed-heartbeat' };
      case 'stopping': {
        if (this.#stopRequestedAt === null) return null;
        if (this.#killAt !== null) {
          const stackOut = this.#stackPrintedAt === null ? Infinity : this.#stackPrintedAt + STACK_FLUSH_MS;
          return { at: Math.min(this.#killAt, stackOut), event: 'kill' };
        }
        return { at: this.#stopRequestedAt + this.stopGraceMs(), event: 'kill' };
      }
      case 'exited':
        return null;
    }
  }

  /** Whether it no longer takes new connections: gone, or stopping and it said so (or is stuck). */
  hasStoppedAccepting(now: number): boolean {
    if (this.#state === 'exited') return true;
    if (this.#state !== 'stopping') return false;
    if (this.settings.kind === 'command' || this.#stoppedAcceptingAt !== null) return true;
    return now - (this.#stopRequestedAt ?? 0) >= DRAINING_ACK_WAIT_MS;
  }

  /**
   * slot-bind: whether its slot's next worker may accept on the slot sockets. Not as soon as it stopped
   * accepting: a proxy's idle keep-alive connections to it would still carry requests (a new socket.io
   * session's handshake, whose next poll then reached the new worker: 400 Session ID unknown). Once it
   * said none of its slot connections can carry another request; or it is gone or stuck
   * (hasStoppedAccepting's wait); or keep-alive plus SLOT_RELEASE_GRACE_MS after it stopped accepting
   * (a pipelining client is served until it pauses: the slot does not wait for it that long).
   */
  hasReleasedSlot(now: number): boolean {
    if (!this.hasStoppedAccepting(now)) return false;
    if (this.#state === 'exited' || this.settings.kind === 'command' || this.#releasedSlotAt !== null) return true;
    if (this.#stoppedAcceptingAt === null) return true; // stuck: it never said it stopped accepting
    return now - this.#stoppedAcceptingAt >= this.settings.keepAlive * 1000 + SLOT_RELEASE_GRACE_MS;
  }

  /**
   * How long a stopping worker has before SIGKILL. An HTTP worker cuts its own connections at
   * graceful-timeout and says so; the master's SIGKILL is the backstop a moment later, so it does not
   * race the worker's own clean exit.
   */
  stopGraceMs(): number {
    if (this.#stopMode === 'quick') return QUICK_STOP_GRACE_MS;
    return this.settings.gracefulTimeout * 1000 + (this.settings.kind === 'command' ? 0 : WORKER_CUT_MARGIN_MS);
  }

  #perform(action: WorkerAction): void {
    switch (action) {
      case 'ask-to-stop':
        return this.#askToStop();
      case 'request-stack':
        if (this.settings.timeoutStack) this.process.requestStack();
        return;
      case 'kill':
        return this.process.signal('SIGKILL');
    }
  }

  /**
   * The one place that says how a worker is asked to stop. A command gets its pool's stop-signal
   * (graceful or quick: only the grace before SIGKILL differs). An HTTP worker asked to drain gets the
   * request over its channel (DESIGN §17), so the app's own SIGTERM listeners (process.exit() in many
   * CLI servers) never run on a reload or a graceful stop; one not ready yet has nothing in flight and
   * may not listen to its channel yet (Node drops messages that arrive before a listener): it gets
   * SIGTERM, as does one whose channel is closed or clogged. A quick stop is SIGQUIT.
   */
  #askToStop(): void {
    if (this.settings.kind === 'command') return this.process.signal(this.settings.stopSignal);
    if (this.#stopMode === 'quick') return this.process.signal('SIGQUIT');
    if (this.#readyAt === null || !this.process.send({ type: 'drain' })) this.process.signal('SIGTERM');
  }

  /** A message that changes nothing of its lifecycle (reopen-logs). */
  send(message: MasterToWorker): void {
    this.process.send(message);
  }

  /** Keeps the last lines for a boot failure's report; the stack header marks a timed-out worker's stack. */
  rememberOutput(line: string, now: number): void {
    // The whole stack is one write, so its lines arrive together with the header.
    if (this.#stackPrintedAt === null && this.#state !== 'exited' && line.includes(STACK_HEADER))
      this.transition('stack-printed', { at: now });
    this.outputTail.push(line);
    if (this.outputTail.length > OUTPUT_TAIL_LINES) this.outputTail.shift();
  }
}
