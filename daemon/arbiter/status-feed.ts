// The status feed of `watch` clients: decides, on each pass of the arbiter loop, whether a snapshot is
// due (about once a second, sooner after a change) and builds it once for all of them. Run by the appd master.

import type { StatusSnapshot } from '../../shared/control/status.js';
import type { StatusWatcher } from './events.js';

/** A snapshot at least this often while anyone watches: the dashboard's rates and charts tick at 1 Hz. */
export const FEED_INTERVAL_MS = 1000;
/** Changes (a worker ready, a scale) are published this soon, but a burst of them costs at most 5 snapshots a second. */
export const FEED_MIN_INTERVAL_MS = 200;

export class StatusFeed {
  readonly #watchers = new Set<StatusWatcher>();
  /** Watchers added since the last pass: they get a snapshot on the next pass, due or not. */
  readonly #newcomers = new Set<StatusWatcher>();
  #publishedAt = Number.NEGATIVE_INFINITY;
  #signature = '';

  get watcherCount(): number {
    return this.#watchers.size;
  }

  /** Adds a watcher (its first snapshot comes on the loop's next pass); the returned function removes it. */
  add(watcher: StatusWatcher): () => void {
    this.#watchers.add(watcher);
    this.#newcomers.add(watcher);
    return () => {
      this.#watchers.delete(watcher);
      this.#newcomers.delete(watcher);
    };
  }

  /**
   * Publishes when due, to every watcher; otherwise only to newcomers. Nothing is read or built while
   * nobody watches; `signature` (cheap, see statusSignature) is compared only between the minimum and
   * the regular interval.
   */
  publishIfDue(now: number, signature: () => string, build: () => StatusSnapshot): boolean {
    if (this.#watchers.size === 0) return false;
    const elapsed = now - this.#publishedAt;
    const current = elapsed >= FEED_MIN_INTERVAL_MS ? signature() : null;
    const due = current !== null && (elapsed >= FEED_INTERVAL_MS || current !== this.#signature);
    if (!due && this.#newcomers.size === 0) return false;
    if (due) {
      this.#signature = current;
      this.#publishedAt = now;
    }
    // Copies: a watcher whose send fails ends itself, which removes it from the sets.
    const receivers = [...(due ? this.#watchers : this.#newcomers)];
    this.#newcomers.clear();
    const snapshot = build();
    for (const watcher of receivers) watcher.snapshot(snapshot, now);
    return true;
  }
}
