// A minimal HTTP client for tests: one request per connection unless told otherwise, over TCP or a
// unix socket, returning status, headers and body. Runs in the ava test process.

import http from 'node:http';

export interface HttpResult {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

export interface RequestOptions {
  readonly method?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
  readonly socketPath?: string;
  readonly timeoutMs?: number;
  /** The client's own address (127.0.0.2 ...: another client as far as a proxy can tell). */
  readonly localAddress?: string;
}

export function request(url: string, options: RequestOptions = {}): Promise<HttpResult> {
  return new Promise((settle, fail) => {
    const target = new URL(url);
    const outgoing = http.request(
      {
        host: target.hostname.replace(/^\[|\]$/g, ''),
        port: target.port,
        path: `${target.pathname}${target.search}`,
        method: options.method ?? 'GET',
        headers: { connection: 'close', ...options.headers },
        // A fresh connection per request: keepAlive:false without maxSockets really sends Connection: close.
        agent: false,
        ...(options.socketPath ? { socketPath: options.socketPath } : {}),
        ...(options.localAddress ? { localAddress: options.localAddress } : {}),
        timeout: options.timeoutMs ?? 10_000,
      },
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => settle({ status: response.statusCode ?? 0, headers: response.headers, body }));
        response.on('error', fail);
      },
    );
    outgoing.on('timeout', () => outgoing.destroy(new Error(`request to ${url} timed out`)));
    outgoing.on('error', fail);
    outgoing.end(options.body);
  });
}

export async function get(url: string, options: RequestOptions = {}): Promise<HttpResult> {
  return request(url, options);
}

/**
 * Requests until `count` distinct response bodies matching `pattern` were seen (e.g. worker pids).
 * Requests go in overlapping waves, not one after another: every idle worker waits on the shared
 * socket and the kernel wakes whichever it likes, so on a quiet machine one worker can win every
 * sequential request. A worker busy with a request (pid-app.mjs's ?busy=MS blocks its loop) cannot
 * accept, which leaves the next connection to another.
 */
export async function distinctResponders(url: string, pattern: RegExp, count: number, waves = 40): Promise<Set<string>> {
  const seen = new Set<string>();
  for (let wave = 0; wave < waves && seen.size < count; wave += 1) {
    const answers = Array.from({ length: count * 2 }, async (_, index) => {
      await new Promise((resolve) => setTimeout(resolve, index * 10));
      return (await get(url)).body;
    });
    for (const body of await Promise.all(answers)) {
      const match = pattern.exec(body);
      if (match?.[1]) seen.add(match[1]);
    }
  }
  return seen;
}
