// The exit handshake between an HTTP worker's main thread and its watchdog thread: before the process
// exits, the watchdog disconnects its inspector session. Runs in each HTTP worker (both threads).
//
// Why: Node prints "Waiting for the debugger to disconnect..." when a process exits with a session
// connected to its main thread from another thread, and an app's own process.exit() gives no time to
// end that thread (terminate() is asynchronous, and so is the session's own teardown otherwise). The
// main thread's 'exit' listener asks and blocks on Atomics.wait until the watchdog, woken by
// Atomics.waitAsync on its own loop, has disconnected (measured: about 1 ms), at most EXIT_WAIT_MS.

/** Slots of the shared Int32Array: set by the watchdog once connected, by the main thread at exit, by the watchdog once disconnected. */
const CONNECTED = 0;
const EXITING = 1;
const DISCONNECTED = 2;
/** Atomics.waitAsync (Node 16 and later), which the ES2023 lib this project compiles against does not declare. */
type WaitAsync = (
  array: Int32Array,
  index: number,
  value: number,
) =>
  | { readonly async: false; readonly value: 'not-equal' | 'timed-out' }
  | { readonly async: true; readonly value: Promise<'ok' | 'timed-out'> };
const waitAsync = (Atomics as typeof Atomics & { waitAsync: WaitAsync }).waitAsync;

/** Bounds the main thread's wait if the watchdog thread is starved (a loaded machine) or gone. */
const EXIT_WAIT_MS = 500;

export function createExitHandshake(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(3 * Int32Array.BYTES_PER_ELEMENT));
}

/** Main thread, at exit: has the watchdog disconnect its session, if it has one, and waits for it. */
export function awaitWatchdogDisconnect(handshake: Int32Array): void {
  if (Atomics.load(handshake, CONNECTED) === 0) return; // never connected: nothing will be printed
  Atomics.store(handshake, EXITING, 1);
  Atomics.notify(handshake, EXITING);
  Atomics.wait(handshake, DISCONNECTED, 0, EXIT_WAIT_MS);
}

/** Main thread: the watchdog thread ended (it failed), taking its session with it; nothing to wait for at exit. */
export function watchdogEnded(handshake: Int32Array): void {
  Atomics.store(handshake, CONNECTED, 0);
}

/** Watchdog thread, once its session is connected: disconnects it when the main thread is about to exit. */
export function disconnectAtExit(handshake: Int32Array, disconnect: () => void): void {
  Atomics.store(handshake, CONNECTED, 1);
  const done = (): void => {
    disconnect();
    Atomics.store(handshake, DISCONNECTED, 1);
    Atomics.notify(handshake, DISCONNECTED);
  };
  const waiting = waitAsync(handshake, EXITING, 0);
  if (waiting.async) void waiting.value.then(done);
  else done(); // already exiting
}
