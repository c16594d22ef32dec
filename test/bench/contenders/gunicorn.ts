// Gunicorn (Debian's) as a bench contender for the reload row: the WSGI hello app with N sync workers.
// Runs in the bench process.

import { join } from 'node:path';
import { cleanEnvironment } from '../run-command.js';
import {
  BENCH_FIXTURES,
  childWorkers,
  freePort,
  spawnServer,
  stopGroup,
  waitForWorkers,
  type Contender,
  type ServerProcess,
} from './contender.js';

export class GunicornContender implements Contender {
  readonly key = 'gunicorn' as const;
  readonly url: string;
  readonly statsDirectory = '';
  readonly #server: ServerProcess;

  private constructor(server: ServerProcess, url: string) {
    this.#server = server;
    this.url = url;
  }

  static async start(gunicornPath: string, scratch: string, workers: number): Promise<GunicornContender> {
    const port = await freePort();
    const args = ['-w', String(workers), '-b', `127.0.0.1:${port}`, '--chdir', BENCH_FIXTURES, 'hello_wsgi:app'];
    const server = spawnServer(gunicornPath, args, cleanEnvironment({ PYTHONDONTWRITEBYTECODE: '1' }), join(scratch));
    const contender = new GunicornContender(server, `http://127.0.0.1:${port}/`);
    await waitForWorkers(contender, workers, 60_000);
    return contender;
  }

  masterPid(): number {
    return this.#server.pid;
  }

  workerPids(): number[] {
    return childWorkers(this.#server.pid, '');
  }

  output(): string {
    return this.#server.output();
  }

  signal(signal: NodeJS.Signals): void {
    process.kill(this.#server.pid, signal);
  }

  async stop(): Promise<void> {
    await stopGroup(this.#server.pid, this.#server.pid, this.workerPids());
  }
}
