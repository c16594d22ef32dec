// A fake WorkerSpawner for the in-process arbiter tests: each "worker" is a FakeWorker the test drives
// (ready, heartbeat, exit, output) and that answers the master's signals the way a real worker does.
// Runs in the ava test process; no process is ever started or signalled.

import type { MasterToWorker, WorkerStats, WorkerToMaster } from '../../daemon/contracts/worker-messages.js';
import type { ProcessEvents, SpawnRequest, WorkerProcess, WorkerSpawner } from '../../daemon/workers/spawn/spawner.js';

/** Fake pids start here: far above any pid_max, so a stray process.kill() can never hit a real process. */
const FIRST_FAKE_PID = 50_000_000;

export const QUIET_STATS: WorkerStats = {
  requests: 0,
  inFlight: 0,
  connections: 0,
  loopDelayP50: 0,
  loopDelayP99: 0,
  heapUsed: 0,
  heapTotal: 0,
  proxyRejected: 0,
};

/** What a fake worker does when the master signals it. */
export type SignalAnswer =
  /** Like a real worker: TERM drains (says "draining") and exits 0, QUIT/INT exit 0; a command dies of the signal. */
  | 'obey'
  /** A hung worker: only SIGKILL ends it. */
  | 'ignore';

export class FakeWorker implements WorkerProcess {
  readonly pid: number;
  readonly request: SpawnRequest;
  readonly #events: ProcessEvents;
  /** Every signal the master sent, in order. */
  readonly signals: NodeJS.Signals[] = [];
  /** Every channel message the master sent. */
  readonly received: MasterToWorker[] = [];
  /** Signals and channel messages together, in order: 'SIGTERM', 'drain', 'SIGKILL'. */
  readonly asks: string[] = [];
  stackRequests = 0;
  answer: SignalAnswer = 'obey';
  /** Whether the harness sends a heartbeat for it on every step of advance() once it said ready. */
  beating = true;
  saidReady = false;
  exited = false;

  constructor(pid: number, request: SpawnRequest, events: ProcessEvents) {
    this.pid = pid;
    this.request = request;
    this.#events = events;
  }

  get pool(): string {
    return this.request.settings.name;
  }
  get slot(): number {
    return this.request.slot;
  }
  get generation(): number {
    return this.request.generation;
  }
  get kind(): 'http' | 'command' {
    return this.request.settings.kind;
  }
  /** "web.0 g1", as the master tags it. */
  get tag(): string {
    return `${this.pool}.${this.slot} g${this.generation}`;
  }

  // --- what the master does to it (WorkerProcess) ---

  signal(signal: NodeJS.Signals): void {
    this.signals.push(signal);
    this.asks.push(signal);
    if (this.exited) return;
    if (signal === 'SIGKILL') return this.exit(null, 'SIGKILL');
    if (this.answer === 'ignore') return;
    if (this.kind === 'command') return this.exit(null, signal);
    if (signal === 'SIGTERM') this.#drain();
    if (signal === 'SIGQUIT' || signal === 'SIGINT') this.exit(0, null);
  }

  /** Like a real worker's channel: only an HTTP worker has one, and it is gone once the process is. */
  send(message: MasterToWorker): boolean {
    if (this.exited || this.kind === 'command') return false;
    this.received.push(message);
    this.asks.push(message.type);
    if (message.type === 'drain' && this.answer === 'obey') this.#drain();
    return true;
  }

  #drain(): void {
    this.say({ type: 'draining' });
    this.exit(0, null);
  }

  requestStack(): void {
    this.stackRequests += 1;
  }

  // --- what the test makes it do ---

  say(message: WorkerToMaster): void {
    if (this.exited) return;
    if (message.type === 'ready') this.saidReady = true;
    this.#events.message(message);
  }
  /** A worker stuck in a busy loop: no heartbeat, deaf to everything but SIGKILL. */
  hang(): void {
    this.answer = 'ignore';
    this.beating = false;
  }
  ready(): void {
    this.say({ type: 'ready' });
  }
  heartbeat(stats: Partial<WorkerStats> = {}): void {
    this.say({ type: 'heartbeat', stats: { ...QUIET_STATS, ...stats } });
  }
  bootError(phase: 'load' | 'init' | 'listen' | 'setting', message: string, code?: string): void {
    this.say(code === undefined ? { type: 'boot-error', phase, message } : { type: 'boot-error', phase, message, code });
  }
  recycle(reason: string): void {
    this.say({ type: 'recycle', reason });
  }
  print(line: string, stream: 'stdout' | 'stderr' = 'stderr'): void {
    this.#events.output(stream, [line]);
  }
  exit(code: number | null, signal: NodeJS.Signals | null = null): void {
    if (this.exited) return;
    this.exited = true;
    this.#events.exit(code, signal);
  }
  /** The process could not be started at all (no exit follows, as with child_process). */
  failSpawn(code: string, message = `spawn ${code}`): void {
    if (this.exited) return;
    this.exited = true;
    this.#events.spawnFailed(Object.assign(new Error(message), { code }));
  }
}

/** What a new fake worker does by itself: an HTTP worker says "ready" at once unless told otherwise. */
export type BootBehaviour = 'ready' | 'silent';

export class FakeSpawner implements WorkerSpawner {
  /** Every worker ever spawned, oldest first. */
  readonly spawned: FakeWorker[] = [];
  /** How new HTTP workers boot (commands have no readiness message; they count as up after start-seconds). */
  boot: BootBehaviour = 'ready';
  /** Called with each new worker after its boot behaviour (e.g. to make some of them fail). */
  onSpawn: ((worker: FakeWorker) => void) | null = null;
  #nextPid = FIRST_FAKE_PID;

  spawn(request: SpawnRequest, events: ProcessEvents): WorkerProcess {
    const worker = new FakeWorker(this.#nextPid, request, events);
    this.#nextPid += 1;
    this.spawned.push(worker);
    if (this.boot === 'ready' && request.settings.kind === 'http') worker.ready();
    this.onSpawn?.(worker);
    return worker;
  }

  /** Workers that have not exited, optionally of one pool. */
  live(pool?: string): FakeWorker[] {
    return this.spawned.filter((worker) => !worker.exited && (pool === undefined || worker.pool === pool));
  }

  /** The live worker of a slot with the highest generation (the newest), or undefined. */
  newest(pool: string, slot: number): FakeWorker | undefined {
    return this.live(pool)
      .filter((worker) => worker.slot === slot)
      .at(-1);
  }
}
