// The state of `appctl top`: the latest snapshot and its history, the selectable rows (pools, then
// their workers) and the selection, the log ring, the connection, the message line and the mode. Run by appctl.

import { omittedLinesCount, type DaemonIdentity, type LogLineMessage } from '../../shared/control/protocol.js';
import type { PoolStatus, SlotStatus, StatusSnapshot, WorkerStatus } from '../../shared/control/status.js';
import { StatsHistory } from './history.js';

/** Log lines kept (all sources); the pane shows the newest that match the selection. */
export const LOG_RING_LINES = 2000;

export type Row =
  | { readonly kind: 'pool'; readonly key: string; readonly pool: PoolStatus }
  | { readonly kind: 'worker'; readonly key: string; readonly pool: PoolStatus; readonly worker: WorkerStatus }
  /** A wanted slot without a live worker (backoff, fatal, exited): shown so that it is not silently missing. */
  | { readonly kind: 'slot'; readonly key: string; readonly pool: PoolStatus; readonly slot: SlotStatus };

export type Tone = 'info' | 'good' | 'bad';

export type Connection =
  | { readonly state: 'connected'; readonly daemon: DaemonIdentity }
  | { readonly state: 'disconnected'; readonly daemon: DaemonIdentity; readonly since: number; readonly reason: string };

export type Mode = 'dashboard' | 'help' | 'confirm-upgrade';

function rowsOf(snapshot: StatusSnapshot): Row[] {
  const pools: Row[] = snapshot.pools.map((pool) => ({ kind: 'pool', key: `pool:${pool.name}`, pool }));
  const workers: Row[] = snapshot.pools.flatMap((pool) => {
    const live = new Set(pool.workers.filter((worker) => worker.state !== 'stopping').map((worker) => worker.slot));
    const rows: Row[] = pool.workers.map((worker) => ({ kind: 'worker', key: `worker:${worker.pid}`, pool, worker }));
    for (const slot of pool.slots) {
      if (!live.has(slot.slot) && ['backoff', 'fatal', 'exited'].includes(slot.state)) {
        rows.push({ kind: 'slot', key: `slot:${pool.name}.${slot.slot}`, pool, slot });
      }
    }
    return rows.sort((left, right) => slotOf(left) - slotOf(right));
  });
  return [...pools, ...workers];
}

function slotOf(row: Row): number {
  return row.kind === 'worker' ? row.worker.slot : row.kind === 'slot' ? row.slot.slot : -1;
}

/** "web.3": what stays the same when a worker is replaced in its slot. */
export function slotName(row: Row): string | null {
  return row.kind === 'pool' ? null : `${row.pool.name}.${slotOf(row)}`;
}

export class TopModel {
  snapshot: StatusSnapshot | null = null;
  readonly history = new StatsHistory();
  connection: Connection;
  rows: readonly Row[] = [];
  #selected = 0;
  /** The first worker row shown when the table scrolls (kept between frames so the view does not jump). */
  workerScroll = 0;
  logs: LogLineMessage[] = [];
  /** The daemon's latest note of lines it did not send (past the rate top asks for), and when it came. */
  omitted: { readonly count: number; readonly at: number } | null = null;
  showLogs = true;
  mode: Mode = 'dashboard';
  message: { readonly text: string; readonly tone: Tone } | null = null;

  constructor(daemon: DaemonIdentity) {
    this.connection = { state: 'connected', daemon };
  }

  get selectedIndex(): number {
    return this.#selected;
  }

  get selected(): Row | null {
    return this.rows[this.#selected] ?? null;
  }

  /** A new snapshot: the selection stays on the same row, else on the worker now in the same slot. */
  update(snapshot: StatusSnapshot, time: number): void {
    const before = this.selected;
    this.snapshot = snapshot;
    this.history.record(snapshot, time);
    this.rows = rowsOf(snapshot);
    if (before === null) return this.#select(0);
    const same = this.rows.findIndex((row) => row.key === before.key);
    if (same >= 0) return this.#select(same);
    const slot = slotName(before);
    const successor = this.rows.findIndex(
      (row) => slot !== null && slotName(row) === slot && !(row.kind === 'worker' && row.worker.state === 'stopping'),
    );
    this.#select(successor >= 0 ? successor : this.#selected);
  }

  move(delta: number): void {
    this.#select(this.#selected + delta);
  }

  moveTo(index: number): void {
    this.#select(index);
  }

  #select(index: number): void {
    this.#selected = Math.max(0, Math.min(index, this.rows.length - 1));
  }

  /**
   * Keeps at least the newest LOG_RING_LINES. The excess is cut only once it doubles the ring: a chatty
   * app sends thousands of small batches a second, and cutting a full ring on each one cost more CPU
   * than decoding and drawing together.
   */
  addLogs(lines: readonly LogLineMessage[], replace: boolean): void {
    if (replace) this.logs = [];
    for (const line of lines) {
      const omitted = omittedLinesCount(line);
      // Shown on the pane's title line: as a line it would scroll away with the flood it reports.
      if (omitted === null) this.logs.push(line);
      else this.omitted = { count: omitted, at: line.time };
    }
    if (this.logs.length > 2 * LOG_RING_LINES) this.logs = this.logs.slice(-LOG_RING_LINES);
  }

  say(text: string, tone: Tone = 'info'): void {
    this.message = { text, tone };
  }

  connected(daemon: DaemonIdentity): void {
    this.connection = { state: 'connected', daemon };
  }

  disconnected(reason: string, now: number): void {
    const since = this.connection.state === 'disconnected' ? this.connection.since : now;
    this.connection = { state: 'disconnected', daemon: this.connection.daemon, since, reason };
  }
}
