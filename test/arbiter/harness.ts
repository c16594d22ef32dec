// The in-process arbiter harness: a real Arbiter (pools, supervisor, rollouts, crash policy, upgrade
// decisions) with fake worker processes, a fake successor and a clock the test moves. Runs in the ava
// test process; nothing is spawned, nothing sleeps, a test takes milliseconds.
//
// How to use it:
//
//   const arbiter = await startArbiter(t, { config: { workers: 2, bootTimeout: 5 } });
//   await arbiter.settle();                        // dispatch queued events, reconcile, until quiet
//   arbiter.spawner.live('web')                    // FakeWorkers: .ready() .heartbeat() .exit(1) .print()
//   const reload = arbiter.ask({ type: 'reload', pool: null });   // any ArbiterEvent minus its requester
//   await arbiter.settle();
//   reload.outcome                                 // { status: 'completed' | 'failed' | 'rolled_back', ... }
//   await arbiter.advance(6000);                   // move the clock in loop-sized steps, settling each
//   arbiter.signal('SIGTTOU');                     // what the master's signal table enqueues
//   arbiter.pool('web').desired, arbiter.handles('web')   // the arbiter's own state, to assert on
//
// - `config` is a config file's content (camelCase keys) over the defaults below (one http pool "web"
//   on 127.0.0.1:0: the harness binds real sockets, which workers never use). `nextConfig(...)` sets
//   what the next reload reads.
// - New HTTP workers say "ready" at once (`spawner.boot = 'silent'` to boot them by hand;
//   `spawner.onSpawn` to script each one). A command "worker" is up once start-seconds passed.
// - Fake workers obey like real ones (a drain request or TERM: "draining", then exit 0; `asks` lists
//   what they were sent) and, once ready, send a heartbeat on every step of advance(); `worker.hang()` makes one a busy loop (no heartbeat, deaf to
//   all but SIGKILL); `worker.answer = 'ignore'` only makes it deaf, `worker.beating = false` only silent.
// - `milestones` records the observer's and the handover's calls ('ready', 'reloading', 'reloaded',
//   'stopping', 'handed-over', 'taken-back'); `upgrade()` answers with a FakeSuccessor to drive.
// - On failure, `t.log` gets the master's log (kept in memory, never written anywhere).

import { listenModesOf } from '../../daemon/sockets/listen-without-accepting.js';
import { EventEmitter } from 'node:events';
import type { ExecutionContext } from 'ava';
import { normaliseFileKeys, resolveConfig, type ResolvedConfig } from '../../shared/config/resolve.js';
import { Arbiter } from '../../daemon/arbiter/arbiter.js';
import type { ArbiterEvent, JobOutcome, Requester } from '../../daemon/arbiter/events.js';
import { SIGNAL_EVENTS } from '../../daemon/arbiter/signals.js';
import { Logger } from '../../daemon/master/logger.js';
import { allBinds, type Pool } from '../../daemon/pools/pool.js';
import { closeListeners, openListeners, type Listener } from '../../daemon/sockets/listeners.js';
import type { SuccessorProcess } from '../../daemon/upgrade/coordinator.js';
import type { Clock } from '../../daemon/arbiter/clock.js';
import type { SuccessorReport } from '../../daemon/upgrade/messages.js';
import type { WorkerHandle } from '../../daemon/workers/handle.js';
import { FakeSpawner, type BootBehaviour } from './fake-spawner.js';

/** The loop's own tick (arbiter.ts TICK_MS): advance() moves the clock in steps of this size. */
export const LOOP_TICK_MS = 200;

/** Harness defaults under the test's config: one http pool, a fake app path, a throwaway port. */
const DEFAULT_CONFIG: Readonly<Record<string, unknown>> = { app: 'fake-app.js', bind: '127.0.0.1:0', name: 'fake' };

/** An ArbiterEvent as a test asks for it: the harness adds the requester that records the answer. */
type WithoutRequester<Event> = Event extends { readonly requester: Requester } ? Omit<Event, 'requester'> : never;
export type Ask = WithoutRequester<ArbiterEvent>;

/** What a requester heard: progress lines, then one outcome. */
export class RecordedRequest implements Requester {
  readonly origin: string;
  readonly lines: string[] = [];
  outcome: JobOutcome | null = null;
  answers = 0;

  constructor(origin: string) {
    this.origin = origin;
  }
  /** The outcome's data, if it carried any. */
  get data(): unknown {
    return this.outcome !== null && 'data' in this.outcome ? this.outcome.data : undefined;
  }
  progress(text: string): void {
    this.lines.push(text);
  }
  done(outcome: JobOutcome): void {
    this.answers += 1;
    this.outcome = outcome;
  }
}

/** The clocks the arbiter reads; only the test moves them. */
export class FakeClock implements Clock {
  #now: number;
  #wallOffset = Date.UTC(2026, 0, 1);
  constructor(start = 1_000_000) {
    this.#now = start;
  }
  now = (): number => this.#now;
  wallNow = (): number => this.#wallOffset + this.#now;
  /** Time passes: both clocks move. */
  advance(ms: number): void {
    this.#now += ms;
  }
  /** Only the wall clock jumps (NTP, `date -s`), forward or back. */
  stepWall(ms: number): void {
    this.#wallOffset += ms;
  }
}

/** The successor master of an upgrade, as the old master sees it. */
export class FakeSuccessor extends EventEmitter implements SuccessorProcess {
  readonly pid: number;
  readonly signals: NodeJS.Signals[] = [];
  readonly environment: NodeJS.ProcessEnv;

  constructor(pid: number, environment: NodeJS.ProcessEnv) {
    super();
    this.pid = pid;
    this.environment = environment;
  }
  kill(signal: NodeJS.Signals): boolean {
    this.signals.push(signal);
    return true;
  }
  report(message: SuccessorReport): void {
    this.emit('message', message);
  }
  close(code: number | null, signal: NodeJS.Signals | null = null): void {
    this.emit('close', code, signal);
  }
}

export interface HarnessOptions {
  /** A config file's content (camelCase keys), over DEFAULT_CONFIG. */
  readonly config?: Readonly<Record<string, unknown>>;
  readonly requireEveryWorker?: boolean;
  readonly firstGeneration?: number;
  /** Backoff jitter and max-requests jitter; 0.5 is "no jitter". */
  readonly random?: () => number;
  /** How HTTP workers boot, from the very first spawn (default: ready at once). */
  readonly boot?: BootBehaviour;
  /** The pid of the master this one replaced, while it runs (refuses upgrades). */
  readonly predecessorPid?: number;
}

export function resolveTestConfig(config: Readonly<Record<string, unknown>>): ResolvedConfig {
  // With pools, the program and binds belong to each pool.
  const defaults = 'pools' in config ? { name: DEFAULT_CONFIG['name'] } : DEFAULT_CONFIG;
  const values = normaliseFileKeys({ ...defaults, ...config }, 'test');
  return resolveConfig([{ source: { kind: 'file', path: 'test' }, values }], {}, null);
}

export class ArbiterHarness {
  readonly arbiter: Arbiter;
  readonly spawner: FakeSpawner;
  readonly clock: FakeClock;
  readonly logger: Logger;
  readonly milestones: string[] = [];
  readonly successors: FakeSuccessor[] = [];
  /** Set once reconcile() said the master may exit. */
  finished = false;
  /** When (fake clock) the arbiter asked for a heap collection; `heapCollectable = false` makes the next ask answer "cannot". */
  readonly heapCollections: number[] = [];
  heapCollectable = true;
  /** How long each collection takes (the fake clock moves by it). */
  heapCollectionMs = 0;
  #next: () => ResolvedConfig;

  constructor(arbiter: Arbiter, spawner: FakeSpawner, clock: FakeClock, logger: Logger, resolved: ResolvedConfig) {
    this.arbiter = arbiter;
    this.spawner = spawner;
    this.clock = clock;
    this.logger = logger;
    this.#next = () => resolved;
  }

  /** What the next reload reads (a config file's content over the defaults). */
  nextConfig(config: Readonly<Record<string, unknown>>): void {
    this.#next = () => resolveTestConfig(config);
  }
  /** What each reload reads, computed at each read (it may throw: a config that does not parse). */
  nextConfigFrom(read: () => Readonly<Record<string, unknown>>): void {
    this.#next = () => resolveTestConfig(read());
  }
  /** Used by the arbiter's readConfig. */
  readNext(): ResolvedConfig {
    return this.#next();
  }

  /** Queues an event with a recording requester; `settle()` to let the arbiter handle it. */
  ask(event: Ask, origin = 'test'): RecordedRequest {
    const requester = new RecordedRequest(origin);
    this.arbiter.queue.push({ ...event, requester } as ArbiterEvent);
    return requester;
  }

  /** Queues what the master's signal table makes of a signal. */
  signal(signal: NodeJS.Signals): void {
    const toEvent = SIGNAL_EVENTS[signal];
    if (!toEvent) throw new Error(`the master has no handler for ${signal}`);
    this.arbiter.queue.push(toEvent(signal));
  }

  /**
   * Runs loop turns (handle what is queued, reconcile) until nothing is queued for a few turns in a
   * row. Promises in flight (a reload reading its config) get a macrotask between turns to resolve.
   */
  async settle(): Promise<void> {
    let quiet = 0;
    for (let turn = 0; turn < 1000 && quiet < 3; turn += 1) {
      await new Promise((resolve) => setImmediate(resolve));
      const handled = this.arbiter.dispatchQueued();
      this.finished = this.arbiter.reconcile() || this.finished;
      quiet = handled === 0 && this.arbiter.queue.size === 0 ? quiet + 1 : 0;
    }
  }

  /** Moves the clock by `ms` in loop-sized steps, settling after each (timers, backoff, deadlines fire). */
  async advance(ms: number, step = LOOP_TICK_MS): Promise<void> {
    for (let elapsed = 0; elapsed < ms; elapsed += step) {
      this.clock.advance(Math.min(step, ms - elapsed));
      for (const worker of this.spawner.live()) if (worker.beating && worker.saidReady) worker.heartbeat();
      await this.settle();
    }
  }

  pool(name = 'web'): Pool {
    const pool = this.arbiter.supervisor.pools.get(name);
    if (!pool) throw new Error(`no pool ${name}`);
    return pool;
  }

  /** The master's handles of a pool's workers that have not exited, by slot then generation. */
  handles(pool = 'web'): WorkerHandle[] {
    return this.arbiter.supervisor.workersOf(pool).sort((left, right) => left.slot - right.slot || left.generation - right.generation);
  }

  /** "web.0 g1 ready" for each live handle: a compact picture to compare with t.deepEqual. */
  picture(pool = 'web'): string[] {
    return this.handles(pool).map((worker) => `${worker.tag} ${worker.state}`);
  }

  /** The master's log so far (for t.log on failure, and the rare assertion on what an operator reads). */
  logText(): string {
    return this.logger
      .recent()
      .map((line) => `${line.level} ${line.source}: ${line.text}`)
      .join('\n');
  }
}

/** A harness whose first start has been settled (HTTP workers ready at once by default). */
export async function startArbiter(t: ExecutionContext, options: HarnessOptions = {}): Promise<ArbiterHarness> {
  const resolved = resolveTestConfig(options.config ?? {});
  const logger = new Logger('/dev/null', 'debug');
  let listeners: Listener[] = await openListeners(allBinds(resolved.values), false, [], listenModesOf(resolved.values));
  const clock = new FakeClock();
  const spawner = new FakeSpawner();
  spawner.boot = options.boot ?? 'ready';
  let harness: ArbiterHarness | null = null;
  const milestone = (name: string) => (): void => {
    harness?.milestones.push(name);
  };
  const arbiter = new Arbiter({
    resolved,
    listeners,
    logger,
    baseEnvironment: {},
    spawner,
    readConfig: async () => harness?.readNext() ?? resolved,
    observer: {
      ready: milestone('ready'),
      reloading: milestone('reloading'),
      reloaded: milestone('reloaded'),
      stopping: milestone('stopping'),
    },
    clock,
    random: options.random ?? (() => 0.5),
    compactHeap: () => {
      harness?.heapCollections.push(clock.now());
      clock.advance(harness?.heapCollectionMs ?? 0);
      return harness?.heapCollectable === false ? { collected: false, why: 'the test said so' } : { collected: true };
    },
    upgrade: {
      command: () => ({ execPath: '/fake/node', args: ['appd'], cwd: '/', environment: {} }),
      launch: (_command, _listeners, environment) => {
        const successor = new FakeSuccessor(60_000_000 + (harness?.successors.length ?? 0), environment);
        harness?.successors.push(successor);
        return successor;
      },
      predecessorPid: () => options.predecessorPid ?? null,
      handover: { handedOver: milestone('handed-over'), takeBack: milestone('taken-back') },
    },
    requireEveryWorker: options.requireEveryWorker ?? false,
    firstGeneration: options.firstGeneration ?? 1,
  });
  harness = new ArbiterHarness(arbiter, spawner, clock, logger, resolved);
  const done = harness;
  t.teardown(() => {
    // A reload may have bound and closed sockets: close what the arbiter holds now.
    listeners = [...done.arbiter.listeners];
    closeListeners(listeners);
    logger.close();
  });
  t.teardown(() => {
    if (!t.passed) t.log(done.logText());
  });
  await harness.settle();
  return harness;
}
