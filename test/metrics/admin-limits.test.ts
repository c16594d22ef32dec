// The admin listener's own limits: clients that never finish their headers hold at most 16 of the
// master's descriptors and are closed by the headers timeout; oversized headers and request bodies
// are refused; afterwards the probes answer as before. Run against a real daemon over TCP.

import test from 'ava';
import net from 'node:net';
import { readdirSync } from 'node:fs';
import { fixture, startDaemon } from '../helpers/daemon.js';
import { request } from '../helpers/http.js';
import { metricsAddress } from '../helpers/metrics.js';
import { waitFor } from '../helpers/processes.js';

const HOLDERS = 40;
/** The listener's connection limit (daemon/metrics/admin-server.ts). */
const MAX_CONNECTIONS = 16;
/** Descriptors the master may open meanwhile for other reasons (a transient accept before its close). */
const SLACK = 3;

const openDescriptors = (pid: number): number => readdirSync(`/proc/${pid}/fd`).length;

interface RawAnswer {
  readonly text: string;
  readonly closed: boolean;
}

/** Writes `payload` on a new connection and collects what comes back until the server closes it. */
async function raw(host: string, port: number, payload: string): Promise<RawAnswer> {
  return new Promise((settle, fail) => {
    const socket = net.connect(port, host, () => socket.write(payload));
    let text = '';
    socket.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => settle({ text, closed: true }));
    setTimeout(() => {
      socket.destroy();
      fail(new Error(`no close within 30 s; got ${JSON.stringify(text.slice(0, 200))}`));
    }, 30_000).unref();
  });
}

test('40 clients that never finish their headers hold at most 16 descriptors, all closed by the headers timeout; big headers and bodies refused', async (t) => {
  const daemon = await startDaemon(t, { args: [fixture('pid-app.mjs'), '-w', '1', '-b', '127.0.0.1:0', '--metrics-bind', '127.0.0.1:0'] });
  const admin = metricsAddress(daemon);
  const [host = '', portText = ''] = admin.split(':');
  const port = Number(portText);
  t.is((await request(`http://${admin}/livez`)).status, 200);
  const baseline = openDescriptors(daemon.pid);

  const holders: net.Socket[] = [];
  t.teardown(() => holders.forEach((socket) => socket.destroy()));
  let connected = 0;
  let closed = 0;
  for (let index = 0; index < HOLDERS; index += 1) {
    const socket = net.connect(port, host, () => {
      connected += 1;
      socket.write('GET /livez HTTP/1.1\r\nHost: x\r\n'); // never the blank line that ends the headers
    });
    socket.on('error', () => undefined);
    socket.on('close', () => (closed += 1));
    holders.push(socket);
  }
  // The master's descriptors, sampled until the headers timeout has closed every holder.
  let most = 0;
  await waitFor('every holder to connect', () => connected + closed >= HOLDERS, 30_000, 10);
  await waitFor(
    'the master to close every holder',
    () => {
      most = Math.max(most, openDescriptors(daemon.pid) - baseline);
      return closed === HOLDERS;
    },
    60_000,
    20,
  );
  t.log(`${HOLDERS} clients that never finished their headers: the master held at most ${most} more descriptors; all closed`);
  t.true(most <= MAX_CONNECTIONS + SLACK, `the master held ${most} more descriptors`);
  t.true(most >= 1, 'the holders were seen');

  // 16 KiB of headers (the limit is 8 KiB): closed without an answer. A body: 413, and closed.
  const big = await raw(host, port, `GET /livez HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(16 * 1024)}\r\n\r\n`);
  t.false(big.text.includes('200 OK'), big.text.slice(0, 200));
  const body = await raw(host, port, 'GET /livez HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello');
  t.regex(body.text, /^HTTP\/1\.1 413 /);
  const post = await raw(host, port, 'POST /livez HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n');
  t.regex(post.text, /^HTTP\/1\.1 405 /);

  t.is((await request(`http://${admin}/livez`)).status, 200);
  t.is((await request(`http://${admin}/readyz`)).status, 200);
  t.true(openDescriptors(daemon.pid) - baseline <= SLACK, 'no descriptor left behind');
});
