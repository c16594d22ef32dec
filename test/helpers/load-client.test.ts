// The load client counts what a zero-downtime test relies on: every ok response, and every failure with
// its code (reset, refused, bad status, truncated body), in both modes. Runs in the ava test process.

import test, { type ExecutionContext } from 'ava';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { runLoad, type LoadMode } from './load-client.js';

async function serve(t: ExecutionContext, listener: http.RequestListener): Promise<string> {
  const server = http.createServer(listener);
  await new Promise<void>((settle) => server.listen(0, '127.0.0.1', settle));
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/path?x=1`;
}

for (const mode of ['keep-alive', 'close'] as const satisfies readonly LoadMode[]) {
  test(`${mode}: counts ok responses, reuses sockets only in keep-alive mode, stops at maxRequests`, async (t) => {
    const sockets = new Set<unknown>();
    let versions = new Set<string>();
    const url = await serve(t, (request, response) => {
      sockets.add(request.socket);
      versions = versions.add(request.httpVersion);
      response.end(`hello ${request.url}`);
    });
    const bodies: string[] = [];
    const result = await runLoad({
      url,
      mode,
      concurrency: 4,
      durationMs: 5000,
      maxRequests: 200,
      onResponse: (response) => bodies.push(response.body),
    });
    t.is(result.ok, 200);
    t.is(result.failed, 0);
    t.deepEqual(result.errors, {});
    t.true(bodies.every((body) => body === 'hello /path?x=1'));
    if (mode === 'keep-alive') {
      t.true(sockets.size <= 4, `${sockets.size} sockets for 4 loops`);
      t.deepEqual([...versions], ['1.1']);
    } else {
      t.is(sockets.size, 200, 'one connection per request');
      t.deepEqual([...versions], ['1.0']);
    }
  });

  test(`${mode}: counts resets, bad statuses and short bodies as failures with their codes`, async (t) => {
    let count = 0;
    const url = await serve(t, (request, response) => {
      count += 1;
      if (count % 5 === 0) {
        request.socket.destroy(); // a reset mid-request
      } else if (count % 5 === 1) {
        response.writeHead(503).end('busy');
      } else if (count % 5 === 2) {
        response.writeHead(200, { 'content-length': 100 });
        response.write('only part');
        setTimeout(() => request.socket.destroy(), 5);
      } else {
        response.end('fine');
      }
    });
    const result = await runLoad({ url, mode, concurrency: 2, durationMs: 5000, maxRequests: 50 });
    t.log(result.errors);
    t.is(result.ok + result.failed, 50);
    t.is(result.ok, 20);
    t.is(result.errors['HTTP_503'], 10);
    t.is(result.failed, 30, 'resets and truncated bodies are failures too');
  });
}

test('a refused connection counts as ECONNREFUSED; the abort signal stops the loops early', async (t) => {
  const server = http.createServer();
  await new Promise<void>((settle) => server.listen(0, '127.0.0.1', settle));
  const port = (server.address() as AddressInfo).port;
  await new Promise((settle) => server.close(settle));
  const refused = await runLoad({
    url: `http://127.0.0.1:${port}/`,
    mode: 'keep-alive',
    concurrency: 2,
    durationMs: 2000,
    maxRequests: 10,
  });
  t.deepEqual(refused.errors, { ECONNREFUSED: 10 });

  const url = await serve(t, (_request, response) => response.end('ok'));
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 200);
  const aborted = await runLoad({ url, mode: 'keep-alive', concurrency: 2, durationMs: 30_000, signal: controller.signal });
  t.true(aborted.elapsedMs < 10_000, `stopped after ${aborted.elapsedMs} ms`);
  t.true(aborted.ok > 0);
  t.is(aborted.failed, 0);
});
