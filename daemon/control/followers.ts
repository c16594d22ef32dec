// The control server's readers of the master's feeds: `appctl logs [-f]` (recent lines, then new ones)
// and `appctl events` (worker lifecycle), each through a bounded subscription. Run by the appd master.

import { omittedLinesText, type LogLineMessage, type RequestOf, type WorkerEventMessage } from '../../shared/control/protocol.js';
import { BoundedSubscription, type SubscriptionSink } from './subscription.js';
import type { EventReader, LogReader } from '../arbiter/events.js';
import type { LogLine } from '../master/logger.js';

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

/** What a follower with a line budget gets in place of the lines it left out. */
function omittedNote(count: number, limit: number, time: number): LogLine {
  return { time, source: 'master', pid: process.pid, level: 'warning', text: omittedLinesText(count, limit) };
}

/** What a reader of recent lines gets first when the oldest of them would not fit in RECENT_BYTES. */
function leftOutNote(count: number, asked: number, time: number): LogLine {
  const text = `${count} older line(s) of the last ${asked} left out: at most ${RECENT_BYTES / 1024} KB of recent log text is sent at once (the log file has every line)`;
  return { time, source: 'master', pid: process.pid, level: 'warning', text };
}

export class LogFollower implements LogReader {
  readonly pool: string | null;
  readonly lines: number;
  readonly follow: boolean;
  readonly #subscription: BoundedSubscription<LogLine>;
  /** maxLinesPerSecond; 0: every line. */
  readonly #maxPerSecond: number;
  /** The second (epoch seconds) the budget is spent in, the lines sent in it, and those left out since the last note. */
  #budgetSecond = 0;
  #sentInSecond = 0;
  #omitted = 0;

  constructor(request: RequestOf<'logs'>, id: string, sink: SubscriptionSink) {
    this.pool = request.pool;
    this.lines = request.lines;
    this.follow = request.follow;
    this.#maxPerSecond = request.maxLinesPerSecond ?? 0;
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
    // Said, not silent: `appctl logs -l 100` with long lines would otherwise print 32 and stop.
    const note = first === 0 ? [] : [leftOutNote(first, recent.length, recent[first]?.time ?? Date.now())];
    this.#subscription.addNow([...note, ...recent.slice(first)]);
  }

  line(line: LogLine): void {
    if (this.#withinBudget(line.time)) this.#subscription.add(line);
  }

  /** Cheap on purpose: a line over budget costs one comparison, not a queue entry and its encoding. */
  #withinBudget(time: number): boolean {
    if (this.#maxPerSecond === 0) return true;
    const second = Math.floor(time / 1000);
    if (second !== this.#budgetSecond) {
      this.#budgetSecond = second;
      this.#sentInSecond = 0;
      if (this.#omitted > 0) this.#subscription.add(omittedNote(this.#omitted, this.#maxPerSecond, time));
      this.#omitted = 0;
    }
    if (this.#sentInSecond >= this.#maxPerSecond) {
      this.#omitted += 1;
      return false;
    }
    this.#sentInSecond += 1;
    return true;
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
