// appctl's two transports of the control connection, each driven against a real UNIX socket server:
// Node's pipe binding (what appctl takes when this Node gives it) and node:net (its fallback). Then the
// real appctl: a plain status loads neither node:net nor node:stream, prints no deprecation warning under
// --pending-deprecation, and still answers where the binding is refused (the permission model).

import test, { type ExecutionContext } from 'ava';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { ControlClient } from '../../ctl/client/connection.js';
import { NoDaemonError } from '../../ctl/client/errors.js';
import { openTransport, type Transport, type TransportKind } from '../../ctl/client/transport.js';
import { appctl } from '../helpers/appctl.js';
import { APPCTL, fixture, startDaemon, tempDirectory } from '../helpers/daemon.js';
import { runCommand } from '../helpers/other-users.js';

const KINDS: readonly TransportKind[] = ['pipe', 'net'];

/** What a transport reported, in order, and the bytes it read. */
class Recorder {
  readonly events: string[] = [];
  readonly errors: NodeJS.ErrnoException[] = [];
  received = Buffer.alloc(0);
  readonly #waiters: Array<{ ready: () => boolean; settle: () => void }> = [];

  readonly listeners = {
    connect: () => this.#note('connect'),
    data: (chunk: Buffer) => {
      this.received = Buffer.concat([this.received, chunk]);
      this.#note('data');
    },
    error: (error: NodeJS.ErrnoException) => {
      this.errors.push(error);
      this.#note(`error ${error.code ?? '?'}`);
    },
    close: () => this.#note('close'),
  };

  /** Resolves once `ready()` holds (checked after each event). */
  until(ready: () => boolean): Promise<void> {
    if (ready()) return Promise.resolve();
    return new Promise((settle) => this.#waiters.push({ ready, settle }));
  }

  #note(event: string): void {
    this.events.push(event);
    for (const waiter of [...this.#waiters]) {
      if (!waiter.ready()) continue;
      this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
      waiter.settle();
    }
  }
}

/** A UNIX socket server in a fresh directory; hands each accepted connection to the test. */
async function server(t: ExecutionContext): Promise<{ path: string; accepted: () => Promise<net.Socket> }> {
  const directory = tempDirectory(t);
  const path = join(directory, 'peer.sock');
  const queue: net.Socket[] = [];
  const waiting: Array<(socket: net.Socket) => void> = [];
  const listener = net.createServer((socket) => {
    socket.on('error', () => socket.destroy());
    const taker = waiting.shift();
    if (taker) taker(socket);
    else queue.push(socket);
  });
  await new Promise<void>((settle) => listener.listen(path, settle));
  t.teardown(
    () =>
      new Promise<void>((settle) => {
        for (const socket of queue) socket.destroy();
        listener.close(() => settle());
      }),
  );
  const accepted = () => {
    const socket = queue.shift();
    return socket ? Promise.resolve(socket) : new Promise<net.Socket>((settle) => waiting.push(settle));
  };
  return { path, accepted };
}

/** Two turns of the loop: data already in the socket's receive queue would have been read by then. */
async function twoLoopTurns(): Promise<void> {
  for (let turn = 0; turn < 2; turn += 1) await new Promise((settle) => setImmediate(settle));
}

for (const kind of KINDS) {
  test(`${kind} transport: connects, carries bytes both ways (2 MB each), pauses, resumes, and closes once at the peer's end`, async (t) => {
    const peer = await server(t);
    const recorder = new Recorder();
    const transport: Transport = await openTransport(peer.path, recorder.listeners, kind);
    t.teardown(() => transport.destroy());
    const connection = await peer.accepted();
    await recorder.until(() => recorder.events.includes('connect'));

    // Larger than a UNIX socket's buffer: the write completes asynchronously, in order.
    const outgoing = Buffer.alloc(2 * 1024 * 1024, 'abcdefgh');
    let arrived = Buffer.alloc(0);
    connection.on('data', (chunk: Buffer) => (arrived = Buffer.concat([arrived, chunk])));
    transport.write(outgoing.subarray(0, 1024 * 1024));
    transport.write(outgoing.subarray(1024 * 1024));
    await new Promise<void>((settle) => {
      const check = () => (arrived.length >= outgoing.length ? settle() : connection.once('data', check));
      check();
    });
    t.true(arrived.equals(outgoing), 'every byte, in order');

    // Paused: bytes already in the socket are not read until resume().
    transport.pause();
    const incoming = Buffer.alloc(64 * 1024, 'xyz');
    await new Promise<void>((settle) => connection.write(incoming, () => settle()));
    await twoLoopTurns();
    t.is(recorder.received.length, 0, 'nothing read while paused');
    transport.resume();
    const rest = Buffer.alloc(2 * 1024 * 1024, 'q');
    connection.end(rest);
    await recorder.until(() => recorder.events.includes('close'));
    t.true(recorder.received.equals(Buffer.concat([incoming, rest])));
    t.deepEqual(recorder.errors, [], "the peer's end is no error");
    t.is(recorder.events.filter((event) => event === 'close').length, 1);
    t.true(transport.closed);
  });

  test(`${kind} transport: a missing socket and a stale one fail with ENOENT and ECONNREFUSED, then close`, async (t) => {
    const directory = tempDirectory(t);
    const missing = new Recorder();
    await openTransport(join(directory, 'none.sock'), missing.listeners, kind);
    await missing.until(() => missing.events.includes('close'));
    t.deepEqual(missing.events, ['error ENOENT', 'close']);
    t.is(missing.errors[0]?.message, `connect ENOENT ${join(directory, 'none.sock')}`);

    // A socket file whose listener has gone (a daemon killed by SIGKILL leaves one behind): bound by a
    // process that exits without unlinking it.
    const stalePath = join(directory, 'stale.sock');
    const bound = await runCommand(['python3', '-c', 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])', stalePath]);
    t.is(bound.code, 0, bound.stderr);
    const refused = new Recorder();
    await openTransport(stalePath, refused.listeners, kind);
    await refused.until(() => refused.events.includes('close'));
    t.deepEqual(refused.events, ['error ECONNREFUSED', 'close']);
  });

  test(`${kind} transport: destroy() closes once, and nothing is reported after it`, async (t) => {
    const peer = await server(t);
    const recorder = new Recorder();
    const transport = await openTransport(peer.path, recorder.listeners, kind);
    const connection = await peer.accepted();
    await recorder.until(() => recorder.events.includes('connect'));
    transport.destroy();
    transport.destroy();
    await recorder.until(() => recorder.events.includes('close'));
    connection.write('late');
    await new Promise<void>((settle) => connection.once('close', () => settle()));
    await twoLoopTurns();
    t.deepEqual(recorder.events, ['connect', 'close']);
    transport.write(Buffer.from('after the end'));
    await twoLoopTurns();
    t.deepEqual(recorder.events, ['connect', 'close'], 'a write after destroy() is dropped');
  });

  test(`${kind} transport: ControlClient asks a real daemon, and tells "no daemon" from "closed before hello"`, async (t) => {
    const daemon = await startDaemon(t, { args: [fixture('pid-app.mjs'), '-w', '1', '-b', '127.0.0.1:0'] });
    await daemon.waitForWorkers(1);
    const socket = join(daemon.directory, 'appd', 'appd.sock');
    const request = { command: 'status' } as const;
    const client = await ControlClient.connect(socket, { request, transport: kind, deadlineMs: 30_000 });
    t.teardown(() => client.close());
    t.like(await client.request(request), { status: 'completed', data: { name: 'appd', pools: [{ name: 'web' }] } });
    t.like(await client.request({ command: 'ping' }), { status: 'completed' });
    client.close();
    await client.closed();

    const error = await t.throwsAsync(ControlClient.connect(join(daemon.directory, 'appd', 'none.sock'), { transport: kind }));
    t.true(error instanceof NoDaemonError, String(error));

    // Something that accepts and hangs up at once (a daemon out of file descriptors does this).
    const directory = tempDirectory(t);
    mkdirSync(join(directory, 'appd'), { mode: 0o700 });
    const rude = net.createServer((connection) => connection.destroy());
    const rudePath = join(directory, 'appd', 'rude.sock');
    await new Promise<void>((settle) => rude.listen(rudePath, settle));
    t.teardown(() => new Promise<void>((settle) => rude.close(() => settle())));
    await t.throwsAsync(ControlClient.connect(rudePath, { transport: kind }), { message: /closed it before saying hello/ });
  });
}

test('a plain appctl status loads neither node:net nor node:stream, and warns of nothing under --pending-deprecation', async (t) => {
  const daemon = await startDaemon(t, { args: [fixture('pid-app.mjs'), '-w', '1', '-b', '127.0.0.1:0'] });
  await daemon.waitForWorkers(1);
  const directory = tempDirectory(t);
  const record = join(directory, 'modules.json');
  const preload = join(directory, 'record-modules.cjs');
  // Loaded before appctl (--require): writes the modules Node loaded as the process exits.
  writeFileSync(
    preload,
    `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(record)}, JSON.stringify(process.moduleLoadList)));\n`,
  );
  const result = await appctl(['status'], {
    runtimeDirectory: daemon.directory,
    env: { NODE_OPTIONS: `--require ${preload} --pending-deprecation` },
  });
  t.is(result.code, 0, result.stderr);
  t.regex(result.stdout, /^appd 'appd': master pid \d+/);
  t.is(result.stderr, '', "no DEP0111 warning for appctl's own process.binding");
  const modules = JSON.parse(readFileSync(record, 'utf8')) as string[];
  t.true(modules.includes('Internal Binding pipe_wrap'), 'it talked through the pipe binding');
  t.false(modules.includes('NativeModule net'), 'node:net was not loaded');
  t.false(modules.includes('NativeModule stream'), 'node:stream was not loaded');
});

test("appctl status answers through node:net where Node's permission model refuses process.binding", async (t) => {
  const daemon = await startDaemon(t, { args: [fixture('pid-app.mjs'), '-w', '1', '-b', '127.0.0.1:0'] });
  await daemon.waitForWorkers(1);
  const socket = join(daemon.directory, 'appd', 'appd.sock');
  const permission = Number(process.versions.node.split('.')[0]) >= 22 ? '--permission' : '--experimental-permission';
  const result = await runCommand(
    [process.execPath, permission, '--allow-fs-read=*', '--allow-fs-write=*', APPCTL, '-s', socket, 'status'],
    {
      timeoutMs: 60_000,
    },
  );
  t.is(result.code, 0, result.stderr);
  t.regex(result.stdout, /^appd 'appd': master pid \d+[^]*\nweb\.0 g1 +\d+ +ready/);
});
