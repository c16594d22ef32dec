// The worker lifecycle as an explicit state x event -> next state table; WorkerHandle.transition() is
// its only writer. Run by the appd master.

export const WORKER_STATES = ['starting', 'ready', 'stopping', 'exited'] as const;
export type WorkerState = (typeof WORKER_STATES)[number];

export type WorkerEvent =
  /** The worker said it is loaded and listening on every socket. */
  | 'became-ready'
  /** The master asked it to stop (drain, quick stop, timeout, scale-down, replacement ready). */
  | 'retire'
  /** The process is gone. */
  | 'exited';

/** `null` marks an impossible edge: reaching it is a bug in appd, reported as such. */
export const TRANSITIONS: Readonly<Record<WorkerState, Readonly<Record<WorkerEvent, WorkerState | null>>>> = {
  starting: { 'became-ready': 'ready', retire: 'stopping', exited: 'exited' },
  ready: { 'became-ready': null, retire: 'stopping', exited: 'exited' },
  // A worker told to stop while booting may still finish booting and say so: it stays stopping.
  stopping: { 'became-ready': 'stopping', retire: 'stopping', exited: 'exited' },
  exited: { 'became-ready': null, retire: null, exited: null },
};
