// A closed-loop HTTP load client for zero-downtime tests: N concurrent loops, no retries, every failure
// counted with its error code. Bounded in time and count; stops early on an AbortSignal. Runs in the ava test process.
//
// Two modes, because they fail differently while workers are swapped:
// - "keep-alive": HTTP/1.1 over a keep-alive agent (one socket per loop, reused). This is the mode
//   that catches a server closing a socket the client is already sending its next request on.
// - "close": HTTP/1.0 with `Connection: close`, one connection per request, read to EOF (ab's way).
// A Node http.Agent with keepAlive:false but a finite maxSockets still sends keep-alive (measured), so
// "close" writes the request itself on a raw socket.

import http from 'node:http';
import net from 'node:net';

export type LoadMode = 'keep-alive' | 'close';

export interface LoadOptions {
  /** http://HOST:PORT/PATH (plain HTTP; the host must be an IP or localhost). */
  readonly url: string;
  readonly mode: LoadMode;
  /** Concurrent request loops. */
  readonly concurrency: number;
  /** Hard upper bound on the run; requests in flight at the deadline still finish and count. */
  readonly durationMs: number;
  /** Optional cap on the number of requests started. */
  readonly maxRequests?: number;
  /** Stops starting requests early (e.g. once a reload finished). */
  readonly signal?: AbortSignal;
  /** Per-request timeout; a request past it counts as failed with ETIMEDOUT. Default 10 s. */
  readonly timeoutMs?: number;
  /** Statuses that count as ok; default [200]. Others count as failed with code HTTP_<status>. */
  readonly okStatuses?: readonly number[];
  /** Sees every complete response (to count responders, check bodies). */
  readonly onResponse?: (response: LoadResponse) => void;
  /** Sees every failure with the client's port of its connection (to tell which server end it had). */
  readonly onFailure?: (failure: LoadFailure) => void;
}

export interface LoadFailure {
  readonly code: string;
  readonly message: string;
  /** The local port of the connection the request went out on; null if it never connected. */
  readonly localPort: number | null;
}

/** Where a request went out: filled in once its socket is connected. */
interface Connection {
  localPort: number | null;
}

export interface LoadResponse {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

export interface LoadResult {
  readonly ok: number;
  readonly failed: number;
  /** Failures by code: ECONNRESET, ECONNREFUSED, ETIMEDOUT, HTTP_502, SHORT_BODY, ... */
  readonly errors: Readonly<Record<string, number>>;
  /** The first few failures in full, for a test's log. */
  readonly samples: readonly string[];
  readonly elapsedMs: number;
}

const SAMPLE_LIMIT = 5;

class LoadError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

function errorCode(error: unknown): string {
  if (error instanceof LoadError) return error.code;
  const code = (error as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' ? code : error instanceof Error ? error.name : 'UNKNOWN';
}

function keepAliveRequest(target: URL, agent: http.Agent, timeoutMs: number, connection: Connection): Promise<LoadResponse> {
  return new Promise((settle, fail) => {
    const outgoing = http.request(
      {
        host: target.hostname.replace(/^\[|\]$/g, ''),
        port: target.port,
        path: `${target.pathname}${target.search}`,
        agent,
        timeout: timeoutMs,
      },
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => {
          if (!response.complete) fail(new LoadError('SHORT_BODY', 'the response ended before its body was complete'));
          else settle({ status: response.statusCode ?? 0, headers: response.headers, body });
        });
        response.on('error', fail);
        response.on('aborted', () => fail(new LoadError('SHORT_BODY', 'the response was aborted')));
      },
    );
    outgoing.on('socket', (socket) => {
      // A reused keep-alive socket is connected already; a fresh one says so when it is (asking for its
      // port before that would cache a port of 0 in the socket).
      if (!socket.pending) connection.localPort = socket.localPort ?? null;
      else socket.once('connect', () => (connection.localPort = socket.localPort ?? null));
    });
    outgoing.on('timeout', () => outgoing.destroy(new LoadError('ETIMEDOUT', `no response within ${timeoutMs}ms`)));
    outgoing.on('error', fail);
    outgoing.end();
  });
}

/** Parses a complete HTTP/1.x response read to EOF (a server answers HTTP/1.0 without chunking). */
function parseClosedResponse(raw: Buffer): LoadResponse {
  const headerEnd = raw.indexOf('\r\n\r\n');
  if (headerEnd < 0)
    throw new LoadError(raw.length === 0 ? 'EMPTY_RESPONSE' : 'SHORT_HEADERS', `got ${raw.length} bytes without a complete header`);
  const [statusLine = '', ...headerLines] = raw.subarray(0, headerEnd).toString('latin1').split('\r\n');
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
  if (!status) throw new LoadError('BAD_STATUS_LINE', `bad status line ${JSON.stringify(statusLine)}`);
  const headers: http.IncomingHttpHeaders = {};
  for (const line of headerLines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const body = raw.subarray(headerEnd + 4);
  const declared = Number(headers['content-length']);
  if (Number.isFinite(declared) && body.length < declared) throw new LoadError('SHORT_BODY', `body ${body.length} of ${declared} bytes`);
  if (headers['transfer-encoding'] === 'chunked')
    throw new LoadError('CHUNKED_TO_HTTP10', 'the server sent chunked encoding to an HTTP/1.0 request');
  return { status: Number(status[1]), headers, body: body.toString('utf8') };
}

function closeRequest(target: URL, timeoutMs: number, connection: Connection): Promise<LoadResponse> {
  return new Promise((settle, fail) => {
    const chunks: Buffer[] = [];
    const socket = net.connect({ host: target.hostname.replace(/^\[|\]$/g, ''), port: Number(target.port) });
    socket.setTimeout(timeoutMs, () => socket.destroy(new LoadError('ETIMEDOUT', `no complete response within ${timeoutMs}ms`)));
    socket.on('connect', () => {
      connection.localPort = socket.localPort ?? null;
      // write, not end: real clients keep their side open until the response arrives.
      socket.write(`GET ${target.pathname}${target.search} HTTP/1.0\r\nHost: ${target.host}\r\nConnection: close\r\n\r\n`);
    });
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', fail);
    socket.on('end', () => {
      try {
        settle(parseClosedResponse(Buffer.concat(chunks)));
      } catch (error) {
        fail(error);
      }
    });
  });
}

/** Runs the load and resolves with the counts once every loop has stopped. */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const target = new URL(options.url);
  const timeoutMs = options.timeoutMs ?? 10_000;
  const okStatuses = new Set(options.okStatuses ?? [200]);
  const startedAt = Date.now();
  const deadline = startedAt + options.durationMs;
  const maxRequests = options.maxRequests ?? Number.POSITIVE_INFINITY;
  // One socket per loop; a response with Connection: close makes the agent open a fresh one.
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.concurrency });
  const errors: Record<string, number> = {};
  const samples: string[] = [];
  let started = 0;
  let ok = 0;
  let failed = 0;

  const fail = (code: string, detail: string, connection: Connection): void => {
    failed += 1;
    errors[code] = (errors[code] ?? 0) + 1;
    if (samples.length < SAMPLE_LIMIT) samples.push(`${code}: ${detail}`);
    options.onFailure?.({ code, message: detail, localPort: connection.localPort });
  };
  const keepGoing = (): boolean => !options.signal?.aborted && Date.now() < deadline && started < maxRequests;

  const loop = async (): Promise<void> => {
    while (keepGoing()) {
      started += 1;
      const connection: Connection = { localPort: null };
      try {
        const response =
          options.mode === 'keep-alive'
            ? await keepAliveRequest(target, agent, timeoutMs, connection)
            : await closeRequest(target, timeoutMs, connection);
        if (okStatuses.has(response.status)) ok += 1;
        else fail(`HTTP_${response.status}`, response.body.slice(0, 200), connection);
        options.onResponse?.(response);
      } catch (error) {
        fail(errorCode(error), error instanceof Error ? error.message : String(error), connection);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: options.concurrency }, loop));
  } finally {
    agent.destroy();
  }
  return { ok, failed, errors, samples, elapsedMs: Date.now() - startedAt };
}

/** "1234 ok, 2 failed (ECONNRESET 2) in 3012 ms" for test logs. */
export function describeLoad(result: LoadResult): string {
  const codes = Object.entries(result.errors)
    .map(([code, count]) => `${code} ${count}`)
    .join(', ');
  return `${result.ok} ok, ${result.failed} failed${codes ? ` (${codes})` : ''} in ${result.elapsedMs} ms`;
}
