// listen()'s overloads as the adoption reads them, and which calls each adopt-listen policy takes.
// Runs in the ava test process (pure functions of daemon/worker/listen-adoption.ts).

import test from 'ava';
import { describeListenCall, describeTarget, policyMatches } from '../../daemon/worker/script/listen-adoption.js';

const callback = (): void => undefined;

test('reads every listen() overload like node:net', (t) => {
  t.deepEqual(describeListenCall([]).target, { kind: 'port', port: 0, host: null });
  t.deepEqual(describeListenCall([callback]).target, { kind: 'port', port: 0, host: null });
  t.deepEqual(describeListenCall([3000]).target, { kind: 'port', port: 3000, host: null });
  t.deepEqual(describeListenCall(['3000', '0.0.0.0', 511, callback]).target, { kind: 'port', port: 3000, host: '0.0.0.0' });
  t.deepEqual(
    describeListenCall([undefined, callback]).target,
    { kind: 'port', port: 0, host: null },
    'listen(process.env.PORT) with PORT unset',
  );
  t.deepEqual(describeListenCall(['/run/app.sock', callback]).target, { kind: 'path', path: '/run/app.sock' });
  t.deepEqual(describeListenCall([{ port: 8080, host: '::' }]).target, { kind: 'port', port: 8080, host: '::' });
  t.deepEqual(describeListenCall([{ path: '/tmp/s' }]).target, { kind: 'path', path: '/tmp/s' });
  t.deepEqual(describeListenCall([{ fd: 3 }]).target, { kind: 'fd', fd: 3 });
  t.deepEqual(describeListenCall([{ _handle: {} }]).target, { kind: 'handle' });
  t.true(Number.isNaN((describeListenCall([{ port: 'http' }]).target as { port: number }).port));
});

test('keeps the callback and an AbortSignal', (t) => {
  const signal = new AbortController().signal;
  const call = describeListenCall([{ port: 1, signal }, callback]);
  t.is(call.callback, callback);
  t.is(call.signal, signal);
  t.is(describeListenCall([3000]).callback, null);
});

test('policies: any takes everything; env only port $PORT; a number only that port', (t) => {
  const port3000 = describeListenCall([3000]).target;
  const unix = describeListenCall(['/tmp/s']).target;
  t.true(policyMatches('any', port3000, null));
  t.true(policyMatches('any', unix, null));
  t.true(policyMatches('env', port3000, 3000));
  t.false(policyMatches('env', port3000, 8000));
  t.false(policyMatches('env', port3000, null), 'env with PORT unset adopts nothing');
  t.false(policyMatches('env', unix, 3000));
  t.true(policyMatches(3000, port3000, null));
  t.false(policyMatches(3001, port3000, 3001));
});

test('describes calls for error messages', (t) => {
  t.is(describeTarget(describeListenCall([3000, 'localhost']).target), 'listen(port 3000 on localhost)');
  t.is(describeTarget(describeListenCall(['/tmp/s']).target), 'listen(/tmp/s)');
  t.is(describeTarget(describeListenCall([{ fd: 5 }]).target), 'listen(fd 5)');
});
