// Guards the one Node internal appd relies on (net._createServerHandle): if a Node release changes
// it, this fails loudly, naming the Node version, before anything subtler breaks.

import test from 'ava';
import net from 'node:net';
import { constants, readFileSync } from 'node:fs';
import {
  bindTcpWithoutListening,
  bindUnixWithoutListening,
  setDescriptorBlocking,
  socketAddress,
  wrapInheritedDescriptor,
} from '../../daemon/sockets/server-handle.js';
import { tempDirectory } from '../helpers/daemon.js';
import { join } from 'node:path';

test(`net._createServerHandle exists on Node ${process.version} and binds without accepting`, async (t) => {
  t.is(
    typeof (net as unknown as { _createServerHandle?: unknown })._createServerHandle,
    'function',
    `Node ${process.version} has no net._createServerHandle; appd cannot bind without accepting`,
  );
  const handle = bindTcpWithoutListening('127.0.0.1', 0, 4);
  const address = socketAddress(handle);
  t.is(address?.address, '127.0.0.1');
  t.true((address?.port ?? 0) > 0);
  t.true(handle.fd > 2);
  // Bound but not listening: connections are refused, never accepted by this process.
  await t.throwsAsync(
    new Promise((settle, fail) =>
      net
        .connect(address?.port ?? 0, '127.0.0.1')
        .once('connect', settle)
        .once('error', fail),
    ),
    { code: 'ECONNREFUSED' },
  );
  handle.close();
});

test('unix sockets and inherited descriptors use the same internal', (t) => {
  const path = join(tempDirectory(t), 'x.sock');
  const handle = bindUnixWithoutListening(path);
  t.true(handle.fd > 2);
  const wrapped = wrapInheritedDescriptor(handle.fd);
  t.is(wrapped.constructor.name, 'Pipe');
  handle.close();
});

test(`socket handles have setBlocking on Node ${process.version} (command pools get blocking sockets)`, (t) => {
  const handle = bindTcpWithoutListening('127.0.0.1', 0, 4);
  t.teardown(() => handle.close());
  const nonBlocking = (): boolean => {
    const flags = /^flags:\s+([0-7]+)$/m.exec(readFileSync(`/proc/self/fdinfo/${handle.fd}`, 'utf8'))?.[1] ?? '0';
    return (Number.parseInt(flags, 8) & constants.O_NONBLOCK) !== 0;
  };
  t.true(nonBlocking(), 'libuv creates sockets non-blocking');
  setDescriptorBlocking(handle, true);
  t.false(nonBlocking());
  setDescriptorBlocking(handle, false);
  t.true(nonBlocking());
});
