// Spawns one HTTP worker: a fresh node process with the listeners at fd 3.., an IPC channel after them,
// stdin as the watchdog pipe, stdout/stderr piped to the master's log. Run by the appd master.

import { spawn, type ChildProcess } from 'node:child_process';
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Identity } from './identity.js';
import { workerEnvironment } from './worker-environment.js';
import type { Listener } from '../../sockets/listeners.js';
import type { PoolSettings } from '../../pools/pool.js';
import { workerTitle } from '../../contracts/process-title.js';
import { channelFd, WORKER_SPEC_VARIABLE, type WorkerSpec } from '../../contracts/worker-messages.js';

/**
 * worker/main.ts and all it imports as one CommonJS file (tools/bundle.ts): no ES modules to resolve, link
 * and evaluate one by one before the app loads, started by worker/bin.ts through V8's code cache. Beside
 * this file's compiled tree, so a master started from a new binary (appctl upgrade) forks its own build's worker.
 */
const WORKER_MAIN = fileURLToPath(new URL('../../worker/worker-bin.cjs', import.meta.url));
/** Preloaded (node --import) before a script, so the script's own listen() is adopted. */
const ADOPT_PRELOAD = new URL('../../worker/script/adopt-listen.js', import.meta.url).href;
/**
 * Preloaded (node --require) before the ES module loader starts, in a script worker: the app path's
 * worker.cjs does the same as its first import (worker/memory-reducer.ts says why).
 */
const MEMORY_REDUCER_PRELOAD = fileURLToPath(new URL('../../worker/memory-reducer.cjs', import.meta.url));

/**
 * Spaces after the --title value give process.title room to grow (a title is cut at the original argv
 * length). Not after argv[0], which Node shows in its own hints ("Use `node --trace-warnings ...`").
 */
const TITLE_ROOM = ' '.repeat(96);

export interface WorkerIdentity {
  readonly daemonName: string;
  readonly slot: number;
  readonly generation: number;
}

/** Heartbeats about four times per timeout, at most once a second (they carry stats). */
export function heartbeatIntervalMs(timeoutSeconds: number): number {
  return timeoutSeconds > 0 ? Math.min(1000, Math.max(50, (timeoutSeconds * 1000) / 4)) : 1000;
}

/** Whether a listener's connections must start with a PROXY header: every bind, or the binds named. */
function proxyProtocolOf(settings: PoolSettings, listener: Listener): WorkerSpec['proxyProtocol'][number] {
  const { versions, binds } = settings.proxyProtocol;
  return binds.length === 0 || binds.includes(listener.slot?.template ?? listener.bindText) ? versions : 'off';
}

export function buildWorkerSpec(
  settings: PoolSettings,
  who: WorkerIdentity,
  listeners: readonly Listener[],
  random: () => number,
): WorkerSpec {
  const jitter = settings.maxRequestsJitter > 0 ? Math.floor(random() * (settings.maxRequestsJitter + 1)) : 0;
  return {
    daemonName: who.daemonName,
    pool: settings.name,
    slot: who.slot,
    generation: who.generation,
    app: settings.app ?? '',
    script: settings.script,
    adoptListen: settings.adoptListen,
    waitReady: settings.waitReady,
    listenerCount: listeners.length,
    listenerUrls: listeners.map((listener) => listener.url),
    backlog: settings.backlog,
    heartbeatIntervalMs: heartbeatIntervalMs(settings.timeout),
    gracefulTimeoutMs: settings.gracefulTimeout * 1000,
    keepAliveMs: settings.keepAlive * 1000,
    maxRequests: settings.maxRequests > 0 ? settings.maxRequests + jitter : 0,
    accessLog: settings.accessLogfile,
    accessLogFormat: settings.accessLogFormat,
    headersTimeoutMs: settings.headersTimeout * 1000,
    requestTimeoutMs: settings.requestTimeout * 1000,
    limitRequestLine: settings.limitRequestLine,
    limitRequestFields: settings.limitRequestFields,
    limitRequestFieldSize: settings.limitRequestFieldSize,
    forwardedAllowIps: settings.forwardedAllowIps,
    forwardedAllowUnix: settings.forwardedAllowUnix,
    forwardedHeaders: settings.forwardedHeaders,
    // reuse-port sockets are served like shared binds: only slot-bind's wait for 'accept-slot'.
    slotListenerCount: listeners.filter((listener) => listener.slot !== undefined && listener.slot.reusePort !== true).length,
    proxyProtocol: listeners.map((listener) => proxyProtocolOf(settings, listener)),
    certfile: settings.certfile,
    keyfile: settings.keyfile,
    timeoutStack: settings.timeoutStack,
  };
}

/** What node runs: the worker bundle for an app module; for a script, the script itself as the main module. */
function workerEntry(settings: PoolSettings): string[] {
  // The script runs as node's main module so that require.main === module and import.meta checks hold.
  const entry = settings.script
    ? ['--require', MEMORY_REDUCER_PRELOAD, '--import', ADOPT_PRELOAD, resolve(settings.script)]
    : [WORKER_MAIN];
  return [...entry, ...settings.args];
}

/**
 * A pool's own chdir, where its workers run. It comes from a config file, which makes it absolute; a
 * relative chdir is the global one from the command line, where the master already is.
 */
export function poolDirectory(settings: PoolSettings): { cwd?: string } {
  return settings.chdir !== null && isAbsolute(settings.chdir) ? { cwd: settings.chdir } : {};
}

/** A script reads the port it should listen on from PORT: tell it the real one (env may still override). */
function portVariable(settings: PoolSettings, listeners: readonly Listener[]): NodeJS.ProcessEnv {
  const tcp = listeners.find((listener) => listener.address.kind === 'tcp');
  return settings.script && tcp?.address.kind === 'tcp' ? { PORT: String(tcp.address.port) } : {};
}

export function spawnHttpWorker(
  spec: WorkerSpec,
  settings: PoolSettings,
  listeners: readonly Listener[],
  identity: Identity | null,
  baseEnvironment: NodeJS.ProcessEnv,
): ChildProcess {
  const title = workerTitle(spec.pool, spec.slot, spec.generation, spec.daemonName);
  const environment: NodeJS.ProcessEnv = {
    ...workerEnvironment(baseEnvironment, settings.envPassthrough, identity),
    ...portVariable(settings, listeners),
    ...settings.env,
    APPD_POOL: spec.pool,
    APPD_SLOT: String(spec.slot),
    APPD_GENERATION: String(spec.generation),
    [WORKER_SPEC_VARIABLE]: JSON.stringify(spec),
    // Node's IPC in the worker (process.send, 'message', 'disconnect') over a plain socket pair whose
    // lines the master parses itself, bounded (worker-channel.ts); JSON, as Node's 'ipc' would use.
    NODE_CHANNEL_FD: String(channelFd(listeners.length)),
    NODE_CHANNEL_SERIALIZATION_MODE: 'json',
  };
  return spawn(process.execPath, [...settings.nodeArgs, `--title=${title}${TITLE_ROOM}`, ...workerEntry(settings)], {
    ...poolDirectory(settings),
    stdio: ['pipe', 'pipe', 'pipe', ...listeners.map((listener) => listener.fd), 'pipe'],
    env: environment,
    ...(identity ? { uid: identity.uid, gid: identity.gid } : {}),
    // Its own session and process group: what it starts is cleaned up with it (process-groups.ts).
    detached: true,
  });
}
