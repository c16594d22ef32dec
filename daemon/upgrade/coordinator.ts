// The old master's side of an upgrade (USR2, appctl upgrade): starts a successor master on the same
// sockets, follows it until it is ready (it then holds the control socket path and the pidfile) or
// fails (rolled back: it is stopped and this master serves on), and retires this master when asked.
// Run by the appd master.
//
// The successor is a plain child: same process group and session (Ctrl-C in a terminal still stops
// the whole family, as with Gunicorn), no pdeathsig (Node sets none), so this master's exit leaves it
// running; it is reparented like any orphan. Under systemd it is orphaned at birth instead, so that
// systemd takes it for its own main process (orphaned-successor.ts says why). Its stdout and stderr are
// this master's, so its log goes where ours went (the journal, a terminal, a test's pipe).

import { spawn, type SpawnOptions } from 'node:child_process';
import { describeError } from '../../shared/errors.js';
import { UntrustedPathError } from '../../shared/trust/file-trust.js';
import { describeExit } from '../workers/exit-reason.js';
import type { ArbiterEvent, JobOutcome, Requester } from '../arbiter/events.js';
import { SD_LISTEN_FDS_START, HANDOFF_VARIABLE } from '../sockets/inherited.js';
import type { Listener } from '../sockets/listeners.js';
import type { Logger } from '../master/logger.js';
import type { Pool } from '../pools/pool.js';
import { handedPoolStates } from './handed-state.js';
import { isSuccessorReport, UPGRADE_FROM_VARIABLE, type UpgradeOrigin } from './messages.js';
import { OrphanedSuccessor, spawnOrphaned } from './orphaned-successor.js';

/** Past the successor's own boot-timeout: starting Node, reading the config, binding new addresses. */
const STARTUP_ALLOWANCE_MS = 30_000;
/** A successor told to stop (rolled back) that is still there this long after its graceful-timeout gets SIGKILL. */
const STOP_ALLOWANCE_MS = 5000;
/** Room for the successor's title, which is cut at the length of its argv. */
const TITLE_ROOM = ' '.repeat(64);

/** How the successor is started: this master's Node, script and arguments, from where it was started. */
export interface SuccessorCommand {
  readonly execPath: string;
  readonly args: readonly string[];
  readonly cwd: string;
  /** The environment on top of this master's (APPD_CMD_ARGS as at start, systemd's NOTIFY_SOCKET ...). */
  readonly environment: NodeJS.ProcessEnv;
  /** Under a service manager that follows MAINPID= (systemd): start it orphaned, the manager's child. */
  readonly orphaned?: boolean;
}

/** What this master gives its successor once it is ready, and takes back if it dies afterwards. */
export interface Handover {
  /** The successor holds the control socket path, the pidfile and MAINPID now; this master is the old one. */
  handedOver(): void;
  /** The successor exited after it had taken over (a manual upgrade, rolled back): be the master again. */
  takeBack(): void;
}

/** The successor as the coordinator uses it: a ChildProcess, or a fake in the in-process tests. */
export interface SuccessorProcess {
  readonly pid?: number | undefined;
  kill(signal: NodeJS.Signals): boolean;
  on(event: 'message', listener: (message: unknown) => void): this;
  on(event: 'close', listener: (code: number | null, signal: NodeJS.Signals | null) => void): this;
  on(event: 'error', listener: (error: Error) => void): this;
}

/** Starts the successor with the listeners at fd 3.. and an IPC channel after them; throws if it cannot. */
export type SuccessorLauncher = (
  command: SuccessorCommand,
  listeners: readonly Listener[],
  environment: NodeJS.ProcessEnv,
) => SuccessorProcess;

export function launchSuccessor(
  command: SuccessorCommand,
  listeners: readonly Listener[],
  environment: NodeJS.ProcessEnv,
): SuccessorProcess {
  const options: SpawnOptions = {
    cwd: command.cwd,
    // fd 3.. are the listening sockets; the IPC channel comes after them.
    stdio: ['ignore', 'inherit', 'inherit', ...listeners.map((listener) => listener.fd), 'ipc'],
    env: environment,
    serialization: 'json',
  };
  // An orphan gets no title room: the shell starts it with its own argv0.
  if (command.orphaned) return spawnOrphaned(command.execPath, command.args, options);
  return spawn(command.execPath, command.args, { ...options, argv0: `appd${TITLE_ROOM}` });
}

export interface UpgradeContext {
  readonly logger: Logger;
  readonly enqueue: (event: ArbiterEvent) => void;
  readonly now: () => number;
  readonly command: () => SuccessorCommand;
  /** launchSuccessor, or a fake in the in-process tests. */
  readonly launch?: SuccessorLauncher;
  readonly listeners: () => readonly Listener[];
  /** The pools: the successor's workers start past their highest generation; their timeouts bound its start and stop. */
  readonly pools: () => readonly Pool[];
  /** The master that started this one, while it still runs (this one is a successor itself); else null. */
  readonly predecessorPid: () => number | null;
  readonly handover: Handover;
  /** Stops this master gracefully; `requester` hears when it is done. */
  readonly retire: (requester: Requester) => void;
}

type UpgradeState =
  | { readonly phase: 'idle' }
  | {
      readonly phase: 'starting';
      readonly child: SuccessorProcess;
      readonly requester: Requester;
      readonly retireOld: boolean;
      readonly startedAt: number;
      failure: string | null;
    }
  | {
      readonly phase: 'abandoning';
      readonly child: SuccessorProcess;
      readonly requester: Requester;
      readonly reason: string;
      readonly killAt: number;
      killed: boolean;
    }
  | { readonly phase: 'replaced'; readonly child: SuccessorProcess };

export class UpgradeCoordinator {
  readonly #context: UpgradeContext;
  #state: UpgradeState = { phase: 'idle' };

  constructor(context: UpgradeContext) {
    this.#context = context;
  }

  /** A successor is starting or being stopped: this master must not exit before it is gone (systemd's KillMode=mixed would kill it). */
  get busy(): boolean {
    return this.#state.phase === 'starting' || this.#state.phase === 'abandoning';
  }

  /** The arbiter refuses an upgrade while the daemon stops, before it comes here. */
  request(requester: Requester, retireOld: boolean): void {
    const refuse = (message: string): void => {
      this.#context.logger.warning(`${requester.origin}: upgrade refused: ${message}`);
      requester.done?.({ status: 'failed', message: `upgrade refused: ${message}` });
    };
    const state = this.#state;
    const predecessor = this.#context.predecessorPid();
    if (state.phase === 'starting' || state.phase === 'abandoning') {
      const seconds = state.phase === 'starting' ? ` ${((this.#context.now() - state.startedAt) / 1000).toFixed(1)}s ago` : '';
      return refuse(`an upgrade is already in progress (new master pid ${state.child.pid ?? '?'} started${seconds}); wait for its outcome`);
    }
    if (state.phase === 'replaced') {
      return refuse(
        `this master was replaced by pid ${state.child.pid ?? '?'}; upgrade the new master (appctl talks to it now), or finish with kill -WINCH and kill -TERM ${process.pid}`,
      );
    }
    if (predecessor !== null) {
      return refuse(
        `the master this one replaced (pid ${predecessor}) is still running; finish that upgrade first (kill -WINCH ${predecessor}, then kill -TERM ${predecessor}) or roll it back`,
      );
    }
    this.#start(requester, retireOld);
  }

  #start(requester: Requester, retireOld: boolean): void {
    const { logger, enqueue } = this.#context;
    let command: SuccessorCommand;
    try {
      command = this.#context.command();
    } catch (error) {
      // The Node or script it would start failed the trust check: nothing was started.
      if (!(error instanceof UntrustedPathError)) throw error;
      logger.error(`${requester.origin}: upgrade refused: ${error.message}`);
      requester.done?.({ status: 'failed', message: `upgrade refused: ${error.message}` });
      return;
    }
    const listeners = this.#context.listeners();
    const pools = this.#context.pools();
    const origin: UpgradeOrigin = {
      pid: process.pid,
      generation: Math.max(0, ...pools.map((pool) => pool.latestGeneration)) + 1,
      node: command.execPath,
      pools: handedPoolStates(pools),
    };
    const handoff = listeners.map((listener, index) => ({
      fd: SD_LISTEN_FDS_START + index,
      bind: listener.bindText,
      pool: listener.pool,
      ownsPath: listener.ownsPath,
    }));
    let child: SuccessorProcess;
    try {
      const environment = {
        ...command.environment,
        [HANDOFF_VARIABLE]: JSON.stringify(handoff),
        [UPGRADE_FROM_VARIABLE]: JSON.stringify(origin),
      };
      child = (this.#context.launch ?? launchSuccessor)(command, listeners, environment);
    } catch (error) {
      const message = `upgrade failed, nothing changed: cannot start a new master: ${describeError(error)}`;
      logger.error(message);
      requester.done?.({ status: 'failed', message });
      return;
    }
    let exitReported = false;
    const reportExit = (code: number | null, signal: NodeJS.Signals | null, error: Error | null): void => {
      if (exitReported) return;
      exitReported = true;
      enqueue({ type: 'successor-exit', code, signal, error });
    };
    child.on('message', (message: unknown) => enqueue({ type: 'successor-report', message }));
    // 'close', not 'exit': it comes after the IPC channel is read to its end, so a report sent just
    // before exiting (the reason it failed) is seen before the exit.
    child.on('close', (code, signal) => reportExit(code, signal, null));
    child.on('error', (error) => reportExit(null, null, error));
    const what = `upgrading: started a new master (${child.pid === undefined ? 'orphaned, for the service manager to adopt' : `pid ${child.pid}`}) on ${listeners.length} socket(s): ${command.execPath} ${command.args.join(' ')}`;
    logger.info(`${requester.origin}: ${what}`);
    requester.progress?.(what);
    this.#state = { phase: 'starting', child, requester, retireOld, startedAt: this.#context.now(), failure: null };
  }

  /** A message from the successor over IPC (untyped: checked here). */
  report(message: unknown): void {
    const state = this.#state;
    if (state.phase !== 'starting' || !isSuccessorReport(message)) return;
    if (message.type === 'successor-started') {
      if (state.child instanceof OrphanedSuccessor)
        this.#context.logger.info(`upgrade: the new master is pid ${message.pid}, a child of the service manager`);
      return;
    }
    if (message.type === 'successor-failed') {
      state.failure = message.message;
      return;
    }
    const pid = state.child.pid ?? message.pid;
    this.#state = { phase: 'replaced', child: state.child };
    this.#context.handover.handedOver();
    const ready = `new master pid ${pid} is ready (${message.summary}); it took over the control socket and the pidfile`;
    this.#context.logger.info(`upgrade: ${ready}`);
    state.requester.progress?.(ready);
    if (state.retireOld) {
      state.requester.progress?.(`old master pid ${process.pid}: draining its workers, then exiting`);
      const outcome: JobOutcome = {
        status: 'completed',
        message: `upgraded: new master pid ${pid} serves (${message.summary}); the old master (pid ${process.pid}) drained its workers and exited`,
        data: { pid, oldPid: process.pid },
      };
      this.#context.retire({
        origin: `upgrade to pid ${pid}`,
        progress: (text) => state.requester.progress?.(text),
        done: () => state.requester.done?.(outcome),
      });
      return;
    }
    this.#context.logger.info(
      `upgrade: both masters serve now; to finish: kill -WINCH ${process.pid} (its workers drain), then kill -TERM ${process.pid}; ` +
        `to roll back: kill -HUP ${process.pid} if WINCH was sent, then kill -TERM ${pid}`,
    );
    state.requester.done?.({
      status: 'completed',
      message: `new master pid ${pid} serves (${message.summary}); this master (pid ${process.pid}) serves too until WINCH and TERM`,
      data: { pid, oldPid: process.pid },
    });
  }

  /** The successor process is gone (or could not be started). */
  exited(code: number | null, signal: NodeJS.Signals | null, error: Error | null, stopping: boolean): void {
    const state = this.#state;
    // An orphan's status is the service manager's to collect: its end is known, not how it ended.
    const status = code === null && signal === null ? 'status collected by the service manager' : describeExit(code, signal);
    const how = error ? `could not be started: ${error.message}` : `exited (${status})`;
    this.#state = { phase: 'idle' };
    if (state.phase === 'starting') {
      const why = state.failure ?? `it ${how} before it was ready`;
      this.#rolledBack(state.requester, `the new master (pid ${state.child.pid ?? '?'}) failed: ${why}`, stopping);
    } else if (state.phase === 'abandoning') {
      this.#rolledBack(state.requester, `${state.reason}; it ${how}`, stopping);
    } else if (state.phase === 'replaced') {
      this.#context.logger.critical(
        `the new master (pid ${state.child.pid ?? '?'}) ${how} after it had taken over${stopping ? '' : '; this master is the master again'}`,
      );
      if (!stopping) this.#context.handover.takeBack();
    }
  }

  /** Once per loop pass: a successor that takes too long is stopped, one that does not stop is killed. */
  check(): void {
    const state = this.#state;
    const now = this.#context.now();
    if (state.phase === 'starting') {
      const limit = Math.max(...this.#context.pools().map((pool) => pool.settings.bootTimeout)) * 1000 + STARTUP_ALLOWANCE_MS;
      if (now - state.startedAt > limit) this.#abandon(`the new master did not become ready within ${limit / 1000}s`, 'SIGTERM');
    } else if (state.phase === 'abandoning' && !state.killed && now >= state.killAt) {
      state.killed = true;
      this.#context.logger.warning(`killing the new master (pid ${state.child.pid ?? '?'}): still running after it was told to stop`);
      state.child.kill('SIGKILL');
    }
  }

  /** This master is stopping: a successor still starting is stopped too (rolled back), the same way. */
  stopping(mode: 'graceful' | 'quick'): void {
    const state = this.#state;
    if (state.phase === 'starting') this.#abandon('the daemon is stopping', mode === 'quick' ? 'SIGQUIT' : 'SIGTERM');
    else if (state.phase === 'abandoning' && mode === 'quick') state.child.kill('SIGQUIT');
  }

  #abandon(reason: string, signal: 'SIGTERM' | 'SIGQUIT'): void {
    const state = this.#state;
    if (state.phase !== 'starting') return;
    this.#context.logger.error(`upgrade: ${reason}; stopping the new master (pid ${state.child.pid ?? '?'})`);
    state.requester.progress?.(`${reason}; stopping the new master`);
    // Its workers may serve already: TERM lets them drain like any worker's.
    state.child.kill(signal);
    this.#state = {
      phase: 'abandoning',
      child: state.child,
      requester: state.requester,
      reason,
      killAt:
        this.#context.now() + Math.max(...this.#context.pools().map((pool) => pool.settings.gracefulTimeout)) * 1000 + STOP_ALLOWANCE_MS,
      killed: false,
    };
  }

  /** `stopping`: this master is stopping too (appctl stop, TERM during the upgrade), so it does not serve on. */
  #rolledBack(requester: Requester, reason: string, stopping: boolean): void {
    const next = stopping ? 'is stopping, as asked' : 'keeps serving';
    const message = `upgrade rolled back: ${reason}\nthis master (pid ${process.pid}) ${next}`;
    this.#context.logger.error(message);
    requester.done?.({ status: 'rolled_back', message });
  }
}
