// Unit tests of master-side pieces that need no process: the worker state table, restart backoff,
// the event queue, and the access log formatter.

import test from 'ava';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { backoffDelayMs } from '../../daemon/pools/backoff.js';
import { EventQueue } from '../../daemon/arbiter/events.js';
import { SlotRecord, slotState } from '../../daemon/pools/slot.js';
import { compileAccessLogFormat } from '../../daemon/worker/access-log.js';
import { TRANSITIONS, WORKER_STATES } from '../../daemon/workers/state.js';

test('the worker state table covers every state and event, and exited is final', (t) => {
  const events = Object.keys(TRANSITIONS.starting).sort();
  for (const state of WORKER_STATES) t.deepEqual(Object.keys(TRANSITIONS[state]).sort(), events);
  t.true(Object.values(TRANSITIONS.exited).every((edge) => edge === null));
  t.is(TRANSITIONS.starting['became-ready']?.next, 'ready');
  t.is(TRANSITIONS.stopping['became-ready']?.next, 'stopping', 'a worker told to stop stays stopping');
  t.deepEqual(TRANSITIONS.ready.retire?.actions, ['ask-to-stop']);
});

test('slot states: backoff while its next start waits, fatal, exited, stopped when not wanted', (t) => {
  const exit = { code: 1, signal: null, reason: 'failed to boot', at: 0 };
  const record = new SlotRecord();
  t.is(slotState(record, [], true, 1000), 'starting');
  record.transition({ type: 'failed-start', exit, at: 1000, delayMs: 1000 });
  t.is(slotState(record, [], true, 1000), 'backoff');
  t.is(slotState(record, [], true, 2000), 'starting');
  record.transition({ type: 'gave-up', exit });
  t.is(slotState(record, [], true, 1000), 'fatal');
  record.transition({ type: 'finished', exit });
  t.is(slotState(record, [], true, 1000), 'exited');
  t.is(slotState(record, [], false, 1000), 'stopped');
  record.reset();
  t.is(slotState(record, [], true, 1000), 'starting');
  t.is(record.failures, 0);
});

test('backoff: the first failure restarts at once, then doubling with jitter up to 30 s', (t) => {
  t.is(
    backoffDelayMs(1, () => 0.5),
    0,
  );
  t.is(
    backoffDelayMs(2, () => 0.5),
    250,
  );
  t.is(
    backoffDelayMs(3, () => 0.5),
    500,
  );
  t.is(
    backoffDelayMs(20, () => 0.5),
    30_000,
  );
  t.is(
    backoffDelayMs(2, () => 0),
    200,
  );
  t.is(
    backoffDelayMs(2, () => 1),
    300,
  );
});

test('the event queue hands out everything queued, in order, and times out empty', async (t) => {
  const queue = new EventQueue<number>();
  t.deepEqual(await queue.takeAll(10), []);
  queue.push(1);
  queue.push(2);
  t.deepEqual(await queue.takeAll(1000), [1, 2]);
  setTimeout(() => queue.push(3), 20);
  t.deepEqual(await queue.takeAll(5000), [3]);
});

test('access log atoms render like Gunicorn\'s, unknown atoms as "-"', (t) => {
  const request = {
    method: 'POST',
    url: '/a?b=1',
    httpVersion: '1.1',
    headers: {
      referer: 'http://ref',
      'user-agent': 'ua/1',
      authorization: `Basic ${Buffer.from('ann:pw').toString('base64')}`,
      'x-id': '7',
    },
  } as unknown as IncomingMessage;
  const response = { statusCode: 204, getHeader: (name: string) => (name === 'x-out' ? 'yes' : undefined) } as unknown as ServerResponse;
  const format = compileAccessLogFormat(
    '%(h)s %(l)s %(u)s "%(r)s" %(s)s %(b)s %(B)s "%(f)s" "%(a)s" %({x-id}i)s %({x-out}o)s %(zz)s %(U)s %(q)s %(H)s %(scheme)s %(peer)s',
  );
  t.true(format.usesClient);
  const client = { clientAddress: '10.0.0.1', scheme: 'https', host: 'shop.example', peerAddress: '127.0.0.1' } as const;
  const line = format({ request, response, startedAt: process.hrtime.bigint(), client, bytesSent: 0 });
  t.is(line, '10.0.0.1 - ann "POST /a?b=1 HTTP/1.1" 204 - 0 "http://ref" "ua/1" 7 yes - /a b=1 HTTP/1.1 https 127.0.0.1');
  t.false(compileAccessLogFormat('%(t)s %(r)s').usesClient, 'a format without client atoms never resolves the client');
  t.regex(
    compileAccessLogFormat('%(t)s')({ request, response, startedAt: 0n, client: null, bytesSent: 0 }),
    /^\[\d\d\/[A-Z][a-z]{2}\/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\]$/,
  );
});
