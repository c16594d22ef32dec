// A worker thread inside each HTTP worker: prints the main thread's JavaScript stack when the master
// says the worker timed out, and ends the process if the master vanished while JavaScript is stuck.
// Runs in a worker_threads thread of each HTTP worker process.
//
// Why a thread: a worker stuck in a busy loop never runs its JS signal handlers, and Node's
// report-on-signal is such a handler (verified: the report is written only after the loop ends, with an
// empty stack). An inspector session from another thread can still enable the debugger and pause the
// main thread while it is stuck: both reach it as V8 interrupts, which a loop's stack checks take
// (measured on Node 20 and 24: a `for` loop and a Date.now() loop paused 30-80 ms after the ask).
//
// Why the debugger is enabled only when the master asks for the stack: an enabled debugger puts every
// promise operation of the main thread on V8's slow path (its async-event delegate): 1e6 awaits took
// 0.41 s of CPU instead of 0.045 s (9x, Node 20), every request of an async app paying it. A session
// that is only connected costs nothing measurable.

import { writeSync } from 'node:fs';
import { Session } from 'node:inspector';
import net from 'node:net';
import { workerData } from 'node:worker_threads';
import { STACK_HEADER } from '../contracts/worker-messages.js';
import { disconnectAtExit } from './watchdog-exit.js';

interface WatchdogData {
  readonly tag: string;
  /** How long to let the main thread drain after the master vanished before killing the process. */
  readonly orphanGraceMs: number;
  /** The exit handshake with the main thread (watchdog-exit.ts). */
  readonly exitHandshake: Int32Array;
}

interface CallFrame {
  functionName: string;
  location: { scriptId: string; lineNumber: number; columnNumber: number };
}

const { tag, orphanGraceMs, exitHandshake } = workerData as WatchdogData;
const session = new Session();
const scriptUrls = new Map<string, string>();
let stackRequested = false;
let debuggerEnabled = false;

session.connectToMainThread();
session.on('Debugger.scriptParsed', (message) => {
  if (message.params.url) scriptUrls.set(message.params.scriptId, message.params.url);
});
session.on('Debugger.paused', (message) => {
  if (!stackRequested) {
    session.post('Debugger.resume');
    return;
  }
  stackRequested = false;
  const frames = (message.params.callFrames as CallFrame[]).map((frame) => {
    const url = scriptUrls.get(frame.location.scriptId) ?? '<unknown>';
    const position = `${url}:${frame.location.lineNumber + 1}:${frame.location.columnNumber + 1}`;
    return `    at ${frame.functionName || '<anonymous>'} (${position})`;
  });
  // fd 2 is the pipe to the master, which tags each line with this worker.
  writeSync(2, `worker ${tag} ${STACK_HEADER}\n${frames.join('\n')}\n`);
  session.post('Debugger.resume');
});
disconnectAtExit(exitHandshake, () => session.disconnect());

// stdin is a pipe from the master: one byte asks for the stack, end of file means the master is gone.
const fromMaster = new net.Socket({ fd: 0, readable: true, writable: false });
fromMaster.on('data', () => {
  stackRequested = true;
  // Enabling reports every script already loaded (Debugger.scriptParsed) before the pause, so the
  // frames' URLs are known. Enabled once: the master kills the worker after the stack anyway.
  if (!debuggerEnabled) session.post('Debugger.enable');
  debuggerEnabled = true;
  session.post('Debugger.pause');
});
fromMaster.on('end', () => {
  // The main thread drains on its own when the IPC channel drops; this is for a main thread that is
  // stuck and cannot, so no orphan keeps serving on the shared socket.
  setTimeout(() => process.kill(process.pid, 'SIGKILL'), orphanGraceMs);
});
fromMaster.on('error', (error) => {
  writeSync(2, `worker ${tag} watchdog: stdin failed (${error.message}); stack dumps are off\n`);
});
