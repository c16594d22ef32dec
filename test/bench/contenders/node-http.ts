// The Node baselines: the hello app in one plain node:http process, and under a hand-written
// node:cluster primary in round-robin or SCHED_NONE mode. Runs in the bench process.

import { join } from 'node:path';
import { cleanEnvironment } from '../run-command.js';
import {
  BENCH_FIXTURES,
  childWorkers,
  freePort,
  freshDirectory,
  spawnServer,
  stopGroup,
  waitForWorkers,
  type Contender,
  type ContenderKey,
  type ServerProcess,
} from './contender.js';

class NodeContender implements Contender {
  readonly key: ContenderKey;
  readonly url: string;
  readonly statsDirectory: string;
  readonly #server: ServerProcess;
  readonly #clustered: boolean;

  constructor(key: ContenderKey, server: ServerProcess, url: string, statsDirectory: string, clustered: boolean) {
    this.key = key;
    this.#server = server;
    this.url = url;
    this.statsDirectory = statsDirectory;
    this.#clustered = clustered;
  }

  masterPid(): number | null {
    return this.#clustered ? this.#server.pid : null;
  }

  workerPids(): number[] {
    return this.#clustered ? childWorkers(this.#server.pid, '') : [this.#server.pid];
  }

  async stop(): Promise<void> {
    await stopGroup(this.#server.pid, this.#server.pid, this.workerPids());
  }
}

async function start(
  key: ContenderKey,
  scratch: string,
  script: string,
  workers: number,
  extraEnv: NodeJS.ProcessEnv,
): Promise<NodeContender> {
  const port = await freePort();
  const statsDirectory = freshDirectory(join(scratch, 'stats', `${key}-${port}`));
  const env = cleanEnvironment({ PORT: String(port), BENCH_STATS_DIR: statsDirectory, BENCH_WORKERS: String(workers), ...extraEnv });
  const server = spawnServer(process.execPath, [join(BENCH_FIXTURES, script)], env, scratch);
  const contender = new NodeContender(key, server, `http://127.0.0.1:${port}/`, statsDirectory, script !== 'hello-server.cjs');
  await waitForWorkers(contender, key === 'node' ? 1 : workers, 60_000);
  return contender;
}

export function startSingleNode(scratch: string): Promise<Contender> {
  return start('node', scratch, 'hello-server.cjs', 1, {});
}

export function startCluster(scratch: string, scheduling: 'rr' | 'none', workers: number): Promise<Contender> {
  return start(scheduling === 'rr' ? 'cluster-rr' : 'cluster-none', scratch, 'cluster-primary.cjs', workers, {
    BENCH_SCHEDULING: scheduling,
  });
}
