// The master's log: its own lines and the tagged output of its workers, to the error log file or stderr,
// plus a bounded ring of recent lines for `appctl logs`. Run by the appd master.

import { closeSync, openSync, writeSync } from 'node:fs';
import { hasErrorCode } from '../../shared/errors.js';
import { escapedLines, stderrMessage } from '../../shared/trust/escape-text.js';
import { jsonLogLine, type LogFormat } from './log-format.js';
import { MAX_LINE_CHARACTERS } from '../workers/output-relay.js';

/**
 * A message of several lines (an app's stack trace, a hook's error) becomes at most this many log
 * lines; the rest is counted in the last one. A worker's output arrives already split and cut.
 */
export const MAX_LINES_PER_MESSAGE = 100;
/** A log line's text is cut here: the relay's own cut (with its note) fits whole. */
const MAX_CHARACTERS_PER_LINE = MAX_LINE_CHARACTERS + 1024;

export const LEVELS = ['debug', 'info', 'warning', 'error', 'critical'] as const;
export type Level = (typeof LEVELS)[number];

export interface LogLine {
  /** Milliseconds since the epoch. */
  readonly time: number;
  /** 'master' or the worker tag ("web.3 g2"). */
  readonly source: string;
  readonly pid: number;
  readonly level: Level | 'stdout' | 'stderr';
  readonly text: string;
}

/** Formats times as Gunicorn does, "[2026-11-21 05:51:00 +0000]"; recomputed at most once a second. */
class TimestampCache {
  #second = -1;
  #text = '';
  format(time: number): string {
    const second = Math.floor(time / 1000);
    if (second !== this.#second) {
      const date = new Date(time);
      const offset = -date.getTimezoneOffset();
      const sign = offset >= 0 ? '+' : '-';
      const pad = (value: number): string => String(Math.abs(value)).padStart(2, '0');
      const zone = `${sign}${pad(Math.trunc(offset / 60))}${pad(offset % 60)}`;
      this.#text = `[${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())} ${zone}]`;
      this.#second = second;
    }
    return this.#text;
  }
}

export type LogListener = (line: LogLine) => void;

export class Logger {
  #path: string;
  #fd: number | null = null;
  #minimum: number;
  #writeFailures = 0;
  readonly #timestamps = new TimestampCache();
  readonly #ring: LogLine[] = [];
  #ringStart = 0;
  readonly #ringSize: number;
  readonly #listeners = new Set<LogListener>();
  #format: LogFormat = 'text';

  constructor(path: string, level: Level, ringSize = 2000) {
    this.#path = path;
    this.#minimum = LEVELS.indexOf(level);
    this.#ringSize = ringSize;
    this.#open();
  }

  /** "-" means stderr; anything else is a file opened for appending. */
  #open(): void {
    this.#fd = this.#path === '-' ? null : openSync(this.#path, 'a', 0o644);
  }

  get path(): string {
    return this.#path;
  }

  setLevel(level: Level): void {
    this.#minimum = LEVELS.indexOf(level);
  }

  /** text (Gunicorn's lines) or json (one object per line, see log-format.ts); a reload may change it. */
  setFormat(format: LogFormat): void {
    this.#format = format;
  }

  /** Switches to another file (a reload changed error-logfile); throws if it cannot be opened. */
  switchTo(path: string): void {
    if (path === this.#path) return;
    const previousFd = this.#fd;
    const previousPath = this.#path;
    this.#path = path;
    try {
      this.#open();
    } catch (error) {
      this.#path = previousPath;
      this.#fd = previousFd;
      throw error;
    }
    if (previousFd !== null) closeSync(previousFd);
  }

  /** Reopens the file after logrotate renamed it; on failure keeps writing to the old one. */
  reopen(): void {
    if (this.#fd === null) return;
    const fresh = openSync(this.#path, 'a', 0o644);
    closeSync(this.#fd);
    this.#fd = fresh;
  }

  log(level: Level, text: string): void {
    if (LEVELS.indexOf(level) < this.#minimum) return;
    this.#emit({ time: Date.now(), source: 'master', pid: process.pid, level, text });
  }

  /**
   * For failures an operator must see even when the log file itself is the trouble (its directory
   * removed or read-only): to the log and its ring, and to stderr (the journal, under systemd).
   */
  alert(level: Level, text: string): void {
    this.log(level, text);
    if (this.#fd !== null) process.stderr.write(stderrMessage(text));
  }

  debug(text: string): void {
    this.log('debug', text);
  }
  info(text: string): void {
    this.log('info', text);
  }
  warning(text: string): void {
    this.log('warning', text);
  }
  error(text: string): void {
    this.log('error', text);
  }
  critical(text: string): void {
    this.log('critical', text);
  }

  /** The lines one read of a worker's output completed, already split; tagged with the worker, written at once. */
  workerOutput(source: string, pid: number, stream: 'stdout' | 'stderr', texts: readonly string[]): void {
    const time = Date.now();
    const lines: LogLine[] = [];
    for (const text of texts) {
      for (const escaped of logLinesOf(text)) lines.push({ time, source, pid, level: stream, text: escaped });
    }
    this.#emitLines(lines);
  }

  format(line: LogLine): string {
    if (this.#format === 'json') return jsonLogLine(line);
    const tag = line.source === 'master' ? line.level.toUpperCase() : line.level === 'stderr' ? `${line.source} stderr` : line.source;
    return `${this.#timestamps.format(line.time)} [${line.pid}] [${tag}] ${line.text}\n`;
  }

  #emit(raw: LogLine): void {
    this.#emitLines(logLinesOf(raw.text).map((text) => (text === raw.text ? raw : { ...raw, text })));
  }

  /** Remembers, writes (one system call for all of them) and hands to every follower the given lines. */
  #emitLines(lines: readonly LogLine[]): void {
    let text = '';
    for (const line of lines) {
      this.#remember(line);
      text += this.format(line);
    }
    if (text === '') return;
    try {
      if (this.#fd === null) process.stderr.write(text);
      else writeSync(this.#fd, text);
    } catch (error) {
      // A full or vanished disk must not stop the master; say so on stderr at the first lost line and
      // once per thousand after it.
      const before = this.#writeFailures;
      this.#writeFailures += lines.length;
      if (before === 0 || Math.floor(before / 1000) !== Math.floor(this.#writeFailures / 1000)) {
        const code = hasErrorCode(error, 'ENOSPC', 'EIO', 'EROFS', 'EBADF') ? (error as { code: string }).code : String(error);
        process.stderr.write(`appd: cannot write to ${this.#path} (${code}); ${this.#writeFailures} line(s) lost so far\n`);
      }
    }
    for (const line of lines) for (const listener of this.#listeners) listener(line);
  }

  #remember(line: LogLine): void {
    if (this.#ring.length < this.#ringSize) {
      this.#ring.push(line);
    } else {
      this.#ring[this.#ringStart] = line;
      this.#ringStart = (this.#ringStart + 1) % this.#ringSize;
    }
  }

  /** The most recent lines, oldest first. */
  recent(limit = this.#ringSize): LogLine[] {
    const ordered = [...this.#ring.slice(this.#ringStart), ...this.#ring.slice(0, this.#ringStart)];
    return ordered.slice(Math.max(0, ordered.length - limit));
  }

  subscribe(listener: LogListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  close(): void {
    if (this.#fd !== null) closeSync(this.#fd);
    this.#fd = null;
  }
}

/**
 * The log lines of one message. Text from outside the master (worker output, client names, app error
 * messages and their stacks) could forge log lines with its newlines and carry escapes a terminal would
 * obey: each of its lines becomes a log line of its own with the true prefix (time, pid, level) in
 * front, so no text can start a line that looks like appd's, and the rest of the control characters
 * (\r, ESC, BEL, bidirectional overrides) are escaped. Done once here, for the file, the ring and every
 * follower alike.
 */
export function logLinesOf(text: string): string[] {
  return escapedLines(text, MAX_CHARACTERS_PER_LINE, MAX_LINES_PER_MESSAGE);
}
