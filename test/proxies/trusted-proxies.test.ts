// Trusted proxies on a real daemon: which peer's X-Forwarded-* / Forwarded headers count, over TCP and
// over a unix socket, and where appd reports the result (access log %(h)s and %(scheme)s, a fetch app's
// URL, req.appd), with the peer left in req.socket.remoteAddress. Runs in the ava test process.

import test, { type ExecutionContext } from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixture, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { request } from '../helpers/http.js';
import { waitFor } from '../helpers/processes.js';

const CLIENT_APP = fixture('proxies/client-app.mjs');
const URL_APP = fixture('proxies/url-fetch-app.mjs');
const FORMAT = '%(h)s %(scheme)s %(peer)s "%(r)s"';

interface Answer {
  readonly appd: { clientAddress: string | null; scheme: string; host: string | null; peerAddress: string | null };
  readonly remoteAddress: string | null;
}

async function ask(url: string, headers: Record<string, string>, socketPath?: string): Promise<Answer> {
  const result = await request(url, socketPath ? { headers, socketPath } : { headers });
  return JSON.parse(result.body) as Answer;
}

/** The client app on BIND with the access log (FORMAT) in access.log, and these settings. */
function startLoggingDaemon(t: ExecutionContext, bind: string, settings: readonly string[] = []): Promise<TestDaemon> {
  return startDaemon(t, { args: [CLIENT_APP, '-b', bind, '--access-logfile', 'access.log', '--access-log-format', FORMAT, ...settings] });
}

async function accessLine(daemon: TestDaemon, path: string): Promise<string> {
  const log = join(daemon.directory, 'access.log');
  return waitFor(`the access log line of ${path}`, () => {
    const line = readFileSync(log, 'utf8')
      .split('\n')
      .find((text) => text.includes(` ${path} `));
    return line ?? null;
  });
}

test('from a trusted TCP peer: the rightmost untrusted X-Forwarded-For hop, forwarded scheme and host', async (t) => {
  const daemon = await startLoggingDaemon(t, '127.0.0.1:0', ['--forwarded-allow-ips', '127.0.0.1,10.0.0.0/8']);
  const spoofed = await ask(`${daemon.url}/spoofed`, {
    'x-forwarded-for': '203.0.113.9, 198.51.100.7, 10.9.9.9',
    'x-forwarded-proto': 'https',
    'x-forwarded-host': 'shop.example',
  });
  t.deepEqual(spoofed.appd, { clientAddress: '198.51.100.7', scheme: 'https', host: 'shop.example', peerAddress: '127.0.0.1' });
  t.is(spoofed.remoteAddress, '127.0.0.1', 'req.socket.remoteAddress stays the peer');
  t.is(await accessLine(daemon, '/spoofed'), '198.51.100.7 https 127.0.0.1 "GET /spoofed HTTP/1.1"');
  const plain = await ask(`${daemon.url}/plain`, {});
  t.deepEqual(plain.appd, { clientAddress: '127.0.0.1', scheme: 'http', host: `127.0.0.1:${daemon.port}`, peerAddress: '127.0.0.1' });
  t.is(await accessLine(daemon, '/plain'), '127.0.0.1 http 127.0.0.1 "GET /plain HTTP/1.1"');
});

test('from an untrusted peer: forwarded headers change nothing appd reports', async (t) => {
  const daemon = await startLoggingDaemon(t, '127.0.0.1:0', ['--forwarded-allow-ips', '10.0.0.0/8']);
  const answer = await ask(`${daemon.url}/untrusted`, {
    'x-forwarded-for': '203.0.113.9',
    'x-forwarded-proto': 'https',
    forwarded: 'for=203.0.113.9;proto=https',
  });
  t.is(answer.appd.clientAddress, '127.0.0.1');
  t.is(answer.appd.scheme, 'http');
  t.is(await accessLine(daemon, '/untrusted'), '127.0.0.1 http 127.0.0.1 "GET /untrusted HTTP/1.1"');
});

test('unix socket peers are trusted by default, and not with --no-forwarded-allow-unix', async (t) => {
  const trusting = await startLoggingDaemon(t, 'unix:web.sock');
  const socketPath = join(trusting.directory, 'web.sock');
  const headers = { 'x-forwarded-for': '203.0.113.9, 198.51.100.7', 'x-forwarded-proto': 'https' };
  const forwarded = await ask('http://localhost/over-unix', headers, socketPath);
  t.deepEqual(forwarded.appd, { clientAddress: '198.51.100.7', scheme: 'https', host: 'localhost', peerAddress: null });
  t.is(await accessLine(trusting, '/over-unix'), '198.51.100.7 https - "GET /over-unix HTTP/1.1"');
  const nothing = await ask('http://localhost/no-headers', {}, socketPath);
  t.is(nothing.appd.clientAddress, null);
  t.is(await accessLine(trusting, '/no-headers'), '- http - "GET /no-headers HTTP/1.1"');

  const refusing = await startLoggingDaemon(t, 'unix:web.sock', ['--no-forwarded-allow-unix']);
  const ignored = await ask('http://localhost/refused', headers, join(refusing.directory, 'web.sock'));
  t.deepEqual(ignored.appd, { clientAddress: null, scheme: 'http', host: 'localhost', peerAddress: null });
  t.is(await accessLine(refusing, '/refused'), '- http - "GET /refused HTTP/1.1"');
});

test('--forwarded-headers forwarded reads RFC 7239 only; the default reads X-Forwarded-* only', async (t) => {
  const headers = { forwarded: 'for=198.51.100.7;proto=https;host=shop.example', 'x-forwarded-for': '192.0.2.1' };
  const standard = await startDaemon(t, { args: [CLIENT_APP, '-b', '127.0.0.1:0', '--forwarded-headers', 'forwarded'] });
  t.deepEqual((await ask(`${standard.url}/`, headers)).appd, {
    clientAddress: '198.51.100.7',
    scheme: 'https',
    host: 'shop.example',
    peerAddress: '127.0.0.1',
  });
  const classic = await startDaemon(t, { args: [CLIENT_APP, '-b', '127.0.0.1:0'] });
  t.deepEqual((await ask(`${classic.url}/`, headers)).appd, {
    clientAddress: '192.0.2.1',
    scheme: 'http',
    host: `127.0.0.1:${classic.port}`,
    peerAddress: '127.0.0.1',
  });
});

test("a fetch app's Request URL carries a trusted proxy's scheme and host, and ignores an untrusted one's", async (t) => {
  const daemon = await startDaemon(t, {
    args: [URL_APP, '-b', '127.0.0.1:0', '-b', 'unix:web.sock', '--forwarded-allow-ips', '127.0.0.1'],
  });
  const headers = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'shop.example' };
  t.is(JSON.parse((await request(`${daemon.url}/cart?id=1`, { headers })).body).url, 'https://shop.example/cart?id=1');
  t.is(
    JSON.parse((await request('http://localhost/cart', { headers, socketPath: join(daemon.directory, 'web.sock') })).body).url,
    'https://shop.example/cart',
  );
  t.is(JSON.parse((await request(`${daemon.url}/plain`)).body).url, `http://127.0.0.1:${daemon.port}/plain`);
  const untrusted = await startDaemon(t, { args: [URL_APP, '-b', '127.0.0.1:0', '--forwarded-allow-ips', '10.0.0.1'] });
  t.is(JSON.parse((await request(`${untrusted.url}/cart`, { headers })).body).url, `http://127.0.0.1:${untrusted.port}/cart`);
});

test('a bad trusted-proxy list stops the start with one line naming the item', async (t) => {
  const daemon = await startDaemon(t, { args: [CLIENT_APP, '--forwarded-allow-ips', '127.0.0.1,10.0.0.0/33'], waitFor: 'nothing' });
  t.is((await daemon.exited()).code, 2);
  t.regex(
    daemon.output.trim().split('\n').at(-1) ?? '',
    /^appd: invalid --forwarded-allow-ips \(from command line\): "10\.0\.0\.0\/33" has an invalid prefix length/,
  );
});
