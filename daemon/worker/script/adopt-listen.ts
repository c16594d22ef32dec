// Entry point of an HTTP worker that runs an unmodified server script: preloaded with node --import
// before the script (the main module), it makes the script's own listen() accept on appd's sockets.
// Runs in each script worker process.
//
// Ready = the adopted server listens (and, with wait-ready, the script sent process.send('ready')).
// The adopted server is instrumented like appd's own (limits, counters, access log, drain), and its
// close() joins appd's drain, because apps often call server.close() on SIGTERM themselves: Node's own
// close() drops idle keep-alive sockets at once, racing with requests clients already sent on them.

import { existsSync } from 'node:fs';
import type http from 'node:http';
import type https from 'node:https';
import { isMainThread } from 'node:worker_threads';
import { LISTEN_NOT_ADOPTED, WORKER_SPEC_VARIABLE } from '../../contracts/worker-messages.js';
import { AccessLogWriter } from '../access-log.js';
import { forwardOtherListeners, ListenFailure, primaryListenOptions } from '../inherited-listeners.js';
import { instrumentServer } from '../instrument-server.js';
import { installListenAdoption, type ListenNotAdopted } from './listen-adoption.js';
import { AppBootFailure } from '../load-app.js';
import { openSettingFile } from '../setting-files.js';
import { Worker } from '../worker.js';

type HttpServer = http.Server | https.Server;

class ScriptWorker {
  readonly #worker: Worker;
  readonly #script: string;
  #serverListening = false;
  #scriptSaidReady: boolean;

  constructor(worker: Worker, script: string) {
    this.#worker = worker;
    this.#script = script;
    this.#scriptSaidReady = !worker.spec.waitReady;
  }

  async start(): Promise<void> {
    const worker = this.#worker;
    if (!existsSync(this.#script)) return void (await worker.failBoot('load', `script not found: ${this.#script}`));
    try {
      worker.accessLog = worker.spec.accessLog
        ? openSettingFile('access-logfile', worker.spec.accessLog, (path) => new AccessLogWriter(path))
        : null;
    } catch (error) {
      if (error instanceof AppBootFailure) return void (await worker.failBoot(error.phase, error.message));
      throw error;
    }
    this.#takeReadyMessage();
    const port = process.env['PORT'];
    const envPort = port && /^\d+$/.test(port) ? Number(port) : null;
    installListenAdoption(worker.spec.adoptListen, envPort, {
      adopt: (server) => this.#adopt(server),
      refused: (error, expected) => this.#refused(error, expected),
    });
  }

  #reportReadyIfDone(): void {
    if (this.#serverListening && this.#scriptSaidReady) this.#worker.markReady();
  }

  /** PM2's contract: process.send('ready'). The message is for appd; the master never sees it. */
  #takeReadyMessage(): void {
    const send = process.send;
    if (!send) return;
    const onReady = (): void => {
      this.#scriptSaidReady = true;
      this.#reportReadyIfDone();
    };
    process.send = function (this: NodeJS.Process, message: unknown, ...rest: unknown[]): boolean {
      if (message !== 'ready') return Reflect.apply(send, this, [message, ...rest]) as boolean;
      onReady();
      return true;
    } as typeof process.send;
  }

  #adopt(server: HttpServer): { fd: number; backlog: number } {
    const { spec } = this.#worker;
    instrumentServer(server, spec, this.#worker.tracker, this.#worker.accessLog);
    this.#joinDrainOnClose(server);
    server.once('listening', () => void this.#serve(server));
    return primaryListenOptions(spec);
  }

  /** close() and closeIdleConnections() of the adopted server start appd's drain instead. */
  #joinDrainOnClose(server: HttpServer): void {
    const worker = this.#worker;
    let closed = false;
    server.once('close', () => (closed = true));
    server.close = function (this: HttpServer, callback?: (error?: Error) => void): HttpServer {
      worker.drain('the script closed its server');
      if (callback) {
        if (closed) process.nextTick(callback);
        else this.once('close', () => callback());
      }
      return this;
    } as typeof server.close;
    // appd closes idle connections itself while draining, once idle for a while (see connection-tracker.ts).
    server.closeIdleConnections = () => undefined;
  }

  async #serve(server: HttpServer): Promise<void> {
    try {
      this.#worker.listening.push(server, ...(await forwardOtherListeners(server, this.#worker.spec)));
    } catch (error) {
      if (error instanceof ListenFailure) return void (await this.#worker.failBoot('listen', error.message, error.code));
      throw error;
    }
    this.#serverListening = true;
    this.#reportReadyIfDone();
  }

  #refused(error: ListenNotAdopted, expected: boolean): boolean {
    if (expected) return true;
    if (!this.#worker.ready) {
      void this.#worker.failBoot('listen', `script ${this.#script}: ${error.message}`, LISTEN_NOT_ADOPTED);
      return false;
    }
    console.error(`worker ${this.#worker.tag}: ${error.message}`);
    return true;
  }
}

// node passes --import on to worker threads and to children the script forks; there it must do
// nothing (the spec variable is removed as soon as the worker reads it).
if (isMainThread && process.env[WORKER_SPEC_VARIABLE] !== undefined) {
  await new ScriptWorker(Worker.fromEnvironment(), process.argv[1] ?? '').start();
}
