// Entry point of an HTTP worker: loads the app, accepts on the inherited sockets, reports readiness and
// heartbeats to the master, drains on TERM or when the master goes away. Runs in each HTTP worker process.

import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Worker as Thread } from 'node:worker_threads';
import net, { type Server } from 'node:net';
import { setProcessTitle, workerComm, workerTitle } from '../process-title.js';
import {
  WORKER_EXIT,
  WORKER_SPEC_VARIABLE,
  isMasterMessage,
  type BootPhase,
  type WorkerSpec,
  type WorkerToMaster,
} from '../worker-messages.js';
import type { AccessLogWriter } from './access-log.js';
import { ConnectionTracker } from './connection-tracker.js';
import { listenOnInheritedSockets, ListenFailure } from './http-servers.js';
import { AppBootFailure, loadApp } from './load-app.js';

const spec = JSON.parse(process.env[WORKER_SPEC_VARIABLE] ?? 'null') as WorkerSpec | null;
if (!spec || !process.send) {
  console.error('appd worker: started without a spec or an IPC channel; workers are started by appd, not by hand');
  process.exit(2);
}
delete process.env[WORKER_SPEC_VARIABLE];

const tag = `${spec.pool}.${spec.slot} g${spec.generation}`;
setProcessTitle(workerTitle(spec.pool, spec.slot, spec.generation, spec.daemonName), workerComm(spec.pool, spec.slot, spec.generation));

const tracker = new ConnectionTracker();
let servers: Server[] = [];
let accessLog: AccessLogWriter | null = null;
let ready = false;
let exiting = false;

function send(message: WorkerToMaster): void {
  // After the master is gone the channel is closed; there is nobody left to tell.
  if (process.connected) process.send?.(message);
}

const watchdog = spec.timeoutStack
  ? new Thread(new URL('./watchdog-thread.js', import.meta.url), {
      workerData: { tag, orphanGraceMs: spec.gracefulTimeoutMs + 1000 },
    })
  : null;
watchdog?.unref();
watchdog?.on('error', (error) => console.error(`worker ${tag} watchdog thread failed: ${error.message}`));

async function exit(code: number): Promise<never> {
  if (!exiting) {
    exiting = true;
    await accessLog?.close();
    // Ending the thread first ends its inspector session, which would otherwise make Node print
    // "Waiting for the debugger to disconnect..." on the way out.
    await watchdog?.terminate();
  }
  process.exit(code);
}

/** Graceful stop: close the listening handles, let in-flight requests finish, then exit. */
function drain(reason: string): void {
  if (!ready) {
    void exit(WORKER_EXIT.ok); // nothing accepted yet, nothing to finish
    return;
  }
  if (tracker.draining) return;
  if (reason !== 'master') process.title = `${process.title} (draining)`;
  for (const server of servers) {
    // net.Server's close stops accepting; http.Server's would also drop idle keep-alive sockets at once,
    // racing with requests clients are sending on them.
    net.Server.prototype.close.call(server);
  }
  tracker.drain(() => void exit(WORKER_EXIT.ok));
  setTimeout(() => void exit(WORKER_EXIT.ok), spec!.gracefulTimeoutMs).unref();
}

function reopenLogs(): void {
  accessLog?.reopen();
}

process.on('SIGTERM', () => drain('SIGTERM'));
process.on('SIGINT', () => void exit(WORKER_EXIT.ok));
process.on('SIGQUIT', () => void exit(WORKER_EXIT.ok));
// USR1 reopens logs (so Node's inspector cannot be started by USR1 in workers; use --node-args --inspect).
process.on('SIGUSR1', reopenLogs);
// Sent to the whole process group by careless scripts (pkill -HUP appd); meaningful only to the master.
for (const signal of ['SIGHUP', 'SIGUSR2', 'SIGWINCH'] as const) process.on(signal, () => undefined);

process.on('message', (message: unknown) => {
  if (!isMasterMessage(message)) return;
  if (message.type === 'drain') drain('master');
  else reopenLogs();
});
// The master died (even by SIGKILL): drain and exit, so no orphan keeps serving on the shared socket.
process.on('disconnect', () => drain('master'));

function bootFailed(phase: BootPhase, message: string, code?: string): Promise<never> {
  console.error(message);
  send(code === undefined ? { type: 'boot-error', phase, message } : { type: 'boot-error', phase, message, code });
  return exit(phase === 'load' ? WORKER_EXIT.appLoadFailed : WORKER_EXIT.bootFailed);
}

function startHeartbeat(): void {
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  let recycleRequested = false;
  setInterval(() => {
    const memory = process.memoryUsage();
    send({
      type: 'heartbeat',
      stats: {
        requests: tracker.requests,
        inFlight: tracker.inFlight,
        connections: tracker.connections,
        loopDelayP50: loopDelay.percentile(50) / 1e6,
        loopDelayP99: loopDelay.percentile(99) / 1e6,
        heapUsed: memory.heapUsed,
        heapTotal: memory.heapTotal,
      },
    });
    loopDelay.reset();
    if (spec!.maxRequests > 0 && !recycleRequested && tracker.requests >= spec!.maxRequests) {
      recycleRequested = true;
      send({ type: 'recycle', reason: `served ${tracker.requests} requests (max-requests ${spec!.maxRequests})` });
    }
  }, spec!.heartbeatIntervalMs);
}

async function boot(workerSpec: WorkerSpec): Promise<void> {
  let app;
  try {
    app = await loadApp(workerSpec.app, process.cwd());
  } catch (error) {
    if (error instanceof AppBootFailure) return void (await bootFailed(error.phase, error.message));
    throw error;
  }
  try {
    ({ servers, accessLog } = await listenOnInheritedSockets(app, workerSpec, tracker));
  } catch (error) {
    if (error instanceof ListenFailure) return void (await bootFailed('listen', error.message, error.code));
    const message = error instanceof Error ? error.message : String(error);
    return void (await bootFailed('init', `cannot start serving: ${message}`));
  }
  ready = true;
  send({ type: 'ready' });
  startHeartbeat();
}

await boot(spec);
