// The status feed of `watch` clients without a daemon: when snapshots are built and published (only
// while someone watches; a second apart, sooner after a change), and a watcher's bounds (skip, then drop).

import test from 'ava';
import type { ServerMessage } from '../../shared/control/protocol.js';
import { STATUS_FORMAT, type StatusSnapshot } from '../../shared/control/status.js';
import { ControlStatusWatcher, WATCH_SKIP_BYTES, WATCH_STALL_MS } from '../../daemon/control/status-watcher.js';
import type { StatusWatcher } from '../../daemon/arbiter/events.js';
import { FEED_INTERVAL_MS, FEED_MIN_INTERVAL_MS, StatusFeed } from '../../daemon/arbiter/status-feed.js';

const SNAPSHOT = { format: STATUS_FORMAT, name: 'feed', pools: [] } as unknown as StatusSnapshot;

function recordingWatcher(): StatusWatcher & { times: number[] } {
  const times: number[] = [];
  return { times, begin: () => undefined, snapshot: (_snapshot, time) => void times.push(time) };
}

test('the feed builds nothing without watchers, then publishes once per interval, sooner after a change', (t) => {
  const feed = new StatusFeed();
  let builds = 0;
  let signature = 'a';
  const publish = (now: number) =>
    feed.publishIfDue(
      now,
      () => signature,
      () => ((builds += 1), SNAPSHOT),
    );
  t.false(publish(0));
  t.is(builds, 0, 'no /proc reads while nobody watches');

  const watcher = recordingWatcher();
  const stop = feed.add(watcher);
  t.true(publish(1000));
  t.false(publish(1000 + FEED_MIN_INTERVAL_MS - 1), 'never twice within the minimum interval');
  t.false(publish(1000 + FEED_INTERVAL_MS - 1), 'nothing changed: wait for the interval');
  t.true(publish(1000 + FEED_INTERVAL_MS));
  signature = 'b';
  t.false(publish(2000 + FEED_MIN_INTERVAL_MS - 1));
  t.true(publish(2000 + FEED_MIN_INTERVAL_MS), 'a change goes out after the minimum interval');
  t.deepEqual(watcher.times, [1000, 2000, 2000 + FEED_MIN_INTERVAL_MS]);
  t.is(builds, 3, 'one snapshot per publication, shared by every watcher');

  const newcomer = recordingWatcher();
  feed.add(newcomer);
  t.true(publish(2000 + FEED_MIN_INTERVAL_MS + 1), 'a newcomer gets one at once');
  t.deepEqual(newcomer.times, [2000 + FEED_MIN_INTERVAL_MS + 1]);
  t.is(watcher.times.length, 3, 'only the newcomer: the others are not due');
  t.false(publish(2000 + FEED_MIN_INTERVAL_MS + 2));

  stop();
  t.is(feed.watcherCount, 1);
  t.true(publish(10_000));
  t.is(watcher.times.length, 3, 'a removed watcher gets nothing');
});

interface FakeSink {
  sent: ServerMessage[];
  unread: number;
  dropped: string | null;
}

function watcherWithSink(): { watcher: ControlStatusWatcher; sink: FakeSink } {
  const sink: FakeSink = { sent: [], unread: 0, dropped: null };
  const watcher = new ControlStatusWatcher('req-1', {
    send: (message) => (sink.sent.push(message), true),
    unreadBytes: () => sink.unread,
    drop: (reason) => void (sink.dropped = reason),
  });
  return { watcher, sink };
}

test('a watcher skips snapshots while its client is behind, drops it after a stall, and leaves the feed when it ends', (t) => {
  const { watcher, sink } = watcherWithSink();
  let stopped = 0;
  watcher.begin(() => (stopped += 1));
  watcher.snapshot(SNAPSHOT, 0);
  t.like(sink.sent[0], { type: 'status', id: 'req-1', time: 0 });

  sink.unread = WATCH_SKIP_BYTES + 1;
  watcher.snapshot(SNAPSHOT, 1000);
  t.is(sink.sent.length, 1, 'skipped: the next one supersedes it');
  sink.unread = 0;
  watcher.snapshot(SNAPSHOT, 2000);
  t.is(sink.sent.length, 2, 'caught up: sent again');

  sink.unread = WATCH_SKIP_BYTES + 1;
  watcher.snapshot(SNAPSHOT, 3000);
  watcher.snapshot(SNAPSHOT, 3000 + WATCH_STALL_MS - 1);
  t.is(sink.dropped, null);
  watcher.snapshot(SNAPSHOT, 3000 + WATCH_STALL_MS);
  t.is(sink.dropped, 'it stopped reading status updates');

  watcher.end();
  t.is(stopped, 1);
  watcher.snapshot(SNAPSHOT, 100_000);
  t.is(sink.sent.length, 2, 'nothing after the end');
});

test('a watcher whose connection closed before the arbiter took it in leaves the feed at once', (t) => {
  const { watcher } = watcherWithSink();
  watcher.end();
  let stopped = false;
  watcher.begin(() => (stopped = true));
  t.true(stopped);
});
