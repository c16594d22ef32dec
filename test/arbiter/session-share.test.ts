// The rule that weighs the workers' sessions as one, with a recording writer in place of
// /proc/PID/autogroup: the levels, when they are rewritten, and what a refused write does.
// Runs in the ava test process (the real kernel is in test/daemon/session-share.test.ts).

import test from 'ava';
import { Logger } from '../../daemon/master/logger.js';
import { SessionShare, sessionNiceFor, type SessionNiceWriter } from '../../daemon/workers/spawn/session-share.js';
import { waitFor } from '../helpers/processes.js';

/** An error as node:fs throws it. */
function systemError(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: refused`), { code });
}

/** A writer that records [pid, nice] and refuses as `refuse` says. */
function recorder(refuse: (pid: number, call: number) => string | null = () => null): {
  writes: [number, number][];
  writer: SessionNiceWriter;
} {
  const writes: [number, number][] = [];
  let calls = 0;
  return {
    writes,
    writer: (pid, nice) => {
      calls += 1;
      const code = refuse(pid, calls);
      if (code !== null) throw systemError(code);
      writes.push([pid, nice]);
    },
  };
}

class RecordingLogger extends Logger {
  readonly warnings: string[] = [];
  constructor() {
    super('/dev/null', 'debug');
  }
  override warning(text: string): void {
    this.warnings.push(text);
  }
}

const nextTurn = (): Promise<void> => new Promise((settle) => setImmediate(settle));

test('N sessions at the level that weighs 1/N of one (the scheduler weighs each level 1.25x the next)', (t) => {
  t.deepEqual(
    [1, 2, 3, 4, 8, 16, 64, 1000].map((workers) => sessionNiceFor(workers)),
    [0, 3, 5, 6, 9, 12, 19, 19],
  );
  // What the levels stand for: 1024 / 1.25^n, the kernel's table to within its rounding.
  t.true(Math.abs(2 * 1024 * 1.25 ** -sessionNiceFor(2) - 1024) / 1024 < 0.05);
  t.true(Math.abs(16 * 1024 * 1.25 ** -sessionNiceFor(16) - 1024) / 1024 < 0.15);
});

test('every live worker is rewritten when their number changes, once per turn, an exited one never again', async (t) => {
  const { writes, writer } = recorder();
  const share = new SessionShare(new RecordingLogger(), writer);
  share.started(101);
  share.started(102);
  t.deepEqual(writes, [], 'not in the turn of the spawn');
  await nextTurn();
  t.deepEqual(writes, [
    [101, 3],
    [102, 3],
  ]);
  writes.length = 0;
  share.started(103);
  await nextTurn();
  t.deepEqual(writes, [
    [101, 5],
    [102, 5],
    [103, 5],
  ]);
  writes.length = 0;
  // Two reaped in one libuv pass: the first one's report must not write to the second (its pid may be reused).
  share.exited(103);
  share.exited(102);
  await nextTurn();
  t.deepEqual(writes, [[101, 0]]);
  t.is(share.niceOf(102), undefined);
  writes.length = 0;
  share.started(104);
  share.exited(104);
  await nextTurn();
  t.deepEqual(writes, [], 'started and reaped in one turn: nothing to write, the level did not change');
});

test('a rate-limited write (EAGAIN, no CAP_SYS_ADMIN) is retried after the kernel interval', async (t) => {
  // The kernel takes one write per 100 ms: refuse every second call.
  const { writes, writer } = recorder((_pid, call) => (call % 2 === 0 ? 'EAGAIN' : null));
  const logger = new RecordingLogger();
  const share = new SessionShare(logger, writer);
  for (const pid of [201, 202, 203]) share.started(pid);
  await waitFor('three writes', () => writes.length === 3, 5000, 10);
  t.deepEqual(writes, [
    [201, 5],
    [202, 5],
    [203, 5],
  ]);
  t.deepEqual(logger.warnings, []);
});

test('a worker gone before its write (ENOENT) is skipped; any other refusal is said once and ends the writes', async (t) => {
  const { writes, writer } = recorder((pid) => (pid === 302 ? 'ENOENT' : pid === 304 ? 'EACCES' : null));
  const logger = new RecordingLogger();
  const share = new SessionShare(logger, writer);
  share.started(301);
  share.started(302);
  await nextTurn();
  t.deepEqual(writes, [[301, 3]]);
  t.deepEqual(logger.warnings, []);
  share.started(303);
  share.started(304);
  await nextTurn();
  t.is(logger.warnings.length, 1);
  t.regex(logger.warnings[0] ?? '', /^cannot weigh worker sessions as one \(\/proc\/304\/autogroup: permission denied \[EACCES\]\)/);
  writes.length = 0;
  share.started(305);
  await nextTurn();
  t.deepEqual(writes, [], 'no more writes after a refusal');
  t.is(logger.warnings.length, 1);
});

test('no writer (autogroup off or absent): nothing is tracked', async (t) => {
  const share = new SessionShare(new RecordingLogger(), null);
  share.started(401);
  await nextTurn();
  t.is(share.niceOf(401), undefined);
});
