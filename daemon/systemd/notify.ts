// sd_notify(3) for the master: sends READY, RELOADING, STOPPING, STATUS, WATCHDOG and MAINPID to
// systemd (or anything listening on $NOTIFY_SOCKET) by running the systemd-notify binary, one at a time.
// Run by the appd master.
//
// Why a binary and not a socket: Node core cannot send a unix datagram. dgram knows only udp4/udp6,
// net.connect() to the notify socket fails with EPROTOTYPE, and writing to it fails with ENXIO (measured
// on Node 20 and 24, ../shared/research/node-feasibility.md section 7). A native addon (sd-notify,
// unix-dgram) needs a compiler, libsystemd headers and a rebuild for every Node major, which breaks
// `npm install -g` on a server and every Node upgrade. systemd-notify ships with systemd itself, so it is
// there wherever NOTIFY_SOCKET is set by systemd. It is not cheap: 41-58 ms per message on a busy machine
// (measured under systemd 252), so messages are few and coalesced. Run by root it sends on behalf of its
// parent (the credentials carry this master's pid); run by another user they carry its own pid, so units
// set NotifyAccess=all (which a binary upgrade needs anyway: the successor is not the main pid yet).
//
// Coalescing: at most one systemd-notify runs. When it is done, the next message is built from the state
// at that moment (a source registered by lifecycle.ts), never from a queue of old snapshots, so READY=1
// waits behind at most one message and never behind a stale STATUS=.

import { spawn } from 'node:child_process';
import { describeExit } from '../workers/exit-reason.js';

/** The fields appd sends; see sd_notify(3). Numbers and bigints are written in decimal. */
export interface NotifyFields {
  readonly READY?: 1;
  readonly RELOADING?: 1;
  readonly STOPPING?: 1;
  readonly WATCHDOG?: 1;
  /** CLOCK_MONOTONIC in microseconds, required with RELOADING=1 by Type=notify-reload. */
  readonly MONOTONIC_USEC?: bigint;
  readonly STATUS?: string;
  /** The new main process: sent by an upgraded master so systemd follows it. */
  readonly MAINPID?: number;
  readonly ERRNO?: number;
  readonly EXTEND_TIMEOUT_USEC?: number;
}

/** The variables systemd sets for a Type=notify service. */
const NOTIFY_VARIABLES = ['NOTIFY_SOCKET', 'WATCHDOG_USEC', 'WATCHDOG_PID'] as const;

/** systemd caps STATUS= (STATUS_TEXT_MAX); ours are short, this only guards a long error message. */
const STATUS_MAX_CHARACTERS = 1024;

/** CLOCK_MONOTONIC now, in microseconds (libuv's hrtime reads CLOCK_MONOTONIC on Linux). */
export function monotonicMicroseconds(): bigint {
  return process.hrtime.bigint() / 1000n;
}

/** One "KEY=VALUE" per field; a value cannot span lines, so newlines in STATUS become spaces. */
export function formatNotifyFields(fields: NotifyFields): string[] {
  return Object.entries(fields)
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => {
      const text = String(value).replace(/[\r\n]+/g, ' ');
      return `${key}=${key === 'STATUS' ? text.slice(0, STATUS_MAX_CHARACTERS) : text}`;
    });
}

export interface NotifierOptions {
  /** $NOTIFY_SOCKET: a path, or "@name" for the abstract namespace. */
  readonly socket: string;
  /** $WATCHDOG_USEC when it applies to this process (WATCHDOG_PID unset or ours). */
  readonly watchdogMicroseconds: number | null;
  /** Where problems go (the master's log once it exists). */
  readonly warn: (message: string) => void;
  /** The program to run; systemd-notify from PATH unless a test says otherwise. */
  readonly command?: string;
}

/** Builds the next message from the state now, or null when nothing needs saying. */
export type NotifySource = () => NotifyFields | null;

export class SystemdNotifier {
  readonly socket: string;
  readonly watchdogMicroseconds: number | null;
  readonly #command: string;
  readonly #warn: (message: string) => void;
  /** Messages given to send(), oldest first: they go before the source is asked. */
  readonly #queued: { fields: NotifyFields; statusOnly: boolean }[] = [];
  #source: NotifySource | null = null;
  #running = false;
  #disabled = false;
  #idleWaiters: (() => void)[] = [];

  constructor(options: NotifierOptions) {
    this.socket = options.socket;
    this.watchdogMicroseconds = options.watchdogMicroseconds;
    this.#command = options.command ?? 'systemd-notify';
    this.#warn = options.warn;
  }

  /**
   * A notifier when this process was started by systemd with Type=notify (NOTIFY_SOCKET set), else null.
   * The variables are removed from `environment` so that workers, and apps that speak sd_notify
   * themselves, never report to systemd in the master's place; successorEnvironment() gives them back
   * to a new master on upgrade.
   */
  static fromEnvironment(environment: NodeJS.ProcessEnv, warn: (message: string) => void): SystemdNotifier | null {
    const socket = environment['NOTIFY_SOCKET'];
    const watchdogText = environment['WATCHDOG_USEC'];
    const watchdogPid = environment['WATCHDOG_PID'];
    for (const variable of NOTIFY_VARIABLES) delete environment[variable];
    if (!socket) return null;
    const watchdog = watchdogText !== undefined && /^\d+$/.test(watchdogText) ? Number(watchdogText) : null;
    const forUs = watchdogPid === undefined || watchdogPid === String(process.pid);
    return new SystemdNotifier({ socket, watchdogMicroseconds: watchdog !== null && watchdog > 0 && forUs ? watchdog : null, warn });
  }

  /** How often to send WATCHDOG=1: half the interval systemd allows, as sd_watchdog_enabled(3) advises. */
  get watchdogIntervalMs(): number | null {
    return this.watchdogMicroseconds === null ? null : Math.max(1, Math.floor(this.watchdogMicroseconds / 2000));
  }

  /** For a successor master (upgrade): where to notify, and the watchdog it inherits. */
  successorEnvironment(): Record<string, string> {
    const environment: Record<string, string> = { NOTIFY_SOCKET: this.socket };
    if (this.watchdogMicroseconds !== null) environment['WATCHDOG_USEC'] = String(this.watchdogMicroseconds);
    return environment;
  }

  /** Where the next messages come from once the queue is empty; wake() when its state changed. */
  setSource(source: NotifySource): void {
    this.#source = source;
    this.wake();
  }

  /**
   * Queues one datagram with these fields, sent before anything the source has to say; returns at once.
   * A STATUS-only message still waiting is replaced by a newer STATUS-only one (only the latest status matters).
   */
  send(fields: NotifyFields): void {
    if (this.#disabled || formatNotifyFields(fields).length === 0) return;
    const statusOnly = Object.keys(fields).length === 1 && fields.STATUS !== undefined;
    const last = this.#queued.at(-1);
    if (statusOnly && last?.statusOnly) last.fields = fields;
    else this.#queued.push({ fields, statusOnly });
    this.wake();
  }

  /** The source has something new: sent now if no systemd-notify runs, else right after the one that does. */
  wake(): void {
    this.#pump();
  }

  /** Resolves once nothing is running and nothing is left to say (call before the master exits). */
  flush(): Promise<void> {
    this.#pump();
    if (!this.#running) return Promise.resolve();
    return new Promise((settle) => this.#idleWaiters.push(settle));
  }

  #next(): NotifyFields | null {
    const queued = this.#queued.shift();
    if (queued) return queued.fields;
    return this.#source?.() ?? null;
  }

  #pump(): void {
    if (this.#running) return;
    const next = this.#disabled ? null : this.#next();
    const lines = next === null ? [] : formatNotifyFields(next);
    if (lines.length === 0) {
      this.#queued.length = 0;
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const settle of waiters) settle();
      return;
    }
    this.#running = true;
    let errorOutput = '';
    // systemd-notify waits (BARRIER=1) until systemd has processed the message, so a message is never
    // lost to the race where the sender exits before systemd looked up which unit it belongs to, and
    // systemd has seen it once this process exits.
    const child = spawn(this.#command, lines, {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { PATH: process.env['PATH'] ?? '/usr/local/bin:/usr/bin:/bin', NOTIFY_SOCKET: this.socket },
    });
    child.stderr?.setEncoding('utf8').on('data', (text: string) => (errorOutput += text));
    const finished = (problem: string | null): void => {
      if (!this.#running) return;
      this.#running = false;
      if (problem) this.#warn(problem);
      this.#pump();
    };
    child.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') {
        this.#disabled = true;
        finished(`NOTIFY_SOCKET is set but ${this.#command} was not found on PATH, so systemd is not told about readiness; install systemd's systemd-notify, or run without Type=notify`);
      } else {
        finished(`cannot run ${this.#command}: ${error.message}`);
      }
    });
    child.once('exit', (code, signal) => {
      if (code === 0) return finished(null);
      const why = errorOutput.trim() || describeExit(code, signal);
      finished(`${this.#command} ${lines.join(' ')} failed: ${why}`);
    });
  }
}
