// A real nginx (Debian's) in front of appd, configured by docs/proxies/nginx.conf and
// nginx-sticky.conf as they are (temporary paths and ports swapped in), its workers running as
// www-data: the unix socket with a group, forwarded addresses and scheme, a reload under wrk with
// keep-alive upstream, and socket.io over slot sockets. Skipped, saying why, where nginx (or wrk) is
// missing or the suite does not run as root. Runs in the ava test process.

import test, { type ExecutionContext } from 'ava';
import { readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { join } from 'node:path';
import { io, type Socket } from 'socket.io-client';
import { runWrk } from '../bench/wrk.js';
import { fixture, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { request } from '../helpers/http.js';
import { isInstalled } from '../helpers/installed-tool.js';
import { childrenOf, waitFor } from '../helpers/processes.js';
import {
  directoryForProxies,
  NGINX_AS_WWW_DATA,
  recipeWith,
  selfSignedCertificate,
  startNginx,
  startOnFreePorts,
  uidOf,
  type ProxyServer,
} from '../helpers/proxy-servers.js';
import { reloadAndWait } from '../helpers/reload.js';

const WWW_DATA = 33;

function nginxTest(title: string, needs: readonly string[], implementation: (t: ExecutionContext) => Promise<void>): void {
  const missing = ['nginx', 'openssl', ...needs].filter((program) => !isInstalled(program));
  const reasons = [
    ...missing.map((program) => `${program} is not installed (.ci/run installs it with apt)`),
    ...(NGINX_AS_WWW_DATA ? [] : ['needs root, for nginx workers as www-data and a socket group']),
  ];
  if (reasons.length === 0) test.serial(title, implementation);
  else test.skip(`${title} [skipped: ${reasons.join('; ')}]`, implementation);
}

interface Shop {
  readonly daemon: TestDaemon;
  readonly nginx: ProxyServer;
  readonly port: number;
  readonly tlsPort: number;
  /** Where appd's unix sockets are. */
  readonly sockets: string;
}

/** appd on unix sockets in a directory www-data may pass through, nginx from a recipe in front. */
async function shop(t: ExecutionContext, recipe: 'nginx.conf' | 'nginx-sticky.conf', appdArgs: readonly string[]): Promise<Shop> {
  const sockets = directoryForProxies(t);
  const absolute = (argument: string): string => argument.replace(/^unix:(?!\/)/, `unix:${sockets}/`);
  const daemon = await startDaemon(t, {
    args: [
      ...appdArgs.map(absolute),
      '-b',
      absolute('unix:web.sock'),
      '--unix-socket-group',
      'www-data',
      '--unix-socket-mode',
      '0660',
      '--access-logfile',
      'access.log',
      '--access-log-format',
      '%(h)s %(scheme)s "%(r)s" %(s)s',
    ],
    timeoutMs: 60_000,
  });
  const [certificate, key] = recipe === 'nginx.conf' ? selfSignedCertificate(daemon.directory) : ['', ''];
  const {
    server: nginx,
    ports: [port = 0, tlsPort = 0],
  } = await startOnFreePorts(2, ([port = 0, tlsPort = 0]) => {
    const replacements: [string, string][] = [
      ['/run/shop/', `${sockets}/`],
      ['listen 80;', `listen 127.0.0.1:${port};`],
    ];
    if (recipe === 'nginx.conf') {
      replacements.push(
        ['listen 443 ssl;', `listen 127.0.0.1:${tlsPort} ssl;`],
        ['/etc/ssl/shop.example.pem', certificate],
        ['/etc/ssl/shop.example.key', key],
      );
    }
    return startNginx(t, recipeWith(recipe, replacements), port);
  });
  return { daemon, nginx, port, tlsPort, sockets };
}

/** nginx's [error], [crit], [alert] and [emerg] lines. */
function nginxErrors(nginx: ProxyServer): string[] {
  return nginx
    .read('error.log')
    .split('\n')
    .filter((line) => /\[(error|crit|alert|emerg)\]/.test(line));
}

nginxTest(
  "nginx workers as www-data reach appd's unix socket through --unix-socket-group www-data --unix-socket-mode 0660: 200",
  [],
  async (t) => {
    const { sockets, nginx, port } = await shop(t, 'nginx.conf', [fixture('pid-app.mjs'), '-w', '2']);
    const socket = statSync(join(sockets, 'web.sock'));
    t.is(socket.mode & 0o777, 0o660);
    t.is(socket.gid, WWW_DATA);
    const workers = childrenOf(nginx.pid);
    t.true(workers.length > 0);
    for (const worker of workers) t.is(uidOf(worker), WWW_DATA, "nginx's workers run as www-data");
    const answer = await request(`http://127.0.0.1:${port}/`, { headers: { host: 'shop.example' } });
    t.is(answer.status, 200, answer.body);
    t.regex(answer.body, /^pid=\d+ slot=\d generation=1$/m);
    t.deepEqual(nginxErrors(nginx), []);
  },
);

nginxTest(
  "X-Forwarded-For spoofing through nginx: appd logs and reports the real peer; Express's req.ip agrees with trust proxy 1",
  [],
  async (t) => {
    const { daemon, port, tlsPort } = await shop(t, 'nginx.conf', [fixture('proxies/client-app.mjs')]);
    // 127.0.0.2 is a client like any other to appd: not one of its trusted proxies (127.0.0.1, ::1).
    const answer = await request(`http://127.0.0.1:${port}/spoof`, {
      headers: { host: 'shop.example', 'x-forwarded-for': '203.0.113.9' },
      localAddress: '127.0.0.2',
    });
    t.deepEqual(JSON.parse(answer.body).appd, { clientAddress: '127.0.0.2', scheme: 'http', host: 'shop.example', peerAddress: null });
    const log = join(daemon.directory, 'access.log');
    t.is(
      await waitFor(
        'the access log line',
        () =>
          readFileSync(log, 'utf8')
            .split('\n')
            .find((line) => line.includes('/spoof')) ?? null,
      ),
      '127.0.0.2 http "GET /spoof HTTP/1.1" 200',
    );

    const express = await shop(t, 'nginx.conf', [fixture('proxies/express-client-app.cjs')]);
    const viaExpress = await httpsGet(express.tlsPort, '/express', { 'x-forwarded-for': '203.0.113.9' }, '127.0.0.3');
    t.like(JSON.parse(viaExpress), { ip: '127.0.0.3', protocol: 'https', appd: { clientAddress: '127.0.0.3', scheme: 'https' } });
    t.not(tlsPort, express.tlsPort);
  },
);

function httpsGet(port: number, path: string, headers: Record<string, string>, localAddress = '127.0.0.1'): Promise<string> {
  return new Promise((settle, fail) => {
    const outgoing = https.get(
      {
        host: '127.0.0.1',
        port,
        path,
        localAddress,
        headers: { host: 'shop.example', ...headers },
        rejectUnauthorized: false,
        agent: false,
      },
      (response) => {
        let body = '';
        response.setEncoding('utf8').on('data', (text: string) => (body += text));
        response.on('end', () => settle(body));
      },
    );
    outgoing.on('error', fail);
  });
}

nginxTest("X-Forwarded-Proto https from nginx's TLS listener reaches a fetch app's request.url", [], async (t) => {
  const { port, tlsPort } = await shop(t, 'nginx.conf', [fixture('proxies/url-fetch-app.mjs')]);
  t.is(JSON.parse(await httpsGet(tlsPort, '/cart?id=7', {})).url, 'https://shop.example/cart?id=7');
  t.is(
    JSON.parse((await request(`http://127.0.0.1:${port}/cart`, { headers: { host: 'shop.example' } })).body).url,
    'http://shop.example/cart',
  );
});

nginxTest('a reload under wrk through nginx with keep-alive upstream: 0 failed requests, 0 nginx errors', ['wrk'], async (t) => {
  const { daemon, nginx, port } = await shop(t, 'nginx.conf', [fixture('pid-app.mjs'), '-w', '2']);
  const connections = 16;
  const load = runWrk({ wrkPath: 'wrk', url: `http://127.0.0.1:${port}/`, mode: 'keep-alive', connections, durationSeconds: 12 });
  await waitFor('requests through nginx', () => nginx.read('access.log').split('\n').length > 50, 20_000);
  await reloadAndWait(daemon, 2, 60_000);
  const run = await load;
  t.log(`wrk through nginx across a reload: ${run.requests} requests, ${run.errors} errors`);
  t.true(run.requests > 0);
  t.is(run.errors, 0, 'wrk saw no socket error and no non-2xx answer');
  const statuses = nginx
    .read('access.log')
    .trim()
    .split('\n')
    .map((line) => /" (\d{3}) /.exec(line)?.[1]);
  // wrk closes its connections when its time is up: what was in flight then is nginx's 499 (client
  // closed), at most one per connection. Where those land in the log is not fixed: two nginx workers
  // write it, and a response that reaches nginx after wrk's close can still be logged 200, after a 499.
  // A request wrk gave up on during the run would be a wrk timeout, counted in run.errors above; so the
  // log must hold only 200s and at most `connections` 499s, wherever they fall.
  const unanswered = statuses.filter((status) => status !== '200');
  t.true(
    unanswered.every((status) => status === '499') && unanswered.length <= connections,
    `nginx answered every request 200 but those in flight when wrk stopped: ${unanswered.join(',')}`,
  );
  t.deepEqual(nginxErrors(nginx), []);
});

/** How long an echo may wait for its ack before it counts as lost. */
const ACK_TIMEOUT_MS = 15_000;

interface ClientTally {
  connectErrors: number;
  /** What each connect error said, with how often (a report, when the count is not 0). */
  readonly connectErrorReasons: Map<string, number>;
  ackTimeouts: number;
  acks: number;
  slowestAckMs: number;
  /** Per client, the slots its acks came from. */
  readonly slots: Set<number>[];
}

/** One socket.io session from its own address while `going()`: an echo with ack every 100 ms. */
async function session(url: string, localAddress: string, going: () => boolean, tally: ClientTally, slots: Set<number>): Promise<void> {
  const agent = new http.Agent({ keepAlive: true, localAddress });
  // engine.io-client hands `agent` to its long-polling requests and `localAddress` to the WebSocket.
  const socket: Socket = io(url, { agent, localAddress, forceNew: true } as unknown as Parameters<typeof io>[1]);
  socket.on('connect_error', (error: Error & { description?: unknown; context?: unknown }) => {
    tally.connectErrors += 1;
    const reason = `${error.message} ${JSON.stringify(error.description ?? null)}`.slice(0, 300);
    tally.connectErrorReasons.set(reason, (tally.connectErrorReasons.get(reason) ?? 0) + 1);
  });
  try {
    for (let sent = 0; going(); sent += 1) {
      const emittedAt = Date.now();
      await new Promise<void>((settle) => {
        // Generous: on a machine loaded by parallel suites an answer can take seconds; a lost one never comes.
        socket.timeout(ACK_TIMEOUT_MS).emit('echo', sent, (error: Error | null, reply: { slot: number }) => {
          if (error) tally.ackTimeouts += 1;
          else {
            tally.acks += 1;
            tally.slowestAckMs = Math.max(tally.slowestAckMs, Date.now() - emittedAt);
            slots.add(reply.slot);
          }
          settle();
        });
      });
      await new Promise((wake) => setTimeout(wake, 100));
    }
  } finally {
    socket.close();
    agent.destroy();
  }
}

nginxTest(
  'socket.io (long-polling, then WebSocket) through nginx over slot sockets: 20 clients x 8 s, 0 connect errors, 0 ack timeouts, across appctl reload',
  [],
  async (t) => {
    const { daemon, nginx, port } = await shop(t, 'nginx-sticky.conf', [
      `${fixture('proxies/socketio-app.mjs')}:attach(server)`,
      '-w',
      '2',
      '--slot-bind',
      'unix:web.{slot}.sock',
    ]);
    const url = `http://127.0.0.1:${port}`;
    const tally: ClientTally = {
      connectErrors: 0,
      connectErrorReasons: new Map(),
      ackTimeouts: 0,
      acks: 0,
      slowestAckMs: 0,
      slots: Array.from({ length: 20 }, () => new Set<number>()),
    };
    const started = Date.now();
    let reloadedAt: number | null = null;
    // First session: connected before the reload, acking through it until shortly after; second: a
    // new session on the new generation, until 8 s have passed (and for 2 s at least).
    const clients = tally.slots.map(async (slots, index) => {
      const address = `127.0.0.${10 + index}`;
      await session(url, address, () => reloadedAt === null || Date.now() < reloadedAt + 500, tally, slots);
      const second = Date.now();
      await session(url, address, () => Date.now() < Math.max(started + 8000, second + 2000), tally, slots);
    });
    await waitFor('acks from every client', () => tally.slots.every((slots) => slots.size > 0), 30_000);
    await reloadAndWait(daemon, 2, 60_000);
    reloadedAt = Date.now();
    await Promise.all(clients);
    t.log(
      `socket.io through nginx: ${tally.acks} acks in ${((Date.now() - started) / 1000).toFixed(1)} s, ${tally.connectErrors} connect errors, ${tally.ackTimeouts} ack timeouts (${ACK_TIMEOUT_MS / 1000} s), slowest ack ${tally.slowestAckMs} ms`,
    );
    for (const [reason, count] of tally.connectErrorReasons) t.log(`connect error x${count}: ${reason}`);
    t.is(tally.connectErrors, 0);
    t.is(tally.ackTimeouts, 0);
    t.true(tally.acks > 20 * 10);
    t.true(
      tally.slots.every((slots) => slots.size === 1),
      'each client stays on one slot, in both generations',
    );
    t.is(new Set(tally.slots.map((slots) => [...slots][0])).size, 2, 'nginx spread the clients over both slots');
    t.deepEqual(nginxErrors(nginx), []);
  },
);
