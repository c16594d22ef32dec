// HTTP clients for the real-systemd tests, run in the sandbox's network namespace (nsenter -n) so they
// reach the units' ports on its 127.0.0.1. Events and results go to stdout as JSON lines; "stop" on stdin
// (or its end) ends a load. Run as a child of the ava test process: node network-agent.js COMMAND JSON.
//
//   load     {url, concurrency, classify, timeoutMs}  keep-alive and HTTP/1.0 loops until stopped: {event:"result", ...}
//   requests {url, count, timeoutMs}        count requests at once, one connection each; {event:"headers"}
//                                            as each response starts, then {event:"result", results}

import http from 'node:http';
import { runLoad, type LoadResponse } from '../../helpers/load-client.js';

export interface RequestOutcome {
  readonly status: number | null;
  readonly body: string;
  readonly error: string | null;
  readonly elapsedMs: number;
}

function emit(value: object): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

function stdinStopped(): Promise<void> {
  return new Promise((settle) => {
    process.stdin.setEncoding('utf8').on('data', (text: string) => {
      if (text.includes('stop')) settle();
    });
    process.stdin.once('end', () => settle());
  });
}

async function load(options: { url: string; concurrency: number; classify: string; timeoutMs: number }): Promise<void> {
  const stop = new AbortController();
  const classify = new RegExp(options.classify);
  const seen: Record<string, number> = {};
  const onResponse = (response: LoadResponse): void => {
    const key = classify.exec(response.body)?.[1] ?? '?';
    seen[key] = (seen[key] ?? 0) + 1;
  };
  const common = { url: options.url, concurrency: options.concurrency, durationMs: 300_000, timeoutMs: options.timeoutMs, signal: stop.signal, onResponse };
  const loads = Promise.all([runLoad({ ...common, mode: 'keep-alive' }), runLoad({ ...common, mode: 'close' })]);
  emit({ event: 'started' });
  await stdinStopped();
  stop.abort();
  const [keepAlive, close] = await loads;
  emit({ event: 'result', keepAlive, close, seen });
}

function oneRequest(url: string, timeoutMs: number, onHeaders: () => void): Promise<RequestOutcome> {
  const startedAt = Date.now();
  return new Promise((settle) => {
    const finish = (status: number | null, body: string, error: string | null): void => settle({ status, body, error, elapsedMs: Date.now() - startedAt });
    const request = http.get(url, { agent: false, timeout: timeoutMs }, (response) => {
      onHeaders();
      let body = '';
      response.setEncoding('utf8').on('data', (text: string) => (body += text));
      response.once('end', () => finish(response.statusCode ?? null, body, response.complete ? null : 'incomplete body'));
      response.once('error', (error: NodeJS.ErrnoException) => finish(response.statusCode ?? null, body, error.code ?? error.message));
    });
    request.once('timeout', () => request.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    request.once('error', (error: NodeJS.ErrnoException) => finish(null, '', error.code ?? error.message));
  });
}

async function requests(options: { url: string; count: number; timeoutMs: number }): Promise<void> {
  const results = await Promise.all(Array.from({ length: options.count }, (_unused, index) => oneRequest(options.url, options.timeoutMs, () => emit({ event: 'headers', index }))));
  emit({ event: 'result', results });
}

const [command, json = '{}'] = process.argv.slice(2);
const options: unknown = JSON.parse(json);
if (command === 'load') await load(options as Parameters<typeof load>[0]);
else if (command === 'requests') await requests(options as Parameters<typeof requests>[0]);
else throw new Error(`unknown command ${command ?? '(none)'}`);
process.exit(0);
