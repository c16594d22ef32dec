// The reason each worker exit counts under in appd_worker_restarts_total, status and events: every
// fixed reason from the worker's record, and no reason for a planned stop nothing replaces.

import test from 'ava';
import { restartReason, type ExitedWorker } from '../../daemon/workers/exit-reason.js';

const healthy: ExitedWorker = { generation: 2, timedOut: false, bootFailure: null, recycleReason: null, recycleCause: null };

test('unasked exits: crash, oom, outside_kill; SIGKILL with no OOM count to read counts as a crash', (t) => {
  t.is(restartReason(healthy, false, 'crash', 2), 'crash');
  t.is(restartReason(healthy, false, 'oom', 2), 'oom');
  t.is(restartReason(healthy, false, 'outside-kill', 2), 'outside_kill');
  t.is(restartReason(healthy, false, 'killed', 2), 'crash');
});

test('asked exits: timeout, max_requests, max_memory, reload, or none for a planned stop', (t) => {
  t.is(restartReason({ ...healthy, timedOut: true }, true, 'crash', 2), 'timeout');
  t.is(restartReason({ ...healthy, bootFailure: { phase: 'timeout' } }, true, 'crash', 2), 'timeout');
  t.is(restartReason({ ...healthy, recycleReason: 'served 10 requests', recycleCause: 'max_requests' }, true, 'crash', 2), 'max_requests');
  t.is(restartReason({ ...healthy, recycleReason: 'RSS 300 MB', recycleCause: 'max_memory' }, true, 'crash', 2), 'max_memory');
  t.is(restartReason(healthy, true, 'crash', 3), 'reload', 'an older generation replaced by a reload');
  t.is(restartReason({ ...healthy, recycleReason: 'restart requested by appctl' }, true, 'crash', 2), 'reload');
  t.is(restartReason(healthy, true, 'crash', 2), null, 'scaled down or stopped: nothing replaces it');
  t.is(restartReason({ ...healthy, generation: 3 }, true, 'crash', 2), null, 'a rolled-back new worker is not a restart');
});
