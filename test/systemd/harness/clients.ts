// The test's handle on network-agent.js processes run in a sandbox's network: load while something
// happens, and requests held in flight across a stop. Killed by pid after the test. Runs in the ava test process.

import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import type { LoadResult } from '../../helpers/load-client.js';
import { describeLoad } from '../../helpers/load-client.js';
import { killQuietly, waitFor } from '../../helpers/processes.js';
import type { RequestOutcome } from './network-agent.js';
import { HARNESS_DIRECTORY, type SystemdSandbox } from './sandbox.js';

interface AgentEvent {
  readonly event: string;
  readonly [key: string]: unknown;
}

class AgentRun {
  readonly events: AgentEvent[] = [];
  readonly #child: ChildProcess;
  readonly #closed: Promise<void>;
  #errorOutput = '';

  constructor(t: ExecutionContext, child: ChildProcess) {
    this.#child = child;
    let buffered = '';
    child.stdout?.setEncoding('utf8').on('data', (text: string) => {
      buffered += text;
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) this.events.push(JSON.parse(line) as AgentEvent);
    });
    child.stderr?.setEncoding('utf8').on('data', (text: string) => (this.#errorOutput += text));
    this.#closed = new Promise((settle) => child.once('close', () => settle()));
    t.teardown(async () => {
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) killQuietly(child.pid);
      await this.#closed;
    });
  }

  async waitForEvents(name: string, count = 1, timeoutMs = 30_000): Promise<AgentEvent[]> {
    return waitFor(`${count} "${name}" event(s) from the network agent${this.#errorOutput ? `: ${this.#errorOutput}` : ''}`, () => {
      const found = this.events.filter((event) => event.event === name);
      return found.length >= count ? found : null;
    }, timeoutMs, 25);
  }

  async result(timeoutMs = 60_000): Promise<AgentEvent> {
    this.#child.stdin?.end('stop\n');
    const [result] = await this.waitForEvents('result', 1, timeoutMs);
    if (!result) throw new Error(`the network agent gave no result: ${this.#errorOutput}`);
    return result;
  }
}

function agent(t: ExecutionContext, sandbox: SystemdSandbox, command: string, options: object): AgentRun {
  return new AgentRun(t, sandbox.spawnInNetwork(join(HARNESS_DIRECTORY, 'network-agent.js'), [command, JSON.stringify(options)]));
}

export interface SandboxLoad {
  readonly keepAlive: LoadResult;
  readonly close: LoadResult;
  /** Responses counted by the body's generation=N. */
  readonly seen: Readonly<Record<string, number>>;
}

/**
 * Keep-alive and HTTP/1.0 loops against `url` until stop() is awaited. A request unanswered after
 * `timeoutMs` counts as failed (ETIMEDOUT): raise it where connections wait in a backlog on purpose.
 */
export async function startLoad(t: ExecutionContext, sandbox: SystemdSandbox, url: string, options: { concurrency?: number; timeoutMs?: number } = {}): Promise<{ stop: () => Promise<SandboxLoad> }> {
  const run = agent(t, sandbox, 'load', { url, concurrency: options.concurrency ?? 4, classify: 'generation=(\\d+)', timeoutMs: options.timeoutMs ?? 10_000 });
  await run.waitForEvents('started');
  return { stop: async () => (await run.result()) as unknown as SandboxLoad };
}

export function describeSandboxLoad(load: SandboxLoad): string {
  return `keep-alive ${describeLoad(load.keepAlive)}; HTTP/1.0 ${describeLoad(load.close)}; generations ${JSON.stringify(load.seen)}`;
}

/** Asserts that neither client lost a request, and that both got answers. */
export function assertNoFailedRequest(t: ExecutionContext, load: SandboxLoad, what: string): void {
  t.log(`${what}: ${describeSandboxLoad(load)}`);
  for (const [kind, counts] of [['keep-alive', load.keepAlive], ['HTTP/1.0', load.close]] as const) {
    t.is(counts.failed, 0, `${what}: ${kind} client: ${JSON.stringify(counts.errors)} ${counts.samples.join(' | ')}`);
    t.true(counts.ok > 0, `${what}: ${kind} client got answers`);
  }
}

/** `count` requests at once; `started()` resolves once every one of them is in a worker's hands. */
export function startRequests(t: ExecutionContext, sandbox: SystemdSandbox, url: string, count: number, timeoutMs = 60_000): { started: () => Promise<void>; results: () => Promise<RequestOutcome[]> } {
  const run = agent(t, sandbox, 'requests', { url, count, timeoutMs });
  return {
    started: async () => void (await run.waitForEvents('headers', count, timeoutMs)),
    results: async () => (await run.waitForEvents('result', 1, timeoutMs + 10_000))[0]?.['results'] as RequestOutcome[],
  };
}
