// PROXY protocol on a real daemon, spoken by a raw client the way HAProxy or a network load balancer
// does: the header's source becomes the client address (socket, req.appd, access log); a connection
// without a valid header, or from an untrusted peer, is closed before the app sees a byte, and counted.
// Runs in the ava test process (test/proxies/haproxy.test.ts has the real HAProxy).

import test from 'ava';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { join } from 'node:path';
import { Duplex } from 'node:stream';
import { statusOf } from '../helpers/appctl.js';
import { fixture, startDaemon, tempDirectory } from '../helpers/daemon.js';
import { request } from '../helpers/http.js';
import { waitFor } from '../helpers/processes.js';
import { jsonBodies, proxyV1Line, proxyV2Header, rawExchange } from '../helpers/proxy-protocol.js';

const CLIENT_APP = fixture('proxies/client-app.mjs');

function get(path: string, close = true): string {
  return `GET ${path} HTTP/1.1\r\nHost: shop.example\r\n${close ? 'Connection: close\r\n' : ''}\r\n`;
}

interface Answer {
  readonly appd: { clientAddress: string | null; peerAddress: string | null };
  readonly remoteAddress: string | null;
  readonly remotePort: number | null;
}

test('v1 and v2 headers give the client address to the socket, req.appd and the access log', async (t) => {
  const daemon = await startDaemon(t, {
    args: [
      CLIENT_APP,
      '-b',
      '127.0.0.1:0',
      '--proxy-protocol',
      'auto',
      '--access-logfile',
      'access.log',
      '--access-log-format',
      '%(h)s %(peer)s %(U)s',
    ],
  });
  const target = { port: daemon.port };
  const [v1] = jsonBodies(
    await rawExchange(target, [Buffer.concat([proxyV1Line('203.0.113.9', 51000), Buffer.from(get('/v1'))])]),
  ) as Answer[];
  t.deepEqual(
    { remoteAddress: v1?.remoteAddress, remotePort: v1?.remotePort, client: v1?.appd.clientAddress, peer: v1?.appd.peerAddress },
    { remoteAddress: '203.0.113.9', remotePort: 51000, client: '203.0.113.9', peer: '127.0.0.1' },
  );
  const [v2] = jsonBodies(
    await rawExchange(target, [
      Buffer.concat([
        proxyV2Header({ source: '2001:db8::7', port: 443, tlvs: [[0x02, Buffer.from('shop.example')]] }),
        Buffer.from(get('/v2')),
      ]),
    ]),
  ) as Answer[];
  t.is(v2?.remoteAddress, '2001:db8::7');
  t.is(v2?.appd.clientAddress, '2001:db8::7');
  // LOCAL (a health check): the proxy speaks for itself.
  const [local] = jsonBodies(await rawExchange(target, [proxyV2Header({ command: 'local' }), get('/local')])) as Answer[];
  t.is(local?.remoteAddress, '127.0.0.1');
  const log = join(daemon.directory, 'access.log');
  const lines = await waitFor('three access log lines', () => {
    const found = readFileSync(log, 'utf8').trim().split('\n');
    return found.length >= 3 ? found : null;
  });
  t.deepEqual(lines.sort(), ['127.0.0.1 127.0.0.1 /local', '2001:db8::7 127.0.0.1 /v2', '203.0.113.9 127.0.0.1 /v1']);
});

test('the bytes after the header reach HTTP intact: a header split over reads, pipelined requests, a body', async (t) => {
  const daemon = await startDaemon(t, { args: [CLIENT_APP, '-b', '127.0.0.1:0', '--proxy-protocol', 'v2'] });
  const header = proxyV2Header({ source: '198.51.100.7', port: 4000 });
  const post = 'POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world';
  const exchange = await rawExchange(
    { port: daemon.port },
    [
      header.subarray(0, 5),
      header.subarray(5, 20),
      Buffer.concat([header.subarray(20), Buffer.from(get('/one', false).slice(0, 7))]),
      get('/one', false).slice(7) + post + get('/three'),
    ],
    50,
  );
  const answers = jsonBodies(exchange) as Answer[];
  t.is(answers.length, 3, exchange);
  t.true(answers.every((answer) => answer.remoteAddress === '198.51.100.7'));
});

test('no header, a malformed one, the wrong version or an untrusted peer: closed unanswered, counted and logged', async (t) => {
  const daemon = await startDaemon(t, { args: [CLIENT_APP, '-b', '127.0.0.1:0', '--proxy-protocol', 'v1', '--headers-timeout', '2'] });
  const target = { port: daemon.port };
  t.is(await rawExchange(target, [get('/plain')]), '', 'plain HTTP gets no answer');
  t.is(await rawExchange(target, ['PROXY TCP4 203.0.113.9 127.0.0.1 99999 80\r\n', get('/bad-port')]), '');
  t.is(await rawExchange(target, [proxyV2Header({ source: '203.0.113.9', port: 1 }), get('/v2')]), '', 'v2 where only v1 is accepted');
  t.is(await rawExchange(target, ['PROXY TCP4 203.0.113.9']), '', 'a header never finished: closed at headers-timeout');
  await daemon.waitForLog(
    /web\.0 g1: closed a connection without a valid PROXY protocol header on http:\/\/127\.0\.0\.1:\d+: from 127\.0\.0\.1: expected a PROXY protocol v1 header, got "GET \/plain HTTP\/1\.1\\x0d\\x0aHos\.\.\."/,
    30_000,
  );
  const status = await waitFor(
    'proxyRejected 4 in status',
    async () => {
      const found = await statusOf(daemon.directory);
      return found.pools[0]?.workers[0]?.proxyRejected === 4 ? found : null;
    },
    30_000,
  );
  t.is(status.pools[0]?.workers[0]?.proxyRejected, 4);

  const untrusting = await startDaemon(t, {
    args: [CLIENT_APP, '-b', '127.0.0.1:0', '--proxy-protocol', 'auto', '--forwarded-allow-ips', '10.0.0.1'],
  });
  t.is(await rawExchange({ port: untrusting.port }, [Buffer.concat([proxyV1Line('203.0.113.9', 1), Buffer.from(get('/spoof'))])]), '');
  await untrusting.waitForLog(
    /closed a connection without a valid PROXY protocol header on .*: peer 127\.0\.0\.1 is not a trusted proxy \(forwarded-allow-ips\)/,
    30_000,
  );
});

test('--proxy-protocol ADDRESS requires the header on that bind only', async (t) => {
  const daemon = await startDaemon(t, {
    args: [CLIENT_APP, '-b', '127.0.0.1:0', '-b', 'unix:proxied.sock', '--proxy-protocol', 'unix:proxied.sock'],
  });
  const direct = JSON.parse((await request(`${daemon.url}/direct`)).body) as Answer;
  t.is(direct.remoteAddress, '127.0.0.1', 'the TCP bind serves plain HTTP');
  const path = join(daemon.directory, 'proxied.sock');
  const [proxied] = jsonBodies(
    await rawExchange({ path }, [Buffer.concat([proxyV1Line('203.0.113.9', 7), Buffer.from(get('/over-unix'))])]),
  ) as Answer[];
  t.is(proxied?.remoteAddress, '203.0.113.9');
  t.is(proxied?.appd.peerAddress, null, 'the proxy was a unix socket peer');
  t.is(await rawExchange({ path }, [get('/plain')]), '', 'the unix bind requires the header');
});

test('proxy-protocol naming an address that is not a bind stops the start with one line', async (t) => {
  const daemon = await startDaemon(t, { args: [CLIENT_APP, '-b', '127.0.0.1:0', '--proxy-protocol', '127.0.0.1:9'], waitFor: 'nothing' });
  t.is((await daemon.exited()).code, 2);
  t.regex(
    daemon.output.trim().split('\n').at(-1) ?? '',
    /^appd: proxy-protocol \(from command line\) names 127\.0\.0\.1:9, which is not a bind \(binds: 127\.0\.0\.1:0\)$/,
  );
});

/**
 * `raw` as a stream whose first write carries `header` in front, in one write: the PROXY header and
 * the ClientHello in one segment, as HAProxy sends them. (TLS over a net.Socket itself would write
 * from its handle, after the header.)
 */
function withFirstWrite(raw: net.Socket, header: Buffer): Duplex {
  let first = true;
  const duplex = new Duplex({
    write(chunk: Buffer, _encoding, callback) {
      raw.write(first ? Buffer.concat([header, chunk]) : chunk, callback);
      first = false;
    },
    read: () => void raw.resume(),
    final: (callback) => void raw.end(callback),
  });
  raw.on('data', (chunk: Buffer) => {
    if (!duplex.push(chunk)) raw.pause();
  });
  raw.on('end', () => duplex.push(null));
  raw.on('error', (error) => duplex.destroy(error));
  return duplex;
}

test('with TLS in the worker, the PROXY header comes first and the TLS socket reports its source', async (t) => {
  const directory = tempDirectory(t);
  const [key, cert] = [join(directory, 'key.pem'), join(directory, 'cert.pem')];
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-days', '1', '-keyout', key, '-out', cert],
    { stdio: 'ignore' },
  );
  const daemon = await startDaemon(t, {
    args: [CLIENT_APP, '-b', '127.0.0.1:0', '--proxy-protocol', 'v1', '--certfile', cert, '--keyfile', key],
  });
  const body = await new Promise<string>((settle, fail) => {
    const raw = net.connect(daemon.port, '127.0.0.1', () => {
      const secure = tls.connect({ socket: withFirstWrite(raw, proxyV1Line('203.0.113.9', 5000)), rejectUnauthorized: false }, () =>
        secure.write(get('/tls')),
      );
      let received = '';
      secure.setEncoding('utf8').on('data', (text: string) => (received += text));
      secure.on('end', () => settle(received));
      secure.on('error', fail);
      // Generous (a loaded machine): without the fix the handshake never completes.
      secure.setTimeout(30_000, () => secure.destroy(new Error('the TLS handshake behind the PROXY header did not complete')));
    });
  });
  const [answer] = jsonBodies(body) as (Answer & { appd: { scheme: string } })[];
  t.is(answer?.remoteAddress, '203.0.113.9');
  t.is(answer?.remotePort, 5000);
  t.is(answer?.appd.scheme, 'https');
});
