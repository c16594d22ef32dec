// A log follower that asked for at most N lines a second (appctl top) gets N, then one note with how
// many were left out; one that did not ask gets every line.

import test from 'ava';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { LogLineMessage, ServerMessage } from '../../shared/control/protocol.js';
import { LogFollower } from '../../daemon/control/followers.js';
import type { LogLine } from '../../daemon/master/logger.js';

function follower(maxLinesPerSecond?: number): { follower: LogFollower; received: () => LogLineMessage[] } {
  const sent: ServerMessage[] = [];
  const request = {
    command: 'logs',
    pool: null,
    lines: 0,
    follow: true,
    ...(maxLinesPerSecond === undefined ? {} : { maxLinesPerSecond }),
  } as const;
  const instance = new LogFollower(request, 'logs-1', {
    send: (message) => (sent.push(message), true),
    unreadBytes: () => 0,
    drop: () => undefined,
  });
  instance.begin([], () => undefined);
  return { follower: instance, received: () => sent.flatMap((message) => (message.type === 'log' ? message.lines : [])) };
}

const line = (time: number, index: number): LogLine => ({ time, source: 'web.0 g1', pid: 7, level: 'stdout', text: `line ${index}` });

test('at most maxLinesPerSecond lines a second, then a note of how many were left out', async (t) => {
  const { follower: limited, received } = follower(3);
  for (let index = 0; index < 10; index += 1) limited.line(line(5000 + index, index));
  limited.line(line(6000, 10));
  await nextTurn();
  t.deepEqual(
    received().map((each) => each.text),
    ['line 0', 'line 1', 'line 2', '7 line(s) not sent to this client (it asked for at most 3 a second)', 'line 10'],
  );
  t.like(received()[3], { source: 'master', level: 'warning' });
});

test('without a budget every line is sent', async (t) => {
  const { follower: unlimited, received } = follower();
  for (let index = 0; index < 1000; index += 1) unlimited.line(line(5000, index));
  await nextTurn();
  t.is(received().length, 1000);
});
