// `appctl top` on a terminal: status and log events in, one frame drawn at most ten times a second,
// keys turned into the same control requests appctl sends, and a clean exit on q. Run by appctl.

import type { Request } from '../../shared/control/protocol.js';
import type { ControlClient } from '../client/connection.js';
import { CTL_EXIT } from '../client/errors.js';
import { TerminalScreen } from './terminal-screen.js';
import { DaemonFeed } from './feed.js';
import { commandForKey, type KeyCommand } from './keys.js';
import { TopModel } from './model.js';
import { renderDashboard } from './render.js';
import { coloursWanted, localeIsUnicode, tagPainter, type Painter } from './style.js';

/** At most one frame per this interval: bursts of events (a chatty log) are drawn once. */
const FRAME_INTERVAL_MS = 100;
const PAGE_ROWS = 10;

export class Dashboard {
  readonly #model: TopModel;
  readonly #screen: TerminalScreen;
  readonly #painter: Painter;
  readonly #feed: DaemonFeed;
  #frameTimer: NodeJS.Timeout | null = null;
  #lastFrameAt = 0;
  #finish: ((code: number) => void) | null = null;
  readonly #onSignal = (): void => this.#quit();

  readonly #commands: { readonly [Command in KeyCommand]: () => void } = {
    up: () => this.#model.move(-1),
    down: () => this.#model.move(1),
    'page-up': () => this.#model.move(-PAGE_ROWS),
    'page-down': () => this.#model.move(PAGE_ROWS),
    first: () => this.#model.moveTo(0),
    last: () => this.#model.moveTo(this.#model.rows.length - 1),
    'scale-up': () => this.#scale(1),
    'scale-down': () => this.#scale(-1),
    reload: () => this.#reload(),
    'restart-worker': () => this.#restartWorker(),
    upgrade: () => (this.#model.mode = 'confirm-upgrade'),
    'toggle-logs': () => (this.#model.showLogs = !this.#model.showLogs),
    help: () => (this.#model.mode = 'help'),
    quit: () => this.#quit(),
    // Outside the question they mean nothing.
    confirm: () => undefined,
    cancel: () => undefined,
  };

  constructor(client: ControlClient) {
    const unicode = localeIsUnicode(process.env);
    this.#model = new TopModel(client.daemon);
    this.#screen = new TerminalScreen({ title: `appctl top: ${client.daemon.name}`, unicode });
    this.#painter = tagPainter(coloursWanted(process.env, this.#screen.colours), unicode);
    this.#feed = new DaemonFeed(client.path, {
      connected: (daemon) => this.#change(() => this.#model.connected(daemon)),
      disconnected: (reason) => this.#change(() => this.#model.disconnected(reason, Date.now())),
      snapshot: (snapshot, time) => this.#change(() => this.#model.update(snapshot, time)),
      logLines: (lines, fresh) => this.#change(() => this.#model.addLogs(lines, fresh)),
    });
    this.#screen.onKey((key) => this.#onKey(key));
    this.#screen.onResize(() => this.#draw());
    this.#feed.start(client);
  }

  /** Runs until q (or a signal to end); resolves with the exit code once the terminal is restored. */
  run(): Promise<number> {
    for (const signal of ['SIGTERM', 'SIGHUP'] as const) process.on(signal, this.#onSignal);
    this.#draw();
    return new Promise((settle) => (this.#finish = settle));
  }

  #onKey(key: string): void {
    const command = commandForKey(key);
    if (this.#model.mode === 'help') {
      this.#model.mode = 'dashboard';
      if (command === 'quit') this.#quit();
    } else if (this.#model.mode === 'confirm-upgrade') {
      this.#model.mode = 'dashboard';
      if (command === 'quit') this.#quit();
      else if (command === 'confirm') this.#act('upgrade', { command: 'upgrade' });
      else this.#model.say('upgrade cancelled');
    } else if (command) {
      this.#commands[command]();
    }
    this.#change(() => undefined);
  }

  #selectedPool(): string | null {
    const row = this.#model.selected;
    if (row) return row.pool.name;
    this.#model.say('no pool selected', 'bad');
    return null;
  }

  #scale(delta: number): void {
    const pool = this.#selectedPool();
    if (pool) this.#act(`scale ${pool} ${delta > 0 ? '+' : ''}${delta}`, { command: 'scale', pool, change: { relative: delta } });
  }

  #reload(): void {
    const pool = this.#selectedPool();
    if (pool) this.#act(`reload ${pool}`, { command: 'reload', pool });
  }

  /** A worker's slot, or a failed slot (restart clears backoff and fatal): appctl restart POOL SLOT. */
  #restartWorker(): void {
    const row = this.#model.selected;
    if (row?.kind === 'slot')
      return this.#act(`restart ${row.pool.name}.${row.slot.slot}`, { command: 'restart', pool: row.pool.name, slot: row.slot.slot });
    if (row?.kind !== 'worker' || row.worker.state === 'stopping')
      return this.#model.say('select a running worker to restart (up/down)', 'bad');
    this.#act(`restart ${row.pool.name}.${row.worker.slot}`, { command: 'restart', pool: row.pool.name, slot: row.worker.slot });
  }

  /** Sends the request appctl would send; its progress and outcome go to the message line. */
  #act(label: string, request: Request): void {
    this.#model.say(`${label}: sent`);
    this.#feed
      .request(request, { progress: (text) => this.#change(() => this.#model.say(`${label}: ${text}`)) })
      .then(
        (outcome) => this.#model.say(`${label}: ${outcome.message}`, outcome.status === 'completed' ? 'good' : 'bad'),
        (error: unknown) => this.#model.say(`${label} failed: ${error instanceof Error ? error.message : String(error)}`, 'bad'),
      )
      .finally(() => this.#change(() => undefined));
  }

  /** Applies a change to the model and schedules a frame (at most one per FRAME_INTERVAL_MS). */
  #change(apply: () => void): void {
    apply();
    if (this.#frameTimer !== null || this.#finish === null) return;
    const wait = Math.max(0, this.#lastFrameAt + FRAME_INTERVAL_MS - Date.now());
    this.#frameTimer = setTimeout(() => this.#draw(), wait);
  }

  #draw(): void {
    if (this.#frameTimer) clearTimeout(this.#frameTimer);
    this.#frameTimer = null;
    this.#lastFrameAt = Date.now();
    const size = { width: this.#screen.width, height: this.#screen.height };
    this.#screen.show(renderDashboard(this.#model, size, this.#painter, this.#lastFrameAt));
  }

  #quit(): void {
    if (this.#frameTimer) clearTimeout(this.#frameTimer);
    this.#frameTimer = null;
    for (const signal of ['SIGTERM', 'SIGHUP'] as const) process.off(signal, this.#onSignal);
    this.#feed.close();
    this.#screen.destroy();
    const finish = this.#finish;
    this.#finish = null;
    finish?.(CTL_EXIT.ok);
  }
}
