// The worker lifecycle as one table: state x event -> next state and the actions the master takes.
// WorkerHandle.transition() is its only reader and the only writer of a worker's state. Run by the appd master.

import type { WorkerStats } from '../contracts/worker-messages.js';
import type { RecycleCause, RestartReason } from './exit-reason.js';

export const WORKER_STATES = ['starting', 'ready', 'stopping', 'exited'] as const;
export type WorkerState = (typeof WORKER_STATES)[number];

export type StopMode = 'graceful' | 'quick';

export interface BootFailureReport {
  readonly phase: 'spawn' | 'load' | 'init' | 'listen' | 'setting' | 'timeout' | 'crash';
  readonly message: string;
  readonly code?: string;
}

/**
 * Why the master asks a worker to stop: the one list every retire names (logs, status, metrics).
 * replaced: its successor is ready (reload, restart, max-requests, max-memory); restarting: a stop-first
 * command slot stops before its successor starts; rolled-back: its generation failed to boot.
 */
export const RETIRE_CAUSES = [
  'replaced',
  'restarting',
  'scaled-down',
  'pool-stopped',
  'pool-removed',
  'parked',
  'daemon-stopping',
  'timeout',
  'boot-timeout',
  'rolled-back',
  'start-failed',
] as const;
export type RetireCause = (typeof RETIRE_CAUSES)[number];

/** Every event of a worker's life, with what it carries. Times are the arbiter's monotonic clock. */
export interface WorkerEventPayloads {
  /** It said it is loaded and listening (a command: it stayed up start-seconds). */
  'became-ready': { readonly at: number };
  heartbeat: { readonly at: number; readonly stats: WorkerStats };
  /** Its own account of why it cannot boot (or, phase spawn, why it could not be started). */
  'boot-error': { readonly report: BootFailureReport };
  /** It stopped accepting connections (drain started). */
  draining: { readonly at: number };
  /** slot-bind: none of its connections from a slot socket can carry another request (see slot-handoff.ts). */
  'released-slot': { readonly at: number };
  /** It should be replaced by a successor first (max-requests, max-memory, appctl restart of its slot). */
  'recycle-requested': { readonly reason: string; readonly cause: RecycleCause | null };
  /** The master asks it to stop: drain (graceful) or exit now (quick). */
  retire: { readonly at: number; readonly reason: string; readonly cause: RetireCause; readonly mode: StopMode };
  /** No heartbeat for `timeout`: asked to stop (and for its stack), killed soon after. */
  'missed-heartbeat': { readonly at: number };
  /** Not ready within boot-timeout: asked to quit and killed at once. */
  'boot-timeout': { readonly at: number; readonly report: BootFailureReport };
  /** Its watchdog printed the stack its main thread was stuck in. */
  'stack-printed': { readonly at: number };
  /** SIGKILL. */
  kill: { readonly at: number };
  /** The master itself did not run for a while (stall, suspend): silence is judged from `at` again. */
  'master-stalled': { readonly at: number };
  /** The process is gone. */
  exited: {
    readonly code: number | null;
    readonly signal: NodeJS.Signals | null;
    readonly reason: RestartReason | null;
    readonly bootFailure: BootFailureReport | null;
  };
}
export type WorkerEvent = keyof WorkerEventPayloads;

/**
 * What a transition makes the master do to the process: ask it to stop (how depends on the worker:
 * WorkerHandle.askToStop), ask for its stuck stack, kill it.
 */
export type WorkerAction = 'ask-to-stop' | 'request-stack' | 'kill';

export interface Edge {
  readonly next: WorkerState;
  readonly actions: readonly WorkerAction[];
}

const stay = (state: WorkerState): Edge => ({ next: state, actions: [] });
const to = (state: WorkerState, ...actions: WorkerAction[]): Edge => ({ next: state, actions });

/**
 * `null` marks an impossible edge: reaching it is a bug in appd, reported as such. Whatever a worker
 * sends is possible in any live state (it may repeat itself or speak out of turn): those edges stay put.
 */
export const TRANSITIONS: Readonly<Record<WorkerState, Readonly<Record<WorkerEvent, Edge | null>>>> = {
  starting: {
    'became-ready': to('ready'),
    heartbeat: stay('starting'),
    'boot-error': stay('starting'),
    draining: stay('starting'),
    'released-slot': stay('starting'),
    'recycle-requested': stay('starting'),
    retire: to('stopping', 'ask-to-stop'),
    'missed-heartbeat': null,
    'boot-timeout': to('stopping', 'ask-to-stop', 'kill'),
    'stack-printed': stay('starting'),
    // Killed without being asked to stop first (it broke its channel's contract): its exit is a crash.
    kill: to('starting', 'kill'),
    'master-stalled': stay('starting'),
    exited: to('exited'),
  },
  ready: {
    'became-ready': stay('ready'),
    heartbeat: stay('ready'),
    'boot-error': stay('ready'),
    draining: stay('ready'),
    'released-slot': stay('ready'),
    'recycle-requested': stay('ready'),
    retire: to('stopping', 'ask-to-stop'),
    'missed-heartbeat': to('stopping', 'request-stack', 'ask-to-stop'),
    'boot-timeout': null,
    'stack-printed': stay('ready'),
    kill: to('ready', 'kill'),
    'master-stalled': stay('ready'),
    exited: to('exited'),
  },
  // A worker told to stop while booting may still finish booting and say so: it stays stopping.
  // A second retire only comes to hurry a graceful stop (quick): it asks again, the quick way.
  stopping: {
    'became-ready': stay('stopping'),
    heartbeat: stay('stopping'),
    'boot-error': stay('stopping'),
    draining: stay('stopping'),
    'released-slot': stay('stopping'),
    'recycle-requested': stay('stopping'),
    retire: to('stopping', 'ask-to-stop'),
    'missed-heartbeat': null,
    'boot-timeout': null,
    'stack-printed': stay('stopping'),
    kill: to('stopping', 'kill'),
    'master-stalled': stay('stopping'),
    exited: to('exited'),
  },
  exited: {
    'became-ready': null,
    heartbeat: null,
    'boot-error': null,
    draining: null,
    'released-slot': null,
    'recycle-requested': null,
    retire: null,
    'missed-heartbeat': null,
    'boot-timeout': null,
    'stack-printed': null,
    kill: null,
    'master-stalled': null,
    exited: null,
  },
};

/** The deadline events: murderWorkers fires each when its time has come. */
export type DeadlineEvent = 'became-ready' | 'boot-timeout' | 'missed-heartbeat' | 'kill';

export interface Deadline {
  readonly at: number;
  readonly event: DeadlineEvent;
}
