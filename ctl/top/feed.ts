// The connection of `appctl top`: a `watch` subscription (status events) and a followed log on one
// control connection; when the daemon goes (stopped, crashed, upgraded), it reconnects to the same
// socket path until one answers. Run by appctl.

import type { DaemonIdentity, LogLineMessage, Outcome, Request } from '../../shared/control/protocol.js';
import { STATUS_FORMAT, type StatusSnapshot } from '../../shared/control/status.js';
import { ControlClient, type RequestHandlers } from '../client/connection.js';
import { ControlFailure } from '../client/errors.js';
import { isStatusSnapshot } from '../client/reply-data.js';

/** Recent log lines asked for on each (re)connect. */
const LOG_BACKLOG_LINES = 500;
/**
 * The pane shows a dozen lines; past this rate the daemon sends a count of the rest instead, so a
 * chatty app costs neither the master (encoding) nor top (decoding) more than this.
 */
const LOG_LINES_PER_SECOND = 200;
/** Between reconnect attempts: an upgrade swaps masters in well under a second. */
const RECONNECT_DELAY_MS = 500;
/** A daemon without `watch` (an older appd) is asked for its status this often instead. */
const POLL_INTERVAL_MS = 1000;

export interface FeedListener {
  connected(daemon: DaemonIdentity): void;
  disconnected(reason: string): void;
  snapshot(snapshot: StatusSnapshot, time: number): void;
  /** `fresh`: the first batch after a (re)connect, which replaces what was shown. */
  logLines(lines: readonly LogLineMessage[], fresh: boolean): void;
}

function reasonOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export class DaemonFeed {
  readonly #path: string;
  readonly #listener: FeedListener;
  #client: ControlClient | null = null;
  #poll: NodeJS.Timeout | null = null;
  #retry: NodeJS.Timeout | null = null;
  #closed = false;

  constructor(path: string, listener: FeedListener) {
    this.#path = path;
    this.#listener = listener;
  }

  get connected(): boolean {
    return this.#client !== null;
  }

  /** Starts with a client that appctl already connected (finding the daemon failed loudly before the screen opened). */
  start(client: ControlClient): void {
    this.#attach(client);
  }

  /** Sends an action on the live connection; fails at once while disconnected. */
  request(request: Request, handlers: RequestHandlers = {}): Promise<Outcome> {
    if (!this.#client) return Promise.reject(new ControlFailure('not connected to the daemon'));
    return this.#client.request(request, handlers);
  }

  close(): void {
    this.#closed = true;
    this.#stopTimers();
    this.#client?.close();
    this.#client = null;
  }

  #attach(client: ControlClient): void {
    this.#client = client;
    this.#listener.connected(client.daemon);
    let fresh = true;
    const lost = (why: unknown): void => this.#lost(client, reasonOf(why));
    client
      .request(
        { command: 'logs', pool: null, lines: LOG_BACKLOG_LINES, follow: true, maxLinesPerSecond: LOG_LINES_PER_SECOND },
        {
          log: (lines) => {
            this.#listener.logLines(lines, fresh);
            fresh = false;
          },
        },
      )
      .then(() => lost('the daemon ended the log stream (it is stopping)'), lost);
    client.request({ command: 'watch' }, { status: (snapshot, time) => this.#deliver(snapshot, time) }).then(
      () => lost('the daemon stopped'),
      (error: unknown) => {
        if (error instanceof ControlFailure && error.code === 'unknown_command') return this.#pollStatus(client);
        lost(error);
      },
    );
    void client.closed().then(() => lost('the connection closed'));
  }

  #deliver(snapshot: StatusSnapshot, time: number): void {
    if (snapshot.format !== STATUS_FORMAT) {
      return this.#listener.disconnected(`the daemon sends status format ${String(snapshot.format)}, this appctl reads ${STATUS_FORMAT}`);
    }
    this.#listener.snapshot(snapshot, time);
  }

  #pollStatus(client: ControlClient): void {
    const ask = (): void => {
      client.request({ command: 'status' }).then(
        (outcome) => {
          if (outcome.status !== 'completed') return;
          if (isStatusSnapshot(outcome.data)) this.#deliver(outcome.data, Date.now());
          else this.#lost(client, `the daemon answered status with no snapshot this appctl can read (an appd of another version?)`);
        },
        (error: unknown) => this.#lost(client, reasonOf(error)),
      );
    };
    ask();
    this.#poll = setInterval(ask, POLL_INTERVAL_MS);
  }

  /** Once per connection: every failure of a dead connection arrives here (log, watch, close). */
  #lost(client: ControlClient, reason: string): void {
    if (this.#closed || this.#client !== client) return;
    this.#client = null;
    this.#stopTimers();
    client.close();
    this.#listener.disconnected(reason);
    this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    this.#retry = setTimeout(() => {
      this.#retry = null;
      ControlClient.connect(this.#path).then(
        (client) => {
          if (this.#closed) return client.close();
          this.#attach(client);
        },
        (error: unknown) => {
          if (this.#closed) return;
          this.#listener.disconnected(reasonOf(error));
          this.#scheduleReconnect();
        },
      );
    }, RECONNECT_DELAY_MS);
  }

  #stopTimers(): void {
    if (this.#poll) clearInterval(this.#poll);
    if (this.#retry) clearTimeout(this.#retry);
    this.#poll = null;
    this.#retry = null;
  }
}
