// Sockets listen from the moment the master binds them (DESIGN §16), with the configured backlog, and
// the master never accepts: connections wait in the kernel's queue while the first workers boot, while
// WINCH has parked every worker, and sd_listen_fds programs that only call accept() get a listening,
// blocking socket. `ss` reads each socket's backlog (Send-Q) and queue (Recv-Q) from the kernel.

import { spawnSync } from 'node:child_process';
import net from 'node:net';
import { join } from 'node:path';
import { readlinkSync, writeFileSync } from 'node:fs';
import { fixture, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { get } from '../helpers/http.js';
import { serialTestWith } from '../helpers/installed-tool.js';
import { waitFor } from '../helpers/processes.js';

interface ListenQueue {
  /** Connections waiting to be accepted. */
  readonly queued: number;
  /** The backlog listen() was given. */
  readonly backlog: number;
}

/** A listening TCP socket's queue and backlog as `ss` reads them from the kernel; null if none listens on `port`. */
function listenQueue(where: { port: number }): ListenQueue | null {
  const match = /LISTEN\s+(\d+)\s+(\d+)/.exec(ss(['-ltnH', `sport = :${where.port}`]));
  return match ? { queued: Number(match[1]), backlog: Number(match[2]) } : null;
}

function ss(args: readonly string[]): string {
  const result = spawnSync('ss', args, { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`ss ${args.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

/**
 * A listening unix socket's queue and backlog, found by the master's descriptor: the kernel lists a
 * unix socket under the name it was bound to, and appd binds in a private directory, then renames.
 */
function unixListenQueue(daemon: TestDaemon, logged: RegExp): ListenQueue | null {
  const descriptor = logged.exec(daemon.output)?.[1];
  if (descriptor === undefined) throw new Error(`no log line matches ${logged}`);
  const inode = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${daemon.pid}/fd/${descriptor}`))?.[1];
  // "u_str LISTEN 0 77 /proc/self/fd/21/9f3c... 1234567 * 0": queue, backlog, name, inode.
  for (const line of ss(['-lxH']).split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (fields[1] === 'LISTEN' && fields[5] === inode) return { queued: Number(fields[2]), backlog: Number(fields[3]) };
  }
  return null;
}

function portOf(url: string): number {
  return Number(new URL(url).port);
}

/** Opens a connection and sends a request on it; resolves with the status line once answered. */
function rawRequest(port: number): Promise<string> {
  return new Promise((settle, fail) => {
    const socket = net.connect(port, '127.0.0.1');
    let answer = '';
    socket.setEncoding('utf8');
    socket.once('connect', () => socket.write('GET / HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n'));
    socket.on('data', (text: string) => (answer += text));
    socket.once('end', () => settle(answer.split('\r\n')[0] ?? ''));
    socket.once('error', fail);
    socket.setTimeout(120_000, () => socket.destroy(new Error('no answer within 120 s')));
  });
}

/** The first TCP "Listening at" of the daemon, from its log (before it is ready). */
async function listeningPort(daemon: TestDaemon): Promise<number> {
  const match = await daemon.waitForLog(/Listening at: http:\/\/127\.0\.0\.1:(\d+) /, 30_000);
  return Number(match[1]);
}

const CONNECTIONS = 50;

serialTestWith(
  { ss: 'iproute2' },
  `a factory that takes 5 s: ${CONNECTIONS} clients connecting while it boots all wait in the queue and get their answer`,
  async (t) => {
    t.timeout(120_000);
    const daemon = await startDaemon(t, {
      args: [`${fixture('slow-boot-app.mjs')}:create()`, '-b', '127.0.0.1:0', '-w', '1', '--backlog', '100'],
      env: { BOOT_DELAY_MS: '5000' },
      waitFor: 'nothing',
    });
    const port = await listeningPort(daemon);
    const answers = Array.from({ length: CONNECTIONS }, () => rawRequest(port));
    // Every connection sits in the kernel's queue: none refused, none taken by the master (whose loop
    // would hold it unanswered). The worker's factory is still sleeping.
    const queue = await waitFor(
      `${CONNECTIONS} queued connections`,
      () => {
        const found = listenQueue({ port });
        return found !== null && found.queued === CONNECTIONS ? found : null;
      },
      30_000,
    );
    t.is(queue.backlog, 100);
    t.notRegex(daemon.output, /ready: /, 'the connections were queued before any worker was ready');
    const statusLines = await Promise.all(answers);
    t.deepEqual(new Set(statusLines), new Set(['HTTP/1.1 200 OK']));
    t.is(listenQueue({ port })?.backlog, 100, 'the worker adopted the socket with the same backlog');
  },
);

serialTestWith(
  { ss: 'iproute2' },
  `WINCH parks every worker: ${CONNECTIONS} connections wait in the queue and are answered once HUP starts workers`,
  async (t) => {
    t.timeout(120_000);
    const daemon = await startDaemon(t, { args: [fixture('pid-app.mjs'), '-b', '127.0.0.1:0', '-w', '2'] });
    const port = daemon.port;
    daemon.signal('SIGWINCH');
    await waitFor('every worker to be gone', () => daemon.workers().length === 0, 30_000);
    const answers = Array.from({ length: CONNECTIONS }, () => rawRequest(port));
    await waitFor(`${CONNECTIONS} queued connections`, () => listenQueue({ port })?.queued === CONNECTIONS, 30_000);
    daemon.signal('SIGHUP');
    const statusLines = await Promise.all(answers);
    t.deepEqual(new Set(statusLines), new Set(['HTTP/1.1 200 OK']));
  },
);

serialTestWith(
  { ss: 'iproute2' },
  'the master alone listens with the backlog (TCP and unix), at start and on a reload that adds a bind',
  async (t) => {
    t.timeout(120_000);
    // A command pool whose program never touches its sockets: whatever listens, the master made it so.
    const config = (binds: string[]) => `export default {
    backlog: 77,
    pools: { idle: { command: ['sleep', '600'], workers: 1, bind: ${JSON.stringify(binds)} } },
  };\n`;
    const daemon = await startDaemon(t, {
      args: ['-c', 'appd.config.mjs'],
      files: { 'appd.config.mjs': config(['127.0.0.1:0', 'unix:idle.sock']) },
    });
    const port = portOf(daemon.urlOf('idle'));
    t.deepEqual(listenQueue({ port }), { queued: 0, backlog: 77 });
    t.deepEqual(unixListenQueue(daemon, /Listening at: unix:\S*idle\.sock \(fd (\d+)/), { queued: 0, backlog: 77 });
    // A connection is queued, not refused.
    const waiting = net.connect(port, '127.0.0.1');
    t.teardown(() => waiting.destroy());
    await new Promise<void>((settle, fail) => waiting.once('connect', settle).once('error', fail));
    await waitFor('the connection to be queued', () => listenQueue({ port })?.queued === 1);

    writeFileSync(join(daemon.directory, 'appd.config.mjs'), config(['127.0.0.1:0', 'unix:idle.sock', 'unix:added.sock']));
    daemon.signal('SIGHUP');
    await daemon.waitForLog(/Listening at: unix:\S*added\.sock .*bound on reload/, 30_000);
    t.deepEqual(unixListenQueue(daemon, /Listening at: unix:\S*added\.sock \(fd (\d+)/), { queued: 0, backlog: 77 });
  },
);

serialTestWith(
  { ss: 'iproute2' },
  'ss -ltn shows --backlog while workers serve (they adopt the socket without resetting it)',
  async (t) => {
    const daemon = await startDaemon(t, { args: [fixture('pid-app.mjs'), '-b', '127.0.0.1:0', '-w', '2', '--backlog', '100'] });
    t.is((await get(`${daemon.url}/`)).status, 200);
    t.is(listenQueue({ port: daemon.port })?.backlog, 100);
  },
);

serialTestWith({ python3: 'python3' }, 'an sd_listen_fds program that only calls accept(2) serves from a command pool', async (t) => {
  const daemon = await startDaemon(t, {
    args: ['-c', 'appd.config.mjs'],
    files: {
      'appd.config.mjs': `export default {
        pools: { legacy: { command: ['python3', ${JSON.stringify(fixture('accept-only-server.py'))}], workers: 2, bind: ['127.0.0.1:0'] } },
      };\n`,
    },
  });
  const port = portOf(daemon.urlOf('legacy'));
  for (let round = 0; round < 10; round += 1) t.regex(await rawRequest(port), /^HTTP\/1\.1 200 OK$/);
  t.notRegex(daemon.output, /accept\(3\) failed/);
});
