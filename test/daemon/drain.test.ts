// How a worker drains, watched from the client side of real connections: in-flight keep-alive requests
// finish with Connection: close, idle ones are closed, a connection whose request is late is still
// answered, TLS connections are tracked like plain ones, and connections queued while no worker
// accepts wait in the master's socket instead of being reset.

import test from 'ava';
import { execFileSync } from 'node:child_process';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { join } from 'node:path';
import { fixture, startDaemon, tempDirectory } from '../helpers/daemon.js';
import { get } from '../helpers/http.js';
import { establishedPeerPorts } from '../helpers/ports.js';
import { killQuietly, sleep, waitFor } from '../helpers/processes.js';

interface Answer {
  readonly status: number;
  readonly connection: string | undefined;
  readonly body: string;
}

function send(client: typeof http | typeof https, url: string, agent: http.Agent): Promise<Answer> {
  return new Promise((settle, fail) => {
    const outgoing = client.get(url, { agent, rejectUnauthorized: false } as https.RequestOptions, (response) => {
      let body = '';
      response.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      response.on('end', () => settle({ status: response.statusCode ?? 0, connection: response.headers.connection, body }));
      response.on('error', fail);
    });
    outgoing.on('error', fail);
  });
}

for (const scheme of ['http', 'https'] as const) {
  test(`${scheme}: a draining worker finishes an in-flight keep-alive request with Connection: close and closes an idle connection after keep-alive`, async (t) => {
    const directory = tempDirectory(t);
    const tls: string[] = [];
    if (scheme === 'https') {
      const [key, cert] = [join(directory, 'key.pem'), join(directory, 'cert.pem')];
      execFileSync(
        'openssl',
        ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-days', '1', '-keyout', key, '-out', cert],
        { stdio: 'ignore' },
      );
      tls.push('--certfile', cert, '--keyfile', key);
    }
    const daemon = await startDaemon(t, {
      args: [fixture('slow-app.mjs'), '-w', '1', '-b', '127.0.0.1:0', '--graceful-timeout', '20', '--keep-alive', '4', ...tls],
    });
    const [worker] = await daemon.waitForWorkers(1);
    const url = daemon.url.replace('http:', `${scheme}:`);
    const client = scheme === 'https' ? https : http;
    const busyAgent = new (scheme === 'https' ? https.Agent : http.Agent)({ keepAlive: true, maxSockets: 1 });
    const idleAgent = new (scheme === 'https' ? https.Agent : http.Agent)({ keepAlive: true, maxSockets: 1 });
    t.teardown(() => {
      busyAgent.destroy();
      idleAgent.destroy();
    });
    // Both connections are older than 1 s when the drain starts (a limit appd once used).
    t.is((await send(client, `${url}/`, busyAgent)).connection, 'keep-alive');
    t.is((await send(client, `${url}/`, idleAgent)).connection, 'keep-alive');
    const idleSince = Date.now();
    const idleSocket = Object.values(idleAgent.freeSockets).flat()[0];
    const idleClosed = new Promise<number>((settle) => idleSocket?.once('close', () => settle(Date.now())));
    await sleep(1200);
    const inFlight = send(client, `${url}/?delay=2500`, busyAgent);
    await sleep(300);
    const drainStarted = Date.now();
    killQuietly(worker ?? -1, 'SIGTERM');
    const answer = await inFlight;
    t.deepEqual(answer, { status: 200, connection: 'close', body: 'slept 2500ms\n' });
    // Idle since before the drain began, it is closed once idle for keep-alive (4 s), as without a
    // drain; not 1 s into it, as appd once did (measured on the client, which hears of it late).
    const closedAt = await idleClosed;
    t.true(closedAt - idleSince >= 3000, `closed after ${closedAt - idleSince} ms idle, not before keep-alive`);
    t.true(closedAt - drainStarted < 8000, `closed ${closedAt - drainStarted} ms into the drain`);
  });
}

test('a connection whose request comes 1.5 s after it was accepted is still answered by the draining worker', async (t) => {
  const daemon = await startDaemon(t, { args: [fixture('slow-app.mjs'), '-w', '1', '-b', '127.0.0.1:0'] });
  const [worker] = await daemon.waitForWorkers(1);
  const socket = net.connect(daemon.port, '127.0.0.1');
  t.teardown(() => socket.destroy());
  let received = '';
  socket.setEncoding('utf8').on('data', (text: string) => (received += text));
  const ended = new Promise<void>((settle, fail) => {
    socket.once('end', settle);
    socket.once('error', fail);
  });
  await new Promise((settle) => socket.once('connect', settle));
  // Accepted by the worker, not only queued in the socket: a connection still in the accept queue at the
  // TERM goes to the next worker, never to the draining one (a fixed 300 ms wait lost that race under load).
  await waitFor(
    'the worker to accept the connection',
    async () => (await establishedPeerPorts(worker ?? -1, daemon.port)).has(socket.localPort ?? -1),
    30_000,
    100,
  );
  killQuietly(worker ?? -1, 'SIGTERM');
  await sleep(1500);
  socket.write('GET /?delay=10 HTTP/1.1\r\nHost: x\r\n\r\n');
  await ended;
  t.regex(received, /^HTTP\/1\.1 200 OK\r\n/);
  t.regex(received, /\r\nConnection: close\r\n/i);
  t.regex(received, /slept 10ms\n$/);
});

test("while no worker accepts (WINCH), connections wait in the master's socket and are answered once HUP brings workers back", async (t) => {
  const daemon = await startDaemon(t, { args: [fixture('pid-app.mjs'), '-w', '2', '-b', '127.0.0.1:0'] });
  await daemon.waitForWorkers(2);
  daemon.signal('SIGWINCH');
  await waitFor('every worker gone', () => daemon.workers().length === 0);
  // The kernel completes the handshake for the socket the master holds; nobody accepts yet.
  const waiting = get(daemon.url, { timeoutMs: 20_000 });
  await sleep(800);
  daemon.signal('SIGHUP');
  const answer = await waiting;
  t.is(answer.status, 200);
  t.regex(answer.body, /generation=2/);
});
