// The runtime of an HTTP worker that serves an app module (bin.ts starts it, after the memory-reducer
// setting): loads the app, serves it on the inherited sockets, reports readiness. Runs in each HTTP
// worker process (script workers start in adopt-listen.ts).

import { serveApp } from './http-servers.js';
import { ListenFailure } from './inherited-listeners.js';
import { AppBootFailure, loadApp } from './load-app.js';
import { Worker } from './worker.js';

const worker = Worker.fromEnvironment();

async function boot(): Promise<void> {
  try {
    await serveApp(await loadApp(worker.spec.app, process.cwd()), worker);
  } catch (error) {
    if (error instanceof AppBootFailure) return void (await worker.failBoot(error.phase, error.message));
    if (error instanceof ListenFailure) return void (await worker.failBoot('listen', error.message, error.code));
    const message = error instanceof Error ? error.message : String(error);
    return void (await worker.failBoot('init', `cannot start serving: ${message}`));
  }
  worker.markReady();
}

// Not a top-level await: the worker runs as a CommonJS bundle (tools/bundle.ts), which has none. A rejection
// (failBoot itself failing) is unhandled either way and ends the worker, which the master reports.
void boot();
