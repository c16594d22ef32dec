// Creates the worker's HTTP(S) server for an app module, attaches the app in whichever form it exports
// (request handler, or a function given the server), and accepts on the inherited sockets.
// Runs in each HTTP worker process.

import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AccessLogWriter } from './access-log.js';
import { builtinModule } from './builtin-modules.js';
import { listenOnInheritedSockets } from './inherited-listeners.js';
import { instrumentServer, maxHeaderSize, type HttpServer } from './instrument-server.js';
import { AppBootFailure, asListener, type LoadedApp } from './load-app.js';
import { openSettingFile } from './setting-files.js';
import type { Worker } from './worker.js';

// Not an ES import (builtin-modules.ts says why).
const http = builtinModule('node:http');

/** A server-form app that added no request listener serves WebSockets only; plain requests get 426, as ws answers them. */
function upgradeRequired(_request: IncomingMessage, response: ServerResponse): void {
  response.writeHead(426, { 'content-type': 'text/plain', connection: 'close' });
  response.end('Upgrade Required\n');
}

/** Calls NAME(server); what it returns may be a handler, an object carrying onDrain, or nothing. */
async function attachToServer(app: Extract<LoadedApp, { form: 'server' }>, server: HttpServer): Promise<void> {
  let result: unknown;
  try {
    result = await app.attach(server);
  } catch (error) {
    const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
    throw new AppBootFailure('init', `${app.label} failed: ${detail}`);
  }
  const listener = asListener(result);
  if (listener) server.on('request', listener);
  app.drainHooks.addFrom(result);
  if (server.listenerCount('request') === 0) server.on('request', upgradeRequired);
}

/** Serves an app module: one server, instrumented, on every inherited socket. */
export async function serveApp(app: LoadedApp, worker: Worker): Promise<void> {
  const { spec } = worker;
  worker.accessLog = spec.accessLog ? openSettingFile('access-logfile', spec.accessLog, (path) => new AccessLogWriter(path)) : null;
  const tls =
    spec.certfile && spec.keyfile
      ? {
          cert: openSettingFile('certfile', spec.certfile, (path) => readFileSync(path)),
          key: openSettingFile('keyfile', spec.keyfile, (path) => readFileSync(path)),
        }
      : null;
  const options = { maxHeaderSize: maxHeaderSize(spec) };
  // node:https (and node:tls under it) only for a TLS worker: ~5 ms of every other worker's start.
  const server: HttpServer = tls ? builtinModule('node:https').createServer({ ...options, ...tls }) : http.createServer(options);
  instrumentServer(server, spec, worker.tracker, worker.accessLog);
  if (app.form === 'handler') server.on('request', app.listener);
  else await attachToServer(app, server);
  for (const hook of app.drainHooks.list()) worker.addDrainHook(hook);
  worker.listening.push(...(await listenOnInheritedSockets(server, spec)));
}
