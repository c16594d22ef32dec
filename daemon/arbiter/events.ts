// The arbiter's single event queue: signals, control commands, child exits, IPC messages and timers all
// become one typed event here; listeners only enqueue. Run by the appd master.

import type { ResolvedConfig } from '../../shared/config/resolve.js';
import type { Outcome, ScaleChange, WorkerEventMessage } from '../../shared/control/protocol.js';
import type { StatusSnapshot } from '../../shared/control/status.js';
import type { ListenerPlan } from '../sockets/plan.js';
import type { Listener } from '../sockets/listeners.js';
import type { LogLine } from '../master/logger.js';
import type { WorkerToMaster } from '../contracts/worker-messages.js';

/** Who asked for an operation, and how to tell them the outcome (control clients wait on it). */
export interface Requester {
  readonly origin: string;
  /** Progress lines while the operation runs. */
  progress?(text: string): void;
  /** Called once with the final outcome. */
  done?(outcome: JobOutcome): void;
}

/** The same outcome appctl receives (shared/control/protocol.ts). */
export type JobOutcome = Outcome;

/** A control client reading the log (appctl logs [-f]); the read-logs handler feeds it. */
export interface LogReader {
  /** Only lines of this pool's workers; null for every line. */
  readonly pool: string | null;
  /** How many recent lines to start with. */
  readonly lines: number;
  readonly follow: boolean;
  /** The recent lines, oldest first; when following, `stop` ends the subscription (null otherwise). */
  begin(recent: readonly LogLine[], stop: (() => void) | null): void;
  /** Each new matching line while following. */
  line(line: LogLine): void;
}

/** A control client watching worker state changes (appctl events); the watch-events handler feeds it. */
export interface EventReader {
  /** Called once the subscription starts; `stop` ends it. */
  begin(stop: () => void): void;
  event(event: WorkerEventMessage): void;
}

/** A control client watching status (appctl top); the arbiter's status feed sends it snapshots. */
export interface StatusWatcher {
  /** Subscribed; `stop` takes it off the feed (called when the client goes). */
  begin(stop: () => void): void;
  /** One snapshot taken at `time` (epoch ms); the watcher may skip it if its client is behind. */
  snapshot(snapshot: StatusSnapshot, time: number): void;
}

export type ArbiterEvent =
  | { readonly type: 'stop'; readonly mode: 'graceful' | 'quick'; readonly requester: Requester }
  | { readonly type: 'reload'; readonly pool: string | null; readonly requester: Requester }
  | {
      readonly type: 'config-read';
      readonly result: { readonly config: ResolvedConfig; readonly plan: ListenerPlan; readonly opened: readonly Listener[] } | Error;
      readonly pool: string | null;
    }
  | { readonly type: 'scale'; readonly pool: string | null; readonly change: ScaleChange; readonly requester: Requester }
  | { readonly type: 'restart'; readonly pool: string | null; readonly slot: number | null; readonly requester: Requester }
  | { readonly type: 'stop-pool'; readonly pool: string; readonly requester: Requester }
  | { readonly type: 'start-pool'; readonly pool: string; readonly requester: Requester }
  | { readonly type: 'reopen-logs'; readonly requester: Requester }
  /** USR2 keeps Gunicorn's manual dance (both masters serve until WINCH and TERM); appctl upgrade retires the old one itself. */
  | { readonly type: 'upgrade'; readonly retireOld: boolean; readonly requester: Requester }
  /** A message from the successor master an upgrade started (checked by the handler: IPC is untyped). */
  | { readonly type: 'successor-report'; readonly message: unknown }
  | { readonly type: 'successor-exit'; readonly code: number | null; readonly signal: NodeJS.Signals | null; readonly error: Error | null }
  | { readonly type: 'stop-workers'; readonly requester: Requester }
  | { readonly type: 'ping'; readonly requester: Requester }
  | { readonly type: 'status'; readonly requester: Requester }
  /** A control client connected: its request, most often a status, comes a moment later. */
  | { readonly type: 'control-connected' }
  | { readonly type: 'show-config'; readonly requester: Requester }
  | { readonly type: 'read-logs'; readonly reader: LogReader; readonly requester: Requester }
  | { readonly type: 'watch-events'; readonly reader: EventReader; readonly requester: Requester }
  | { readonly type: 'watch-status'; readonly watcher: StatusWatcher; readonly requester: Requester }
  | { readonly type: 'worker-message'; readonly workerId: number; readonly message: WorkerToMaster }
  /** It broke the channel contract (a line that is not JSON, too long, a flood): it is killed. */
  | { readonly type: 'worker-misbehaved'; readonly workerId: number; readonly reason: string }
  | { readonly type: 'worker-exit'; readonly workerId: number; readonly code: number | null; readonly signal: NodeJS.Signals | null }
  | { readonly type: 'worker-spawn-failed'; readonly workerId: number; readonly error: Error };

export type ArbiterEventType = ArbiterEvent['type'];
export type EventOf<Type extends ArbiterEventType> = Extract<ArbiterEvent, { type: Type }>;

/** A typed handler per event type: the arbiter's table is made of these, so a missing case does not compile. */
export type HandlersFor<Type extends ArbiterEventType> = { readonly [Each in Type]: (event: EventOf<Each>) => void };

/** A FIFO that the loop awaits; push() never blocks and never drops (signals are not coalesced away). */
export class EventQueue<Event> {
  readonly #items: Event[] = [];
  #wake: (() => void) | null = null;

  push(event: Event): void {
    this.#items.push(event);
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  /** Every queued event, without waiting. */
  takeNow(): Event[] {
    return this.#items.splice(0, this.#items.length);
  }

  get size(): number {
    return this.#items.length;
  }

  /** Every queued event, waiting up to `timeoutMs` for the first one; [] on timeout. */
  async takeAll(timeoutMs: number): Promise<Event[]> {
    if (this.#items.length === 0) {
      await new Promise<void>((wake) => {
        const timer = setTimeout(() => {
          this.#wake = null;
          wake();
        }, timeoutMs);
        this.#wake = () => {
          clearTimeout(timer);
          wake();
        };
      });
    }
    return this.#items.splice(0, this.#items.length);
  }
}
