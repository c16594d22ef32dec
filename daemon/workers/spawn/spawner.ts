// How the supervisor starts a worker process (the WorkerSpawner interface) and the real spawner:
// child_process, listeners as inherited fds, IPC, output piped. Run by the appd master; tests give the
// supervisor a fake one instead (test/arbiter/fake-spawner.ts).

import type { ChildProcess } from 'node:child_process';
import { hasErrorCode } from '../../../shared/errors.js';
import type { ArbiterEvent } from '../../arbiter/events.js';
import type { Logger } from '../../master/logger.js';
import type { WorkerHandle } from '../handle.js';
import type { Identity } from './identity.js';
import type { Listener } from '../../sockets/listeners.js';
import type { PoolSettings } from '../../pools/pool.js';
import type { ProcessGroups } from '../process-groups.js';
import type { SessionShare } from './session-share.js';
import { spawnCommandWorker } from './command-worker.js';
import { buildWorkerSpec, spawnHttpWorker } from './http-worker.js';
import { watchChild } from '../watch-child.js';
import type { WorkerChannel } from '../worker-channel.js';
import { STACK_REQUEST_BYTE, type MasterToWorker, type WorkerToMaster } from '../../contracts/worker-messages.js';

/** What the master does to a running worker process; nothing else of the process is touched. */
export interface WorkerProcess {
  /** -1 when the process could not be started (its spawn-failed event is on the way). */
  readonly pid: number;
  /** A process that already exited is not an error: its exit event is on its way. */
  signal(signal: NodeJS.Signals): void;
  /** Over its channel (HTTP workers); false when not handed over (no channel, closed or clogged). */
  send(message: MasterToWorker): boolean;
  /** Asks an HTTP worker's watchdog thread to print the stack its main thread is stuck in. */
  requestStack(): void;
}

/** What a worker process reports; the supervisor turns each into an event on the arbiter's queue. */
export interface ProcessEvents {
  message(message: WorkerToMaster): void;
  /** The first valid message of a type the contract does not know (later ones are only counted). */
  foreign(type: string): void;
  /** It broke the channel contract (not JSON, too long, a flood): nothing it says can be trusted. */
  misbehaved(reason: string): void;
  exit(code: number | null, signal: NodeJS.Signals | null): void;
  /** It could not be started at all (EACCES, ENOENT, EAGAIN); no exit follows. */
  spawnFailed(error: Error): void;
  /** The lines one read of its stdout or stderr completed, already split and cut. */
  output(stream: 'stdout' | 'stderr', lines: readonly string[]): void;
}

/**
 * A worker's ProcessEvents as the master wires them: each becomes an event on the arbiter's queue;
 * output lines go to the log (tagged with the worker) and to the worker's own tail.
 */
export function queuedEvents(
  workerId: number,
  handle: () => WorkerHandle | null,
  { enqueue, logger, now }: { enqueue: (event: ArbiterEvent) => void; logger: Logger; now: () => number },
): ProcessEvents {
  return {
    message: (message) => enqueue({ type: 'worker-message', workerId, message }),
    foreign: (type) =>
      logger.warning(
        `worker ${handle()?.label ?? workerId} sent a message appd does not know (type ${type}); ignored, and so are any more`,
      ),
    misbehaved: (reason) => enqueue({ type: 'worker-misbehaved', workerId, reason }),
    exit: (code, signal) => enqueue({ type: 'worker-exit', workerId, code, signal }),
    spawnFailed: (error) => enqueue({ type: 'worker-spawn-failed', workerId, error }),
    output: (stream, lines) => {
      const worker = handle();
      const at = now();
      if (worker) for (const line of lines) worker.rememberOutput(line, at);
      logger.workerOutput(worker?.tag ?? String(workerId), worker?.pid ?? -1, stream, lines);
    },
  };
}

/** Everything needed to start one worker of a pool. */
export interface SpawnRequest {
  readonly settings: PoolSettings;
  readonly daemonName: string;
  readonly slot: number;
  readonly generation: number;
  /** The sockets it inherits (fd 3..), chosen by Supervisor.listenersOf. */
  readonly listeners: readonly Listener[];
  readonly identity: Identity | null;
  readonly random: () => number;
}

export interface WorkerSpawner {
  spawn(request: SpawnRequest, events: ProcessEvents): WorkerProcess;
}

/** A real child process seen through WorkerProcess. */
export class ChildWorkerProcess implements WorkerProcess {
  readonly #child: ChildProcess;
  readonly #channel: WorkerChannel | null;

  constructor(child: ChildProcess, channel: WorkerChannel | null = null) {
    this.#child = child;
    this.#channel = channel;
  }

  get pid(): number {
    return this.#child.pid ?? -1;
  }

  signal(signal: NodeJS.Signals): void {
    // Never kill(-1): a process that failed to start has no pid, and -1 means every process we may signal.
    const pid = this.#child.pid;
    if (pid === undefined) return;
    try {
      process.kill(pid, signal);
    } catch (error) {
      if (!hasErrorCode(error, 'ESRCH')) throw error; // already gone: its exit event is on its way
    }
  }

  send(message: MasterToWorker): boolean {
    // A worker whose channel closed is exiting; its exit event will arrive.
    return this.#channel?.send(message) ?? false;
  }

  requestStack(): void {
    if (this.#child.stdin?.writable) this.#child.stdin.write(STACK_REQUEST_BYTE);
  }
}

/**
 * The real spawner: a node process for an HTTP pool, the pool's program for a command pool, each the
 * leader of its own process group; `groups` cleans up what a worker leaves in it (process-groups.ts),
 * `share` weighs the workers' sessions as one (session-share.ts).
 */
export class ChildProcessSpawner implements WorkerSpawner {
  readonly #baseEnvironment: NodeJS.ProcessEnv;
  readonly #groups: ProcessGroups | null;
  readonly #share: SessionShare | null;

  constructor(baseEnvironment: NodeJS.ProcessEnv, groups: ProcessGroups | null = null, share: SessionShare | null = null) {
    this.#baseEnvironment = baseEnvironment;
    this.#groups = groups;
    this.#share = share;
  }

  /** Resolves once what exited workers left in their groups is gone (the master's exit waits for it). */
  settled(): Promise<void> {
    return this.#groups?.settled() ?? Promise.resolve();
  }

  spawn(request: SpawnRequest, events: ProcessEvents): WorkerProcess {
    const { settings, slot, generation, listeners, identity } = request;
    let child: ChildProcess;
    if (settings.kind === 'command') {
      child = spawnCommandWorker(settings, { slot, generation }, listeners, identity, this.#baseEnvironment);
    } else {
      const spec = buildWorkerSpec(settings, { daemonName: request.daemonName, slot, generation }, listeners, request.random);
      child = spawnHttpWorker(spec, settings, listeners, identity, this.#baseEnvironment);
    }
    const pid = child.pid ?? -1;
    this.#groups?.started(pid, `${settings.name}.${slot} g${generation} (pid ${pid})`, settings.gracefulTimeout);
    this.#share?.started(pid);
    const exit = events.exit;
    const reaped: ProcessEvents = {
      ...events,
      // The child's 'exit' (watch-child.ts), in the turn libuv reaped it: the pid is not reused yet.
      exit: (code, signal) => {
        this.#share?.exited(pid);
        this.#groups?.exited(pid);
        exit(code, signal);
      },
    };
    return new ChildWorkerProcess(child, watchChild(child, reaped, settings.kind, listeners.length));
  }
}
