// --log-format json (the master's lines and its workers' relayed output) and the JSON access log forms:
// one JSON object per line, the fields fixed, and text from a worker or a client header confined to
// its own field's string (it cannot add a field or end the line).

import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { fixture, startDaemon } from '../helpers/daemon.js';
import { get, request } from '../helpers/http.js';
import { waitFor } from '../helpers/processes.js';
import { compileAccessLogFormat, type RequestRecord } from '../../daemon/worker/access-log.js';
import { kinds } from '../../shared/settings/kinds.js';

const FORGED = 'x","level":"critical","pool":"evil","message":"forged';

function jsonLines(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

test('master log, worker output and access log as JSON lines that a worker or a header cannot forge', async (t) => {
  const daemon = await startDaemon(t, {
    args: [
      fixture('print-app.mjs'),
      '-w',
      '1',
      '-b',
      '127.0.0.1:0',
      '--log-format',
      'json',
      '--error-logfile',
      'error.log',
      '--access-logfile',
      'access.log',
      '--access-log-format',
      'json',
    ],
    // The test harness waits for the text "ready" line: in JSON it is in a message field.
    waitFor: 'nothing',
  });
  await daemon.waitForLog(/"message":"ready: /, 15_000);
  await get(`${daemon.url}/print?text=${encodeURIComponent(`${FORGED}\nsecond line`)}`);
  await request(`${daemon.url}/agent`, { headers: { 'user-agent': FORGED, referer: '}\\' } });
  await waitFor('the access log lines', () =>
    readFileSync(join(daemon.directory, 'access.log'), 'utf8').split('\n').length > 2 ? true : null,
  );
  await daemon.waitForLog(/second line/);

  const log = jsonLines(readFileSync(join(daemon.directory, 'error.log'), 'utf8'));
  for (const line of log) t.deepEqual(Object.keys(line), ['time', 'level', 'pool', 'slot', 'generation', 'pid', 'message']);
  const ready = log.find((line) => String(line['message']).startsWith('ready: '));
  t.like(ready, { level: 'info', pool: null, slot: null, generation: null, pid: daemon.pid });
  const printed = log.filter((line) => line['level'] === 'stdout');
  t.is(printed.length, 2, 'the newline made two lines, each its own object');
  t.like(printed[0], { message: FORGED, pool: 'web', slot: 0, generation: 1 });
  t.like(printed[1], { message: 'second line 0', pool: 'web', slot: 0, generation: 1 });
  t.false(log.some((line) => line['pool'] === 'evil'));

  const access = jsonLines(readFileSync(join(daemon.directory, 'access.log'), 'utf8'));
  t.is(access.length, 2);
  const agent = access.find((line) => line['path'] === '/agent');
  t.deepEqual(Object.keys(agent ?? {}), [
    'time',
    'remote_addr',
    'method',
    'path',
    'query',
    'protocol',
    'status',
    'bytes',
    'duration_s',
    'referer',
    'user_agent',
  ]);
  t.like(agent, { user_agent: FORGED, referer: '}\\', status: 200, method: 'GET', protocol: 'HTTP/1.1', remote_addr: '127.0.0.1' });
  t.is(typeof agent?.['bytes'], 'number');
  t.is(typeof agent?.['duration_s'], 'number');
});

test('a JSON template picks the fields; one numeric atom alone gives a number; a bad template is refused at start', (t) => {
  const format = compileAccessLogFormat(
    '{"ip": "%(h)s", "status": "%(s)s", "line": "%(r)s", "id": "%({x-request-id}i)s", "status_text": "code %(s)s"}',
  );
  const record = {
    request: { method: 'GET', url: '/a?b', httpVersion: '1.1', headers: { 'x-request-id': 'abc"\n' } } as unknown as IncomingMessage,
    response: { statusCode: 204, getHeader: () => undefined } as unknown as ServerResponse,
    startedAt: process.hrtime.bigint(),
    client: { clientAddress: '10.0.0.1', peerAddress: '10.0.0.1', scheme: 'http', host: null },
    bytesSent: 0,
  } as RequestRecord;
  const line = format(record);
  t.false(line.includes('\n'));
  t.like(JSON.parse(line), { ip: '10.0.0.1', status: 204, line: 'GET /a?b HTTP/1.1', id: 'abc"\n', status_text: 'code 204' });
  t.true(format.usesClient);
  t.throws(() => kinds.accessLogFormat.parse('{"status": 200}'), { message: /field "status" .* not a string of atoms/ });
  t.throws(() => kinds.accessLogFormat.parse('{"status": "%(s)s"'), { message: /must be a JSON object of strings/ });
  t.is(kinds.accessLogFormat.parse('%(h)s %(r)s'), '%(h)s %(r)s');
});
