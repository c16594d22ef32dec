// The master's view of one worker process: identity (pool, slot, generation), lifecycle state, timings,
// last stats and the tail of its output. Run by the appd master; the child side is daemon/worker/main.ts.

import { AppdBug } from '../../shared/errors.js';
import type { PoolSettings } from '../pools/pool.js';
import type { WorkerProcess } from './spawner.js';
import { STACK_HEADER, type MasterToWorker, type WorkerStats } from '../contracts/worker-messages.js';
import { TRANSITIONS, type WorkerEvent, type WorkerState } from './state.js';
import type { RecycleCause, RestartReason } from './exit-reason.js';

const OUTPUT_TAIL_LINES = 20;

export interface BootFailureReport {
  readonly phase: 'spawn' | 'load' | 'init' | 'listen' | 'setting' | 'timeout' | 'crash';
  readonly message: string;
  readonly code?: string;
}

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
  #state: WorkerState = 'starting';
  readyAt: number | null = null;
  lastHeartbeatAt: number;
  stats: WorkerStats | null = null;
  /** Why the master retired it (shown in logs and status). */
  retireReason: string | null = null;
  stopRequestedAt: number | null = null;
  /** When it said it stopped accepting (HTTP workers, on drain). */
  stoppedAcceptingAt: number | null = null;
  stopMode: 'graceful' | 'quick' | null = null;
  /** A deadline sooner than the stop grace (a timed-out worker gets a moment to print its stack). */
  killAt: number | null = null;
  /** Set when the master stops it for failing its heartbeat: the slot records a failure, not a planned stop. */
  timedOut = false;
  /** When its watchdog printed the stack it was stuck in (after a timeout). */
  stackPrintedAt: number | null = null;
  killSentAt: number | null = null;
  /** Set when the worker asked to be replaced (max-requests); a successor is spawned first. */
  recycleReason: string | null = null;
  /** Set with recycleReason when the master decided it (max-requests, max-memory): the restarts metric's reason. */
  recycleCause: RecycleCause | null = null;
  /** Why it exited, as a restart reason (null: a planned stop nothing replaces); set just before it turns exited. */
  exitReason: RestartReason | null = null;
  bootFailure: BootFailureReport | null = null;
  exitCode: number | null = null;
  exitSignal: NodeJS.Signals | null = null;
  readonly outputTail: string[] = [];
  /** Told of every state change (the master's event feed for `appctl events`). */
  onStateChange: ((worker: WorkerHandle) => void) | null = null;

  constructor(id: number, pool: string, slot: number, generation: number, workerProcess: WorkerProcess, now: number, settings: PoolSettings) {
    this.id = id;
    this.settings = settings;
    this.pool = pool;
    this.slot = slot;
    this.generation = generation;
    this.process = workerProcess;
    this.spawnedAt = now;
    this.lastHeartbeatAt = now;
  }

  get state(): WorkerState {
    return this.#state;
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

  /** The only writer of the state (see state.ts); tells `onStateChange` when it really changes. */
  transition(event: WorkerEvent): WorkerState {
    const next = TRANSITIONS[this.#state][event];
    if (next === null) throw new AppdBug(`worker ${this.label}: event "${event}" in state "${this.#state}"`);
    const changed = next !== this.#state;
    this.#state = next;
    if (changed) this.onStateChange?.(this);
    return next;
  }

  /** Sends a signal; a process that already exited is not an error: its exit event is on its way. */
  signal(signal: NodeJS.Signals): void {
    this.process.signal(signal);
  }

  /**
   * Asks an HTTP worker to drain (DESIGN §17): over IPC, so the app's own SIGTERM listeners (process.exit()
   * in many CLI servers) never run on a reload or a graceful stop. A worker not ready yet has nothing in
   * flight and may not listen to IPC yet (Node drops messages that arrive before a listener): it gets
   * SIGTERM, as does one whose channel is closed or clogged (a closed one started its drain on 'disconnect').
   */
  requestDrain(): void {
    if (this.readyAt === null || !this.process.send({ type: 'drain' })) this.signal('SIGTERM');
  }

  send(message: MasterToWorker): void {
    this.process.send(message);
  }

  /** Asks the worker's watchdog thread to print the stack its main thread is stuck in. */
  requestStack(): void {
    this.process.requestStack();
  }

  /** `now` is the arbiter's clock (output arrives between loop turns, so the caller reads it). */
  rememberOutput(line: string, now: number): void {
    // The whole stack is one write, so its lines arrive together with the header.
    if (this.stackPrintedAt === null && line.includes(STACK_HEADER)) this.stackPrintedAt = now;
    this.outputTail.push(line);
    if (this.outputTail.length > OUTPUT_TAIL_LINES) this.outputTail.shift();
  }
}
