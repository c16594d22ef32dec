// slot-bind on a real daemon: each slot's socket reaches that slot's worker (unix and TCP); a reload
// and a crash replacement keep the slot's socket and queue (no request fails, one worker of the slot
// accepts at a time); scaling adds and removes slot sockets, and what a removed slot's queued
// connections get. Runs in the ava test process.

import test from 'ava';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { appctl } from '../helpers/appctl.js';
import { fixture, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { request } from '../helpers/http.js';
import { freeConsecutivePorts } from '../helpers/ports.js';
import { killQuietly, waitFor } from '../helpers/processes.js';
import { reloadAndWait } from '../helpers/reload.js';

const PID_APP = fixture('pid-app.mjs');

interface Responder {
  readonly pid: number;
  readonly slot: number;
  readonly generation: number;
}

function parse(body: string): Responder {
  const match = /pid=(\d+) slot=(\d+) generation=(\d+)/.exec(body);
  if (!match) throw new Error(`not a pid-app answer: ${body}`);
  return { pid: Number(match[1]), slot: Number(match[2]), generation: Number(match[3]) };
}

async function viaUnix(daemon: TestDaemon, slot: number, path = '/'): Promise<Responder> {
  return parse(
    (await request(`http://localhost${path}`, { socketPath: join(daemon.directory, `web.${slot}.sock`), timeoutMs: 30_000 })).body,
  );
}

test("each slot socket reaches its own slot's worker, unix ({slot} in the path) and TCP (port + slot)", async (t) => {
  const port = await freeConsecutivePorts(3);
  const daemon = await startDaemon(t, {
    args: [PID_APP, '-w', '3', '-b', '127.0.0.1:0', '--slot-bind', 'unix:web.{slot}.sock', '--slot-bind', `127.0.0.1:${port}`],
  });
  for (const slot of [0, 1, 2]) {
    t.regex(
      daemon.output,
      new RegExp(`Listening at: unix:${daemon.directory}/web\\.${slot}\\.sock \\(fd \\d+, bound, pool web, slot ${slot}\\)`),
    );
    // A few times each: the kernel would spread a shared socket's connections over all three.
    for (let round = 0; round < 4; round += 1) {
      t.is((await viaUnix(daemon, slot)).slot, slot);
      t.is(parse((await request(`http://127.0.0.1:${port + slot}/`)).body).slot, slot);
    }
  }
});

test('a reload hands each slot socket from the old worker to the new one: no request fails, the generations never interleave', async (t) => {
  const daemon = await startDaemon(t, { args: [PID_APP, '-w', '2', '-b', '127.0.0.1:0', '--slot-bind', 'unix:web.{slot}.sock'] });
  const seen: number[] = [];
  const failures: string[] = [];
  let running = true;
  // Sequential requests on slot 0's socket for the whole reload.
  const load = (async () => {
    while (running) {
      try {
        seen.push((await viaUnix(daemon, 0)).generation);
      } catch (error) {
        failures.push(String(error));
      }
    }
  })();
  await waitFor('a first answer', () => seen.length > 0, 20_000);
  await reloadAndWait(daemon, 2, 60_000);
  await waitFor('answers from generation 2', () => seen.filter((generation) => generation === 2).length >= 5, 30_000);
  running = false;
  await load;
  t.deepEqual(failures, []);
  const firstNew = seen.indexOf(2);
  t.true(firstNew > 0, 'generation 1 answered before the reload');
  t.deepEqual(
    seen.slice(firstNew).filter((generation) => generation !== 2),
    [],
    `once the new worker holds the slot, the old one answers nothing: ${seen.join(',')}`,
  );
});

test("a reload closes the old worker's idle keep-alive connections on a slot socket at once (keep-alive 60 s): a proxy's next request reaches the new generation", async (t) => {
  const daemon = await startDaemon(t, {
    args: [PID_APP, '-w', '1', '-b', '127.0.0.1:0', '--slot-bind', 'unix:web.{slot}.sock', '--keep-alive', '60'],
  });
  // A proxy's idle upstream connection: one request answered, kept open.
  const idle = net.connect(join(daemon.directory, 'web.0.sock'));
  let received = '';
  idle.setEncoding('utf8').on('data', (text: string) => (received += text));
  const closed = new Promise<void>((settle) => idle.once('close', () => settle()));
  idle.on('error', () => undefined); // a reset instead of a FIN is a close too
  idle.write('GET / HTTP/1.1\r\nHost: shop.example\r\n\r\n');
  await waitFor('the first answer', () => /generation=1/.test(received), 30_000);
  await reloadAndWait(daemon, 2, 60_000);
  // Before: it stayed open for keep-alive (60 s) and the old worker answered whatever came on it,
  // a new socket.io session's handshake included, whose next request then reached the new worker.
  await Promise.race([
    closed,
    waitFor('never', () => false, 30_000).catch(() => t.fail('the idle slot connection was still open 30 s after the reload')),
  ]);
  t.false(received.toLowerCase().includes('connection: close'), 'it was idle: no response of it said close');
  t.is((await viaUnix(daemon, 0)).generation, 2);
});

test("a crashed worker's replacement takes over the slot socket; connections made meanwhile wait and are answered", async (t) => {
  const daemon = await startDaemon(t, { args: [PID_APP, '-w', '2', '-b', '127.0.0.1:0', '--slot-bind', 'unix:web.{slot}.sock'] });
  const before = await viaUnix(daemon, 1);
  killQuietly(before.pid, 'SIGKILL');
  // Made while slot 1 has no worker: they wait in the slot socket's queue.
  const answers = await Promise.all([0, 1, 2, 3, 4].map(() => viaUnix(daemon, 1)));
  for (const answer of answers) {
    t.is(answer.slot, 1);
    t.not(answer.pid, before.pid);
  }
});

function connectOutcome(path: string, payload: string): Promise<string> {
  return new Promise((settle) => {
    const socket = net.connect(path);
    let received = '';
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(payload));
    socket.on('data', (text: string) => (received += text));
    socket.on('error', (error: NodeJS.ErrnoException) => settle(received.includes('200 OK') ? 'answered' : (error.code ?? 'error')));
    socket.on('close', () => settle(received.includes('200 OK') ? 'answered' : received === '' ? 'closed' : 'partial'));
  });
}

test("scaling up binds the new slots' sockets; scaling down removes them: a unix path is gone at once, queued connections are answered or reset, never left hanging", async (t) => {
  const port = await freeConsecutivePorts(3);
  const daemon = await startDaemon(t, {
    args: [PID_APP, '-w', '1', '-b', '127.0.0.1:0', '--slot-bind', 'unix:web.{slot}.sock', '--slot-bind', `127.0.0.1:${port}`],
  });
  t.false(existsSync(join(daemon.directory, 'web.1.sock')));
  const scaled = await appctl(['scale', '3'], { runtimeDirectory: daemon.directory });
  t.is(scaled.code, 0, scaled.stdout + scaled.stderr);
  await waitFor('slot 2 serving', async () => (await viaUnix(daemon, 2).catch(() => null))?.slot === 2, 30_000);
  t.is(parse((await request(`http://127.0.0.1:${port + 2}/`)).body).slot, 2);

  // Slot 2's worker is kept busy, so connections made now queue unaccepted in its socket; then TTOU
  // removes slot 2 (one fewer worker), while they wait.
  const path = join(daemon.directory, 'web.2.sock');
  const busy = viaUnix(daemon, 2, '/?busy=1000');
  await new Promise((wake) => setTimeout(wake, 100));
  const queued = [0, 1, 2].map(() => connectOutcome(path, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
  await new Promise((wake) => setTimeout(wake, 100));
  daemon.signal('SIGTTOU');
  await daemon.waitForLog(/closed slot socket unix:.*web\.2\.sock of web\.2 \(no such slot any more\)/, 30_000);
  t.false(existsSync(path), 'the path is removed at once');
  const refused = await connectOutcome(path, '');
  t.is(refused, 'ENOENT', 'a proxy connecting now fails at once and tries its next server');
  const outcomes = await Promise.all(queued);
  t.log(`queued connections on the removed slot: ${outcomes.join(', ')}`);
  for (const outcome of outcomes) t.true(['answered', 'ECONNRESET', 'closed', 'EPIPE'].includes(outcome), outcome);
  await busy.catch(() => null);
  // Slots 0 and 1 are untouched.
  t.is((await viaUnix(daemon, 1)).slot, 1);
  await t.throwsAsync(request(`http://127.0.0.1:${port + 2}/`, { timeoutMs: 5000 }), { code: 'ECONNREFUSED' });
});

test('a bad slot-bind stops the start with one line', async (t) => {
  for (const [value, message] of [
    ['unix:web.sock', /slot-bind.*unix:web\.sock: a unix slot-bind path needs \{slot\}/],
    ['localhost:8100', /slot-bind.*localhost:8100: slot-bind takes an IP address, not a host name/],
    ['127.0.0.1:0', /slot-bind.*127\.0\.0\.1:0: a TCP slot-bind needs slot 0's port/],
  ] as const) {
    const daemon = await startDaemon(t, { args: [PID_APP, '--slot-bind', value], waitFor: 'nothing' });
    t.is((await daemon.exited()).code, 2);
    t.regex(daemon.output.trim().split('\n').at(-1) ?? '', message);
  }
});

test('appctl upgrade hands the slot sockets to the new master: the same paths answer, from its workers', async (t) => {
  const daemon = await startDaemon(t, { args: [PID_APP, '-w', '2', '-b', '127.0.0.1:0', '--slot-bind', 'unix:web.{slot}.sock'] });
  const before = await viaUnix(daemon, 1);
  const upgraded = await appctl(['upgrade'], { runtimeDirectory: daemon.directory, timeoutMs: 90_000 });
  t.is(upgraded.code, 0, upgraded.stdout + upgraded.stderr);
  for (const slot of [0, 1]) {
    t.regex(daemon.output, new RegExp(`Listening at: unix:.*web\\.${slot}\\.sock \\(fd \\d+, previous-master, pool web, slot ${slot}\\)`));
    const after = await viaUnix(daemon, slot);
    t.like(after, { slot, generation: 2 }, "the new master's worker holds the slot");
  }
  t.is(before.generation, 1);
});

test('per pool: pools.NAME.slotBind and proxyProtocol apply to that pool only', async (t) => {
  const config = {
    pools: {
      web: { app: PID_APP, workers: 2, bind: ['unix:web.sock'], slotBind: ['unix:web.{slot}.sock'], proxyProtocol: 'v1' },
      api: { app: PID_APP, workers: 1, bind: ['127.0.0.1:0'] },
    },
  };
  const daemon = await startDaemon(t, { args: ['-c', 'appd.json'], files: { 'appd.json': JSON.stringify(config) } });
  t.false(existsSync(join(daemon.directory, 'api.0.sock')));
  t.is(parse((await request(`${daemon.urlOf('api')}/`)).body).slot, 0, 'api speaks plain HTTP');
  const answer = await new Promise<string>((settle) => {
    const socket = net.connect(join(daemon.directory, 'web.1.sock'));
    let received = '';
    socket.on('connect', () =>
      socket.write('PROXY TCP4 203.0.113.9 127.0.0.1 5000 80\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'),
    );
    socket.setEncoding('utf8').on('data', (text: string) => (received += text));
    socket.on('close', () => settle(received));
  });
  t.is(parse(answer).slot, 1, "web's slot socket requires and accepts the PROXY header");
  t.is(
    await connectOutcome(join(daemon.directory, 'web.1.sock'), 'GET / HTTP/1.1\r\nHost: x\r\n\r\n'),
    'closed',
    "plain HTTP on web's slot socket is closed unanswered",
  );
});
