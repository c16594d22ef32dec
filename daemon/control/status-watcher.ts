// One `watch` client (appctl top): status snapshots as they are published, never more than a little
// unread; a client that stops reading is skipped, then dropped, so it can never grow the master. Run by the appd master.

import type { StatusSnapshot } from '../../shared/control/status.js';
import type { SubscriptionSink } from './subscription.js';
import type { StatusWatcher } from '../arbiter/events.js';

/**
 * Unread bytes past which a snapshot is skipped instead of queued: each one supersedes the last, so a
 * client behind by this much gets the next one instead (the socket may also carry a log stream).
 */
export const WATCH_SKIP_BYTES = 64 * 1024;
/** A client that has read nothing for this long while snapshots were skipped is dropped (it holds a client slot). */
export const WATCH_STALL_MS = 30_000;

export class ControlStatusWatcher implements StatusWatcher {
  readonly #id: string;
  readonly #sink: SubscriptionSink;
  #stop: (() => void) | null = null;
  #ended = false;
  /** When the first of the snapshots skipped in a row was due; null while the client keeps up. */
  #skippingSince: number | null = null;

  constructor(id: string, sink: SubscriptionSink) {
    this.#id = id;
    this.#sink = sink;
  }

  begin(stop: () => void): void {
    this.#stop = stop;
    // The connection may have closed while the request waited on the queue.
    if (this.#ended) this.end();
  }

  snapshot(snapshot: StatusSnapshot, time: number): void {
    if (this.#ended) return;
    if (this.#sink.unreadBytes() > WATCH_SKIP_BYTES) {
      this.#skippingSince ??= time;
      if (time - this.#skippingSince >= WATCH_STALL_MS) this.#sink.drop('it stopped reading status updates');
      return;
    }
    this.#skippingSince = null;
    if (!this.#sink.send({ type: 'status', id: this.#id, time, snapshot })) this.end();
  }

  /** Leaves the feed (the connection closed or was dropped). */
  end(): void {
    this.#ended = true;
    this.#stop?.();
    this.#stop = null;
  }
}
