// Fault injection: hostile HTTP against the workers while a normal client keeps going: slowloris
// (headers trickled), a 64 KB header, request-smuggling shapes (CL+TE, duplicate Content-Length), a
// 64 MB body and a trickled body. Each is answered or closed as node:http and appd's limits say; no
// worker dies, and the normal client fails nothing.

import test from 'ava';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { statusOf } from '../helpers/appctl.js';
import { fixture, startDaemon } from '../helpers/daemon.js';
import { describeLoad, runLoad } from '../helpers/load-client.js';
import { sleep, waitFor } from '../helpers/processes.js';

interface Exchange {
  /** Everything the server sent before it closed. */
  readonly response: string;
  /** Milliseconds from connect until the server closed the connection. */
  readonly closedAfterMs: number;
}

/**
 * Sends `head`, then `trickle` one piece every `everyMs` (until the server closes), and reads until the
 * server closes. A reset after the server answered counts as its close.
 */
function exchange(
  port: number,
  head: string | Buffer,
  trickle: { piece: string; everyMs: number } | null = null,
  timeoutMs = 30_000,
): Promise<Exchange> {
  return new Promise((settle, fail) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let startedAt = Date.now();
    let timer: NodeJS.Timeout | null = null;
    const finish = (): void => {
      if (timer) clearInterval(timer);
      clearTimeout(deadline);
      settle({ response: Buffer.concat(chunks).toString('latin1'), closedAfterMs: Date.now() - startedAt });
    };
    const deadline = setTimeout(() => {
      socket.destroy();
      fail(
        new Error(
          `the server kept the connection open for ${timeoutMs} ms; got ${JSON.stringify(Buffer.concat(chunks).toString('latin1').slice(0, 200))}`,
        ),
      );
    }, timeoutMs);
    socket.on('connect', () => {
      startedAt = Date.now();
      socket.write(head);
      if (trickle) timer = setInterval(() => socket.write(trickle.piece), trickle.everyMs);
    });
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      // EPIPE/ECONNRESET: we were still writing when the server closed; what it said is in chunks.
      if (error.code !== 'EPIPE' && error.code !== 'ECONNRESET') fail(error);
    });
    socket.on('close', finish);
  });
}

function statusLine(exchanged: Exchange): string {
  return exchanged.response.split('\r\n')[0] ?? '';
}

test('slowloris, huge headers, smuggling shapes and huge or trickled bodies: answered or closed, no worker dies', async (t) => {
  t.timeout(90_000);
  const daemon = await startDaemon(t, {
    args: [
      fixture('body-app.mjs'),
      '-w',
      '2',
      '-b',
      '127.0.0.1:0',
      '--headers-timeout',
      '2',
      '--request-timeout',
      '3',
      '--access-logfile',
      'access.log',
    ],
  });
  const port = daemon.port;
  const workersBefore =
    (await statusOf(daemon.directory)).pools[0]?.workers.map((worker) => ({ pid: worker.pid, rss: worker.rssBytes ?? 0 })) ?? [];
  const stopLoad = new AbortController();
  t.teardown(() => stopLoad.abort());
  const load = runLoad({ url: `${daemon.url}/`, mode: 'keep-alive', concurrency: 4, durationMs: 60_000, signal: stopLoad.signal });

  // Slowloris: 40 connections, a header line every 500 ms, never the blank line that ends them.
  const slowloris = Promise.all(
    Array.from({ length: 40 }, () =>
      exchange(port, 'GET / HTTP/1.1\r\nHost: victim\r\n', { piece: `X-Trickle: ${'a'.repeat(8)}\r\n`, everyMs: 500 }),
    ),
  );

  // One 64 KB header: over node's total header cap (max(16 KiB, 2 x limit-request-field-size)).
  const bigHeader = await exchange(port, `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(64 * 1024)}\r\n\r\n`);
  // Request smuggling: a body length two ways, hiding a second request; node's parser refuses both.
  const smuggled = 'GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n';
  const clAndTe = await exchange(
    port,
    `POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${5 + smuggled.length}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${smuggled}`,
  );
  const twoLengths = await exchange(
    port,
    `POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: ${smuggled.length}\r\n\r\n${smuggled}`,
  );
  // A body larger than anything: 64 MB streamed to a handler that reads it all.
  const body = Buffer.alloc(1024 * 1024, 'z');
  const huge = await new Promise<string>((settle, fail) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.write(`POST /count HTTP/1.1\r\nHost: x\r\nContent-Length: ${64 * body.length}\r\nConnection: close\r\n\r\n`);
      let sent = 0;
      const more = (): void => {
        while (sent < 64) {
          sent += 1;
          if (!socket.write(body)) return void socket.once('drain', more);
        }
      };
      more();
    });
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
    socket.on('close', () => settle(answer));
    socket.on('error', fail);
  });
  // A body trickled a byte every 200 ms: request-timeout (3 s) ends it.
  const trickledBody = await exchange(port, 'POST /count HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n', {
    piece: 'y',
    everyMs: 200,
  });
  const loris = await slowloris;

  await sleep(500);
  stopLoad.abort();
  const normal = await load;
  const after = (await statusOf(daemon.directory)).pools[0]?.workers ?? [];
  const log = join(daemon.directory, 'access.log');
  await waitFor('the access log', () => readFileSync(log, 'utf8').includes('/count'));

  const lorisTimes = loris.map((each) => each.closedAfterMs).sort((left, right) => left - right);
  t.log(
    `slowloris: ${loris.length} connections trickling headers, each answered "${statusLine(loris[0] ?? { response: '', closedAfterMs: 0 })}" and closed after ${lorisTimes[0]}-${lorisTimes.at(-1)} ms (headers-timeout 2 s)`,
  );
  t.log(
    `64 KB header: "${statusLine(bigHeader)}", closed; CL+TE: "${statusLine(clAndTe)}"; two Content-Lengths: "${statusLine(twoLengths)}"; the hidden request never reached the app`,
  );
  t.log(
    `64 MB body: "${huge.split('\r\n').at(-1)?.trim()}"; RSS of the workers ${workersBefore.map((worker) => Math.round(worker.rss / 2 ** 20)).join('/')} MB before, ${after.map((worker) => Math.round((worker.rssBytes ?? 0) / 2 ** 20)).join('/')} MB after`,
  );
  t.log(`trickled body: "${statusLine(trickledBody)}" after ${trickledBody.closedAfterMs} ms (request-timeout 3 s)`);
  t.log(`normal client meanwhile: ${describeLoad(normal)}`);

  for (const each of loris) t.is(statusLine(each), 'HTTP/1.1 408 Request Timeout');
  t.true((lorisTimes[0] ?? 0) >= 2000, 'not before headers-timeout');
  t.is(statusLine(bigHeader), 'HTTP/1.1 431 Request Header Fields Too Large');
  t.is(statusLine(clAndTe), 'HTTP/1.1 400 Bad Request');
  t.is(statusLine(twoLengths), 'HTTP/1.1 400 Bad Request');
  t.notRegex(readFileSync(log, 'utf8'), /smuggled/);
  t.regex(huge, /received=67108864\n$/);
  t.regex(trickledBody.response, /HTTP\/1\.1 408 Request Timeout/);
  t.true(trickledBody.closedAfterMs >= 3000, 'not before request-timeout');
  t.is(normal.failed, 0);
  t.true(normal.ok > 0);
  t.deepEqual(
    after.map((worker) => worker.pid),
    workersBefore.map((worker) => worker.pid),
    'no worker died',
  );
  t.notRegex(daemon.output, /exited unexpectedly/);
});
