// Checks decoded control messages against the protocol's types: nothing from a socket is trusted until
// it passes here. The appd master checks client messages; appctl checks the daemon's.

import {
  COMMANDS,
  ERROR_CODES,
  type ClientMessage,
  type Command,
  type ErrorCode,
  type LogLineMessage,
  type Outcome,
  type Request,
  type RequestOf,
  type ScaleChange,
  type ServerMessage,
  type WorkerEventMessage,
} from './protocol.js';
import type { StatusSnapshot } from './status.js';

/** A message that breaks the protocol; `code` says how, `id` is the request's when it was readable. */
export class ProtocolViolation extends Error {
  readonly code: ErrorCode;
  readonly id: string | null;
  constructor(code: ErrorCode, message: string, id: string | null = null) {
    super(message);
    this.name = 'ProtocolViolation';
    this.code = code;
    this.id = id;
  }
}

type Fields = Readonly<Record<string, unknown>>;

function isFields(value: unknown): value is Fields {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  return typeof value;
}

/** Request ids are nanoids; anything printable and short is accepted so other clients can use their own. */
const REQUEST_ID = /^[A-Za-z0-9_-]{1,64}$/;
const POOL_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** Far above any real pool; keeps arithmetic on a hostile number harmless. */
const MAX_WORKERS = 4096;
const MAX_LOG_LINES = 100_000;

function poolField(fields: Fields, id: string): string | null {
  const pool = fields['pool'] ?? null;
  if (pool === null) return null;
  if (typeof pool !== 'string' || !POOL_NAME.test(pool))
    throw new ProtocolViolation('bad_request', `"pool" must be a pool name or null, got ${describe(pool)}`, id);
  return pool;
}

function integerField(fields: Fields, key: string, minimum: number, maximum: number, id: string): number {
  const value = fields[key];
  if (typeof value !== 'number' || !Number.isInteger(value) || value < minimum || value > maximum) {
    throw new ProtocolViolation(
      'bad_request',
      `"${key}" must be an integer from ${minimum} to ${maximum}, got ${describe(value)} ${String(value)}`,
      id,
    );
  }
  return value;
}

function requiredPool(fields: Fields, id: string): string {
  const pool = poolField(fields, id);
  if (pool === null) throw new ProtocolViolation('bad_request', '"pool" is required', id);
  return pool;
}

function scaleChange(fields: Fields, id: string): ScaleChange {
  const change = fields['change'];
  if (isFields(change) && 'relative' in change) return { relative: integerField(change, 'relative', -MAX_WORKERS, MAX_WORKERS, id) };
  if (isFields(change) && 'absolute' in change) return { absolute: integerField(change, 'absolute', 0, MAX_WORKERS, id) };
  throw new ProtocolViolation('bad_request', '"change" must be {relative: N} or {absolute: N}', id);
}

/** One parser per command: a command added to the protocol does not compile until it is checked here. */
const REQUEST_PARSERS: { readonly [C in Command]: (fields: Fields, id: string) => RequestOf<C> } = {
  ping: () => ({ command: 'ping' }),
  status: () => ({ command: 'status' }),
  config: () => ({ command: 'config' }),
  upgrade: () => ({ command: 'upgrade' }),
  events: () => ({ command: 'events' }),
  watch: () => ({ command: 'watch' }),
  scale: (fields, id) => ({ command: 'scale', pool: poolField(fields, id), change: scaleChange(fields, id) }),
  reload: (fields, id) => ({ command: 'reload', pool: poolField(fields, id) }),
  restart: (fields, id) => {
    const pool = poolField(fields, id);
    const slot = fields['slot'] === null || fields['slot'] === undefined ? null : integerField(fields, 'slot', 0, MAX_WORKERS, id);
    if (slot !== null && pool === null) throw new ProtocolViolation('bad_request', '"slot" needs "pool"', id);
    return { command: 'restart', pool, slot };
  },
  'stop-pool': (fields, id) => ({ command: 'stop-pool', pool: requiredPool(fields, id) }),
  'start-pool': (fields, id) => ({ command: 'start-pool', pool: requiredPool(fields, id) }),
  stop: (fields, id) => {
    const mode = fields['mode'];
    if (mode !== 'graceful' && mode !== 'quick') throw new ProtocolViolation('bad_request', `"mode" must be "graceful" or "quick"`, id);
    return { command: 'stop', mode };
  },
  logs: (fields, id) => {
    const follow = fields['follow'];
    if (typeof follow !== 'boolean') throw new ProtocolViolation('bad_request', '"follow" must be true or false', id);
    const request = {
      command: 'logs',
      pool: poolField(fields, id),
      lines: integerField(fields, 'lines', 0, MAX_LOG_LINES, id),
      follow,
    } as const;
    if (fields['maxLinesPerSecond'] === undefined) return request;
    return { ...request, maxLinesPerSecond: integerField(fields, 'maxLinesPerSecond', 0, MAX_LOG_LINES, id) };
  },
};

function isCommand(value: unknown): value is Command {
  return (COMMANDS as readonly unknown[]).includes(value);
}

function parseRequest(value: unknown, id: string): Request {
  if (!isFields(value)) throw new ProtocolViolation('bad_message', `"request" must be a map, got ${describe(value)}`, id);
  const command = value['command'];
  if (typeof command !== 'string') throw new ProtocolViolation('bad_message', '"request.command" must be a string', id);
  if (!isCommand(command)) {
    const shown = command.length > 40 ? `${command.slice(0, 40)}…` : command;
    throw new ProtocolViolation(
      'unknown_command',
      `unknown command ${JSON.stringify(shown)}; this daemon knows ${COMMANDS.join(', ')}`,
      id,
    );
  }
  return (REQUEST_PARSERS[command] as (fields: Fields, id: string) => Request)(value, id);
}

/** What the daemon accepts from a client. */
export function parseClientMessage(value: unknown): ClientMessage {
  if (!isFields(value)) throw new ProtocolViolation('bad_message', `a message must be a map, got ${describe(value)}`);
  switch (value['type']) {
    case 'hello': {
      const { protocol, client, pid } = value;
      if (typeof protocol !== 'number' || !Number.isInteger(protocol))
        throw new ProtocolViolation('bad_message', 'hello: "protocol" must be an integer');
      return {
        type: 'hello',
        protocol,
        client: typeof client === 'string' ? client.slice(0, 80) : 'unknown client',
        pid: typeof pid === 'number' && Number.isInteger(pid) ? pid : 0,
      };
    }
    case 'request': {
      const id = value['id'];
      if (typeof id !== 'string' || !REQUEST_ID.test(id))
        throw new ProtocolViolation('bad_message', 'request: "id" must be 1-64 characters of [A-Za-z0-9_-]');
      return { type: 'request', id, request: parseRequest(value['request'], id) };
    }
    default:
      throw new ProtocolViolation('bad_message', `unknown message type ${JSON.stringify(String(value['type']).slice(0, 40))}`);
  }
}

function parseLogLine(value: unknown): LogLineMessage {
  const fields = isFields(value) ? value : {};
  return {
    time: Number(fields['time'] ?? 0),
    source: String(fields['source'] ?? '?'),
    pid: Number(fields['pid'] ?? 0),
    level: String(fields['level'] ?? '?'),
    text: String(fields['text'] ?? ''),
  };
}

function parseWorkerEvent(value: unknown): WorkerEventMessage {
  const fields = isFields(value) ? value : {};
  return {
    time: Number(fields['time'] ?? 0),
    tag: String(fields['tag'] ?? '?'),
    pool: String(fields['pool'] ?? '?'),
    slot: Number(fields['slot'] ?? -1),
    generation: Number(fields['generation'] ?? 0),
    pid: Number(fields['pid'] ?? 0),
    state: String(fields['state'] ?? '?'),
    detail: typeof fields['detail'] === 'string' ? fields['detail'] : null,
  };
}

function parseOutcome(value: unknown): Outcome {
  if (!isFields(value) || typeof value['message'] !== 'string') throw new ProtocolViolation('bad_message', 'reply without an outcome');
  const { status, message } = value;
  if (status === 'completed') return { status, message, data: value['data'] };
  if (status === 'failed' || status === 'rolled_back') return { status, message };
  throw new ProtocolViolation('bad_message', `unknown outcome status ${JSON.stringify(String(status))}`);
}

/** What appctl accepts from the daemon (the daemon is trusted more, but a wrong socket path is not). */
export function parseServerMessage(value: unknown): ServerMessage {
  if (!isFields(value)) throw new ProtocolViolation('bad_message', `a message must be a map, got ${describe(value)}`);
  const id = typeof value['id'] === 'string' ? value['id'] : null;
  switch (value['type']) {
    case 'welcome': {
      const daemon = value['daemon'];
      if (typeof value['protocol'] !== 'number' || !isFields(daemon)) throw new ProtocolViolation('bad_message', 'malformed welcome');
      return {
        type: 'welcome',
        protocol: value['protocol'],
        daemon: {
          name: String(daemon['name']),
          pid: Number(daemon['pid']),
          version: String(daemon['version']),
          node: String(daemon['node']),
        },
      };
    }
    case 'progress':
      if (id === null || typeof value['text'] !== 'string') throw new ProtocolViolation('bad_message', 'malformed progress');
      return { type: 'progress', id, text: value['text'] };
    case 'log':
      if (id === null || !Array.isArray(value['lines'])) throw new ProtocolViolation('bad_message', 'malformed log');
      return { type: 'log', id, lines: value['lines'].map(parseLogLine) };
    case 'event':
      if (id === null || !Array.isArray(value['events'])) throw new ProtocolViolation('bad_message', 'malformed event');
      return { type: 'event', id, events: value['events'].map(parseWorkerEvent) };
    case 'status': {
      const snapshot = value['snapshot'];
      // The snapshot's own fields are the daemon's contract (status.ts); its format is checked by the reader.
      if (id === null || typeof value['time'] !== 'number' || !isFields(snapshot) || !Array.isArray(snapshot['pools'])) {
        throw new ProtocolViolation('bad_message', 'malformed status');
      }
      return { type: 'status', id, time: value['time'], snapshot: snapshot as unknown as StatusSnapshot };
    }
    case 'reply':
      if (id === null) throw new ProtocolViolation('bad_message', 'reply without an id');
      return { type: 'reply', id, outcome: parseOutcome(value['outcome']) };
    case 'error': {
      const code = value['code'];
      const known = (ERROR_CODES as readonly unknown[]).includes(code) ? (code as ErrorCode) : 'bad_message';
      return { type: 'error', id, code: known, message: typeof value['message'] === 'string' ? value['message'] : String(code) };
    }
    default:
      throw new ProtocolViolation('bad_message', `unknown message type ${JSON.stringify(String(value['type']).slice(0, 40))}`);
  }
}
