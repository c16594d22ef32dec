// socket.io 4, the real package, as an unmodified script with 2 workers: socket.io clients (WebSocket
// transport, as socket.io's docs advise without sticky sessions) echo with acknowledgements while plain
// HTTP load runs, across 2 rolling reloads. HTTP fails no request; a socket.io session on a draining
// worker is kept until graceful-timeout, then cut, and the client reconnects to the new generation and
// gets every ack. An echo written into the socket that is cut has no ack to come: socket.io's own
// at-least-once delivery (`retries` with `ackTimeout`, what socket.io's docs advise for restarts) sends it
// again on the new connection, so none is lost. The script's SIGTERM handler never runs. Runs in the ava test process.

import test from 'ava';
import { io, type Socket } from 'socket.io-client';
import { fixture, startDaemon } from '../helpers/daemon.js';
import { waitFor } from '../helpers/processes.js';
import { reloadAndWait } from '../helpers/reload.js';
import { assertNoFailures, underLoad } from '../helpers/under-load.js';

/** A reload boots new workers, which takes many seconds (a minute, seen) on a machine loaded by parallel test runs. */
const RELOAD_TIMEOUT_MS = 180_000;
/** How long one try of an echo waits for its ack before socket.io sends it again (through a cut and a reconnect). */
const ACK_TIMEOUT_MS = 12_000;
/** Tries after the first: an echo counts as lost after about a minute without an ack. */
const RETRIES = 4;
const CLIENTS = 8;

interface Tally {
  acks: number;
  ackTimeouts: number;
  connectErrors: number;
  disconnects: number;
  /** Per client, the generation of its latest ack. */
  readonly generations: number[];
}

/** One socket.io client echoing every 100 ms until `going()` is false. */
async function session(url: string, index: number, going: () => boolean, tally: Tally): Promise<void> {
  const socket: Socket = io(url, { transports: ['websocket'], forceNew: true, ackTimeout: ACK_TIMEOUT_MS, retries: RETRIES });
  socket.on('connect_error', () => (tally.connectErrors += 1));
  socket.on('disconnect', () => (tally.disconnects += 1));
  try {
    for (let sent = 0; going(); sent += 1) {
      await new Promise<void>((settle) => {
        socket.emit('echo', sent, (error: Error | null, reply: { generation: number }) => {
          if (error) tally.ackTimeouts += 1;
          else {
            tally.acks += 1;
            tally.generations[index] = reply.generation;
          }
          settle();
        });
      });
      await new Promise((wake) => setTimeout(wake, 100));
    }
  } finally {
    socket.close();
  }
}

test.serial(
  'socket.io 4 as an unmodified script: 2 workers, 2 rolling reloads under HTTP load fail no request and lose no ack; sessions move to the new generation',
  async (t) => {
    t.timeout(600_000);
    const daemon = await startDaemon(t, {
      args: ['--script', fixture('socketio-script.mjs'), '-w', '2', '-b', '127.0.0.1:0', '--graceful-timeout', '5'],
      timeoutMs: 120_000,
    });
    const tally: Tally = {
      acks: 0,
      ackTimeouts: 0,
      connectErrors: 0,
      disconnects: 0,
      generations: Array.from({ length: CLIENTS }, () => 0),
    };
    let going = true;
    const clients = tally.generations.map((_, index) => session(daemon.url, index, () => going, tally));
    try {
      await waitFor('an ack for every client', () => tally.generations.every((generation) => generation === 1), 60_000);
      const result = await underLoad(daemon.url, async () => {
        await reloadAndWait(daemon, 2, RELOAD_TIMEOUT_MS);
        await reloadAndWait(daemon, 3, RELOAD_TIMEOUT_MS);
      });
      assertNoFailures(t, result, 'socket.io script, plain HTTP, 2 reloads');
      // The last old workers' sessions are cut at graceful-timeout; their clients come back on generation 3.
      await waitFor('every client acked by generation 3', () => tally.generations.every((generation) => generation === 3), 120_000);
    } finally {
      going = false;
      await Promise.all(clients);
    }
    t.log(
      `socket.io: ${CLIENTS} clients, ${tally.acks} acks, ${tally.disconnects} disconnects (reconnected), ${tally.connectErrors} connect errors, ${tally.ackTimeouts} ack timeouts`,
    );
    t.is(tally.ackTimeouts, 0);
    t.is(tally.connectErrors, 0);
    t.false(daemon.output.includes('SIGTERM handler ran'), "a reload does not trigger the script's SIGTERM handler");
  },
);
