// The access log: Gunicorn's atoms compiled once into a line formatter, and a batching appender that
// reopens on USR1 without losing a line. Runs in each HTTP worker (the master never sees requests).

import { closeSync, openSync, write, writeSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { describeFileError } from '../../shared/errors.js';
import type { ClientView } from './proxy/client-address.js';
import { jsonAccessLogFields, NUMERIC_ATOMS } from '../../shared/access-log-json.js';

export interface RequestRecord {
  readonly request: IncomingMessage;
  readonly response: ServerResponse;
  /** process.hrtime.bigint() when the request arrived. */
  readonly startedAt: bigint;
  /** Who the client is (see client-address.ts); null when the format prints none of it. */
  readonly client: ClientView | null;
  readonly bytesSent: number;
}

type Atom = (record: RequestRecord, elapsedMicroseconds: number) => string;

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
let cachedSecond = -1;
let cachedTime = '';

/** Apache's "[21/Nov/2026:05:51:00 +0000]", recomputed once a second. */
function apacheTime(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== cachedSecond) {
    const date = new Date(now);
    const pad = (value: number): string => String(Math.abs(value)).padStart(2, '0');
    const offset = -date.getTimezoneOffset();
    const zone = `${offset >= 0 ? '+' : '-'}${pad(Math.trunc(offset / 60))}${pad(offset % 60)}`;
    cachedTime = `[${pad(date.getDate())}/${MONTHS[date.getMonth()]}/${date.getFullYear()}:${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())} ${zone}]`;
    cachedSecond = second;
  }
  return cachedTime;
}

function basicUser(request: IncomingMessage): string {
  const header = request.headers.authorization;
  if (!header?.startsWith('Basic ')) return '-';
  const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
  return decoded.slice(0, Math.max(0, decoded.indexOf(':'))) || '-';
}

function headerText(value: string | string[] | number | undefined): string {
  if (value === undefined) return '-';
  return Array.isArray(value) ? value.join(', ') : String(value);
}

const ATOMS: Record<string, Atom> = {
  h: (record) => record.client?.clientAddress ?? '-',
  scheme: (record) => record.client?.scheme ?? '-',
  peer: (record) => record.client?.peerAddress ?? '-',
  l: () => '-',
  u: (record) => basicUser(record.request),
  t: () => apacheTime(),
  r: (record) => `${record.request.method} ${record.request.url} HTTP/${record.request.httpVersion}`,
  m: (record) => record.request.method ?? '-',
  U: (record) => (record.request.url ?? '').split('?')[0] ?? '-',
  q: (record) => (record.request.url ?? '').split('?')[1] ?? '',
  H: (record) => `HTTP/${record.request.httpVersion}`,
  s: (record) => String(record.response.statusCode),
  B: (record) => String(record.bytesSent),
  b: (record) => (record.bytesSent > 0 ? String(record.bytesSent) : '-'),
  f: (record) => headerText(record.request.headers.referer),
  a: (record) => headerText(record.request.headers['user-agent']),
  T: (_record, microseconds) => String(Math.floor(microseconds / 1e6)),
  M: (_record, microseconds) => String(Math.floor(microseconds / 1e3)),
  D: (_record, microseconds) => String(Math.floor(microseconds)),
  L: (_record, microseconds) => (microseconds / 1e6).toFixed(6),
  p: () => `<${process.pid}>`,
};

function braceAtom(name: string, where: string): Atom {
  const key = name.toLowerCase();
  if (where === 'i') return (record) => headerText(record.request.headers[key]);
  if (where === 'o') return (record) => headerText(record.response.getHeader(key));
  return () => process.env[name] ?? '-';
}

/** The atoms that print who the client is: a format without them never looks at forwarded headers. */
const CLIENT_ATOMS = new Set(['h', 'scheme', 'peer']);

/** A compiled format; `usesClient` says whether its records need the client view. */
export type LineFormatter = ((record: RequestRecord) => string) & { readonly usesClient: boolean };

/** A template split into text and atoms; `usesClient` if any atom prints who the client is. */
function compileTemplate(format: string): { parts: (string | Atom)[]; usesClient: boolean } {
  const parts: (string | Atom)[] = [];
  let last = 0;
  let usesClient = false;
  for (const match of format.matchAll(/%\(([^)]+)\)s/g)) {
    parts.push(format.slice(last, match.index));
    const name = match[1] ?? '';
    if (CLIENT_ATOMS.has(name)) usesClient = true;
    const brace = /^\{([^}]+)\}([ioe])$/.exec(name);
    parts.push(brace ? braceAtom(brace[1] ?? '', brace[2] ?? 'i') : (ATOMS[name] ?? (() => '-')));
    last = (match.index ?? 0) + match[0].length;
  }
  parts.push(format.slice(last));
  return { parts, usesClient };
}

function render(parts: readonly (string | Atom)[], record: RequestRecord, microseconds: number): string {
  let text = '';
  for (const part of parts) text += typeof part === 'string' ? part : part(record, microseconds);
  return text;
}

/**
 * A JSON format: each field's template is rendered, then the whole object goes through JSON.stringify,
 * so a header holding quotes or newlines stays inside its own field's string; it cannot add a field or
 * end the line (the printf-style JSON formats people build for Gunicorn can be forged that way).
 */
function compileJsonFormat(fields: readonly (readonly [string, string])[]): LineFormatter {
  const compiled = fields.map(([key, template]) => {
    const alone = /^%\(([A-Za-z]+)\)s$/.exec(template)?.[1];
    return { key, numeric: alone !== undefined && NUMERIC_ATOMS.has(alone), ...compileTemplate(template) };
  });
  const formatLine = (record: RequestRecord): string => {
    const microseconds = Number(process.hrtime.bigint() - record.startedAt) / 1000;
    const object: Record<string, string | number> = { time: new Date().toISOString() };
    for (const field of compiled) {
      const text = render(field.parts, record, microseconds);
      const number = field.numeric ? Number(text) : NaN;
      object[field.key] = Number.isFinite(number) ? number : text;
    }
    return JSON.stringify(object);
  };
  return Object.assign(formatLine, { usesClient: compiled.some((field) => field.usesClient) });
}

/**
 * Compiles "%(h)s ... %({x-request-id}i)s" into a function; unknown atoms print "-" as Gunicorn's do.
 * "json", or a JSON object of templates, gives one JSON object per request (shared/access-log-json.ts).
 */
export function compileAccessLogFormat(format: string): LineFormatter {
  const fields = jsonAccessLogFields(format);
  if (fields) return compileJsonFormat(fields);
  const { parts, usesClient } = compileTemplate(format);
  const formatLine = (record: RequestRecord): string => render(parts, record, Number(process.hrtime.bigint() - record.startedAt) / 1000);
  return Object.assign(formatLine, { usesClient });
}

/** Appends lines in batches, one write in flight; reopen() switches files between writes. */
export class AccessLogWriter {
  readonly #path: string;
  #fd: number | null;
  #pending: string[] = [];
  #writing = false;
  #reopenRequested = false;
  #scheduled = false;
  /** The part of a batch a short write left over; written before anything newer. */
  #unwritten: Buffer | null = null;
  /** Lines dropped since writes started failing; 0 while they work. */
  #lost = 0;

  constructor(path: string) {
    this.#path = path;
    this.#fd = path === '-' ? null : openSync(path, 'a', 0o644);
  }

  append(line: string): void {
    this.#pending.push(line);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => {
        this.#scheduled = false;
        this.#flush();
      });
    }
  }

  reopen(): void {
    this.#reopenRequested = true;
    if (!this.#writing) this.#flush();
  }

  #switchFile(): void {
    this.#reopenRequested = false;
    if (this.#fd === null) return;
    try {
      const fresh = openSync(this.#path, 'a', 0o644);
      closeSync(this.#fd);
      this.#fd = fresh;
    } catch (error) {
      // The directory may be gone or read-only: keep the old file and say so on stderr (the master's log).
      console.error(`access log ${this.#path}: cannot reopen (${describeFileError(error)}); still writing to the old file`);
    }
  }

  #flush(): void {
    if (this.#writing) return;
    if (this.#reopenRequested) this.#switchFile();
    const next = this.#nextBatch();
    if (next === null) return;
    const { fd, batch, lines } = next;
    this.#writing = true;
    write(fd, batch, 0, batch.length, null, (error, written) => {
      this.#writing = false;
      if (error) {
        this.#writeFailed(error, lines);
      } else {
        // A short write (the disk filled up mid-batch): the rest goes first next time, so no line is torn.
        if (written < batch.length) this.#unwritten = batch.subarray(written);
        this.#writeWorked();
      }
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const wake of waiters) wake();
      if (this.#pending.length > 0 || this.#reopenRequested || this.#unwritten !== null) this.#flush();
    });
  }

  /**
   * The next batch for the file and how many lines it holds; null when nothing is pending, or when
   * there is no file and the batch went to stdout.
   */
  #nextBatch(): { fd: number; batch: Buffer; lines: number } | null {
    if (this.#pending.length === 0 && this.#unwritten === null) return null;
    // What a short write left can hold the tail of one line and whole lines after it: count its newlines.
    const lines = this.#pending.length + (this.#unwritten === null ? 0 : countNewlines(this.#unwritten));
    const batch = this.#takeBatch();
    if (this.#fd === null) {
      process.stdout.write(batch);
      return null;
    }
    return { fd: this.#fd, batch, lines };
  }

  /** What is left of a short write, then every pending line, as one buffer. */
  #takeBatch(): Buffer {
    const lines = this.#pending.length > 0 ? Buffer.from(this.#pending.join('\n') + '\n') : Buffer.alloc(0);
    this.#pending = [];
    const batch = this.#unwritten === null ? lines : Buffer.concat([this.#unwritten, lines]);
    this.#unwritten = null;
    return batch;
  }

  /**
   * A full or read-only disk fails every write: say so once, count what is dropped, and say how much
   * when writes work again, instead of one error line per request flooding the master's log.
   */
  #writeFailed(error: unknown, lines: number): void {
    if (this.#lost === 0)
      console.error(`access log ${this.#path}: cannot write (${describeFileError(error)}); dropping lines until it works again`);
    this.#lost += lines;
  }

  #writeWorked(): void {
    if (this.#lost === 0) return;
    console.error(`access log ${this.#path}: writing again; ${this.#lost} line(s) were lost`);
    this.#lost = 0;
  }

  #idleWaiters: (() => void)[] = [];

  /** Waits for the write in flight, then writes the rest synchronously; called before the worker exits. */
  async close(): Promise<void> {
    while (this.#writing) await new Promise<void>((wake) => this.#idleWaiters.push(wake));
    const next = this.#nextBatch();
    if (next === null) return;
    try {
      writeSync(next.fd, next.batch);
    } catch (error) {
      // The worker is on its way out; a full disk must not stop it from exiting.
      this.#writeFailed(error, next.lines);
    }
  }
}

function countNewlines(bytes: Buffer): number {
  let count = 0;
  for (let index = bytes.indexOf(0x0a); index !== -1; index = bytes.indexOf(0x0a, index + 1)) count += 1;
  return count;
}
