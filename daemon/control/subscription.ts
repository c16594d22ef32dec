// A bounded stream from the master to one control client (log lines, worker events): items are batched
// into frames once per turn of the event loop, and a client that stops reading is dropped instead of
// buffered, so no subscriber can grow the master (PM2's pub socket has no bound). Run by the appd master.

import type { ServerMessage } from '../../shared/control/protocol.js';

/** Unread bytes (queued here plus queued in the socket) past which a subscriber is dropped. */
export const SUBSCRIBER_BUFFER_BYTES = 1024 * 1024;
/** Items and bytes per frame, so one frame stays far below the frame limit. */
const BATCH_ITEMS = 512;
const BATCH_BYTES = 256 * 1024;

/** What a subscription needs from its connection. */
export interface SubscriptionSink {
  /** Writes one frame; false if the connection is gone. */
  send(message: ServerMessage): boolean;
  /** Bytes written to the socket that the client has not read yet. */
  unreadBytes(): number;
  /** Closes the connection because this subscriber fell too far behind. */
  drop(reason: string): void;
}

export interface SubscriptionOptions<Item> {
  readonly sink: SubscriptionSink;
  /** One frame for a batch of items. */
  readonly frame: (items: Item[]) => ServerMessage;
  /** Roughly how many bytes an item takes in a frame. */
  readonly sizeOf: (item: Item) => number;
  /** Said in the log line when the client is dropped ("it stopped reading the log"). */
  readonly dropReason: string;
}

export class BoundedSubscription<Item> {
  readonly #options: SubscriptionOptions<Item>;
  #stop: (() => void) | null = null;
  #pending: Item[] = [];
  #pendingBytes = 0;
  #flushScheduled = false;
  #ended = false;

  constructor(options: SubscriptionOptions<Item>) {
    this.#options = options;
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** Remembers how to unsubscribe from the source; if the client is already gone, unsubscribes now. */
  attach(stop: (() => void) | null): void {
    this.#stop = stop;
    if (this.#ended) this.end();
  }

  /** Sends `items` at once (the backlog a subscription starts with). */
  addNow(items: readonly Item[]): void {
    for (const item of items) this.#queue(item);
    this.#flush();
  }

  /** Queues one item for the next frame; drops the client if it is too far behind. */
  add(item: Item): void {
    if (this.#ended) return;
    this.#queue(item);
    if (this.#pendingBytes + this.#options.sink.unreadBytes() > SUBSCRIBER_BUFFER_BYTES) {
      this.#options.sink.drop(this.#options.dropReason);
      return;
    }
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      // One frame per turn of the event loop instead of one per item.
      setImmediate(() => {
        this.#flushScheduled = false;
        this.#flush();
      });
    }
  }

  /** Unsubscribes and forgets queued items (the connection closed or was dropped). */
  end(): void {
    this.#ended = true;
    this.#stop?.();
    this.#stop = null;
    this.#pending = [];
    this.#pendingBytes = 0;
  }

  #queue(item: Item): void {
    this.#pending.push(item);
    this.#pendingBytes += this.#options.sizeOf(item);
  }

  #flush(): void {
    if (this.#ended) return;
    let batch: Item[] = [];
    let batchBytes = 0;
    for (const item of this.#pending) {
      batch.push(item);
      batchBytes += this.#options.sizeOf(item);
      if (batch.length >= BATCH_ITEMS || batchBytes >= BATCH_BYTES) {
        if (!this.#sendBatch(batch)) return;
        batch = [];
        batchBytes = 0;
      }
    }
    if (batch.length > 0 && !this.#sendBatch(batch)) return;
    this.#pending = [];
    this.#pendingBytes = 0;
  }

  /** The check comes first, so the socket never holds more than the limit plus one batch. */
  #sendBatch(items: Item[]): boolean {
    if (this.#options.sink.unreadBytes() > SUBSCRIBER_BUFFER_BYTES) {
      this.#options.sink.drop(this.#options.dropReason);
      return false;
    }
    if (this.#options.sink.send(this.#options.frame(items))) return true;
    this.end();
    return false;
  }
}
