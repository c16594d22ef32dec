// The control server's readers of the master's feeds: `appctl logs [-f]` (recent lines, then new ones)
// and `appctl events` (worker lifecycle), each through a bounded subscription. Run by the appd master.

import type { LogLineMessage, RequestOf, WorkerEventMessage } from '../shared/control/protocol.js';
import { BoundedSubscription, type SubscriptionSink } from './control-subscription.js';
import type { EventReader, LogReader } from './events.js';
import type { LogLine } from './logger.js';

/** At most this much of the ring is sent up front; older lines are left out. */
const RECENT_BYTES = 512 * 1024;
/** Msgpack overhead of one item besides its text (keys, time, pid, source), roughly. */
const ITEM_OVERHEAD_BYTES = 64;

function lineSize(line: LogLine): number {
  return line.text.length + line.source.length + ITEM_OVERHEAD_BYTES;
}

function toMessage(line: LogLine): LogLineMessage {
  return { time: line.time, source: line.source, pid: line.pid, level: line.level, text: line.text };
}

export class LogFollower implements LogReader {
  readonly pool: string | null;
  readonly lines: number;
  readonly follow: boolean;
  readonly #subscription: BoundedSubscription<LogLine>;

  constructor(request: RequestOf<'logs'>, id: string, sink: SubscriptionSink) {
    this.pool = request.pool;
    this.lines = request.lines;
    this.follow = request.follow;
    this.#subscription = new BoundedSubscription<LogLine>({
      sink,
      frame: (lines) => ({ type: 'log', id, lines: lines.map(toMessage) }),
      sizeOf: lineSize,
      dropReason: 'it stopped reading the log',
    });
  }

  begin(recent: readonly LogLine[], stop: (() => void) | null): void {
    this.#subscription.attach(stop);
    // The connection may have closed while the request waited on the queue.
    if (this.#subscription.ended) return;
    let budget = RECENT_BYTES;
    let first = recent.length;
    while (first > 0 && budget - lineSize(recent[first - 1] as LogLine) >= 0) {
      first -= 1;
      budget -= lineSize(recent[first] as LogLine);
    }
    this.#subscription.addNow(recent.slice(first));
  }

  line(line: LogLine): void {
    this.#subscription.add(line);
  }

  end(): void {
    this.#subscription.end();
  }
}

export class EventFollower implements EventReader {
  readonly #subscription: BoundedSubscription<WorkerEventMessage>;

  constructor(id: string, sink: SubscriptionSink) {
    this.#subscription = new BoundedSubscription<WorkerEventMessage>({
      sink,
      frame: (events) => ({ type: 'event', id, events }),
      sizeOf: (event) => event.tag.length + (event.detail?.length ?? 0) + ITEM_OVERHEAD_BYTES,
      dropReason: 'it stopped reading events',
    });
  }

  begin(stop: () => void): void {
    this.#subscription.attach(stop);
  }

  event(event: WorkerEventMessage): void {
    this.#subscription.add(event);
  }

  end(): void {
    this.#subscription.end();
  }
}
