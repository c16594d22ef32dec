// A { fetch } app gets @hono/node-server's environment ({ incoming, outgoing }) as fetch's second
// argument, so Hono's getConnInfo works in module mode and names the client: the peer, or the client a
// trusted proxy forwarded (and never what an untrusted peer claims). Runs in the ava test process.

import test from 'ava';
import http from 'node:http';
import { fixture, startDaemon } from '../helpers/daemon.js';

interface ConnInfoAnswer {
  readonly status: number;
  readonly body: { remote?: { address?: string; port?: number; addressType?: string }; outgoing?: boolean } | string;
  /** The local port this request went out from (what the server sees as the remote port). */
  readonly localPort: number | undefined;
}

function ask(url: string, headers: Record<string, string> = {}): Promise<ConnInfoAnswer> {
  return new Promise((settle, fail) => {
    const request = http.get(url, { agent: false, headers }, (response) => {
      let text = '';
      response.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      response.on('end', () => {
        let body: ConnInfoAnswer['body'] = text;
        try {
          body = JSON.parse(text) as ConnInfoAnswer['body'];
        } catch {
          // not JSON: the error page, kept as text for the assertion message
        }
        settle({ status: response.statusCode ?? 0, body, localPort: request.socket?.localPort });
      });
    });
    request.on('error', fail);
  });
}

test('Hono getConnInfo in module mode: the peer, or the client a trusted proxy forwarded', async (t) => {
  // 127.0.0.1 is a trusted proxy by default (forwarded-allow-ips 127.0.0.1,::1).
  const daemon = await startDaemon(t, { args: [fixture('hono-conninfo-app.mjs'), '-w', '1', '-b', '127.0.0.1:0'], timeoutMs: 60_000 });
  const direct = await ask(`${daemon.url}/`);
  t.is(direct.status, 200, JSON.stringify(direct.body));
  t.deepEqual(direct.body, { remote: { address: '127.0.0.1', port: direct.localPort, addressType: 'IPv4' }, outgoing: true });

  const forwarded = await ask(`${daemon.url}/`, { 'X-Forwarded-For': '198.51.100.1, 203.0.113.7' });
  t.deepEqual(forwarded.body, { remote: { address: '203.0.113.7', addressType: 'IPv4' }, outgoing: true }, 'the rightmost untrusted hop');
  const forwardedSix = await ask(`${daemon.url}/`, { 'X-Forwarded-For': '2001:db8::7' });
  t.deepEqual(forwardedSix.body, { remote: { address: '2001:db8::7', addressType: 'IPv6' }, outgoing: true });
});

test('Hono getConnInfo: what an untrusted peer forwards is ignored', async (t) => {
  const daemon = await startDaemon(t, {
    args: [fixture('hono-conninfo-app.mjs'), '-w', '1', '-b', '127.0.0.1:0', '--forwarded-allow-ips', '192.0.2.1'],
    timeoutMs: 60_000,
  });
  const answer = await ask(`${daemon.url}/`, { 'X-Forwarded-For': '203.0.113.7' });
  t.deepEqual(answer.body, { remote: { address: '127.0.0.1', port: answer.localPort, addressType: 'IPv4' }, outgoing: true });
});
